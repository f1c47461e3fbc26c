"""The output-check report for the data controller (in the manner of SACRO/ACRO output checking).

Before results leave a secure environment, the person who approves their release checks every
table, figure and number: what is the smallest count of patients underneath, which rule was
applied, what was suppressed or rounded. Each build writes that report into
``_build/output-check/`` (``report.json`` and ``index.html``), beside the site, never in it.

How it is made: the release functions of `disclosure` note each count they release (true count,
shown value, rule, and the cmprehab function under way) in an in-process log. `book.show_table`,
`book.show_figure`, `book.glue` and `book.glue_results` call `attach`, which files notes under that
artefact's name: glued numbers and a figure get the notes made since the previous artefact (a
figure: those of the last function called); a table gets those, or, when a page computed its
tables first and shows them later, the earlier calls whose every released count it shows. The pages run in parallel kernels, so each kernel writes its part
(``kernel-<pid>.json``) into the folder named by $CMPREHAB_OUTPUT_CHECK_PARTS (set by `cmprehab.build`,
under ``_build/``, dropped with the executed results); the build merges the parts at its end
(`write_report`). The report holds counts and rules only: no patient id, no row, no file name.
"""
from __future__ import annotations

import html
import json
import numbers
import os
import re
from collections import Counter
from pathlib import Path

from ..files import write_atomically
from . import disclosure

#: Folder where each kernel writes its part of the report (set by the build; unset: nothing written).
PARTS_ENV_VAR = "CMPREHAB_OUTPUT_CHECK_PARTS"
#: Under _build/: the parts (executed results, dropped with them) and the report itself.
PARTS_DIR, REPORT_DIR = ".output-check-parts", "output-check"
REPORT_JSON, REPORT_HTML = "report.json", "index.html"

SYNTHETIC_VERDICT = "disclosure control off: synthetic data, nothing to check"
#: The rule of an artefact that releases no count of patients.
NOT_A_COUNT = "not a count"

#: The artefacts this kernel (page) has released, in order, and the page's name once known.
_artefacts: list[dict] = []
_page: str | None = None
#: The notes of this kernel, as runs of one function's calls (a table may show them later).
_calls: list[list[dict]] = []


def set_page(name: str) -> None:
    """Name the page this kernel shows (the results function of `book.glue_results`)."""
    global _page
    if _page is None:
        _page = re.sub(r"[^A-Za-z0-9_.-]", "_", name)


def _runs(records: list[dict]) -> list[list[dict]]:
    """Records split into runs of one outermost function's call."""
    runs: list[list[dict]] = []
    for record in records:
        if runs and runs[-1][0].get("source") == record.get("source"):
            runs[-1].append(record)
        else:
            runs.append([record])
    return runs


def _shown_values(table) -> set[str]:
    """Every count a table shows, as text ("175", "<5", "withheld"), numbers inside text included."""
    found = set()
    for value in table.to_numpy().ravel():
        if isinstance(value, str):
            found.add(value)
            found.update(re.findall(r"\d+", value))
        elif isinstance(value, numbers.Real) and value == value and float(value).is_integer():
            found.add(str(int(value)))
    return found


def attach(kind: str, name: str | None = None, keep_empty: bool = True, table=None) -> None:
    """File notes under this artefact (a table, a figure, glued numbers); a figure without a name
    is numbered on its page. With `keep_empty` false, an artefact without a note (a glued text) is
    not listed. `table`: the DataFrame a table shows, to find the calls it shows the counts of."""
    new = _runs(disclosure.take_log())
    _calls.extend(new)
    if kind == "figure":
        claimed = new[-1:]
    elif kind == "table" and table is not None:
        shown = _shown_values(table)
        pool = new or [run for run in _calls if any(r["kind"] == "count" for r in run)]
        claimed = [run for run in pool if any(r["kind"] == "count" for r in run)
                   and all(str(r["shown"]) in shown for r in run if r["kind"] == "count")] or new[-1:]
    else:
        claimed = new
    records = [record for run in claimed for record in run]
    if not records and not keep_empty:
        return
    if name is None:
        name = f"figure {sum(a['kind'] == 'figure' for a in _artefacts) + 1}"
    _artefacts.append({"kind": kind, "name": name, "page": _page, "records": records})
    _write_part()


def _write_part() -> None:
    folder = os.environ.get(PARTS_ENV_VAR)
    if not folder:
        return
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    part = folder / f"kernel-{os.getpid()}.json"  # one per kernel: the page's name may come later
    artefacts = [{**a, "page": a["page"] or _page} for a in _artefacts]
    write_atomically(part, lambda out: out.write(json.dumps({"page": _page, "artefacts": artefacts})))


def merged_parts(folder: Path) -> list[dict]:
    """Every artefact of the parts in `folder`; a page executed again replaces its earlier part."""
    latest: dict[str, tuple[float, Path]] = {}
    for part in folder.glob("*.json"):
        page = json.loads(part.read_text(encoding="utf-8")).get("page") or part.stem
        when = part.stat().st_mtime
        if page not in latest or when > latest[page][0]:
            latest[page] = (when, part)
    artefacts = []
    for page in sorted(latest):
        part = latest[page][1]
        artefacts += json.loads(part.read_text(encoding="utf-8"))["artefacts"]
    return artefacts


