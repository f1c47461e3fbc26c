"""Read and validate a cohort file; every problem is reported at once, in plain words.

A problem names the file, the column, the CSV line (the header is line 1), the
rule broken and, when asked, the patient_id and the offending value. Those are
hidden by default for any file that is not the generator's own synthetic cohort
(real patient data must not end up on a console or in a log).

The file is read once, as a stream: its bytes are hashed as they arrive, parsed
by the `csv` module and validated by the pandera schema chunk by chunk, keeping
only the parsed columns, so memory stays a small multiple of the file size.
The schema's per-cell and per-row checks run on each chunk; its cross-row rule
(a unique patient_id) runs once over the whole file.

A book build validates the file once and keeps the result (`save_validated`); its
notebook kernels then only hash the file, to be sure it is still those bytes, and
load that copy instead of parsing and validating the file again.
"""
from __future__ import annotations

import array
import codecs
import csv
import difflib
import hashlib
import io
import math
import os
import pickle
import re
import stat
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa

from .. import config, memo, provenance
from .. import params as study
from .schema import FIELD_BY_NAME, FIELDS, COLUMNS, pandera_schema

#: Cells read as missing. Kept short on purpose: anything else must parse.
MISSING_TOKENS = {"", "NA", "NaN", "nan"}
#: How many problems the error message spells out; all are kept in `.problems`.
MAX_LISTED = 200
#: Validation stops after this many problems (they are kept and reported), so that a wholly
#: wrong file cannot exhaust memory with its problems.
MAX_KEPT_PROBLEMS = 100_000
#: Records parsed and validated at a time: large enough for pandas, small enough for memory.
CHUNK_ROWS = 20_000
#: Bytes read from the file at a time.
READ_BLOCK = 1 << 20


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
    hint: str = ""  # the end of `rule` that is derived from the value (a "did you mean" suggestion)

    @property
    def discloses(self) -> bool:
        """Whether the full rendering shows anything taken from a patient's row."""
        return bool(self.patient_id) or self.value is not None or bool(self.hint)

    def render(self, show_values: bool) -> str:
        """The problem in words; without `show_values`, no patient_id, value or suggestion from a value."""
        where = []
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.patient_id and show_values:
            where.append(f"patient_id {self.patient_id}")
        if self.column:
            where.append(f"column {self.column}")
        rule = self.rule if show_values else self.rule.removesuffix(self.hint)
        value = f" (value: {self.value!r})" if self.value is not None and show_values else ""
        return f"{', '.join(where) or 'file'}: {rule}{value}"

    def __str__(self) -> str:
        return self.render(show_values=False)  # safe by default; the error decides what to show


class CohortValidationError(CohortError):
    def __init__(self, path: Path, problems: list[Problem], show_values: bool = False,
                 stopped_at: int | None = None):
        self.path = path
        self.problems = problems
        self.show_values = show_values
        listed = "\n".join(f"  - {p.render(show_values)}" for p in problems[:MAX_LISTED])
        more = len(problems) - MAX_LISTED
        tail = f"\n  ... and {more} more problems" if more > 0 else ""
        if stopped_at is not None:
            tail += (f"\n  Validation stopped at line {stopped_at} after {len(problems)} problems "
                     "(MAX_KEPT_PROBLEMS in cmprehab/cohort.py); fix these and run it again.")
        if not show_values and any(p.discloses for p in problems):
            tail += ("\n  Patient ids, cell values and suggestions derived from them are hidden (a file without "
                     "the generator's matching sidecar counts as real patient data). To show them, run "
                     f"python -m cmprehab.validate --show-values {path} (or pass show_values=True to load_cohort).")
        super().__init__(f"{path}: {len(problems)} problem(s) found, the file was not used:\n{listed}{tail}")


