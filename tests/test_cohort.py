"""The cohort loader and `python -m cmprehab.validate` on the files a new user really produces.

Every malformed file starts from the committed valid cohort and breaks one thing; the
test then checks that the message names the file and, where it applies, the column,
the line (the header is line 1), the patient_id, the rule and the offending value.
These files have no sidecar (they stand for real data), so the tests that check ids and
values in messages ask for them with show_values=True; by default they are hidden.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings

import pandas as pd
import pytest

from cmprehab import params
from cmprehab.data import cohort as cohort_module
from cmprehab import config, synth
from cmprehab.data.cohort import CohortError, CohortValidationError, CohortWarning, load_cohort
from cmprehab.provenance import sha256_file, sidecar_path
from cmprehab.data.schema import COLUMNS, FIELD_BY_NAME, FIELDS

VALID_TEXT = config.DEFAULT_COHORT.read_text(encoding="utf-8")
VALID_LINES = VALID_TEXT.splitlines()
HEADER = VALID_LINES[0].split(",")
#: The small valid file most tests break: the header and the fewest patients the loader accepts.
BASE_LINES = VALID_LINES[: 1 + params.DEFAULTS.disclosure.min_patients]


def cells(line: int) -> list[str]:
    """The cells of a line of the base file (the header is line 1)."""
    return BASE_LINES[line - 1].split(",")


def pid(line: int) -> str:
    return cells(line)[HEADER.index("patient_id")]


def cell(line: int, column: str) -> str:
    return cells(line)[HEADER.index(column)]


def edited(*edits: tuple[int, str, str], lines: list[str] = BASE_LINES) -> str:
    """The base file with cells replaced, as a user would type them: (line, column, new text)."""
    rows = [row.split(",") for row in lines]
    for line, column, value in edits:
        rows[line - 1][HEADER.index(column)] = value
    return "\n".join(",".join(row) for row in rows) + "\n"


def first_line(condition) -> int:
    """The first patient line of the base file whose cells satisfy `condition(line)`."""
    return next(line for line in range(2, len(BASE_LINES) + 1) if condition(line))


@pytest.fixture
def write(tmp_path):
    """Write text (UTF-8) or bytes to a fresh file in tmp_path and return its path."""
    def write(content: str | bytes, name: str = "cohort.csv"):
        path = tmp_path / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
        return path
    return write


def load_error(path) -> CohortError:
    with pytest.raises(CohortError) as caught:
        load_cohort(path)
    assert str(path) in str(caught.value), "every message names the file"
    return caught.value


def problems_of(path, show_values: bool | None = True) -> tuple[CohortValidationError, list]:
    """The problems of a file; these test files have no sidecar, so values are shown only when asked."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CohortWarning)
        with pytest.raises(CohortValidationError) as caught:
            load_cohort(path, show_values=show_values)
    err = caught.value
    assert str(path) in str(err)
    assert f"{len(err.problems)} problem(s)" in str(err)
    return err, err.problems


def only_problem(path, column, line, rule_part, value=None, patient_id="from line"):
    """Assert the file has exactly this one problem, both in `.problems` and in the message."""
    err, problems = problems_of(path)
    assert len(problems) == 1, "\n".join(map(str, problems))
    problem = problems[0]
    patient_id = pid(line) if patient_id == "from line" else patient_id
    assert (problem.column, problem.line, problem.patient_id) == (column, line, patient_id)
    assert rule_part in problem.rule
    assert problem.value == value
    text = str(err)
    for part in (f"line {line}", rule_part):
        assert part in text
    if column:
        assert f"column {column}" in text
    if patient_id:
        assert f"patient_id {patient_id}" in text
    if value is not None:
        assert f"(value: {value!r})" in text
    return problem


# --------------------------------------------------------------------------
# The valid file
# --------------------------------------------------------------------------

def test_base_file_is_valid(write):
    assert len(load_cohort(write("\n".join(BASE_LINES) + "\n"))) == len(BASE_LINES) - 1


