"""The MCID explorer on the thresholds page, used as a reader would: with the keyboard only.

The default test book (tests/books.py) is served on 127.0.0.1 from a copy of its site; Debian's
Chromium opens the page at a desktop and a phone width. The slider is moved with the keyboard and
the share it shows is compared with the share the package precomputed
(`cmprehab.report.sensitivity.explorer_data`), which the page embeds; axe-core audits the widget.
Every wait is for a state (the widget's data-ready flag, an output's text), never for a time.
"""
from __future__ import annotations

import json

import pytest

from browser_support import AXE_RUN_JS, SETTLED_JS, WIDTHS, axe_script, launched_chromium, new_context, served_default_book
from cmprehab import params
from cmprehab.data.cohort import load_cohort
from cmprehab.report import sensitivity

PAGE = "chapters/07_sensitivity.html"
FAILING_IMPACTS = {"serious", "critical"}

#: axe-core on the explorer alone (its own rules, as AXE_RUN_JS runs them on the whole page).
AXE_ON_WIDGET_JS = AXE_RUN_JS.replace("axe.run(document,", "axe.run(document.getElementById('mcid-explorer'),")


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    yield from served_default_book(tmp_path_factory, "explorer")


@pytest.fixture(scope="module")
def browser():
    yield from launched_chromium()


@pytest.fixture(params=list(WIDTHS))
def page(request, browser, served):
    """The thresholds page, its explorer built; requests to any other host are aborted and recorded."""
    context, offsite = new_context(browser, served, request.param)
    errors = []
    tab = context.new_page()
    tab.on("pageerror", lambda error: errors.append(str(error)))
    tab.goto(served.base + PAGE, wait_until="load")
    tab.wait_for_selector("#mcid-explorer[data-ready='yes']")
    tab.offsite, tab.errors = offsite, errors
    yield tab
    context.close()


def embedded(page) -> dict:
    return json.loads(page.locator("#mcid-explorer-data").text_content())


def curve_of(data: dict, stem: str, time: str, kind: str) -> dict:
    return next(c for c in data["curves"] if (c["stem"], c["time"], c["kind"]) == (stem, time, kind))


def shown(page) -> dict:
    result = page.locator("#mcid-explorer-result")
    return {"text": result.inner_text(), "threshold": result.get_attribute("data-threshold"),
            "valuetext": page.locator("#mcid-explorer-threshold").get_attribute("aria-valuetext")}


def expected_text(curve: dict, index: int) -> list[str]:
    """The pieces the output must hold at `index`: the share and its CI to 0.1 %, k of n."""
    return [f"{curve['pct'][index]:.1f} %", f"{curve['low'][index]:.1f}–{curve['high'][index]:.1f} %",
            f"{curve['k'][index]} of {curve['n']} "]


def test_the_page_embeds_the_shares_the_package_precomputed(page):
    assert embedded(page) == json.loads(json.dumps(sensitivity.explorer_data(load_cohort(), params.DEFAULTS)))


def test_arrow_keys_move_the_slider_and_the_shown_share_follows(page):
    data = embedded(page)
    curve = curve_of(data, "nprs", data["curves"][0]["time"], "absolute")
    slider = page.locator("#mcid-explorer-threshold")
    start = curve["thresholds"].index(curve["mcid"])  # the explorer opens at this build's MCID
    assert int(slider.input_value()) == start
    slider.focus()
    for steps, key in ((1, "ArrowRight"), (2, "ArrowRight"), (1, "ArrowLeft")):
        for _ in range(steps):
            page.keyboard.press(key)
    index = start + 2
    page.wait_for_function("i => document.getElementById('mcid-explorer-threshold').value === String(i)", arg=index)
    now = shown(page)
    assert float(now["threshold"]) == curve["thresholds"][index]
    assert now["valuetext"].startswith(f"{curve['thresholds'][index]:g} points")
    for piece in expected_text(curve, index):
        assert piece in now["text"], (piece, now["text"])


def test_the_keyboard_reaches_every_control_and_end_jumps_to_the_last_threshold(page):
    data = embedded(page)
    page.locator("#mcid-explorer-measure").focus()
    page.keyboard.press("ArrowDown")  # the next measure, as a keyboard user changes a <select>
    page.wait_for_function("() => document.getElementById('mcid-explorer-measure').selectedIndex === 1")
    stem = page.locator("#mcid-explorer-measure").input_value()
    order = []
    for _ in range(3):
        page.keyboard.press("Tab")
        order.append(page.evaluate("() => document.activeElement.id"))
    assert order == ["mcid-explorer-time", "mcid-explorer-kind", "mcid-explorer-threshold"]
    page.keyboard.press("End")
    curve = curve_of(data, stem, page.locator("#mcid-explorer-time").input_value(), "absolute")
    last = len(curve["thresholds"]) - 1
    page.wait_for_function("i => document.getElementById('mcid-explorer-threshold').value === String(i)", arg=last)
    now = shown(page)
    assert float(now["threshold"]) == curve["thresholds"][last]
    for piece in expected_text(curve, last):
        assert piece in now["text"], (piece, now["text"])


def test_the_marks_name_the_literature_thresholds_with_their_anchors_and_the_mcid(page):
    marks = page.locator("#mcid-explorer-marks li").all_inner_texts()
    assert any("minimal improvement" in m for m in marks) and any("much improved" in m for m in marks)
    assert any("this build's MCID" in m for m in marks)
    label = page.locator("label[for='mcid-explorer-threshold']").inner_text()
    assert label.startswith("Improvement of at least")


def test_the_explorer_works_offline_without_errors(page):
    page.locator("#mcid-explorer-threshold").focus()
    page.keyboard.press("PageUp")
    page.wait_for_function("() => document.getElementById('mcid-explorer-result').textContent.length > 0")
    assert page.offsite == [] and page.errors == []


def test_axe_finds_nothing_serious_on_the_explorer(page):
    page.evaluate(SETTLED_JS)
    page.add_script_tag(content=axe_script())
    found = page.evaluate(AXE_ON_WIDGET_JS)
    serious = [(v["id"], v["help"], [n["target"] for n in v["nodes"]]) for v in found["violations"]
               if v["impact"] in FAILING_IMPACTS]
    assert serious == []
