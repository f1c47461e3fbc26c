"""Read and validate a cohort file; every problem is reported at once, in plain words.

A problem names the file, the column, the CSV line (the header is line 1), the
patient_id when there is one, the rule broken and the offending value.
"""
from __future__ import annotations

import csv
import difflib
import io
import math
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa

from . import config
from .provenance import data_fingerprint
from .schema import FIELD_BY_NAME, FIELDS, COLUMNS, pandera_schema

#: Cells read as missing. Kept short on purpose: anything else must parse.
MISSING_TOKENS = {"", "NA", "NaN", "nan"}
#: How many problems the error message spells out; all are kept in `.problems`.
MAX_LISTED = 200


class CohortError(ValueError):
    """A cohort file cannot be used. The message says why; nothing was written."""


class CohortWarning(UserWarning):
    """A cohort file is usable but has something the author should know about."""


@dataclass(frozen=True)
class Problem:
    column: str | None
    line: int | None  # line in the CSV file; the header is line 1
    patient_id: str | None
    rule: str
    value: object = None

    def __str__(self) -> str:
        where = []
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.patient_id:
            where.append(f"patient_id {self.patient_id}")
        if self.column:
            where.append(f"column {self.column}")
        value = "" if self.value is None else f" (value: {self.value!r})"
        return f"{', '.join(where) or 'file'}: {self.rule}{value}"


class CohortValidationError(CohortError):
    def __init__(self, path: Path, problems: list[Problem]):
        self.path = path
        self.problems = problems
        listed = "\n".join(f"  - {p}" for p in problems[:MAX_LISTED])
        more = len(problems) - MAX_LISTED
        tail = f"\n  ... and {more} more problems" if more > 0 else ""
        super().__init__(f"{path}: {len(problems)} problem(s) found, the file was not used:\n{listed}{tail}")


def load_cohort(path: str | Path | None = None, show_values: bool | None = None) -> pd.DataFrame:
    """Read, parse and validate a cohort CSV: `path`, else $CMPREHAB_DATA, else data/cohort.csv.

    Returns one row per patient with schema columns only: numbers as float64
    (NaN = missing), categories as ordered pandas Categoricals.
    Raises CohortError (or its subclass CohortValidationError listing every problem).
    """
    path = Path(path).expanduser() if path else config.cohort_path()
    raw = _read_text_table(path)
    problems = _check_columns(raw)
    parsed, parse_problems = _parse(raw)
    problems += parse_problems
    problems += _schema_problems(parsed, raw, already=parse_problems)
    if problems:
        problems.sort(key=lambda p: (p.line or 0, COLUMNS.index(p.column) if p.column in COLUMNS else -1))
        raise CohortValidationError(path, problems)
    cohort = _finalise(parsed)
    cohort.attrs["fingerprint"] = data_fingerprint(path)
    return cohort


def _read_text_table(path: Path) -> pd.DataFrame:
    if not path.exists():
        raise CohortError(f"{path}: file does not exist (set {config.DATA_ENV_VAR} or pass a path to a cohort CSV)")
    if path.is_dir():
        raise CohortError(f"{path}: is a directory, not a cohort CSV file")
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")  # accept the byte-order mark that spreadsheets write
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise CohortError(
            f"{path}: line {line}: not valid UTF-8 (byte 0x{data[err.start]:02X} at offset {err.start}); "
            "save the file as UTF-8 CSV") from None
    if not text.strip():
        raise CohortError(f"{path}: file is empty (expected a header line and one row per patient)")
    reader = csv.reader(io.StringIO(text), skipinitialspace=True)
    header = next(reader)
    if len(header) == 1:
        for sep, name in ((";", "semicolon"), ("\t", "tab"), ("|", "pipe")):
            if sep in header[0]:
                raise CohortError(f"{path}: line 1: columns are separated by {name}s ({sep!r}); "
                                  "the file must be comma-separated (CSV with ',')")
    if not "".join(header).strip():
        raise CohortError(f"{path}: line 1 is empty; the first line must be the header (the column names)")
    duplicated = sorted({c for c in header if header.count(c) > 1})
    if duplicated:
        raise CohortError(f"{path}: line 1: column(s) named more than once: {', '.join(duplicated)}")
    rows, lines, ragged = [], [], []
    try:
        first = reader.line_num + 1  # line on which the next record starts
        for record in reader:
            if len(record) > 1 or "".join(record).strip():  # blank lines are skipped
                if len(record) != len(header):
                    ragged.append(_ragged(record, header, first))
                rows.append(record)
                lines.append(first)
            first = reader.line_num + 1
    except csv.Error as err:
        raise CohortError(f"{path}: line {reader.line_num}: not a well-formed CSV file: {err}") from None
    if ragged:
        raise CohortValidationError(path, ragged)
    if not rows:
        raise CohortError(f"{path}: has a header but no data rows (expected one row per patient)")
    # Rows are indexed by their line in the file, so every problem names the line a reader sees.
    raw = pd.DataFrame(rows, columns=header, index=lines, dtype=str)
    return raw.apply(lambda col: col.str.strip())


def _ragged(record: list[str], header: list[str], line: int) -> Problem:
    pid = record[header.index("patient_id")] if "patient_id" in header[: len(record)] else None
    if len(record) > len(header):
        why = ("a comma inside a cell? Write decimals with a point (25.3, not 25,3) "
               "or put the cell in double quotes")
    else:
        why = "a cell is missing? Leave an empty cell between two commas (,,) instead of deleting it"
    return Problem(None, line, pid or None,
                   f"{len(record)} fields, but the header has {len(header)} ({why})")