def test_default_file_loads_with_the_contract_dtypes(default_cohort):
    cohort = default_cohort
    assert len(cohort) == config.DEFAULT_N == len(VALID_LINES) - 1
    assert list(cohort.columns) == COLUMNS
    assert cohort["patient_id"].is_unique
    for field in FIELDS:
        dtype = cohort[field.name].dtype
        if field.kind == "category":
            assert isinstance(dtype, pd.CategoricalDtype) and dtype.ordered, field.name
            assert list(dtype.categories) == config.CATEGORIES[field.name], field.name
        elif field.kind == "id":
            assert pd.api.types.is_string_dtype(dtype)
        elif field.required and field.kind in ("int", "binary"):
            assert dtype == "int64", field.name
        else:
            assert dtype == "float64", field.name
    # Optional cells that are empty in the file are missing, not zero.
    assert cohort["nprs_1y"].isna().sum() == sum(1 for row in VALID_LINES[1:]
                                                  if row.split(",")[HEADER.index("nprs_1y")] == "")


def test_utf8_byte_order_mark_is_accepted(write, default_cohort):
    cohort = load_cohort(write(b"\xef\xbb\xbf" + config.DEFAULT_COHORT.read_bytes()))
    pd.testing.assert_frame_equal(cohort, default_cohort)


def test_windows_line_endings_are_accepted(write, default_cohort):
    cohort = load_cohort(write(VALID_TEXT.replace("\n", "\r\n")))
    pd.testing.assert_frame_equal(cohort, default_cohort)


def test_cmprehab_data_selects_another_file(tmp_path, monkeypatch, default_cohort):
    other = tmp_path / "other.csv"
    synth.write_cohort(synth.generate(config.DEFAULT_N, config.DEFAULT_SEED + 1), other, config.DEFAULT_SEED + 1)
    monkeypatch.setenv(config.DATA_ENV_VAR, str(other))
    from_env = load_cohort()
    pd.testing.assert_frame_equal(from_env, load_cohort(other))
    assert not from_env.equals(default_cohort)
    monkeypatch.delenv(config.DATA_ENV_VAR)
    pd.testing.assert_frame_equal(load_cohort(), default_cohort)


def test_cmprehab_data_naming_a_missing_file_is_an_error(tmp_path, monkeypatch):
    missing = tmp_path / "nowhere.csv"
    monkeypatch.setenv(config.DATA_ENV_VAR, str(missing))
    with pytest.raises(CohortError, match="does not exist") as caught:
        load_cohort()
    assert str(missing) in str(caught.value)


# --------------------------------------------------------------------------
# File-level problems
# --------------------------------------------------------------------------

def test_file_that_does_not_exist(tmp_path):
    err = load_error(tmp_path / "cohort.csv")
    assert "does not exist" in str(err) and config.DATA_ENV_VAR in str(err)


def test_directory_instead_of_a_file(tmp_path):
    assert "is a directory" in str(load_error(tmp_path))


@pytest.mark.parametrize("content", [b"", b"   \n\n\t \r\n"], ids=["zero-bytes", "whitespace-only"])
def test_empty_file(write, content):
    assert "file is empty" in str(load_error(write(content)))


def test_header_only(write):
    assert "header but no data rows" in str(load_error(write(BASE_LINES[0] + "\n")))


@pytest.mark.parametrize("sep,name", [(";", "semicolon"), ("\t", "tab")])
def test_wrong_delimiter(write, sep, name):
    # Excel in many European locales saves "CSV" with semicolons (and decimal commas).
    text = "\n".join(line.replace(",", sep) for line in BASE_LINES) + "\n"
    err = load_error(write(text))
    assert "line 1" in str(err) and f"separated by {name}s" in str(err) and "comma-separated" in str(err)


def test_not_utf8(write):
    line = 4
    text = edited((line, "patient_id", "Malmö-17"))
    err = load_error(write(text.encode("latin-1")))
    message = str(err)
    assert f"line {line}:" in message and "not valid UTF-8" in message
    assert "0xF6" in message  # the Latin-1 'ö'


