"""Compare two builds' results.json and list every number that moved.

    python -m cmprehab.compare OLD.json NEW.json [--csv OUT.csv] [--all]

A reviewer of a new version of the book needs to see which quoted numbers moved, without
reading every page twice. Each build writes ``_build/html/results.json``; this command
lists every result (identified by page and name) whose text or value differs between two
such files, and those only in one of them. The exit status follows ``diff``: 0 when no
result changed, was added or was removed, 1 when one did, 2 on an error (nothing written).
"""
from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from pathlib import Path

from .config import RESULTS_FORMAT
from .files import write_atomically

REQUIRED = ("page", "name", "text")
STATUSES = ("changed", "removed", "added", "unchanged")
CSV_COLUMNS = ("status", "page", "name", "old_text", "new_text", "old_value", "new_value",
               "published_key", "published")


class CompareError(Exception):
    """A results file that cannot be compared, or a CSV that cannot be written; the message is one line."""


def load(path: Path) -> dict:
    """The file's parsed content with ``results`` keyed by (page, name); refused whole if any entry is unusable."""
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CompareError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as err:
        raise CompareError(f"{path}: cannot read: {err}") from None
    except json.JSONDecodeError as err:
        raise CompareError(f"{path}: invalid JSON: {err}") from None
    if not isinstance(content, dict):
        raise CompareError(f"{path}: not a results file (the top level is not a JSON object)")
    if content.get("format") != RESULTS_FORMAT:
        raise CompareError(f"{path}: field 'format' is {content.get('format')!r}, expected {RESULTS_FORMAT!r}")
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
        key = (entry["page"], entry["name"])
        if key in results:  # two answers for one result: which one to compare is anyone's guess
            raise CompareError(f"{path}: results[{index}] repeats page {key[0]!r}, name {key[1]!r}")
        results[key] = entry
    data = content.get("data") if isinstance(content.get("data"), dict) else {}
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
    return f"{path}: {data.get('kind') or '?'} data {sha}, parameters changed: {shown(loaded['parameters']) or '?'}"


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
        cells.append((row["page"], row["name"], old, new, published))
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


def write_csv(path: Path, rows: list[dict]) -> None:
    """Write all rows or nothing (`files.write_atomically`)."""
    def write(handle) -> None:
        writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        writer.writerows({k: "" if v is None else v for k, v in row.items()} for row in rows)

    try:
        write_atomically(path, write)
    except OSError as err:
        raise CompareError(f"{path}: cannot write: {err.strerror or err}") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cmprehab.compare", description=__doc__.splitlines()[0])
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
        print(f"compare: error: {err}", file=sys.stderr)
        return 2
    print("\n".join(header(args.old, old, args.new, new) + report(listed, counts)))
    return 1 if counts["changed"] + counts["added"] + counts["removed"] else 0


if __name__ == "__main__":
    sys.exit(main())
