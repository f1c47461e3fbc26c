"""The cohort contract: one row per patient, one definition per column.

`FIELDS` is the single source of truth. The pandera schema that validates a
file and the data dictionary (data/README.md and the book's dictionary page)
are both generated from it, so they cannot drift apart.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd
import pandera.pandas as pa

from .. import config, markdown
from ..instruments import INSTRUMENTS, LATER, TIMEPOINTS


@dataclass(frozen=True)
class Field:
    name: str
    kind: str  # "id", "int", "float", "binary" or "category"
    description: str
    required: bool = True  # False: the cell may be empty (missing)
    lo: float | None = None
    hi: float | None = None
    unit: str = ""

    @property
    def levels(self) -> list[str] | None:
        return config.CATEGORIES.get(self.name)

    @property
    def allowed(self) -> str:
        """Human-readable rule, used in error messages and the dictionary."""
        if self.kind == "id":
            return "unique, non-empty text"
        if self.kind == "binary":
            return "0 or 1"
        if self.kind == "category":
            return ", ".join(self.levels)
        if self.hi is None:
            return f"≥ {_fmt(self.lo)}"
        return f"{_fmt(self.lo)}–{_fmt(self.hi)}"

    @property
    def type_label(self) -> str:
        return {"id": "text", "int": "integer", "float": "decimal", "binary": "0/1",
                "category": "category"}[self.kind]


def _fmt(x: float) -> str:
    return f"{x:g}"


def _fields() -> list[Field]:
    fields = [
        Field("patient_id", "id", "Pseudonymous patient identifier (never a personal identity number)"),
        Field("age", "int", "Age at the start of rehabilitation", lo=18, hi=100, unit="years"),
        Field("sex", "category", "Sex"),
        Field("bmi", "float", "Body mass index", lo=12, hi=70, unit="kg/m²"),
        Field("smoker", "binary", "Current smoker"),
        Field("pain_duration_days", "int", "Duration of pain at the start (chronic: more than 3 months)",
              lo=90, unit="days"),
        Field("pain_distribution", "category", "Pain distribution", required=False),
        Field("main_pain_location", "category", "Main pain location", required=False),
        Field("pain_management", "int", "Self-rated ability to reduce pain (0 = none, 6 = full); 0–2 counts as low",
              required=False, lo=0, hi=6, unit="points"),
        Field("physically_active", "binary", "Physically active at least 150 minutes a week", required=False),
        Field("anxiety_depression", "binary", "Anxious or depressed: any answer other than 'none' on the EQ-5D "
                                                     "anxiety/depression item (this project's reading; the cut-off "
                                                     "was not published)"),
        Field("n_goals", "int", "Individual rehabilitation goals set at the start", lo=0, unit="goals"),
        Field("n_sessions", "int", "Physiotherapy sessions attended", lo=1, unit="sessions"),
        Field("program_days", "int", "Length of the program, first to last session", lo=0, unit="days"),
    ]
    fields += [Field(col, "binary", f"Received: {label}") for col, label in config.INTERVENTIONS.items()]
    for stem, instrument in INSTRUMENTS.items():
        text = (f"{instrument.construct} on the {instrument.name} ({instrument.lo:g} = {instrument.lo_means}, "
                f"{instrument.hi:g} = {instrument.hi_means})")
        for time, point in TIMEPOINTS.items():
            fields.append(Field(f"{stem}_{time}", "int" if instrument.decimals == 0 else "float",
                                f"{text}, {point.when}", required=False, lo=instrument.lo, hi=instrument.hi,
                                unit=instrument.unit))
    return fields


FIELDS: list[Field] = _fields()
FIELD_BY_NAME: dict[str, Field] = {f.name: f for f in FIELDS}
COLUMNS: list[str] = [f.name for f in FIELDS]

#: Cross-column rules: a later measurement needs the start value it is compared with.
LATER_NEEDS_START = [(f"{stem}_{time}", f"{stem}_start") for stem in INSTRUMENTS for time in LATER]


def later_needs_start_rule(later: str, start: str) -> str:
    return f"{later} is filled but {start} is empty (a change needs its start value)"


@dataclass(frozen=True)
class CrossFieldRule:
    """A rule between columns of one row.

    `name` is the rule as the validator reports it; it names every column involved as a
    word of its own (the first one is the column a problem is reported under). `holds`
    gives True for each row that keeps the rule; a row where one of the values is missing
    or outside its own column's range keeps it (that problem is reported on its own).
    """
    name: str
    columns: tuple[str, ...]
    description: str  # plain words, for the data dictionary
    holds: Callable[[pd.DataFrame], pd.Series]


def _in_own_range(df: pd.DataFrame, *columns: str) -> pd.Series:
    """Rows where every one of `columns` is present and within its column's own range."""
    ok = pd.Series(True, index=df.index)
    for name in columns:
        field, values = FIELD_BY_NAME[name], df[name]
        ok &= values.notna() & (values >= field.lo)
        if field.hi is not None:
            ok &= values <= field.hi
    return ok