def test_duplicated_header_column(write):
    rows = [line + "," + line.split(",")[HEADER.index("age")] for line in BASE_LINES]
    err = load_error(write("\n".join(rows) + "\n"))
    assert "line 1" in str(err) and "more than once: age" in str(err)


def test_missing_column(write):
    drop = HEADER.index("bmi")
    rows = [",".join(c for i, c in enumerate(line.split(",")) if i != drop) for line in BASE_LINES]
    only_problem(write("\n".join(rows) + "\n"), "bmi", 1, "required column is missing", patient_id=None)


def test_misspelled_column_gets_a_hint(write):
    text = "\n".join(BASE_LINES).replace("pain_duration_days", "pain_duraton_days", 1) + "\n"
    with pytest.warns(CohortWarning, match="pain_duraton_days"):
        with pytest.raises(CohortValidationError) as caught:
            load_cohort(write(text))  # a column name is not patient data: shown by default
    (problem,) = caught.value.problems
    assert (problem.column, problem.line) == ("pain_duration_days", 1)
    assert "missing" in problem.rule and "'pain_duraton_days', a misspelling?" in problem.rule
    assert "column pain_duration_days" in str(caught.value)


def test_unknown_extra_column_warns_and_is_dropped(write):
    rows = [BASE_LINES[0] + ",clinic"] + [line + ",Lund" for line in BASE_LINES[1:]]
    with pytest.warns(CohortWarning, match="unknown column.*clinic"):
        cohort = load_cohort(write("\n".join(rows) + "\n"))
    assert list(cohort.columns) == COLUMNS
    assert len(cohort) == len(BASE_LINES) - 1


@pytest.mark.parametrize("where", ["bmi", "last"], ids=["mid-row", "end-of-row"])
def test_row_with_too_few_fields(write, where):
    line = 6
    rows = [row.split(",") for row in BASE_LINES]
    del rows[line - 1][HEADER.index("bmi") if where == "bmi" else -1]  # a deleted cell, not an emptied one
    err, problems = problems_of(write("\n".join(",".join(r) for r in rows) + "\n"))
    assert len(problems) == 1
    assert problems[0].line == line and problems[0].patient_id == pid(line)
    assert f"line {line}" in str(err) and f"{len(HEADER) - 1} fields, but the header has {len(HEADER)}" in str(err)


def test_ragged_row_with_too_many_fields(write):
    line = 7
    text = "\n".join(BASE_LINES[: line - 1] + [BASE_LINES[line - 1] + ",extra"] + BASE_LINES[line:]) + "\n"
    err, problems = problems_of(write(text))
    assert [(p.line, p.patient_id) for p in problems] == [(line, pid(line))]
    assert f"{len(HEADER) + 1} fields, but the header has {len(HEADER)}" in str(err)


def test_decimal_comma_unquoted_is_a_field_count_error(write):
    # Typed by hand (or a locale export without quotes): 25,3 splits the row into one field too many.
    line = 4
    err, problems = problems_of(write(edited((line, "bmi", "25,3"))))
    assert [p.line for p in problems] == [line]
    message = str(err)
    assert f"line {line}" in message and f"patient_id {pid(line)}" in message
    assert f"{len(HEADER) + 1} fields" in message and "25.3, not 25,3" in message


def test_decimal_comma_quoted_is_not_a_number(write):
    # Excel quotes a cell holding the separator: "25,3" arrives as one cell that is not a number.
    only_problem(write(edited((4, "bmi", '"25,3"'))), "bmi", 4, "not a number (decimal expected)", "25,3")


def test_blank_lines_do_not_shift_line_numbers(write):
    text = "\n".join(BASE_LINES[:3]) + "\n\n   \n" + "\n".join(BASE_LINES[3:]) + "\n"
    path = write(text)
    bad_line_in_base = 6
    rows = text.splitlines()
    file_line = rows.index(BASE_LINES[bad_line_in_base - 1]) + 1
    assert file_line == bad_line_in_base + 2
    rows[file_line - 1] = edited((bad_line_in_base, "age", "12")).splitlines()[bad_line_in_base - 1]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    (problem,) = problems_of(path)[1]
    assert (problem.line, problem.patient_id, problem.column) == (file_line, pid(bad_line_in_base), "age")


