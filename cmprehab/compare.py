"""Compare two builds' results.json and list every number that moved.

    python -m cmprehab.compare OLD.json NEW.json [--csv OUT.csv] [--all]

A reviewer of a new version of the book needs to see which quoted numbers moved, without
reading every page twice. Each build writes ``_build/html/results.json``; this command
lists every result (identified by page and name) whose text or value differs between two
such files, and those only in one of them. The exit status follows ``diff``: 0 when no
result changed, was added or was removed, 1 when one did, 2 on an error (nothing written).

The files may come from anyone, so each is read as untrusted: anything but a regular file (a
named pipe, a device, a directory) is refused before it is opened, so is a file larger than
``MAX_RESULTS_BYTES``, JSON nested too deeply, a number longer than ``MAX_INTEGER_DIGITS``
digits and text no UTF-8 can hold (a lone surrogate): each gets exit 2 and a one-line message.
Control characters in what is printed are shown escaped (ESC as ``\\x1b``), never sent to the
terminal, and a CSV cell a spreadsheet would run as a formula gets a leading ``'`` (`csv_cell`).
"""
from __future__ import annotations

import argparse
import csv
import json
import math
import os
import re
import stat
import sys
from pathlib import Path

from .config import RESULTS_FORMAT
from .files import write_atomically

REQUIRED = ("page", "name", "text")
STATUSES = ("changed", "removed", "added", "unchanged")
CSV_COLUMNS = ("status", "page", "name", "old_text", "new_text", "old_value", "new_value",
               "published_key", "published")


#: Largest results file read. A build's results.json is 60 KB (the 204 results of the test
#: book) to about 300 KB (some 1000 results of under 600 bytes each); 8 MiB leaves room for a book
#: 25 times larger, and bounds what parsing can cost: at worst about 200 MB and 1 s (a file
#: of nothing but empty lists), where an unbounded file could exhaust memory.
MAX_RESULTS_BYTES = 8 * 2**20

#: Longest integer read. A result is a count or a measure (at most some 20 digits); 640 is
#: the lowest limit Python lets an interpreter set for converting integers to and from text
#: (sys.set_int_max_str_digits), so any accepted integer can also be printed.
MAX_INTEGER_DIGITS = 640

#: What a results file's values may be: a number, a text, true/false or null (a list or an object
#: there could be nested deep enough to break comparing or printing it).
SCALARS = (str, int, float, bool, type(None))