def load_cohort(path: str | Path | None = None, show_values: bool | None = None) -> pd.DataFrame:
    """Read, parse and validate a cohort CSV: `path`, else $CMPREHAB_DATA, else data/cohort.csv.

    Returns one row per patient with schema columns only: numbers as float64
    (NaN = missing), required whole numbers as int64, categories as ordered pandas
    Categoricals; `.attrs["fingerprint"]` is the file's `provenance.DataFingerprint`.
    `show_values`: whether error messages show patient ids, cell values and suggestions
    derived from them; None shows them for the generator's own synthetic file only.
    Raises CohortError (or its subclass CohortValidationError listing every problem).
    """
    path = Path(path).expanduser() if path else config.cohort_path()
    validated = _validated_copy(path)
    if validated is not None:
        _refuse_weaker_disclosure(path, validated.attrs["fingerprint"].synthetic)
        return validated
    fd = _open_regular_file(path)
    try:
        table = _Reader(path, fd).read()
    finally:
        os.close(fd)
    fingerprint = provenance.data_fingerprint(path, sha256=table.sha256)
    _check_build_digest(path, table.sha256)
    _refuse_weaker_disclosure(path, fingerprint.synthetic)  # before min_patients is applied
    if table.extra:
        warnings.warn(f"unknown column(s) ignored: {', '.join(table.extra)}", CohortWarning, stacklevel=2)
    problems = table.problems
    minimum = study.current().disclosure.min_patients
    if table.n < minimum and table.stopped_at is None:
        problems.append(Problem(None, None, None, (
            f"{table.n} patient(s); at least {minimum} are needed to publish aggregates "
            "safely (study parameter disclosure.min_patients in params.yml)")))
    if problems:
        problems.sort(key=lambda p: (p.line or 0, COLUMNS.index(p.column) if p.column in COLUMNS else -1))
        raise CohortValidationError(path, problems, fingerprint.synthetic if show_values is None else show_values,
                                    stopped_at=table.stopped_at)
    cohort = _finalise(table.columns)
    cohort.attrs["fingerprint"] = fingerprint
    return cohort


def _refuse_weaker_disclosure(path: Path, synthetic: bool) -> None:
    """Disclosure control below the defaults on real data only with the author's acknowledgement."""
    try:
        study.refuse_weaker_disclosure(study.current(), synthetic)
    except study.ParamsError as err:
        raise CohortError(f"{path}: {err}") from None


# --------------------------------------------------------------------------
# The file: regular, not too large, the bytes the build validated
# --------------------------------------------------------------------------

