/* The MCID explorer (chapter "Thresholds and paired change"): a labelled slider over the share of
 * patients whose improvement reached each threshold, per measure, time point and kind of threshold.
 *
 * Every number comes from the JSON the page embeds (<script type="application/json"
 * id="mcid-explorer-data">, written by cmprehab.report.sensitivity.explorer_data): nothing is computed
 * here but the position of a mark, and nothing is fetched. On confidential data the JSON holds only the
 * thresholds whose shares disclosure control releases; at the others the explorer says so.
 * Plain JavaScript, no library; the slider is a native <input type="range"> (arrow keys, Page Up/Down,
 * Home/End). The page inlines this file (cmprehab.report.sensitivity.explorer_html), so it works offline
 * and from any folder. */
(function () {
  "use strict";

  function formatNumber(value, decimals) {
    return Number(value).toFixed(decimals);
  }

  function unitWord(unit, value) {
    if (unit === "%") return " %";
    if (unit === "points" && Number(value) === 1) return " point";
    return " " + unit;
  }

  function thresholdText(curve, value) {
    return formatNumber(value, curve.decimals) + unitWord(curve.unit, value) +
      (curve.kind === "percent" ? " of the start value" : "");
  }

  function element(tag, attributes, text) {
    var node = document.createElement(tag);
    Object.keys(attributes || {}).forEach(function (name) { node.setAttribute(name, attributes[name]); });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function build(root, data) {
    var curves = data.curves;
    var measures = [], times = [], kinds = [];
    curves.forEach(function (c) {
      if (measures.indexOf(c.stem) < 0) measures.push(c.stem);
      if (times.indexOf(c.time) < 0) times.push(c.time);
      if (kinds.indexOf(c.kind) < 0) kinds.push(c.kind);
    });
    var labelOf = {};
    curves.forEach(function (c) { labelOf[c.stem] = c.label; });

    var form = element("fieldset", {"class": "mcid-explorer-controls"});
    form.appendChild(element("legend", {}, "MCID explorer: the share of patients at any threshold"));

    function select(id, label, options) {
      var wrap = element("div", {"class": "mcid-explorer-field"});
      wrap.appendChild(element("label", {"for": id}, label));
      var box = element("select", {"id": id});
      options.forEach(function (o) { box.appendChild(element("option", {"value": o[0]}, o[1])); });
      wrap.appendChild(box);
      form.appendChild(wrap);
      return box;
    }

    var measure = select("mcid-explorer-measure", "Measure",
      measures.map(function (m) { return [m, labelOf[m]]; }));
    var time = select("mcid-explorer-time", "Time point", times.map(function (t) { return [t, t]; }));
    var kind = select("mcid-explorer-kind", "Threshold in",
      kinds.map(function (k) { return [k, k === "percent" ? "percent of the start value" : "the scale's units"]; }));

    var sliderField = element("div", {"class": "mcid-explorer-field mcid-explorer-slider-field"});
    var sliderLabel = element("label", {"for": "mcid-explorer-threshold"});
    var slider = element("input", {"type": "range", "id": "mcid-explorer-threshold",
                                   "aria-describedby": "mcid-explorer-marks"});
    var track = element("div", {"class": "mcid-explorer-track", "aria-hidden": "true"});
    sliderField.appendChild(sliderLabel);
    sliderField.appendChild(slider);
    sliderField.appendChild(track);
    form.appendChild(sliderField);

    var result = element("output", {"id": "mcid-explorer-result", "for": "mcid-explorer-threshold",
                                    "aria-live": "polite", "class": "mcid-explorer-result"});
    var marks = element("ul", {"id": "mcid-explorer-marks", "class": "mcid-explorer-marks"});
    root.appendChild(form);
    root.appendChild(result);
    root.appendChild(marks);
    if (data.note) root.appendChild(element("p", {"class": "mcid-explorer-note"}, data.note));

    var current = null;

    function find() {
      for (var i = 0; i < curves.length; i++) {
        var c = curves[i];
        if (c.stem === measure.value && c.time === time.value && c.kind === kind.value) return c;
      }
      return null;
    }

    function show() {
      var c = current, index = Number(slider.value), value = c.thresholds[index];
      var words = thresholdText(c, value);
      slider.setAttribute("aria-valuetext", words);
      result.dataset.threshold = String(value);
      var pct = c.pct[index];
      if (pct === null || pct === undefined) {
        result.dataset.pct = "";
        result.textContent = "At an improvement of at least " + words + ": " +
          (data.controlled ? "not shown at this threshold (disclosure control)." : "not available.");
        return;
      }
      result.dataset.pct = String(pct);
      result.textContent = "At an improvement of at least " + words + ": " + formatNumber(pct, 1) + " %" +
        (data.synthetic ? "\u2020" : "") + " of patients (" + data.confidence + " " +
        formatNumber(c.low[index], 1) + "\u2013" + formatNumber(c.high[index], 1) + " %), " +
        c.k[index] + " of " + c.n + " with both values.";
    }

    function nearest(c, value) {
      var best = 0;
      c.thresholds.forEach(function (t, i) {
        if (Math.abs(t - value) < Math.abs(c.thresholds[best] - value)) best = i;
      });
      return best;
    }

    function setCurve() {
      var c = find();
      if (!c) return;
      current = c;
      slider.min = "0";
      slider.max = String(c.thresholds.length - 1);
      slider.step = "1";
      var start = c.mcid !== null ? c.mcid : (c.literature.length ? c.literature[0].value : c.thresholds[0]);
      slider.value = String(nearest(c, start));
      var first = c.thresholds[0], last = c.thresholds[c.thresholds.length - 1];
      sliderLabel.textContent = "Improvement of at least (" + (c.kind === "percent" ? "in % of the start value" : "in " + c.unit) +
        ", from " + formatNumber(first, c.decimals) + unitWord(c.unit, first) + " to " +
        formatNumber(last, c.decimals) + unitWord(c.unit, last) + ")";

      // Marks: the literature thresholds, this build's MCID and the default, in words and on the track.
      marks.textContent = "";
      track.textContent = "";
      var span = c.thresholds[c.thresholds.length - 1] - c.thresholds[0];
      function mark(value, text, cls) {
        marks.appendChild(element("li", {"class": cls}, thresholdText(c, value) + ": " + text));
        var tick = element("span", {"class": "mcid-explorer-tick " + cls, "title": text});
        tick.style.left = (span > 0 ? 100 * (value - c.thresholds[0]) / span : 0) + "%";
        track.appendChild(tick);
      }
      c.literature.forEach(function (m) { mark(m.value, "literature, " + m.source, "literature"); });
      if (c.mcid !== null) mark(c.mcid, c.default === c.mcid ? "this build's MCID (the default)" : "this build's MCID", "mcid");
      if (c.default !== null && c.default !== c.mcid) mark(c.default, "the default MCID", "default");
      if (!marks.children.length) {
        marks.appendChild(element("li", {}, "No threshold of this kind is reported in the literature for this measure."));
      }
      show();
    }

    measure.addEventListener("change", setCurve);
    time.addEventListener("change", setCurve);
    kind.addEventListener("change", setCurve);
    slider.addEventListener("input", show);
    slider.addEventListener("change", show);
    setCurve();
    root.dataset.ready = "yes";
  }

  function start() {
    var root = document.getElementById("mcid-explorer");
    var source = document.getElementById("mcid-explorer-data");
    if (!root || !source || root.dataset.ready === "yes") return;
    try {
      build(root, JSON.parse(source.textContent));
    } catch (error) {
      root.dataset.ready = "failed";
      root.appendChild(element("p", {}, "The explorer could not be shown; the figures and tables hold the same shares."));
      throw error;
    }
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
