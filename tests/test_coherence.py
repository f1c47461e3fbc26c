"""Rules between the columns of a row: the loader rejects incoherent rows the way real data could have them.

Each case copies the committed cohort, breaks one rule in one row, and checks that the loader
reports exactly that problem with the line, the patient, and a rule naming both columns.
"""
from __future__ import annotations

import math
import warnings

import pandas as pd
import pytest

from cmprehab import config
from cmprehab.data import schema
from cmprehab.data.cohort import CohortValidationError, CohortWarning, _check_columns_named, load_cohort

LINES = config.DEFAULT_COHORT.read_text(encoding="utf-8").splitlines()
HEADER = LINES[0].split(",")
ROWS = [line.split(",") for line in LINES[1:]]  # the committed cohort has no quoted cells
COHERENCE_RULES = [r for r in schema.CROSS_FIELD_RULES if r.columns not in schema.LATER_NEEDS_START]


def value(row: list[str], column: str) -> str:
    return row[HEADER.index(column)]


def first_line(condition) -> int:
    """The file line (header = 1) of the first patient whose cells satisfy `condition(row)`."""
    return next(i + 2 for i, row in enumerate(ROWS) if condition(row))


def edited(tmp_path, line: int, **cells) -> tuple:
    """The committed cohort with cells of one line replaced; returns (path, patient_id)."""
    rows = [list(r) for r in ROWS]
    for column, text in cells.items():
        rows[line - 2][HEADER.index(column)] = str(text)
    path = tmp_path / "cohort.csv"
    path.write_text("\n".join([LINES[0]] + [",".join(r) for r in rows]) + "\n", encoding="utf-8")
    return path, value(rows[line - 2], "patient_id")


def only_problem(path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CohortWarning)
        with pytest.raises(CohortValidationError) as caught:
            load_cohort(path, show_values=True)  # a copy without sidecar is real data: ids shown only on request
    assert len(caught.value.problems) == 1, caught.value
    return caught.value.problems[0], str(caught.value)


def rule_named(*columns: str) -> schema.CrossFieldRule:
    (rule,) = [r for r in COHERENCE_RULES if r.columns == columns]
    return rule


# --------------------------------------------------------------------------
# The list of rules
# --------------------------------------------------------------------------

def test_every_rule_names_its_columns_so_the_loader_checks_and_reports_it():
    names = [r.name for r in schema.CROSS_FIELD_RULES]
    assert len(set(names)) == len(names)
    for rule in schema.CROSS_FIELD_RULES:
        named = list(dict.fromkeys(_check_columns_named(rule.name)))
        assert named == list(rule.columns), rule.name
        assert rule.description.strip() and all(c in schema.COLUMNS for c in rule.columns)


def test_the_committed_cohort_keeps_every_rule(default_cohort):
    for rule in schema.CROSS_FIELD_RULES:
        assert rule.holds(default_cohort).all(), rule.name


# --------------------------------------------------------------------------
# One incoherent row at a time
# --------------------------------------------------------------------------

def test_single_session_with_a_program_length(tmp_path):
    line = first_line(lambda r: int(value(r, "n_sessions")) > 1 and int(value(r, "program_days")) > 0)
    days = value(ROWS[line - 2], "program_days")
    path, pid = edited(tmp_path, line, n_sessions=1)
    problem, message = only_problem(path)
    assert (problem.line, problem.patient_id, problem.column) == (line, pid, "program_days")
    assert "program_days" in problem.rule and "n_sessions" in problem.rule
    assert problem.value == days  # the loader shows a cross-field rule's value as the cell's text
    assert f"line {line}, patient_id {pid}, column program_days" in message


def test_more_sessions_than_days(tmp_path):
    line = first_line(lambda r: int(value(r, "program_days")) > 0)
    days = int(value(ROWS[line - 2], "program_days"))
    path, pid = edited(tmp_path, line, n_sessions=days + 2)
    problem, _ = only_problem(path)
    assert (problem.line, problem.patient_id, problem.column, problem.value) == (
        line, pid, "n_sessions", str(days + 2))
    assert problem.rule == rule_named("n_sessions", "program_days").name
    assert "program_days" in problem.rule


def test_two_sessions_on_one_day(tmp_path):
    line = first_line(lambda r: int(value(r, "n_sessions")) == 1)
    path, pid = edited(tmp_path, line, n_sessions=2)
    problem, _ = only_problem(path)
    assert (problem.line, problem.patient_id, problem.column) == (line, pid, "n_sessions")


def test_pain_that_began_before_birth(tmp_path):
    line = 2
    age = int(value(ROWS[0], "age"))
    too_long = math.floor((age + 1) * config.DAYS_PER_YEAR) + 1
    path, pid = edited(tmp_path, line, pain_duration_days=too_long)
    problem, message = only_problem(path)
    assert (problem.line, problem.patient_id, problem.column, problem.value) == (
        line, pid, "pain_duration_days", str(too_long))
    assert problem.rule == rule_named("pain_duration_days", "age").name
    assert "pain_duration_days" in message and " age " in problem.rule


@pytest.mark.parametrize("cells", [
    {"n_sessions": 1, "program_days": 0},                 # one session on one day
    {"n_sessions": 31, "program_days": 30},               # a session every day, first to last
    {"age": 20, "pain_duration_days": 7670},              # (20 + 1) x 365.25 = 7670.25: just possible
])
def test_the_edge_of_each_rule_is_allowed(tmp_path, cells):
    path, _ = edited(tmp_path, 3, **cells)
    assert len(load_cohort(path)) == len(ROWS)


def test_an_out_of_range_value_is_reported_once_not_again_by_a_rule(tmp_path):
    # Age 12 is outside 18-100; the long pain must not add a cross-field problem on top.
    path, pid = edited(tmp_path, 4, age=12, pain_duration_days=9000)
    problem, _ = only_problem(path)
    assert (problem.column, problem.line, problem.patient_id) == ("age", 4, pid)


def test_several_incoherent_rows_are_reported_at_once(tmp_path):
    single = first_line(lambda r: int(value(r, "n_sessions")) > 1 and int(value(r, "program_days")) > 0)
    rows = [list(r) for r in ROWS]
    rows[single - 2][HEADER.index("n_sessions")] = "1"
    rows[9][HEADER.index("n_sessions")] = str(int(value(rows[9], "program_days")) + 5)
    rows[19][HEADER.index("pain_duration_days")] = str(int(value(rows[19], "age")) * 400 + 400)
    path = tmp_path / "cohort.csv"
    path.write_text("\n".join([LINES[0]] + [",".join(r) for r in rows]) + "\n", encoding="utf-8")
    with pytest.raises(CohortValidationError) as caught:
        load_cohort(path)
    found = {(p.line, p.column) for p in caught.value.problems}
    assert {(11, "n_sessions"), (21, "pain_duration_days")} <= found
    assert (single, "program_days") in found
    assert len(caught.value.problems) == 3


def test_rules_on_a_frame_leave_missing_values_to_the_per_column_checks():
    frame = pd.DataFrame({"n_sessions": [1.0, None, 5.0], "program_days": [None, 3.0, 10.0],
                          "age": [None, 30.0, 40.0], "pain_duration_days": [100.0, None, 500.0]})
    for rule in COHERENCE_RULES:
        assert rule.holds(frame).all(), rule.name