_KINDS = [(stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a named pipe (FIFO)"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISSOCK, "a socket")]


def _open_regular_file(path: Path) -> int:
    """An open descriptor on `path`, which must be a regular file no larger than the limit."""
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer. The type is checked on the open
        # descriptor, so the file cannot be swapped between the check and the read.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        raise CohortError(f"{path}: file does not exist (set {config.DATA_ENV_VAR} or pass a path to a cohort CSV)"
                          ) from None
    except IsADirectoryError:
        raise CohortError(f"{path}: is a directory, not a cohort CSV file") from None
    except OSError as err:
        try:  # a socket cannot be opened at all: say what it is
            _refuse_unless_regular(path, os.stat(path).st_mode)
        except OSError:
            pass
        raise CohortError(f"{path}: cannot be opened: {err.strerror}") from None
    info = os.fstat(fd)
    try:
        _refuse_unless_regular(path, info.st_mode)
    except CohortError:
        os.close(fd)
        raise
    if info.st_size > config.MAX_COHORT_BYTES:
        os.close(fd)
        raise CohortError(_too_large(path, info.st_size))
    return fd


def _refuse_unless_regular(path: Path, mode: int) -> None:
    if stat.S_ISREG(mode):
        return
    kind = next((name for test, name in _KINDS if test(mode)), "not a regular file")
    if kind == "a directory":
        raise CohortError(f"{path}: is a directory, not a cohort CSV file")
    raise CohortError(f"{path}: is {kind}, not a regular file; a cohort must be a CSV file on disk "
                      "(reading a pipe or a device could wait forever or never end)")


def _too_large(path: Path, size: int) -> str:
    limit = config.MAX_COHORT_BYTES
    return (f"{path}: is {size:,} bytes ({size / 2**20:,.1f} MiB), larger than the limit of {limit:,} bytes "
            f"({limit / 2**20:,.0f} MiB; MAX_COHORT_BYTES in cmprehab/config.py)")


def _check_build_digest(path: Path, sha256: str) -> None:
    """Refuse other bytes than those the build validated (and the data banner describes)."""
    expected = os.environ.get(config.DATA_SHA256_ENV_VAR, "").strip().lower()
    if expected and path.resolve() == config.cohort_path().resolve() and sha256 != expected:
        raise CohortError(
            f"{path}: the file changed since the build validated it (SHA-256 now {sha256[:12]}, "
            f"validated {expected[:12]}, from ${config.DATA_SHA256_ENV_VAR}); rebuild the book")


def file_sha256(path: Path) -> str:
    """The SHA-256 of a cohort file, with the loader's checks on what may be read (no parsing)."""
    fd = _open_regular_file(path)
    try:
        return _HashingReader(path, fd).hexdigest()
    finally:
        os.close(fd)


# --------------------------------------------------------------------------
# The build's validated copy: the file is parsed and validated once per build
# --------------------------------------------------------------------------

def save_validated(cohort: pd.DataFrame, folder: Path) -> Path:
    """Keep a validated cohort for the kernels of this build; returns the file to name in
    $CMPREHAB_VALIDATED_COHORT.

    A pickle (the fastest exact round trip of a DataFrame with its dtypes and attrs), readable
    by its owner only: it holds patient rows. It is named by the data's digest and records
    the study parameters it was validated under; `load_cohort` uses it only when both match.
    Written to a temporary name and renamed, so a kernel never sees half a file. `folder` is
    made owner-only (0700) if this creates it; the build passes a private temporary folder of
    its own, outside the project (`cmprehab.build.make_private_folder`), that it removes.
    """
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    target = folder / f"{cohort.attrs['fingerprint'].sha256}.pickle"
    memo.write_private_pickle({"params": study.to_json(study.current()), "cohort": cohort}, target)
    return target


def _validated_copy(path: Path) -> pd.DataFrame | None:
    """The build's validated cohort, if this build has one for `path` (else None: parse the file).

    The file is still hashed: a file changed since the build validated it is refused.
    """
    copy = os.environ.get(config.VALIDATED_ENV_VAR, "").strip()
    expected = os.environ.get(config.DATA_SHA256_ENV_VAR, "").strip().lower()
    if not copy or not expected or path.resolve() != config.cohort_path().resolve():
        return None
    _check_build_digest(path, file_sha256(path))
    try:
        with open(copy, "rb") as stored:
            record = pickle.load(stored)  # written by save_validated, in this build's private folder
    except OSError:
        return None
    cohort = record["cohort"]
    if cohort.attrs["fingerprint"].sha256 != expected or record["params"] != study.to_json(study.current()):
        return None
    memo.share_in_build(cohort, Path(copy).parent)  # its results too, between this build's kernels
    return cohort


class _HashingReader(io.RawIOBase):
    """The file's bytes, hashed and counted as they are read (the file is read only once)."""

    def __init__(self, path: Path, fd: int):
        self.path, self.fd = path, fd
        self.sha256 = hashlib.sha256()
        self.size = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        n = os.readv(self.fd, [buffer])
        self.sha256.update(memoryview(buffer)[:n])
        self.size += n
        if self.size > config.MAX_COHORT_BYTES:  # it grew while being read
            raise CohortError(_too_large(self.path, self.size))
        return n

    def hexdigest(self) -> str:
        """The SHA-256 of the whole file: the bytes not parsed yet are read (and hashed) first."""
        block = bytearray(READ_BLOCK)
        while self.readinto(block):
            pass
        return self.sha256.hexdigest()


def _utf8_error(path: Path, fd: int) -> CohortError:
    """Where the file stops being UTF-8: a second scan, made only when decoding failed."""
    os.lseek(fd, 0, os.SEEK_SET)
    decoder = codecs.getincrementaldecoder("utf-8")()  # not -sig: offsets count the BOM's bytes too
    offset = newlines = 0  # of the bytes before this block
    while True:
        block = os.read(fd, READ_BLOCK)
        pending = len(decoder.getstate()[0])  # bytes of a character begun in the previous block
        try:
            decoder.decode(block, final=not block)
        except UnicodeDecodeError as err:
            at = offset - pending + err.start
            line = newlines + block[: max(0, at - offset)].count(b"\n") + 1
            return CohortError(f"{path}: line {line}: not valid UTF-8 (byte 0x{err.object[err.start]:02X} "
                               f"at offset {at}); save the file as UTF-8 CSV")
        if not block:
            return CohortError(f"{path}: not valid UTF-8; save the file as UTF-8 CSV")
        offset += len(block)
        newlines += block.count(b"\n")


# --------------------------------------------------------------------------
# Streaming: header, records, chunks
# --------------------------------------------------------------------------

@dataclass
class _Table:
    columns: dict[str, _Column]  # the values of each schema column (complete only if there is no problem)
    problems: list[Problem]
    extra: list[str]  # unknown columns, ignored
    n: int  # patient rows
    sha256: str  # of the whole file
    stopped_at: int | None  # line at which validation stopped (too many problems)


class _Reader:
    def __init__(self, path: Path, fd: int | None):
        self.path, self.fd = path, fd
        self.columns: dict[str, _Column] = {}
        self.lines = _Column("int64")  # the line of each record
        self.problems: list[Problem] = []

    def read(self) -> _Table:
        raw = _HashingReader(self.path, self.fd)
        text = io.TextIOWrapper(io.BufferedReader(raw, READ_BLOCK), encoding="utf-8-sig", newline="")
        try:
            reader = csv.reader(text, skipinitialspace=True)
            header = self._header(reader)
            table = self._records(reader, header)
            table.sha256 = raw.hexdigest()
            return table
        except UnicodeDecodeError:
            raise _utf8_error(self.path, self.fd) from None
        except csv.Error as err:
            raise CohortError(f"{self.path}: line {reader.line_num}: not a well-formed CSV file: {err}") from None
        except OSError as err:
            raise CohortError(f"{self.path}: cannot be read: {err.strerror or err}") from None

    def _header(self, reader) -> list[str]:
        path = self.path
        header = next(reader, None)
        if header is None or (not "".join(header).strip() and not any(map(_not_blank, reader))):
            raise CohortError(f"{path}: file is empty (expected a header line and one row per patient)")
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
        return header

    def _records(self, reader, header: list[str]) -> _Table:
        missing, extra = _check_columns(header)
        schema = pandera_schema()
        # Cross-row rules (unique) need the whole file: checked once, at the end.
        self.unique = [name for name, column in schema.columns.items() if column.unique and name in header]
        schema = schema.update_columns({name: {"unique": False} for name in self.unique})
        present = {name: column for name, column in schema.columns.items() if name in header}
        wide = [c for c in schema.checks if all(col in header for col in _check_columns_named(c.name))]
        self.schema = schema.__class__(present, checks=wide, strict=False, name=schema.name)
        self.positions = {name: header.index(name) for name in present}
        self.missing = missing
        self.columns = {name: _Column(_stored_dtype(FIELD_BY_NAME[name])) for name in present}

        rows, lines, ragged = [], [], []
        n, stopped_at = 0, None
        first = reader.line_num + 1  # line on which the next record starts
        for record in reader:
            if _not_blank(record):  # blank lines are skipped
                n += 1
                if len(record) != len(header):
                    ragged.append(_ragged(record, header, first))
                elif not ragged:  # once a row is ragged, only field counts are reported
                    rows.append(record)
                    lines.append(first)
                    if len(rows) == CHUNK_ROWS:
                        self._chunk(rows, lines)
                        rows, lines = [], []
                        if len(self.problems) >= MAX_KEPT_PROBLEMS:
                            stopped_at = reader.line_num
                            break
            first = reader.line_num + 1
        if rows and not ragged:
            self._chunk(rows, lines)
        if n == 0:
            raise CohortError(f"{self.path}: has a header but no data rows (expected one row per patient)")
        if ragged:
            problems = ragged
        else:
            problems = missing + self.problems + (self._unique_problems() if stopped_at is None else [])
        return _Table(self.columns, problems, extra, n, "", stopped_at)

    def _chunk(self, rows: list[list[str]], lines: list[int]) -> None:
        """Parse and validate a chunk of records; keep their problems and, while all is valid, their values."""
        index = pd.Index(lines, dtype="int64")  # rows are indexed by their line in the file
        cells = list(zip(*rows))  # one tuple per column of the file
        raw = pd.DataFrame({name: np.array([cell.strip() for cell in cells[position]], dtype=object)
                            for name, position in self.positions.items()}, index=index, copy=False)
        parsed, problems = _parse(raw)
        problems += _schema_problems(self.schema, parsed, raw, already=problems)
        self.problems += problems
        self.lines.extend(index.to_numpy())
        if self.problems or self.missing:  # the file will be refused: keep only what the unique rule needs
            self.columns = {name: column for name, column in self.columns.items() if name in self.unique}
        for name in parsed.columns:
            if name in self.columns:
                self.columns[name].extend(_stored(FIELD_BY_NAME[name], parsed[name]))

    def _unique_problems(self) -> list[Problem]:
        """The schema's uniqueness rule, over the whole file."""
        if not self.unique:
            return []
        schema = pa.DataFrameSchema({name: pa.Column(unique=True, nullable=True) for name in self.unique})
        frame = pd.DataFrame({name: self.columns[name].values() for name in self.unique},
                             index=self.lines.values(), copy=False)
        return _schema_problems(schema, frame, frame, already=[])


class _Column:
    """A column grown chunk by chunk in one buffer, so the file's values are never held twice.

    Numbers go to an `array.array`, which grows in place; `values()` is a NumPy view of it.
    """
    _TYPECODES = {"float64": "d", "int64": "q", "int8": "b"}

    def __init__(self, dtype: str):
        self.dtype = np.dtype(dtype)
        self.data = [] if dtype == "object" else array.array(self._TYPECODES[dtype])

    def extend(self, values: np.ndarray) -> None:
        if isinstance(self.data, list):
            self.data.extend(values.tolist())
        else:
            self.data.frombytes(memoryview(np.ascontiguousarray(values, dtype=self.dtype)).cast("B"))

    def values(self) -> np.ndarray:
        if isinstance(self.data, list):
            return np.array(self.data, dtype=object)
        return np.frombuffer(self.data, dtype=self.dtype)


def _stored_dtype(field) -> str:
    """How a column is kept while reading: already in the dtype the cohort will have."""
    if field.kind == "id":
        return "object"
    if field.kind == "category":
        return "int8"  # codes of the levels (-1: missing)
    return "int64" if field.required and field.kind in ("int", "binary") else "float64"


def _stored(field, values: pd.Series) -> np.ndarray:
    if field.kind == "category":
        return pd.Index(field.levels).get_indexer(values).astype(np.int8)
    return values.to_numpy(dtype=_stored_dtype(field))


def _not_blank(record: list[str]) -> bool:
    return len(record) > 1 or bool("".join(record).strip())


def _ragged(record: list[str], header: list[str], line: int) -> Problem:
    pid = record[header.index("patient_id")].strip() if "patient_id" in header[: len(record)] else None
    if len(record) > len(header):
        why = ("a comma inside a cell? Write decimals with a point (25.3, not 25,3) "
               "or put the cell in double quotes")
    else:
        why = "a cell is missing? Leave an empty cell between two commas (,,) instead of deleting it"
    return Problem(None, line, pid or None,
                   f"{len(record)} fields, but the header has {len(header)} ({why})")


def _check_columns(header: list[str]) -> tuple[list[Problem], list[str]]:
    """Problems for missing columns (with a hint at a misspelling) and the unknown columns."""
    missing = [c for c in COLUMNS if c not in header]
    extra = [c for c in header if c not in FIELD_BY_NAME]
    problems = []
    for name in missing:
        near = difflib.get_close_matches(name, extra, n=1)
        hint = f"; found {near[0]!r}, a misspelling?" if near else ""
        problems.append(Problem(name, 1, None, f"required column is missing from the header{hint}"))
    return problems, extra


# --------------------------------------------------------------------------
# Cells: parse, then the schema
# --------------------------------------------------------------------------

def _line(index: int) -> int:
    return int(index)  # rows are indexed by their line in the file (the header is line 1)


def _pid(ids: pd.Series | None, index) -> str | None:
    if index is None or ids is None:
        return None
    value = ids.loc[index]
    return value if isinstance(value, str) and value else None


def _parse(raw: pd.DataFrame) -> tuple[pd.DataFrame, list[Problem]]:
    """Text cells to numbers; unparseable cells become missing and are reported."""
    parsed = pd.DataFrame(index=raw.index)
    problems: list[Problem] = []
    ids = raw.get("patient_id")
    for field in FIELDS:
        if field.name not in raw.columns:
            continue
        text = raw[field.name]
        empty = text.isin(MISSING_TOKENS)
        if field.kind in ("id", "category"):
            parsed[field.name] = text.mask(empty)
            continue
        numbers = _numbers(text, empty)
        bad_text = numbers.isna() & ~empty
        whole = field.kind in ("int", "binary")
        bad_fraction = whole & numbers.notna() & (numbers != np.floor(numbers))
        for i in text.index[bad_text]:
            problems.append(Problem(field.name, _line(i), _pid(ids, i), f"not a number ({field.type_label} expected)", text[i]))
        for i in text.index[bad_fraction]:
            problems.append(Problem(field.name, _line(i), _pid(ids, i), "not a whole number", text[i]))
        parsed[field.name] = numbers.mask(bad_fraction)
    return parsed, problems


#: Characters of a number written in decimal or exponent notation (and nothing else).
_NUMBER_CHARACTERS = frozenset("0123456789.eE+-")


def _numbers(text: pd.Series, empty: pd.Series) -> pd.Series:
    """Cells as float64: NaN where empty or not a number.

    A column of plain decimal numbers (the usual case) is converted by NumPy in one pass,
    several times faster than `pd.to_numeric` on a registry's million rows; anything else
    (a letter, a second point, a lone sign) goes through `pd.to_numeric`, which finds the
    cells that are not numbers.
    """
    cells = text.to_numpy(dtype=object)
    missing = empty.to_numpy(dtype=bool)
    if _NUMBER_CHARACTERS.issuperset("".join(cells[~missing])):
        try:
            return pd.Series(np.where(missing, "nan", cells).astype(np.float64), index=text.index)
        except ValueError:  # e.g. "1.2.3" or "-": found and reported below
            pass
    return pd.to_numeric(text.mask(empty), errors="coerce").astype(float)


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


def _schema_problems(schema: pa.DataFrameSchema, parsed: pd.DataFrame, raw: pd.DataFrame,
                     already: list[Problem]) -> list[Problem]:
    """The schema's failures on `parsed`, as problems; `raw` holds the text of the same cells."""
    try:
        schema.validate(parsed, lazy=True)
        return []
    except pa.errors.SchemaErrors as err:
        cases = err.failure_cases
    ids = raw.get("patient_id")
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
        seen.add((column, line, rule))
        hint = ""
        if field_kind(column) == "category" and isinstance(value, str):
            near = _suggest_level(column, value)
            hint = f" (did you mean {near!r}?)" if near else ""
        problems.append(Problem(column, line, _pid(ids, index), rule + hint, _plain(value), hint))
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


def _finalise(columns: dict[str, _Column]) -> pd.DataFrame:
    """The cohort in its final dtypes, without copying the numbers read."""
    cohort = {}
    for field in FIELDS:
        values = columns[field.name].values()
        if field.kind == "category":
            values = pd.Categorical.from_codes(values, dtype=pd.CategoricalDtype(field.levels, ordered=True))
        elif field.kind == "id":
            values = pd.array(values, dtype="str")
        cohort[field.name] = values
    return pd.DataFrame(cohort, copy=False)