# --------------------------------------------------------------------------
# Cell-level problems
# --------------------------------------------------------------------------

def test_text_in_a_numeric_column(write):
    # Exactly one problem: the unparseable start value must not also be reported as "empty"
    # by the rule that later values need a start value.
    line = first_line(lambda l: cell(l, "nprs_discharge") != "")
    only_problem(write(edited((line, "nprs_start", "seven"))), "nprs_start", line,
                 "not a number (integer expected)", "seven")


def test_fraction_in_an_integer_column(write):
    only_problem(write(edited((5, "n_goals", "2.5"))), "n_goals", 5, "not a whole number", "2.5")


@pytest.mark.parametrize("column,value", [("nprs_start", 11), ("eqvas_start", -5), ("age", 12), ("bmi", 5)])
def test_out_of_range(write, column, value):
    field = FIELD_BY_NAME[column]
    assert not field.lo <= value <= field.hi  # the case really is out of range
    only_problem(write(edited((3, column, str(value)))), column, 3, f"must be {field.allowed}", value)


def test_binary_column_with_yes(write):
    only_problem(write(edited((8, "smoker", "yes"))), "smoker", 8, "not a number (0/1 expected)", "yes")


def test_binary_column_with_2(write):
    only_problem(write(edited((8, "smoker", "2"))), "smoker", 8, "must be 0 or 1", 2)


@pytest.mark.parametrize("column,typed,meant", [
    ("sex", "Female", "female"),
    ("sex", "women", "female"),
    ("pain_distribution", "Regional", "regional"),
    ("main_pain_location", "lumbar", "spine_pelvis"),
    ("main_pain_location", "hip", "lower_limb"),
])
def test_unknown_category_gets_a_suggestion(write, column, typed, meant):
    problem = only_problem(write(edited((2, column, typed))), column, 2,
                           f"must be one of: {', '.join(config.CATEGORIES[column])}", typed)
    assert f"did you mean {meant!r}?" in problem.rule


def test_duplicate_patient_id_reports_both_lines(write):
    first, second = 3, 9
    err, problems = problems_of(write(edited((second, "patient_id", pid(first)))))
    assert [(p.line, p.column, p.patient_id, p.value) for p in problems] == [
        (first, "patient_id", pid(first), pid(first)), (second, "patient_id", pid(first), pid(first))]
    assert all("duplicate" in p.rule for p in problems)
    assert f"line {first}" in str(err) and f"line {second}" in str(err)


def test_empty_patient_id(write):
    only_problem(write(edited((5, "patient_id", ""))), "patient_id", 5, "must not be empty", patient_id=None)


def test_required_cell_empty(write):
    only_problem(write(edited((6, "age", ""))), "age", 6, "must not be empty")


def test_missing_token_in_a_required_cell(write):
    only_problem(write(edited((6, "age", "NA"))), "age", 6, "must not be empty")


@pytest.mark.parametrize("time,other", [("1y", "discharge"), ("discharge", "1y")])
def test_later_value_without_start_value(write, time, other):
    # Empty the start value (and the other later value) so exactly one rule is broken.
    line = first_line(lambda l: cell(l, f"dri_{time}") != "")
    path = write(edited((line, "dri_start", ""), (line, f"dri_{other}", "")))
    only_problem(path, f"dri_{time}", line, f"dri_{time} is filled but dri_start is empty",
                 cell(line, f"dri_{time}"))


def test_every_problem_is_reported_at_once(write):
    edits = [(2, "age", "12"), (3, "sex", "Female"), (4, "nprs_start", "seven"), (5, "n_goals", "2.5"),
             (6, "smoker", "yes"), (7, "patient_id", pid(8)), (9, "bmi", "")]
    err, problems = problems_of(write(edited(*edits)))
    # One problem per edit, and the duplicate id on both of its lines.
    expected = sorted([(line, column) for line, column, _ in edits] + [(8, "patient_id")])
    assert sorted((p.line, p.column) for p in problems) == expected
    assert len(problems) == len(edits) + 1
    for line, column in expected:
        assert f"line {line}, patient_id {pid(line) if line != 7 else pid(8)}, column {column}" in str(err)