def check(artefact: dict, synthetic: bool) -> dict:
    """One line of the report: the smallest count underneath, the rules, what was changed, a verdict."""
    counts = [r for r in artefact["records"] if r["kind"] == "count"]
    shares = [r for r in artefact["records"] if r["kind"] == "share"]
    underneath = [r["true"] for r in counts + shares]
    rules = Counter(r["rule"] for r in counts + shares) or Counter({NOT_A_COUNT: 1})
    k = next((r["k"] for r in artefact["records"]), None)
    small = sum(r["rule"] == disclosure.RULE_SMALL for r in counts)
    withheld = sum(r["rule"] == disclosure.RULE_WITHHELD for r in counts)
    rounded = [r for r in counts if r["rule"] == disclosure.RULE_ROUNDED]
    changed = sum(r["shown"] != r["true"] for r in rounded)
    largest = max((abs(r["shown"] - r["true"]) for r in rounded), default=0)
    done = [f"{small} count(s) shown as <{k}" if small else "",
            f"{withheld} withheld by complementary suppression" if withheld else "",
            f"{len(rounded)} rounded to a multiple of {k} ({changed} changed, by at most {largest})"
            if rounded else "",
            f"{len(shares)} share(s) computed from released counts" if shares else ""]
    # A count below k released as a number, or a count released exactly on confidential data.
    exposed = [r for r in counts if 0 < r["true"] < r["k"] and r["shown"] not in (f"<{r['k']}", disclosure.WITHHELD)]
    exact = [r for r in counts + shares if r["rule"] == disclosure.RULE_OFF] + [
        r for r in rounded if not isinstance(r["shown"], int) or r["shown"] % r["k"]]  # not a multiple of k
    if synthetic:
        verdict = SYNTHETIC_VERDICT
    elif exposed:
        verdict = f"review: {len(exposed)} count(s) below k released as a number"
    elif exact:
        verdict = f"review: {len(exact)} value(s) released without disclosure control on confidential data"
    elif not underneath:
        verdict = "pass: no count of patients"
    else:
        verdict = "pass: every count below k hidden, every other rounded to a multiple of k"
    return {"artefact": artefact["name"], "kind": artefact["kind"], "page": artefact["page"],
            "smallest_count": min(underneath) if underneath else None,
            "rules": dict(sorted(rules.items())),
            "suppressed_or_rounded": "; ".join(part for part in done if part) or "nothing",
            "verdict": verdict}


def report(artefacts: list[dict], synthetic: bool) -> dict:
    """The report: one checked line per artefact, and the notes behind them (for the controller and
    the tests' differencing attack: which counts add up, which shares come from which counts)."""
    lines = [check(a, synthetic) for a in artefacts]
    review = sum(line["verdict"].startswith("review") for line in lines)
    summary = (SYNTHETIC_VERDICT if synthetic else
               f"{review} artefact(s) to review" if review else "every artefact passes")
    return {"synthetic": synthetic, "summary": summary, "artefacts": lines,
            "records": [{"artefact": a["name"], "page": a["page"], **r} for a in artefacts for r in a["records"]]}


def write_report(build_dir: Path, synthetic: bool) -> Path:
    """Merge the kernels' parts into ``<build_dir>/output-check/`` (JSON and one HTML page)."""
    made = report(merged_parts(build_dir / PARTS_DIR), synthetic)
    folder = build_dir / REPORT_DIR
    folder.mkdir(exist_ok=True)
    write_atomically(folder / REPORT_JSON, lambda out: out.write(json.dumps(made, indent=1, ensure_ascii=False)))
    write_atomically(folder / REPORT_HTML, lambda out: out.write(as_html(made)))
    return folder


def as_html(made: dict) -> str:
    head = ("<th>Page</th><th>Artefact</th><th>Kind</th><th>Smallest count underneath</th><th>Rules applied</th>"
            "<th>Suppressed or rounded</th><th>Verdict</th>")
    rows = []
    for line in made["artefacts"]:
        rules = ", ".join(f"{rule} ({n})" for rule, n in line["rules"].items())
        cells = [line["page"] or "", line["artefact"], line["kind"],
                 "" if line["smallest_count"] is None else str(line["smallest_count"]), rules,
                 line["suppressed_or_rounded"], line["verdict"]]
        rows.append("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in cells) + "</tr>")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<title>Output check for the data controller</title>"
            "<style>body{font-family:sans-serif}td,th{border:1px solid #999;padding:2px 6px;"
            "vertical-align:top}table{border-collapse:collapse}</style></head><body>"
            "<h1>Output check for the data controller</h1>"
            "<p>For the person who approves a release: every table, figure and glued number of the build, "
            "the smallest true count of patients underneath, the rules applied and a verdict. Not part of "
            "the site: it holds true counts.</p>"
            f"<p><strong>{html.escape(made['summary'])}</strong></p>"
            f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></body></html>\n")
