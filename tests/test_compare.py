"""`python -m cmprehab.compare`: what a reviewer is told moved between two builds' results.json."""
from __future__ import annotations

import csv
import json

import pytest

from cmprehab import compare

SHA_OLD = "a1" * 32
SHA_NEW = "b2" * 32


def result(page: str, name: str, text: str, value, published=None, published_key=None) -> dict:
    return {"page": page, "name": name, "text": text, "value": value, "function": "cmprehab.report.results.x",
            "source": "tables.x", "published_key": published_key, "published": published,
            "audit_status": "matches" if published is not None else None}


BASE = [
    result("chapters/00_overview", "n_patients", "274", 274, 274.0, "cohort_n"),
    result("chapters/00_overview", "pct_mcid_pain", "51 %", 51.2, 51.0, "mcid_pain_pct"),
    result("chapters/02_outcomes", "median_nprs", "6", 6),
    result("chapters/03_followup", "n_lost", "<5", None),
]


def without(entry: dict, field: str) -> dict:
    return {k: v for k, v in entry.items() if k != field}


def document(results: list[dict], sha: str = SHA_OLD, parameters="none") -> dict:
    return {"format": "cmprehab-results/1", "data": {"kind": "synthetic", "sha256": sha},
            "parameters_changed": parameters, "results": results}


def write(path, content) -> str:
    path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
    return str(path)


@pytest.fixture
def old(tmp_path):
    return write(tmp_path / "old.json", document(BASE))


def run(capsys, *args) -> tuple[int, str, str]:
    code = compare.main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_identical_files_exit_0_and_report_nothing_changed(tmp_path, old, capsys):
    new = write(tmp_path / "new.json", document(BASE))
    code, out, err = run(capsys, old, new)
    assert code == 0 and err == ""
    assert "0 changed, 0 added, 0 removed, 4 unchanged" in out
    assert "synthetic data a1a1a1a1a1a1," in out and "data same; parameters same" in out
    assert "n_patients" not in out  # unchanged results are listed only with --all


def test_changed_added_and_removed_results_are_each_named(tmp_path, old, capsys):
    results = [dict(BASE[0], text="275", value=275), BASE[1], BASE[3],
               result("chapters/04_new", "n_sites", "3", 3)]  # median_nprs removed, n_sites added
    new = write(tmp_path / "new.json", document(results, sha=SHA_NEW))
    code, out, _ = run(capsys, old, new)
    assert code == 1
    assert "1 changed, 1 added, 1 removed, 2 unchanged" in out
    assert "data DIFFER; parameters same" in out and "b2b2b2b2b2b2," in out
    sections = out.split("\n\n")
    changed = next(s for s in sections if s.startswith("changed (1):"))
    assert "n_patients" in changed and "274" in changed and "275" in changed and "274 (cohort_n)" in changed
    assert "median_nprs" in next(s for s in sections if s.startswith("removed (1):"))
    assert "n_sites" in next(s for s in sections if s.startswith("added (1):"))
    assert "pct_mcid_pain" not in out


def test_all_lists_unchanged_results_too(tmp_path, old, capsys):
    new = write(tmp_path / "new.json", document(BASE))
    code, out, _ = run(capsys, old, new, "--all")
    assert code == 0
    assert "unchanged (4):" in out and all(r["name"] in out for r in BASE)


def test_withheld_value_against_a_number_counts_as_changed(tmp_path, old, capsys):
    results = [*BASE[:3], dict(BASE[3], value=3)]  # same text "<5", value null -> 3
    new = write(tmp_path / "new.json", document(results))
    code, out, _ = run(capsys, old, new)
    assert code == 1 and "1 changed, 0 added, 0 removed, 3 unchanged" in out
    assert "<5 (value null)" in out and "<5 (value 3)" in out


def test_an_integer_and_the_same_float_are_not_a_change(tmp_path, old, capsys):
    new = write(tmp_path / "new.json", document([dict(BASE[0], value=274.0), *BASE[1:]]))
    assert run(capsys, old, new)[0] == 0


def test_a_number_and_its_digits_as_a_string_are_a_change(tmp_path, old, capsys):
    new = write(tmp_path / "new.json", document([dict(BASE[0], value="274"), *BASE[1:]]))
    assert run(capsys, old, new)[0] == 1


def test_changed_parameters_are_named_in_the_header(tmp_path, old, capsys):
    new = write(tmp_path / "new.json", document(BASE, parameters="mcid.nprs.threshold=1"))
    code, out, _ = run(capsys, old, new)
    assert code == 0  # the inputs differ, but no number moved
    assert "data same; parameters DIFFER" in out and "mcid.nprs.threshold=1" in out


def test_data_without_a_digest_is_not_called_the_same(tmp_path, capsys):
    undigested = document(BASE) | {"data": {"kind": "synthetic"}}
    old, new = write(tmp_path / "old.json", undigested), write(tmp_path / "new.json", undigested)
    code, out, _ = run(capsys, old, new)
    assert code == 0 and "data unknown; parameters same" in out and "synthetic data ?," in out