def _line(index: int) -> int:
    return int(index)  # rows are indexed by their line in the file (the header is line 1)


def _pid(raw: pd.DataFrame, index) -> str | None:
    if index is None or "patient_id" not in raw.columns:
        return None
    value = raw["patient_id"].loc[index]
    return value or None


def _check_columns(raw: pd.DataFrame) -> list[Problem]:
    missing = [c for c in COLUMNS if c not in raw.columns]
    extra = [c for c in raw.columns if c not in FIELD_BY_NAME]
    if extra:
        warnings.warn(f"unknown column(s) ignored: {', '.join(extra)}", CohortWarning, stacklevel=3)
    problems = []
    for name in missing:
        near = difflib.get_close_matches(name, extra, n=1)
        hint = f"; found {near[0]!r}, a misspelling?" if near else ""
        problems.append(Problem(name, 1, None, f"required column is missing from the header{hint}"))
    return problems


def _parse(raw: pd.DataFrame) -> tuple[pd.DataFrame, list[Problem]]:
    """Text cells to numbers; unparseable cells become missing and are reported."""
    parsed = pd.DataFrame(index=raw.index)
    problems: list[Problem] = []
    for field in FIELDS:
        if field.name not in raw.columns:
            continue
        text = raw[field.name]
        empty = text.isin(MISSING_TOKENS)
        if field.kind in ("id", "category"):
            parsed[field.name] = text.mask(empty)
            continue
        numbers = pd.to_numeric(text.mask(empty), errors="coerce").astype(float)
        bad_text = numbers.isna() & ~empty
        whole = field.kind in ("int", "binary")
        bad_fraction = whole & numbers.notna() & (numbers != np.floor(numbers))
        for i in text.index[bad_text]:
            problems.append(Problem(field.name, _line(i), _pid(raw, i), f"not a number ({field.type_label} expected)", text[i]))
        for i in text.index[bad_fraction]:
            problems.append(Problem(field.name, _line(i), _pid(raw, i), "not a whole number", text[i]))
        parsed[field.name] = numbers.mask(bad_fraction)
    return parsed, problems


def _rule_text(column: str | None, check: str) -> str:
    field = FIELD_BY_NAME.get(column)
    if check == "not_nullable":
        return "must not be empty"
    if check == "field_uniqueness":
        return "duplicate value (must be unique)"
    if field is not None and check.startswith(("in_range", "isin", "greater_than", "str_length")):
        rule = f"must be {field.allowed}" if field.kind != "category" else f"must be one of: {field.allowed}"
        return rule
    return check


def _schema_problems(parsed: pd.DataFrame, raw: pd.DataFrame, already: list[Problem]) -> list[Problem]:
    schema = pandera_schema()
    present = {name: col for name, col in schema.columns.items() if name in parsed.columns}
    wide = [c for c in schema.checks if all(col in parsed.columns for col in _check_columns_named(c.name))]
    schema = schema.__class__(present, checks=wide, strict=False, name=schema.name)
    try:
        schema.validate(parsed, lazy=True)
        return []
    except pa.errors.SchemaErrors as err:
        cases = err.failure_cases
    unparseable = {(p.column, p.line) for p in already}
    seen = set()
    problems = []
    for case in cases.itertuples(index=False):
        index = None if pd.isna(case.index) else int(case.index)
        if case.schema_context == "DataFrameSchema":  # a cross-column rule: one problem per row
            column, rule, value = _check_columns_named(case.check)[0], case.check, None
            if index is not None:
                value = raw[column].loc[index]
        else:
            column, rule, value = case.column, _rule_text(case.column, case.check), case.failure_case
        line = None if index is None else _line(index)
        involved = _check_columns_named(case.check) if case.schema_context == "DataFrameSchema" else [column]
        if any((c, line) in unparseable for c in involved) or (column, line, rule) in seen:
            continue  # reported already: as unparseable, or by another column of a cross-column rule
        if field_kind(column) == "category" and isinstance(value, str):
            near = _suggest_level(column, value)
            rule += f" (did you mean {near!r}?)" if near else ""
        seen.add((column, line, rule))
        problems.append(Problem(column, line, _pid(raw, index), rule, _plain(value)))
    return problems


def _check_columns_named(check_name: str) -> list[str]:
    """Columns a cross-column rule is about, from its name (the first is reported)."""
    return [word for word in check_name.split() if word in FIELD_BY_NAME]


def _suggest_level(column: str, value: str) -> str | None:
    """The level a misspelled category most likely means: same letters, a word of its label, or close."""
    levels = FIELD_BY_NAME[column].levels
    word = value.strip().lower()
    for level in levels:
        label_words = re.findall(r"[a-z]{3,}", config.CATEGORY_LABELS.get(level, "").lower())
        if word == level or word in label_words:
            return level
    near = difflib.get_close_matches(word, levels, n=1, cutoff=0.5)
    return near[0] if near else None


def field_kind(column: str | None) -> str | None:
    field = FIELD_BY_NAME.get(column)
    return field.kind if field else None


def _plain(value):
    if isinstance(value, float) and math.isnan(value):
        return None  # an empty cell: the rule ("must not be empty") says it all
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _finalise(parsed: pd.DataFrame) -> pd.DataFrame:
    cohort = parsed[COLUMNS].copy()
    for field in FIELDS:
        if field.kind == "category":
            cohort[field.name] = pd.Categorical(cohort[field.name], categories=field.levels, ordered=True)
        elif field.kind == "id":
            cohort[field.name] = cohort[field.name].astype(str)
        elif field.required and field.kind in ("int", "binary"):
            cohort[field.name] = cohort[field.name].astype("int64")
    return cohort.reset_index(drop=True)
