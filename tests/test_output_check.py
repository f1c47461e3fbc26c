"""The output-check report for the data controller (cmprehab/report/output_check.py): what the
release functions log, how kernels' parts are merged, and each artefact's verdict."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest

from cmprehab.report import disclosure, output_check
from cmprehab.report.disclosure import Policy

ON, OFF = Policy(active=True, k=5), Policy(active=False, k=5)


@pytest.fixture(autouse=True)
def fresh_log(monkeypatch, tmp_path):
    """Each test starts with an empty log, no artefacts, no page and its own parts folder."""
    disclosure.take_log()
    monkeypatch.setattr(output_check, "_artefacts", [])
    monkeypatch.setattr(output_check, "_page", None)
    monkeypatch.setenv(output_check.PARTS_ENV_VAR, str(tmp_path / "parts"))
    yield
    disclosure.take_log()


def one_line(artefact: str, synthetic: bool = False) -> dict:
    made = output_check.report(output_check.merged_parts(Path(os.environ[output_check.PARTS_ENV_VAR])), synthetic)
    return next(line for line in made["artefacts"] if line["artefact"] == artefact)


def test_each_release_notes_its_true_count_shown_value_and_rule():
    labels = disclosure.protect({"a": 3, "b": 40, "c": 57}, ON)
    shown = [disclosure.count(n, labels[key], ON) for key, n in {"a": 3, "b": 40, "c": 57}.items()]
    disclosure.share(42, 100, ON, 0.95)
    log = disclosure.take_log()
    [line] = [r for r in log if r["kind"] == "line"]
    assert (line["cells"], line["shown"]) == ([3, 40, 57], ["<5", 40, 55])
    counts = [(r["true"], r["shown"], r["rule"]) for r in log if r["kind"] == "count"]
    assert counts == [(3, "<5", disclosure.RULE_SMALL), (40, shown[1], disclosure.RULE_ROUNDED),
                      (57, shown[2], disclosure.RULE_ROUNDED)]
    [share] = [r for r in log if r["kind"] == "share"]
    assert (share["numerator"], share["denominator"], share["true"]) == (42, 100, 42)
    assert disclosure.take_log() == [], "taking the log empties it"


def test_what_an_attacker_would_try_is_not_logged_as_released():
    """The ranges `protect_lines` considers are hypothetical counts, not releases."""
    disclosure.protect_lines({"a": 2, "b": 2, "c": 6}, [["a", "b", "c"]], ON)
    assert [r["kind"] for r in disclosure.take_log()] == ["line"]


def test_a_table_shown_later_gets_the_notes_of_the_call_that_made_it():
    """A page computes its tables first and shows them later (07_sensitivity): each table gets the
    call whose counts it shows, a figure the last call before it."""
    # Table functions of a cmprehab module (a call is told apart by its outermost cmprehab function).
    module = {"__name__": "cmprehab.report.some_page", "pd": pd, "disclosure": disclosure, "ON": ON}
    exec("def sex_table():\n    return pd.DataFrame({'n': [disclosure.released(n, ON) for n in (3, 120)]})\n"
         "def ages_table():\n    return pd.DataFrame({'n': [disclosure.released(n, ON) for n in (60, 63)]})\n"
         "def curve():\n    disclosure.released(200, ON)\n", module)
    sexes, ages = module["sex_table"](), module["ages_table"]()
    module["curve"]()  # drawn by the figure
    output_check.attach("figure")
    output_check.attach("table", "tbl-ages", table=ages)
    output_check.attach("table", "tbl-sexes", table=sexes)
    assert one_line("figure 1")["smallest_count"] == 200
    assert one_line("tbl-ages")["smallest_count"] == 60
    assert one_line("tbl-sexes")["smallest_count"] == 3


def test_a_table_gets_the_notes_made_since_the_previous_artefact():
    disclosure.released(120, ON)
    output_check.attach("glued numbers", "glued numbers of the page")
    labels = disclosure.protect({"men": 3, "women": 117}, ON)
    for key, n in {"men": 3, "women": 117}.items():
        disclosure.count(n, labels[key], ON)
    output_check.set_page("baseline")
    output_check.attach("table", "tbl-sex")
    line = one_line("tbl-sex")
    assert line["page"] == "baseline" and line["smallest_count"] == 3
    assert line["rules"] == {disclosure.RULE_SMALL: 1, disclosure.RULE_ROUNDED: 1}
    assert "1 count(s) shown as <5" in line["suppressed_or_rounded"]
    assert line["verdict"].startswith("pass")
    assert one_line("glued numbers of the page")["smallest_count"] == 120


def test_a_small_count_released_as_a_number_is_for_review():
    """The defect the report exists for: a count of 3 printed as it is on confidential data."""
    disclosure.count(3, None, Policy(active=True, k=2))  # rounded with k = 2: shown as a number
    output_check.attach("table", "tbl-weaker")
    for record in output_check._artefacts[-1]["records"]:
        record["k"] = 5  # the controller's threshold
    output_check._write_part()
    assert one_line("tbl-weaker")["verdict"].startswith("review: 1 count(s) below k")


def test_exact_counts_on_confidential_data_are_for_review_and_on_synthetic_data_say_so():
    disclosure.released(8, OFF)
    output_check.attach("table", "tbl-exact")
    assert one_line("tbl-exact").get("verdict").startswith("review")
    assert one_line("tbl-exact", synthetic=True)["verdict"] == output_check.SYNTHETIC_VERDICT


def test_an_artefact_without_counts_is_not_a_count():
    output_check.attach("figure")
    line = one_line("figure 1")
    assert line["rules"] == {output_check.NOT_A_COUNT: 1} and line["verdict"] == "pass: no count of patients"


def test_a_page_executed_again_replaces_its_earlier_part(tmp_path):
    parts = tmp_path / "parts"
    parts.mkdir()
    old = {"page": "outcomes", "artefacts": [{"kind": "table", "name": "tbl-old", "page": "outcomes", "records": []}]}
    new = {"page": "outcomes", "artefacts": [{"kind": "table", "name": "tbl-new", "page": "outcomes", "records": []}]}
    other = {"page": "baseline", "artefacts": [{"kind": "table", "name": "tbl-b", "page": "baseline", "records": []}]}
    for name, part in (("kernel-1.json", old), ("kernel-3.json", other), ("kernel-2.json", new)):
        (parts / name).write_text(json.dumps(part))
    os.utime(parts / "kernel-1.json", (1, 1))
    assert [a["name"] for a in output_check.merged_parts(parts)] == ["tbl-b", "tbl-new"]


def test_the_report_is_written_as_json_and_one_html_page(tmp_path):
    disclosure.count(2, "<5", ON)
    output_check.attach("table", "tbl-<script>")
    build_dir = tmp_path / "_build"
    build_dir.mkdir()
    (tmp_path / "parts").rename(build_dir / output_check.PARTS_DIR)
    folder = output_check.write_report(build_dir, synthetic=False)
    made = json.loads((folder / output_check.REPORT_JSON).read_text())
    assert made["summary"] == "every artefact passes" and made["artefacts"][0]["smallest_count"] == 2
    page = (folder / output_check.REPORT_HTML).read_text()
    assert "tbl-&lt;script&gt;" in page and "<script>" not in page


def test_a_count_that_the_rule_says_is_rounded_but_is_not_a_multiple_of_k_is_for_review(monkeypatch):
    """Rounding switched off by mistake (the log still names the rule): the shown value tells."""
    monkeypatch.setattr(disclosure, "_rounded", lambda n, policy: int(n))
    disclosure.released(267, ON)
    output_check.attach("table", "tbl-unrounded")
    assert one_line("tbl-unrounded")["verdict"].startswith("review: 1 value(s) released without disclosure control")