def test_csv_holds_the_listed_rows_with_their_status(tmp_path, old, capsys):
    results = [dict(BASE[0], text="275", value=275), BASE[1], BASE[3], result("chapters/04_new", "n_sites", "3", 3)]
    new = write(tmp_path / "new.json", document(results))
    out_csv = tmp_path / "diff.csv"
    assert run(capsys, old, new, "--csv", out_csv)[0] == 1
    with out_csv.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == list(compare.CSV_COLUMNS)
    assert [(r["status"], r["name"]) for r in rows] == [
        ("changed", "n_patients"), ("removed", "median_nprs"), ("added", "n_sites")]
    assert rows[0]["old_text"] == "274" and rows[0]["new_text"] == "275" and rows[0]["published"] == "274.0"
    assert rows[1]["new_text"] == "" and rows[2]["old_text"] == ""

    assert run(capsys, old, new, "--csv", out_csv, "--all")[0] == 1
    with out_csv.open(newline="", encoding="utf-8") as handle:
        statuses = [r["status"] for r in csv.DictReader(handle)]
    assert statuses == ["changed", "removed", "added", "unchanged", "unchanged"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["diff.csv", "new.json", "old.json"]  # no temporary left


def test_a_csv_that_cannot_be_written_is_an_error_and_leaves_nothing(tmp_path, old, capsys):
    new = write(tmp_path / "new.json", document(BASE))
    (tmp_path / "taken").mkdir()  # os.replace cannot put a file over a folder
    code, out, err = run(capsys, old, new, "--csv", tmp_path / "taken")
    assert code == 2 and out == "" and "taken: cannot write" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new.json", "old.json", "taken"]
    assert list((tmp_path / "taken").iterdir()) == []
    nowhere = tmp_path / "no-folder" / "diff.csv"
    code, out, err = run(capsys, old, new, "--csv", nowhere)
    assert code == 2 and out == "" and err.startswith(f"compare: error: {nowhere}: cannot write")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new.json", "old.json", "taken"]


BROKEN = {
    "invalid JSON": ('{"format": "cmprehab-results/1", ', "invalid JSON"),
    "not an object": ("[]", "not a results file"),
    "wrong format": (document(BASE) | {"format": "cmprehab-results/2"}, "field 'format'"),
    "no results": ({"format": "cmprehab-results/1"}, "field 'results'"),
    "entry not an object": (document([*BASE, "n=3"]), "results[4] is not an object"),
    "no page": (document([BASE[0], without(BASE[1], "page")]), "results[1] lacks field 'page'"),
    "no name": (document([without(BASE[0], "name")]), "results[0] lacks field 'name'"),
    "no text": (document([*BASE[:2], without(BASE[2], "text")]), "results[2] lacks field 'text'"),
    "null text": (document([dict(BASE[0], text=None)]), "results[0] lacks field 'text'"),
    "text not a string": (document([dict(BASE[0], text=274)]), "results[0] has a non-string field 'text'"),
    "duplicate result": (document([*BASE, dict(BASE[0], text="0")]), "results[4] repeats page"),
}


@pytest.mark.parametrize("side", ["old", "new"])
@pytest.mark.parametrize("case", BROKEN)
def test_a_broken_file_is_named_exit_2_and_nothing_written(tmp_path, capsys, case, side):
    content, expected = BROKEN[case]
    good = write(tmp_path / "good.json", document(BASE))
    bad = write(tmp_path / "bad.json", content)
    out_csv = tmp_path / "diff.csv"
    code, out, err = run(capsys, *((bad, good) if side == "old" else (good, bad)), "--csv", out_csv)
    assert code == 2 and out == ""
    assert err.startswith(f"compare: error: {bad}: ") and expected in err and err.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.json", "good.json"]


def test_a_missing_file_is_named_exit_2_and_nothing_written(tmp_path, old, capsys):
    missing = tmp_path / "nowhere" / "results.json"
    code, out, err = run(capsys, old, missing, "--csv", tmp_path / "diff.csv")
    assert code == 2 and out == "" and err == f"compare: error: {missing}: no such file\n"
    assert not (tmp_path / "diff.csv").exists()


def test_command_line(tmp_path, old, run_cli):
    new = write(tmp_path / "new.json", document([dict(BASE[0], text="275", value=275), *BASE[1:]]))
    done = run_cli("cmprehab.compare", old, new, process=True)
    assert done.returncode == 1 and done.stderr == ""
    assert "1 changed, 0 added, 0 removed, 3 unchanged" in done.stdout
    missing = run_cli("cmprehab.compare", old, tmp_path / "gone.json")
    assert missing.returncode == 2 and "gone.json: no such file" in missing.stderr