_NOT_REGULAR = [(stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a named pipe (FIFO)"),
                (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                (stat.S_ISSOCK, "a socket")]


class CompareError(Exception):
    """A results file that cannot be compared, or a CSV that cannot be written; the message is one line."""


class _TooManyDigits(Exception):
    """Raised from inside the JSON parser, which knows no file name."""


def read_text(path: Path) -> str:
    """The file's text: a regular file (checked before it is opened) of at most MAX_RESULTS_BYTES, in UTF-8."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise CompareError(f"{path}: no such file") from None
    except OSError as err:
        raise CompareError(f"{path}: cannot read: {err.strerror or err}") from None
    _refuse_unusable(path, info)
    try:
        # O_NONBLOCK and the second check on the open descriptor: a file swapped for a pipe
        # after the first check neither blocks the open nor gets read.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as err:
        raise CompareError(f"{path}: cannot read: {err.strerror or err}") from None
    with open(fd, "rb") as handle:
        _refuse_unusable(path, os.fstat(fd))
        try:
            data = handle.read(MAX_RESULTS_BYTES + 1)  # a file that grew since its size was checked
        except OSError as err:
            raise CompareError(f"{path}: cannot read: {err.strerror or err}") from None
    if len(data) > MAX_RESULTS_BYTES:
        raise CompareError(f"{path}: grew past the limit of {MAX_RESULTS_BYTES:,} bytes while it was read")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise CompareError(f"{path}: not UTF-8 text (byte {err.start:,} cannot be decoded)") from None


def _refuse_unusable(path: Path, info: os.stat_result) -> None:
    """Refuse anything but a regular file, and one larger than MAX_RESULTS_BYTES."""
    if not stat.S_ISREG(info.st_mode):
        kind = next((name for test, name in _NOT_REGULAR if test(info.st_mode)), "not a regular file")
        raise CompareError(f"{path}: is {kind}, not a results file (only a regular file is read: "
                           "a pipe or a device could block or never end)")
    if info.st_size > MAX_RESULTS_BYTES:
        raise CompareError(f"{path}: is {info.st_size:,} bytes, larger than the limit of {MAX_RESULTS_BYTES:,} "
                           "(a build's results.json is under 1 MB; MAX_RESULTS_BYTES in cmprehab/compare.py)")


def _integer(digits: str) -> int:
    if len(digits.lstrip("-")) > MAX_INTEGER_DIGITS:
        raise _TooManyDigits(len(digits.lstrip("-")))
    return int(digits)


def parse(path: Path, text: str):
    """The JSON in `text`; any way in which it is not usable JSON is a one-line CompareError."""
    try:
        return json.loads(text, parse_int=_integer)
    except json.JSONDecodeError as err:
        raise CompareError(f"{path}: invalid JSON: {err}") from None
    except _TooManyDigits as err:
        raise CompareError(f"{path}: holds an integer of {err.args[0]:,} digits, more than the "
                           f"{MAX_INTEGER_DIGITS} a results file may hold") from None
    except RecursionError:  # the parser counts each level as a call
        raise CompareError(f"{path}: invalid JSON: lists or objects nested too deeply "
                           "(a results file nests them 3 levels deep)") from None
    except ValueError as err:  # any other number Python cannot convert
        raise CompareError(f"{path}: invalid JSON: {err}") from None


def _check_field(path: Path, where: str, value, allowed: tuple[type, ...], expected: str) -> None:
    """Refuse a value of another type, or text that cannot be written (an unpaired surrogate such as \\ud800)."""
    if not isinstance(value, allowed):
        raise CompareError(f"{path}: {where} is a JSON {_json_type(value)}, expected {expected}")
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as err:
            raise CompareError(f"{path}: {where} holds an unpaired surrogate (\\u{ord(value[err.start]):04x} at "
                               f"character {err.start:,}), which is not a character and cannot be printed") from None


def _json_type(value) -> str:
    return {dict: "object", list: "list", str: "string", bool: "boolean", type(None): "null"}.get(
        type(value), "number")


def _quoted(value, limit: int = 40) -> str:
    """A value from the file, for a message: short, never a long stretch of the file."""
    if isinstance(value, (dict, list)):
        return f"a JSON {_json_type(value)}"
    if isinstance(value, str) and len(value) > limit:
        return f"{value[:limit]!r}... ({len(value):,} characters)"
    return repr(value)


def load(path: Path) -> dict:
    """The file's parsed content with ``results`` keyed by (page, name); refused whole if any entry is unusable."""
    content = parse(path, read_text(path))
    if not isinstance(content, dict):
        raise CompareError(f"{path}: not a results file (the top level is not a JSON object)")
    if content.get("format") != RESULTS_FORMAT:
        raise CompareError(f"{path}: field 'format' is {_quoted(content.get('format'))}, expected {RESULTS_FORMAT!r}")
    entries = content.get("results")
    if not isinstance(entries, list):
        raise CompareError(f"{path}: field 'results' is missing or not a list")
    results: dict[tuple[str, str], dict] = {}
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise CompareError(f"{path}: results[{index}] is not an object")
        for field in REQUIRED:
            if not isinstance(entry.get(field), str):
                problem = "lacks" if entry.get(field) is None else "has a non-string"
                raise CompareError(f"{path}: results[{index}] {problem} field {field!r}")
            _check_field(path, f"results[{index}] field {field!r}", entry[field], (str,), "a string")
        for field in ("value", "published"):
            _check_field(path, f"results[{index}] field {field!r}", entry.get(field), SCALARS,
                         "a number, a string, true, false or null")
        _check_field(path, f"results[{index}] field 'published_key'", entry.get("published_key"),
                     (str, type(None)), "a string or null")
        key = (entry["page"], entry["name"])
        if key in results:  # two answers for one result: which one to compare is anyone's guess
            raise CompareError(f"{path}: results[{index}] repeats page {_quoted(key[0])}, name {_quoted(key[1])}")
        results[key] = entry
    data = content.get("data") if isinstance(content.get("data"), dict) else {}
    for field in ("kind", "sha256"):
        _check_field(path, f"field 'data.{field}'", data.get(field), (str, type(None)), "a string or null")
    _check_field(path, "field 'parameters_changed'", content.get("parameters_changed"), (str, type(None)),
                 "a string or null")
    return {"data": data, "parameters": content.get("parameters_changed"), "results": results}


def same_value(old, new) -> bool:
    """Equal values (274 and 274.0 are; a withheld null and a number are not; NaN equals NaN)."""
    if isinstance(old, float) and isinstance(new, float) and math.isnan(old) and math.isnan(new):
        return True
    return old == new and isinstance(old, str) == isinstance(new, str)


def compare(old: dict, new: dict) -> list[dict]:
    """One row per result in either file, in CSV_COLUMNS; changed, removed, added, unchanged in file order."""
    rows = []
    for key in [*new["results"], *(k for k in old["results"] if k not in new["results"])]:
        before, after = old["results"].get(key), new["results"].get(key)
        if before is None:
            status = "added"
        elif after is None:
            status = "removed"
        elif before["text"] != after["text"] or not same_value(before.get("value"), after.get("value")):
            status = "changed"
        else:
            status = "unchanged"
        # The published number of the newer file, else of the older (a removed result has only that).
        cited = after if after is not None and after.get("published") is not None else (before or after)
        rows.append({"status": status, "page": key[0], "name": key[1],
                     "old_text": before["text"] if before else None, "new_text": after["text"] if after else None,
                     "old_value": before.get("value") if before else None,
                     "new_value": after.get("value") if after else None,
                     "published_key": cited.get("published_key"), "published": cited.get("published")})
    return sorted(rows, key=lambda row: STATUSES.index(row["status"]))


#: Characters never sent to the terminal as they are: the C0 controls (ESC starts the sequences
#: that recolour, retitle or rewrite a terminal; CR overwrites a line), DEL, the C1 controls (U+009B
#: alone is a CSI), the line and paragraph separators, and the bidirectional controls, with which
#: a text can read other than it is (Trojan Source, CVE-2021-42574); and the surrogates, which
#: no terminal can be sent (in a file's name, Python's stand-ins for bytes that are not UTF-8).
UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def printable(text: str) -> str:
    """`text` with each UNPRINTABLE character shown as its Python escape (ESC as \\x1b, LF as \\n)."""
    return UNPRINTABLE.sub(lambda match: match.group().encode("unicode_escape").decode("ascii"), text)


def shown(value) -> str:
    """A value as a reader expects it: nothing for null, 274 for 274.0."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def describe(path: Path, loaded: dict) -> str:
    """One build in a line: which data (by digest, never its path) and which parameters it ran with."""
    data = loaded["data"]
    sha = str(data.get("sha256") or "?")[:12]
    return printable(f"{path}: {data.get('kind') or '?'} data {sha}, "
                     f"parameters changed: {shown(loaded['parameters']) or '?'}")


def header(old_path: Path, old: dict, new_path: Path, new: dict) -> list[str]:
    """Which builds are compared, and whether their inputs differ (then every number may move)."""
    inputs = [(side["data"].get("kind"), side["data"].get("sha256")) for side in (old, new)]
    data = "unknown" if None in (inputs[0][1], inputs[1][1]) else "same" if inputs[0] == inputs[1] else "DIFFER"
    parameters = "same" if old["parameters"] == new["parameters"] else "DIFFER"
    return [f"old  {describe(old_path, old)}", f"new  {describe(new_path, new)}",
            f"data {data}; parameters {parameters}"]


def table(rows: list[dict]) -> list[str]:
    """Rows as left-aligned columns; when only the value moved, the values are shown next to the text."""
    cells = []
    for row in rows:
        old, new = shown(row["old_text"]), shown(row["new_text"])
        if row["status"] == "changed" and old == new:
            old += f" (value {json.dumps(row['old_value'])})"
            new += f" (value {json.dumps(row['new_value'])})"
        published = f"{shown(row['published'])} ({row['published_key']})" if row["published"] is not None else ""
        cells.append(tuple(printable(cell) for cell in (row["page"], row["name"], old, new, published)))
    cells.insert(0, ("page", "name", "old", "new", "published"))
    widths = [max(len(cell[i]) for cell in cells) for i in range(5)]
    return ["  " + "  ".join(c.ljust(w) for c, w in zip(cell, widths, strict=True)).rstrip() for cell in cells]


def report(rows: list[dict], counts: dict[str, int]) -> list[str]:
    """A table per status that has rows, then the counts of all four (also of those not listed)."""
    lines = []
    for status in STATUSES:
        group = [row for row in rows if row["status"] == status]
        if group:
            lines += ["", f"{status} ({len(group)}):", *table(group)]
    summary = ", ".join(f"{counts[status]} {status}" for status in ("changed", "added", "removed", "unchanged"))
    return [*lines, "", summary]


#: Columns holding a result's value (the others hold text: a status, a page, a name, a key).
VALUE_COLUMNS = ("old_value", "new_value", "published")
#: A cell a spreadsheet would run as a formula starts with one of these, or with a tab or a
#: carriage return, or has one of them after leading whitespace (OWASP, "CSV Injection").
FORMULA_STARTS = ("=", "+", "-", "@")
#: A number as Python writes it, which no spreadsheet reads as a formula ("-0.5", "-1e-05"; not "-inf").
PLAIN_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?(e[-+][0-9]+)?")


def csv_cell(column: str, value) -> str:
    """A value as a CSV cell: text a spreadsheet would run as a formula gets a leading ' (OWASP's
    remedy, which makes it text). A negative number stays a number when it was one in the
    results file (a JSON number in a value column) and reads as a plain number: "-0.5" there
    is left alone, the text "-0.5" (or "-1+1" anywhere) is not."""
    if value is None:
        return ""
    cell = str(value)
    if (column in VALUE_COLUMNS and isinstance(value, (int, float)) and not isinstance(value, bool)
            and PLAIN_NUMBER.fullmatch(cell)):
        return cell
    if cell.startswith(("\t", "\r")) or cell.lstrip().startswith(FORMULA_STARTS):
        return "'" + cell
    return cell


def write_csv(path: Path, rows: list[dict]) -> None:
    """Write all rows or nothing (`files.write_atomically`), each cell through `csv_cell`."""
    def write(handle) -> None:
        writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        writer.writerows({column: csv_cell(column, value) for column, value in row.items()} for row in rows)

    try:
        write_atomically(path, write)
    except OSError as err:
        raise CompareError(f"{path}: cannot write: {err.strerror or err}") from None


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # its messages repeat what was typed, which may hold an ESC
        super().error(printable(message))


def main(argv: list[str] | None = None) -> int:
    parser = _Parser(prog="python -m cmprehab.compare", description=__doc__.splitlines()[0])
    parser.add_argument("old", type=Path, help="results.json of the earlier build")
    parser.add_argument("new", type=Path, help="results.json of the later build (e.g. _build/html/results.json)")
    parser.add_argument("--csv", type=Path, metavar="OUT.csv", help="also write the listed rows to this CSV file")
    parser.add_argument("--all", action="store_true", help="list unchanged results too")
    args = parser.parse_args(argv)
    try:
        old, new = load(args.old), load(args.new)
        rows = compare(old, new)
        counts = {status: sum(row["status"] == status for row in rows) for status in STATUSES}
        listed = rows if args.all else [row for row in rows if row["status"] != "unchanged"]
        if args.csv:
            write_csv(args.csv, listed)
    except CompareError as err:
        print(f"compare: error: {printable(str(err))}", file=sys.stderr)  # a file's name may hold an ESC
        return 2
    print("\n".join(header(args.old, old, args.new, new) + report(listed, counts)))
    return 1 if counts["changed"] + counts["added"] + counts["removed"] else 0


if __name__ == "__main__":
    sys.exit(main())
