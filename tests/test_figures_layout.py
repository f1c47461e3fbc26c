"""Every figure of the book, drawn and stamped as its chapter shows it, is legible on a phone.

Measured on matplotlib's own text boxes (what can be measured without a browser):

* the data stamp ("Synthetic data … / † not published …") lies below everything the figure
  draws: it overlaps no axes, legend or other text;
* no two texts overlap (tick labels, axis labels, titles, legends, labels in bars or cells);
* a legend sits on no bar;
* no label is cut short with "…";
* every text is at least `MIN_PHONE_PX` pixels high once the figure is scaled to a phone's
  column (the SVG is drawn at the column's width);
* every forest panel has its own plain ticks 0.5, 1 and 2, and no log-axis minor labels.
"""
from __future__ import annotations

import itertools
import json

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from cmprehab import config  # noqa: E402
from cmprehab.report import book, figures, follow_up, plain_language, sensitivity, tables, who_benefits  # noqa: E402

#: Width of the book's text column on a 390 px phone, measured in Chromium (the figure is scaled to it).
PHONE_COLUMN_PX = 342
#: Smallest text height on that phone that a reader can still make out, in CSS pixels.
MIN_PHONE_PX = 9.0

#: Each figure as its chapter calls it, with what it says was never published.
FIGURES = {
    "at_a_glance": (lambda c: figures.at_a_glance(tables.mcid(c), plain_language.published_discharge_shares()),
                    "the 1-year shares"),
    "baseline_distributions": (lambda c: figures.baseline_distributions(c), ""),
    "interventions": (lambda c: figures.interventions(tables.interventions(c)), ""),
    "cooccurrence": (lambda c: figures.cooccurrence(who_benefits.cooccurrence(c), len(c)), "every pair"),
    "combinations": (lambda c: figures.combinations(who_benefits.top_combinations(c)), "every combination"),
    "program": (lambda c: figures.program(c), "the distributions beyond the medians"),
    "outcomes_over_time": (lambda c: figures.outcomes_over_time(tables.outcomes_over_time(c)),
                           "the values at discharge and at 1 year"),
    "mcid": (lambda c: figures.mcid(tables.mcid(c)), "the 1-year shares and every n"),
    "participant_flow": (lambda c: figures.participant_flow(follow_up.flow(c)),
                         "every count after the start except the 178 measured at 1 year"),
    "missing_data": (lambda c: figures.missing_data(follow_up.missing_data(c)), "every share"),
    "threshold_curves": (lambda c: figures.threshold_curves(sensitivity.curves(c), sensitivity.literature(c)),
                         "the whole curves"),
    "threshold_curves_percent": (lambda c: figures.threshold_curves(sensitivity.curves(c, kind="percent"),
                                                                    sensitivity.literature(c), kind="percent"),
                                 "the whole curves"),
    "trajectories": (lambda c: figures.trajectories(sensitivity.trajectories(c)), "every value after the start"),
    "risk_ratios": (lambda c: figures.risk_ratios(who_benefits.risk_ratios(c)), "every estimate"),
    "ipw_weights": (lambda c: follow_up.weights_figure(c), "every weight"),
    "tipping_point": (lambda c: follow_up.tipping_figure(c), "every share and the tipping points"),
    "icon_arrays_discharge": (lambda c: plain_language.icon_arrays(plain_language.frequencies(c), "discharge"), ""),
    "icon_arrays_1y": (lambda c: plain_language.icon_arrays(plain_language.frequencies(c), "1y"),
                       "every number of this picture"),
}


@pytest.fixture(scope="module")
def drawn():
    """Each figure drawn and stamped as the book shows it (on the committed synthetic cohort)."""
    cohort = book.setup()
    out = {}
    for name, (make, unpublished) in FIGURES.items():
        fig = make(cohort)
        book.stamp(fig, unpublished)
        fig.draw_without_rendering()
        out[name] = fig
    yield out
    for fig in out.values():
        plt.close(fig)


def _shown(text) -> bool:
    return text.get_visible() and bool(text.get_text().strip())


def texts(fig) -> list:
    """Every visible, non-empty text of the figure, with a name for messages."""
    found = list(fig.texts)
    for legend in fig.legends:
        found += legend.get_texts()
    for ax in fig.axes:
        found += [ax.title, ax._left_title, ax._right_title, *ax.texts]
        if ax.axison:  # an axis turned off draws no labels or ticks
            found += [ax.xaxis.label, ax.yaxis.label]
            for axis in (ax.xaxis, ax.yaxis):
                low, high = sorted(axis.get_view_interval())
                span = high - low
                # matplotlib draws only the ticks inside the axis limits
                found += [tick.label1 for tick in axis.get_major_ticks() + axis.get_minor_ticks()
                          if low - 1e-9 * span <= tick.get_loc() <= high + 1e-9 * span]
        if ax.get_legend():
            found += ax.get_legend().get_texts()
    return [t for t in found if _shown(t)]


def legends(fig) -> list:
    return [*fig.legends, *(ax.get_legend() for ax in fig.axes if ax.get_legend())]