def _later_needs_start(later: str, start: str) -> CrossFieldRule:
    return CrossFieldRule(
        name=later_needs_start_rule(later, start), columns=(later, start),
        description=f"A value in {later} needs a value in {start}: a change needs its start value.",
        holds=lambda df: ~(df[later].notna() & df[start].isna()))


#: Days per year of age; age is recorded in whole years, so a patient aged `age` may be up
#: to a year older: pain can have lasted at most (age + 1) years.

#: Every rule between columns of a row, checked by the validator and listed in the dictionary.
CROSS_FIELD_RULES: list[CrossFieldRule] = [_later_needs_start(later, start) for later, start in LATER_NEEDS_START] + [
    CrossFieldRule(
        name="program_days is not 0 although n_sessions is 1 (a single session means a program length of 0 days)",
        columns=("program_days", "n_sessions"),
        description="A patient with one session has a program length of 0 days (first to last session).",
        holds=lambda df: ~(_in_own_range(df, "program_days", "n_sessions")
                           & (df["n_sessions"] == 1) & (df["program_days"] != 0))),
    CrossFieldRule(
        name="n_sessions is more than program_days + 1 (more sessions than days in the program)",
        columns=("n_sessions", "program_days"),
        description="At most one session a day: n_sessions ≤ program_days + 1.",
        holds=lambda df: ~(_in_own_range(df, "n_sessions", "program_days")
                           & (df["n_sessions"] > df["program_days"] + 1))),
    CrossFieldRule(
        name=(f"pain_duration_days is longer than age allows (more than (age + 1) × {config.DAYS_PER_YEAR:g} days: "
              "the pain would have begun before birth)"),
        columns=("pain_duration_days", "age"),
        description=(f"Pain began after birth: pain_duration_days ≤ (age + 1) × {config.DAYS_PER_YEAR:g} "
                     "(age is in whole years)."),
        holds=lambda df: ~(_in_own_range(df, "pain_duration_days", "age")
                           & (df["pain_duration_days"] > (df["age"] + 1) * config.DAYS_PER_YEAR))),
]


def _column(field: Field) -> pa.Column:
    checks = []
    if field.kind == "binary":
        checks.append(pa.Check.isin([0, 1]))
    elif field.kind == "category":
        checks.append(pa.Check.isin(field.levels))
    elif field.kind == "id":
        checks.append(pa.Check.str_length(min_value=1))
    elif field.hi is None:
        checks.append(pa.Check.ge(field.lo))
    else:
        checks.append(pa.Check.in_range(field.lo, field.hi))
    dtype = {"id": str, "category": str}.get(field.kind, float)
    return pa.Column(dtype, checks, nullable=not field.required, unique=field.kind == "id",
                     title=field.type_label, description=field.description)


def pandera_schema() -> pa.DataFrameSchema:
    """Schema of a parsed cohort (numbers already float, categories still text)."""
    wide = [pa.Check(rule.holds, name=rule.name) for rule in CROSS_FIELD_RULES]
    return pa.DataFrameSchema({f.name: _column(f) for f in FIELDS}, checks=wide, strict=False,
                              name="cohort")


def data_dictionary() -> pd.DataFrame:
    """The data dictionary as a table, generated from FIELDS."""
    return pd.DataFrame({
        "column": [f.name for f in FIELDS],
        "type": [f.type_label for f in FIELDS],
        "allowed": [f.allowed for f in FIELDS],
        "unit": [f.unit for f in FIELDS],
        "may be empty": ["yes" if not f.required else "no" for f in FIELDS],
        "description": [f.description for f in FIELDS],
    })


def data_dictionary_markdown() -> str:
    return markdown.table(data_dictionary()) + "\n"


if __name__ == "__main__":  # python -m cmprehab.data.schema: print the dictionary for data/README.md
    print(data_dictionary_markdown(), end="")