# --------------------------------------------------------------------------
# python -m cmprehab.validate
# --------------------------------------------------------------------------

def test_cli_accepts_the_default_file(run_cli):
    result = run_cli("cmprehab.validate", process=True)
    assert result.returncode == 0, result.stderr
    (line,) = result.stdout.splitlines()
    assert line.startswith(f"OK {config.DEFAULT_COHORT}: {config.DEFAULT_N} patients")
    assert result.stderr == ""


def test_cli_reads_cmprehab_data(run_cli, write):
    path = write("\n".join(BASE_LINES) + "\n")
    result = run_cli("cmprehab.validate", env={config.DATA_ENV_VAR: str(path)})
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"OK {path}: {len(BASE_LINES) - 1} patients")


def test_cli_rejects_a_bad_file_and_leaves_it_alone(run_cli, write):
    path = write(edited((4, "nprs_start", "11")))
    before = path.read_bytes(), path.stat().st_mtime_ns
    result = run_cli("cmprehab.validate", "--show-values", path)
    assert result.returncode == 1
    assert result.stdout == ""
    assert str(path) in result.stderr and "1 problem(s)" in result.stderr
    assert f"line 4, patient_id {pid(4)}, column nprs_start: must be 0–10 (value: 11)" in result.stderr
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before
    assert [p.name for p in path.parent.iterdir()] == [path.name]


def test_cli_reports_a_file_level_problem(run_cli, tmp_path):
    result = run_cli("cmprehab.validate", tmp_path / "missing.csv")
    assert result.returncode == 1
    assert "does not exist" in result.stderr and str(tmp_path / "missing.csv") in result.stderr


def test_cli_warns_about_extra_columns_but_accepts(run_cli, write):
    rows = [BASE_LINES[0] + ",clinic"] + [line + ",Lund" for line in BASE_LINES[1:]]
    path = write("\n".join(rows) + "\n")
    result = run_cli("cmprehab.validate", path)
    assert result.returncode == 0
    assert result.stdout.startswith("OK ")
    assert "WARNING" in result.stderr and "clinic" in result.stderr


def test_cli_hides_ids_and_values_of_a_file_without_sidecar(run_cli, write):
    path = write(edited((4, "nprs_start", "11")))
    result = run_cli("cmprehab.validate", path)
    assert result.returncode == 1 and result.stdout == ""
    assert "line 4, column nprs_start: must be 0–10\n" in result.stderr
    assert pid(4) not in result.stderr and "11" not in result.stderr.replace(str(path), "")
    assert "--show-values" in result.stderr and "hidden" in result.stderr


# --------------------------------------------------------------------------
# Inputs that would hang or exhaust memory
# --------------------------------------------------------------------------

def validate_in_a_child(path, timeout: float = 60) -> subprocess.CompletedProcess:
    """`python -m cmprehab.validate PATH` in a child limited to 2 GiB of address space and `timeout`
    seconds: a loader that blocks or reads without end fails the test instead of hanging the suite."""
    code = ("import resource, sys; resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30)); "
            "from cmprehab.validate import main; sys.exit(main(sys.argv[1:]))")
    env = {k: v for k, v in os.environ.items() if k != config.DATA_ENV_VAR}
    return subprocess.run([sys.executable, "-c", code, str(path)], cwd=config.ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


def test_named_pipe_is_refused_at_once(tmp_path):
    fifo = tmp_path / "cohort.csv"
    os.mkfifo(fifo)  # nothing ever writes to it: reading it would wait forever
    result = validate_in_a_child(fifo)
    assert result.returncode == 1
    assert f"{fifo}: is a named pipe (FIFO), not a regular file" in result.stderr
    with pytest.raises(CohortError, match="named pipe"):
        load_cohort(fifo)  # in this process too (it would block here if the check were missing)


def test_character_device_is_refused(tmp_path):
    result = validate_in_a_child("/dev/zero")  # endless bytes: reading it all would exhaust memory
    assert result.returncode == 1
    assert "/dev/zero: is a character device, not a regular file" in result.stderr
    assert "MemoryError" not in result.stderr


def test_socket_is_refused(tmp_path):
    import socket

    path = tmp_path / "cohort.csv"
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(path))
        assert f"{path}: is a socket, not a regular file" in str(load_error(path))