def overlap(a, b, tolerance: float = -1.0) -> bool:
    """Two display boxes come closer than a pixel apart (share more than `tolerance` pixels) in both
    directions: texts that touch read as one ("n=232n=178")."""
    return (min(a.x1, b.x1) - max(a.x0, b.x0) > tolerance) and (min(a.y1, b.y1) - max(a.y0, b.y0) > tolerance)


def the_stamp(fig):
    """The stamp is the figure's last text, added by book.stamp."""
    return fig.texts[-1]


def test_the_overlap_measure_sees_overlap_and_no_overlap():
    fig, ax = plt.subplots()
    a = ax.text(0.5, 0.5, "crowded", fontsize=12)
    b = ax.text(0.52, 0.5, "crowded", fontsize=12)
    c = ax.text(0.1, 0.1, "apart", fontsize=12)
    fig.draw_without_rendering()
    renderer = fig.canvas.get_renderer()
    assert overlap(a.get_window_extent(renderer), b.get_window_extent(renderer))
    assert not overlap(a.get_window_extent(renderer), c.get_window_extent(renderer))
    plt.close(fig)


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_the_data_stamp_hides_nothing(drawn, name):
    fig = drawn[name]
    renderer = fig.canvas.get_renderer()
    stamp = the_stamp(fig)
    assert stamp.get_text().startswith("Synthetic data"), stamp.get_text()
    box = stamp.get_window_extent(renderer)
    hidden = [f"text {t.get_text()!r}" for t in texts(fig) if t is not stamp
              and overlap(box, t.get_window_extent(renderer))]
    hidden += [f"axes {i}" for i, ax in enumerate(fig.axes) if ax.get_visible()
               and overlap(box, ax.get_window_extent(renderer) if ax.axison else ax.get_tightbbox(renderer))]
    hidden += ["a legend" for legend in legends(fig) if overlap(box, legend.get_window_extent(renderer))]
    assert not hidden, f"{name}: the stamp covers {hidden}"


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_no_two_texts_overlap(drawn, name):
    fig = drawn[name]
    renderer = fig.canvas.get_renderer()
    boxes = [(t, t.get_window_extent(renderer)) for t in texts(fig)]
    crowded = [(a.get_text(), b.get_text()) for (a, box_a), (b, box_b) in itertools.combinations(boxes, 2)
               if overlap(box_a, box_b)]
    assert not crowded, f"{name}: overlapping texts {crowded[:6]}"


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_no_legend_sits_on_a_bar(drawn, name):
    fig = drawn[name]
    renderer = fig.canvas.get_renderer()
    covered = []
    for ax in fig.axes:
        legend = ax.get_legend()
        if legend is None:
            continue
        box = legend.get_window_extent(renderer)
        bars = [p for p in ax.patches if isinstance(p, Rectangle) and p.get_height() and p.get_width()]
        covered += [p.get_x() for p in bars if overlap(box, p.get_window_extent(renderer))]
    assert not covered, f"{name}: a legend covers the bars at x = {covered}"


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_no_label_is_cut_short(drawn, name):
    cut = [t.get_text() for t in texts(drawn[name]) if "…" in t.get_text() or "..." in t.get_text()]
    assert not cut, f"{name}: truncated labels {cut}"


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_every_text_is_legible_on_a_phone(drawn, name):
    fig = drawn[name]
    renderer = fig.canvas.get_renderer()
    width_pt = fig.get_tightbbox(renderer).width * 72  # the SVG's width, scaled to the column
    px_per_pt = PHONE_COLUMN_PX / width_pt
    small = sorted({(round(t.get_fontsize() * px_per_pt, 1), t.get_text()[:30]) for t in texts(fig)
                    if t.get_fontsize() * px_per_pt < MIN_PHONE_PX})
    assert not small, f"{name}: text smaller than {MIN_PHONE_PX} px on a phone: {small[:8]}"


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_no_legend_is_anchored_to_the_figure(drawn, name):
    """A figure-level legend is placed again when the SVG is cropped to what is drawn (savefig's
    tight box), and lands on the stamp: every legend belongs to an axes."""
    assert not drawn[name].legends, f"{name} has a figure-level legend"


def test_every_forest_panel_has_plain_ticks(drawn):
    fig = drawn["risk_ratios"]
    for ax in fig.axes:
        major = [tick.label1.get_text() for tick in ax.xaxis.get_major_ticks()
                 if _shown(tick.label1) and ax.get_xlim()[0] <= tick.get_loc() <= ax.get_xlim()[1]]
        minor = [tick.label1.get_text() for tick in ax.xaxis.get_minor_ticks() if _shown(tick.label1)]
        assert major == ["0.5", "1", "2"], (ax.get_title(), major)
        assert not minor, (ax.get_title(), minor)


def test_every_figure_of_the_book_is_checked():
    from tests.test_figures_at_scale import FIGURES as AT_SCALE

    assert set(AT_SCALE) <= {name.removesuffix("_percent") for name in FIGURES}
    plain = json.loads((config.ROOT / "chapters" / "plain_language.ipynb").read_text(encoding="utf-8"))
    assert "".join("".join(c["source"]) for c in plain["cells"]).count("plain_language.icon_arrays(") == 2
