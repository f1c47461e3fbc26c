"""`python -m cmprehab.compare`: what a reviewer is told moved between two builds' results.json."""
from __future__ import annotations

import builtins
import csv
import io
import json
import math
import os

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
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:  # json.dumps writes a lone surrogate as the escape \\ud800, as a hostile file would
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
    # Hostile files: each must end in the same one-line error, never a traceback.
    "not UTF-8": (b'{"format": "\xff"}', "not UTF-8 text (byte 12 "),
    "deep nesting": ("[" * 100_000 + "]" * 100_000, "invalid JSON: lists or objects nested too deeply"),
    "5000-digit integer": (json.dumps(document(BASE)).replace('"value": 274,', '"value": ' + "9" * 5000 + ","),
                           "holds an integer of 5,000 digits, more than the 640"),
    "lone surrogate in a text": (document([BASE[0], dict(BASE[1], text="51 \ud800")]),
                                 "results[1] field 'text' holds an unpaired surrogate (\\ud800 at character 3)"),
    "lone surrogate in a page": (document([dict(BASE[0], page="\udfff")]), "results[0] field 'page' holds an unpaired"),
    "lone surrogate in a value": (document([dict(BASE[0], value="\ud800")]), "results[0] field 'value' holds an"),
    "lone surrogate in the data": (document(BASE) | {"data": {"kind": "synthetic\ud800"}},
                                   "field 'data.kind' holds an unpaired surrogate"),
    "list as a value": (document([dict(BASE[0], value=json.loads("[" * 50 + "]" * 50))]),
                        "results[0] field 'value' is a JSON list, expected a number, a string, true, false or null"),
    "object as published": (document([dict(BASE[0], published={"n": 274})]), "results[0] field 'published' is a JSON"),
    "object as the parameters": (document(BASE, parameters={"mcid": [1]}),
                                 "field 'parameters_changed' is a JSON object, expected a string or null"),
    "nested lists as the format": (document(BASE) | {"format": json.loads("[" * 500 + "]" * 500)},
                                   "field 'format' is a JSON list, expected 'cmprehab-results/1'"),
    "a long format": (document(BASE) | {"format": "cmprehab-results/" + "9" * 100_000},
                      "field 'format' is 'cmprehab-results/99999999999999999999999'... (100,017 characters)"),
    "a long duplicate": (document([*BASE, *[dict(BASE[0], page="p" * 100_000)] * 2]),
                         "results[5] repeats page 'pppppppppppppppppppppppppppppppppppppppp'... (100,000 characters), "
                         "name 'n_patients'"),
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
    assert len(err) < len(f"compare: error: {bad}: ") + 200  # a message never repeats much of a file
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


@pytest.fixture
def never_opened(monkeypatch):
    """Paths a test adds to this set make any attempt to open them fail the test at once (opening a
    named pipe would otherwise hang it)."""
    forbidden: set[str] = set()

    def guarded(real_open):
        def opener(file, *args, **kwargs):
            if isinstance(file, (str, os.PathLike)) and os.path.abspath(file) in forbidden:
                raise AssertionError(f"{file} was opened")
            return real_open(file, *args, **kwargs)
        return opener

    monkeypatch.setattr(os, "open", guarded(os.open))
    monkeypatch.setattr(io, "open", guarded(io.open))  # what pathlib's read_text calls
    monkeypatch.setattr(builtins, "open", guarded(builtins.open))
    return forbidden


def fifo(path) -> str:
    os.mkfifo(path)
    return str(path)


def symlink(path, target) -> str:
    path.symlink_to(target)
    return str(path)


NOT_REGULAR = {
    "named pipe": (lambda tmp: fifo(tmp / "pipe.json"), "is a named pipe (FIFO), not a results file"),
    "link to a named pipe": (lambda tmp: symlink(tmp / "link.json", fifo(tmp / "pipe")),
                             "is a named pipe (FIFO), not a results file"),
    "directory": (lambda tmp: str(tmp), "is a directory, not a results file"),
    "device": (lambda tmp: os.devnull, "is a character device, not a results file"),
}


@pytest.mark.parametrize("case", NOT_REGULAR)
def test_a_file_that_is_not_regular_is_refused_without_being_opened(tmp_path, old, capsys, never_opened, case):
    make, expected = NOT_REGULAR[case]
    strange = make(tmp_path)
    never_opened.add(os.path.abspath(strange))
    code, out, err = run(capsys, old, strange, "--csv", tmp_path / "diff.csv")
    assert code == 2 and out == "" and err == f"compare: error: {strange}: {expected} " \
        "(only a regular file is read: a pipe or a device could block or never end)\n"
    assert not (tmp_path / "diff.csv").exists()


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(tmp_path, old, capsys, never_opened):
    text = json.dumps(document(BASE))
    at_limit = write(tmp_path / "at-limit.json", text.ljust(compare.MAX_RESULTS_BYTES))  # JSON may end in spaces
    assert run(capsys, old, at_limit)[0] == 0
    over = write(tmp_path / "over.json", text.ljust(compare.MAX_RESULTS_BYTES + 1))
    never_opened.add(over)
    code, out, err = run(capsys, old, over)
    assert code == 2 and out == "" and err.count("\n") == 1
    assert err.startswith(f"compare: error: {over}: is 8,388,609 bytes, larger than the limit of 8,388,608 ")