def test_file_larger_than_the_limit_is_refused(write, monkeypatch):
    path = write("\n".join(BASE_LINES) + "\n")
    size = path.stat().st_size
    monkeypatch.setattr(config, "MAX_COHORT_BYTES", size - 1)
    message = str(load_error(path))
    assert f"is {size:,} bytes" in message and f"limit of {size - 1:,} bytes" in message
    assert "MAX_COHORT_BYTES in cmprehab/config.py" in message
    monkeypatch.setattr(config, "MAX_COHORT_BYTES", size)  # exactly at the limit is accepted
    assert len(load_cohort(path)) == len(BASE_LINES) - 1


def test_symlink_to_a_regular_file_is_followed(tmp_path, default_cohort):
    link = tmp_path / "cohort.csv"
    link.symlink_to(config.DEFAULT_COHORT)
    pd.testing.assert_frame_equal(load_cohort(link), default_cohort)


def test_symlink_to_a_pipe_is_refused(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    link = tmp_path / "cohort.csv"
    link.symlink_to(fifo)
    result = validate_in_a_child(link)
    assert result.returncode == 1 and "named pipe" in result.stderr


# --------------------------------------------------------------------------
# What the result says about its file
# --------------------------------------------------------------------------

def test_result_carries_the_fingerprint_of_the_bytes_read(default_cohort, write):
    fingerprint = default_cohort.attrs["fingerprint"]
    assert fingerprint.sha256 == sha256_file(config.DEFAULT_COHORT)
    assert fingerprint.synthetic and fingerprint.seed == config.DEFAULT_SEED
    path = write(b"\xef\xbb\xbf" + config.DEFAULT_COHORT.read_bytes())  # same rows, other bytes, no sidecar
    fingerprint = load_cohort(path).attrs["fingerprint"]
    assert (fingerprint.path, fingerprint.sha256, fingerprint.synthetic) == (path, sha256_file(path), False)


def test_file_read_once(write, monkeypatch):
    # The digest comes from the bytes parsed: nothing opens the file a second time.
    path = write("\n".join(BASE_LINES) + "\n")
    opened = []
    real_open = os.open
    monkeypatch.setattr(os, "open", lambda p, *a, **k: opened.append(str(p)) or real_open(p, *a, **k))
    monkeypatch.setattr("builtins.open", lambda *a, **k: pytest.fail(f"file opened again: {a}"))
    monkeypatch.setattr(cohort_module.provenance, "sha256_file", lambda p: pytest.fail("file hashed again"))
    load_cohort(path)
    assert opened == [str(path)]


def test_digest_validated_by_the_build_must_still_match(tmp_path, monkeypatch):
    path = tmp_path / "cohort.csv"
    path.write_text("\n".join(BASE_LINES) + "\n", encoding="utf-8")
    monkeypatch.setenv(config.DATA_ENV_VAR, str(path))
    monkeypatch.setenv(config.DATA_SHA256_ENV_VAR, sha256_file(path))
    assert len(load_cohort()) == len(BASE_LINES) - 1
    path.write_text("\n".join(BASE_LINES[:-1]) + "\n", encoding="utf-8")  # changed after the build checked it
    with pytest.raises(CohortError) as caught:
        load_cohort()
    message = str(caught.value)
    assert str(path) in message and "changed since the build validated it" in message and "rebuild" in message
    other = tmp_path / "other.csv"  # a file the build did not name is not compared
    other.write_text("\n".join(BASE_LINES) + "\n", encoding="utf-8")
    assert len(load_cohort(other)) == len(BASE_LINES) - 1


def test_fewer_patients_than_the_minimum_are_refused(write):
    path = write("\n".join(BASE_LINES[:-1]) + "\n")
    err, problems = problems_of(path)
    assert [(p.line, p.column) for p in problems] == [(None, None)]
    n = params.DEFAULTS.disclosure.min_patients - 1
    assert f"file: {n} patient(s); at least {params.DEFAULTS.disclosure.min_patients} are needed" in str(err)
    assert "disclosure.min_patients in params.yml" in str(err)


def test_too_few_patients_is_reported_with_the_other_problems(write):
    path = write(edited((3, "age", "12"), lines=BASE_LINES[:-1]))
    assert [(p.line, p.column) for p in problems_of(path)[1]] == [(None, None), (3, "age")]


# --------------------------------------------------------------------------
# Patient data stay off the console unless asked for
# --------------------------------------------------------------------------

def ragged_file() -> str:
    rows = list(BASE_LINES)
    rows[5] += ",extra"
    return "\n".join(rows) + "\n"


HIDDEN_CASES = {  # a file with one kind of problem, and the texts that must not be shown by default
    "ragged": (ragged_file, [pid(6)]),
    "duplicate": (lambda: edited((9, "patient_id", pid(3))), [pid(3)]),
    "out of range": (lambda: edited((3, "age", "123")), [pid(3), "123"]),
    "not a number": (lambda: edited((4, "bmi", "heavy")), [pid(4), "heavy"]),
    "unknown category": (lambda: edited((2, "sex", "Women")), [pid(2), "Women", "'female'"]),
    "cross-column": (lambda: edited((first_line(lambda l: cell(l, "dri_1y") != ""), "dri_start", ""),
                                    (first_line(lambda l: cell(l, "dri_1y") != ""), "dri_discharge", "")),
                     [pid(first_line(lambda l: cell(l, "dri_1y") != "")),
                      cell(first_line(lambda l: cell(l, "dri_1y") != ""), "dri_1y")]),
}


@pytest.mark.parametrize("case", list(HIDDEN_CASES))
def test_ids_and_values_hidden_by_default_for_a_file_without_sidecar(write, case):
    make, secrets = HIDDEN_CASES[case]
    path = write(make())
    err, problems = problems_of(path, show_values=None)
    listed = str(err).split("\n", 1)[1].replace(str(path), "")
    for secret in secrets:
        assert secret not in listed, (secret, listed)
    assert "did you mean" not in listed and "(value:" not in listed and "patient_id " not in listed
    assert "hidden" in listed and "--show-values" in listed and "show_values=True" in listed
    for problem in problems:  # each still names its line, column and rule, and keeps its data
        assert f"line {problem.line}" in listed
        assert problem.column is None or f"column {problem.column}" in listed
        assert problem.patient_id or problem.value is not None
    shown = str(problems_of(path, show_values=True)[0]).replace(str(path), "")
    for secret in secrets:
        assert secret in shown
    assert "hidden" not in shown


def test_cross_column_rule_hidden_message_keeps_the_rule(write):
    line = first_line(lambda l: cell(l, "dri_1y") != "")
    path = write(edited((line, "dri_start", ""), (line, "dri_discharge", "")))
    err, _ = problems_of(path, show_values=None)
    assert f"line {line}, column dri_1y: dri_1y is filled but dri_start is empty" in str(err)


def test_values_shown_for_the_generators_own_file(write):
    # A sidecar recording this file's digest: the generator vouches that the file is synthetic.
    path = write(edited((3, "age", "123"), (2, "sex", "Women")))
    sidecar_path(path).write_text(json.dumps({"synthetic": True, "generator": "cmprehab.synth", "seed": 1,
                                              "n": len(BASE_LINES) - 1, "sha256": sha256_file(path)}))
    err, _ = problems_of(path, show_values=None)
    assert f"line 3, patient_id {pid(3)}, column age: must be 18–100 (value: 123)" in str(err)
    assert "did you mean 'female'?" in str(err) and "hidden" not in str(err).replace(str(path), "")
    # show_values=False hides them even there; a sidecar that no longer matches does not vouch.
    assert pid(3) not in str(problems_of(path, show_values=False)[0]).replace(str(path), "")
    path.write_bytes(path.read_bytes() + b"\n")
    assert pid(3) not in str(problems_of(path, show_values=None)[0]).replace(str(path), "")


def test_file_level_messages_are_unchanged_when_values_are_hidden(write):
    path = write(edited((4, "patient_id", "Malmö-17")).encode("latin-1"))
    assert "hidden" not in str(load_error(path)).replace(str(path), "")  # nothing of a row was in it


# --------------------------------------------------------------------------
# Streaming: the same report whatever the chunk and block sizes
# --------------------------------------------------------------------------

MANY_EDITS = [(2, "age", "12"), (3, "sex", "Female"), (4, "nprs_start", "seven"), (5, "n_goals", "2.5"),
              (6, "smoker", "yes"), (7, "patient_id", pid(20)), (9, "bmi", ""), (21, "patient_id", pid(2))]


@pytest.mark.parametrize("chunk_rows", [2, 7, 10_000])
def test_chunk_size_does_not_change_the_report(write, monkeypatch, chunk_rows):
    path = write(edited(*MANY_EDITS))
    monkeypatch.setattr(cohort_module, "CHUNK_ROWS", chunk_rows)
    err, problems = problems_of(path)
    expected = sorted([(line, column) for line, column, _ in MANY_EDITS] + [(20, "patient_id"), (2, "patient_id")])
    assert sorted((p.line, p.column) for p in problems) == expected
    assert [p.line for p in problems] == sorted(p.line for p in problems)


@pytest.mark.parametrize("chunk_rows", [97, 10_000])  # 97: two full chunks and a partial one
def test_chunk_size_does_not_change_the_result(write, monkeypatch, default_cohort, chunk_rows):
    monkeypatch.setattr(cohort_module, "CHUNK_ROWS", chunk_rows)
    monkeypatch.setattr(cohort_module, "READ_BLOCK", 1000)
    pd.testing.assert_frame_equal(load_cohort(write(VALID_TEXT)), default_cohort)


@pytest.mark.parametrize("block", [1, 2, 3, 5, 8, 64])
@pytest.mark.parametrize("bom", [b"", b"\xef\xbb\xbf"], ids=["no-bom", "bom"])
def test_not_utf8_position_at_any_block_boundary(write, monkeypatch, block, bom):
    # 'ö' is two bytes in UTF-8: a block may end inside it. The bad byte starts an unfinished
    # two-byte sequence (0xC3 then '-'), which a block may split as well.
    line = 5
    text = edited((3, "patient_id", "Malmö-3"), (line, "patient_id", "Lund-\x00")).encode("utf-8")
    text = text.replace(b"Lund-\x00", b"Lund\xc3-")
    data = bom + text
    monkeypatch.setattr(cohort_module, "READ_BLOCK", block)
    offset = data.index(b"\xc3-")
    message = str(load_error(write(data)))
    assert f"line {line}: not valid UTF-8 (byte 0xC3 at offset {offset})" in message


def test_truncated_character_at_the_end_of_the_file(write):
    message = str(load_error(write(("\n".join(BASE_LINES) + "\n").encode("utf-8") + b"\xc3")))
    assert f"line {len(BASE_LINES) + 1}: not valid UTF-8 (byte 0xC3" in message


def test_validation_stops_after_too_many_problems(write, monkeypatch):
    monkeypatch.setattr(cohort_module, "CHUNK_ROWS", 2)
    monkeypatch.setattr(cohort_module, "MAX_KEPT_PROBLEMS", 3)
    path = write(edited(*[(line, "age", "12") for line in range(2, len(BASE_LINES) + 1)]))
    err, problems = problems_of(path)
    assert [p.line for p in problems] == [2, 3, 4, 5]  # two chunks, then it stops
    assert "Validation stopped at line 5 after 4 problems" in str(err)