def test_an_integer_of_the_most_digits_allowed_is_compared(tmp_path, old, capsys):
    huge = int("9" * compare.MAX_INTEGER_DIGITS)
    new = write(tmp_path / "new.json", document([dict(BASE[0], value=huge), *BASE[1:]]))
    code, out, err = run(capsys, old, new)
    assert code == 1 and err == "" and f"(value {huge})" in out


def printable_lines(text: str) -> bool:
    """Whether every line holds only characters a terminal shows as they are (str.isprintable,
    independent of the module's own list; split on LF only, since splitlines would eat some controls)."""
    return all(line.isprintable() for line in text.split("\n"))


def test_control_characters_reach_the_terminal_escaped(tmp_path, old, capsys):
    hostile = [dict(BASE[0], text="\x1b]0;owned\x07\x1b[31m275\x1b[0m"),  # retitle the window, colour red
               dict(BASE[1], text="51 %\r99 %"),                          # overwrite what was printed
               result("chapters/\x1b[2J", "n\x9b31m", "3\n  forged line", 3, 3.0, "key\x85"),  # C1: CSI, NEL
               result("chapters/04_new", "bidi", "\u202e12\u2066", 12)]  # right-to-left override, isolate
    new = write(tmp_path / "new\x1b[8m.json", document([*hostile, *BASE[2:]]) | {
        "data": {"kind": "synthetic\x1b[5m", "sha256": SHA_OLD}, "parameters_changed": "none\x1b[?1049h"})
    code, out, err = run(capsys, old, new, "--all")
    assert code == 1 and err == ""
    assert printable_lines(out)
    for shown in (r"\x1b]0;owned\x07\x1b[31m275\x1b[0m", r"51 %\r99 %", r"chapters/\x1b[2J", r"n\x9b31m",
                  r"3\n  forged line", r"3 (key\x85)", r"\u202e12\u2066", r"new\x1b[8m.json: synthetic\x1b[5m data",
                  r"parameters changed: none\x1b[?1049h"):
        assert shown in out
    assert not any(line.startswith("  forged") for line in out.split("\n"))
    assert "2 changed, 2 added, 0 removed, 2 unchanged" in out

    code, out, err = run(capsys, old, tmp_path / "gone\x1b[2J.json")  # an error names the file too
    assert code == 2 and printable_lines(err) and err.endswith(r"gone\x1b[2J.json: no such file" + "\n")
    with pytest.raises(SystemExit):  # argparse repeats an unknown option
        compare.main([old, new, "--\x1b[31m"])
    assert printable_lines(capsys.readouterr().err)


FORMULAS = ["=HYPERLINK(\"http://x\",\"y\")", "+1+1", "-1+1", "-0.5", "@SUM(A1:A9)", " =1+1", "\u00a0\n=1+1",
            "\t=1+1", "\t5", "\r5", "\r\n+1"]
NOT_FORMULAS = ["274", "51 %", "<5", "a=b", "\u22120.5", "5 - 3", ""]


def test_csv_cells_a_spreadsheet_would_run_get_a_leading_quote(tmp_path, old, capsys):
    texts = FORMULAS + NOT_FORMULAS
    added = [result("chapters/04_new", f"r{i}", text, i) for i, text in enumerate(texts)]
    added.append(result("=cmd|' /C calc'!A0", "@name", "1", 1, 1.0, "+key"))
    new = write(tmp_path / "new.json", document([*BASE, *added]))
    out_csv = tmp_path / "diff.csv"
    assert run(capsys, old, new, "--csv", out_csv)[0] == 1
    with out_csv.open(newline="", encoding="utf-8") as handle:
        rows = {row["name"]: row for row in csv.DictReader(handle)}
    assert [rows[f"r{i}"]["new_text"] for i in range(len(texts))] == ["'" + t for t in FORMULAS] + NOT_FORMULAS
    named = rows["'@name"]
    assert (named["page"], named["published_key"]) == ("'=cmd|' /C calc'!A0", "'+key")


def test_csv_a_negative_number_stays_a_number_only_where_it_was_one(tmp_path, old, capsys):
    values = {"float": (-0.5, "-0.5"), "int": (-3, "-3"), "exponent": (-1e-05, "-1e-05"),
              "text": ("-0.5", "'-0.5"), "formula": ("=1+1", "'=1+1"), "infinite": (-math.inf, "'-inf"),
              "withheld": (None, "")}
    new = write(tmp_path / "new.json", document(
        [*BASE, *(result("chapters/04_new", name, "x", value, value) for name, (value, _) in values.items())]))
    out_csv = tmp_path / "diff.csv"
    assert run(capsys, old, new, "--csv", out_csv)[0] == 1
    with out_csv.open(newline="", encoding="utf-8") as handle:
        rows = {row["name"]: row for row in csv.DictReader(handle)}
    for name, (_, cell) in values.items():
        assert (name, rows[name]["new_value"], rows[name]["published"]) == (name, cell, cell)
