"""The two books a test run builds, each once, read by every module that needs them.

* **default**: the committed synthetic cohort under the default study parameters, built as
  `make pdf` builds it (`python -m cmprehab.build` with $CMPREHAB_BOOK_PDF, notebooks executed
  in parallel into the cache jupyter-book reads, then scripts/book_pdf.py) into
  `_build/test-book/`. Read by the page checks (test_book_html), the browser and the PDF
  (test_browser) and nbval's fresh run (test_fresh_execution: cached and fresh give the same outputs).
* **perturbed**: what an author does next. A copy of the default book's whole `_build/`
  (cache, executed notebooks, site, stamps) is built again on a *confidential* cohort
  (`confidential_cohort`, issue 17's attacker fixture: 270 of the committed cohort's patients with
  rare levels planted, planted ids and extreme values, one column empty) under a changed MCID
  (`CHANGED`), with ``--jobs 1`` so that jupyter-book itself executes the notebooks (the serial
  path). That one build shows that a change of data and parameters invalidates every cached
  result (its pages must follow both), and exercises confidential mode and the leak scan
  (test_book_html, test_book_confidential), and its output-check report and released
  artefacts are what the differencing attack reads (test_disclosure_attack). It is made afresh
  in every test run, from the default book of that run.

pytest-xdist runs the modules in different processes, so each build is made under a file lock:
the first to ask builds, the others wait and find it done. The default book's stamps make a
rebuild with nothing changed a no-op, so a later test run reuses it.
"""
from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import threading
import uuid
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from cmprehab import config, params
from conftest import BUILD_ENV

ROOT = config.ROOT
OUTPUT = ROOT / "_build" / "test-book"
PERTURBED = ROOT / "_build" / "test-perturbed"
PDF_NAME = "cmprehab-book.pdf"
BUILD_TIMEOUT = 1200

#: The perturbed build's study parameters ($CMPREHAB_SET).
CHANGED = "mcid.nprs.threshold=1"
#: The perturbed build's cohort: the committed one's patients, as an author's file.
ID_PREFIX = "LEAKCHECK-"
N_PATIENTS = 270  # about the committed 274, a multiple of k: its released count is its own, not the default book's
#: One patient's planted values: rare enough that finding them anywhere means a leak.
#: (two decimals: the sensitivity page lists thresholds 0.0 to 100.0 in steps of 0.1, so 67.9 was there.)
PLANTED = {"age": "99", "bmi": "66.85", "pain_duration_days": "31417", "n_sessions": "83", "program_days": "1733"}
#: Rare levels planted (issue 17): (column, level, how many patients have it, the level the others
#: get instead). Each count is below k, so no release may let it be computed.
RARE_LEVELS = [("sex", "male", 3, "female"), ("pain_distribution", "generalized", 2, "regional"),
               ("main_pain_location", "upper_limb", 1, "neck"), ("smoker", "1", 4, "0")]
#: At most one column left empty (the pages must survive it); the others stay attackable.
EMPTIED = ["physically_active"]
#: A file name a page must never show (markup, a script, backticks).
COHORT_NAME = "secret <img src=x onerror=alert(1)> `cohort`.csv"

#: Set (tests/conftest.py) when this run reads the perturbed book: it is then built in the
#: background as soon as the default book is done, while the tests go on.
PREFETCH_PERTURBED = False
_background: list[threading.Thread] = []

#: One id per test run: pytest-xdist gives its workers the controller's; without it, this process's.
RUN_ID = os.environ.get("PYTEST_XDIST_TESTRUNUID") or uuid.uuid4().hex


class BuildFailed(RuntimeError):
    """A step of a test build failed; the message has its output's tail."""


def tail(text: str, lines: int = 40) -> str:
    return "\n".join(text.splitlines()[-lines:])


def build_env(data: Path | None = None, set_values: str = "") -> dict[str, str]:
    """The environment of a build: this one without what a shell may have set, plus the given data and parameters."""
    env = {k: v for k, v in os.environ.items() if k not in BUILD_ENV}
    if data is not None:
        env[config.DATA_ENV_VAR] = str(data)
    if set_values:
        env[params.SET_ENV_VAR] = set_values
    return env


def run(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=BUILD_TIMEOUT)
    if result.returncode != 0:
        raise BuildFailed(f"{' '.join(command[1:3])} exited {result.returncode}\n--- stdout (tail) ---\n"
                          f"{tail(result.stdout)}\n--- stderr (tail) ---\n{tail(result.stderr)}")
    return result


@contextmanager
def locked(name: str):
    """One process at a time (released when the file closes, also when a worker dies)."""
    (ROOT / "_build").mkdir(exist_ok=True)
    with open(ROOT / "_build" / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def default_book() -> Path:
    """The output folder (holding _build/html, _build/pdf, _build/jupyter_execute) of the default book."""
    env = {**build_env(), config.PDF_ENV_VAR: PDF_NAME}
    pdf, site_stamp = OUTPUT / "_build" / "pdf" / PDF_NAME, OUTPUT / "_build" / ".site-stamp"
    with locked("test-book"):
        result = run([sys.executable, "-m", "cmprehab.build", "--output", str(OUTPUT)], env)
        # After the parallel execution jupyter-book only renders: a cache key it did not match
        # would have executed that notebook a second time.
        if "jupyter-book re-executed" in result.stdout:
            raise BuildFailed("jupyter-book executed notebooks the parallel step had cached:\n" + tail(result.stdout))
        # The PDF is printed from the site it links from: again whenever the site was rendered again.
        if not (pdf.is_file() and pdf.stat().st_mtime > site_stamp.stat().st_mtime):
            run([sys.executable, str(ROOT / "scripts" / "book_pdf.py"), "--output", str(OUTPUT),
                 "--name", PDF_NAME], env)
    if PREFETCH_PERTURBED and not _background:
        _background.append(threading.Thread(target=_prefetch_perturbed, name="perturbed-book", daemon=True))
        _background[0].start()
    return OUTPUT


def _prefetch_perturbed() -> None:
    try:
        perturbed_book()
    except BuildFailed:
        pass  # the test that reads the perturbed book builds it again, and reports the failure


def wait_for_background() -> None:
    """No build outlives the test session that started it."""
    for thread in _background:
        thread.join()


def confidential_cohort(path: Path) -> Path:
    """Write the perturbed build's cohort to `path` (no sidecar: the book treats it as real data)."""
    raw = pd.read_csv(config.DEFAULT_COHORT, dtype=str, keep_default_na=False).head(N_PATIENTS)
    raw["patient_id"] = [f"{ID_PREFIX}{i:04d}-Q" for i in range(len(raw))]
    for column, value in PLANTED.items():
        raw.loc[7, column] = value
    for column, level, how_many, instead in RARE_LEVELS:
        holders = raw.index[raw[column] != ""][::len(raw) // how_many][:how_many]  # spread over the file
        raw.loc[raw[column] == level, column] = instead
        raw.loc[holders, column] = level
    for column in EMPTIED:
        raw[column] = ""
    path.parent.mkdir(parents=True, exist_ok=True)
    raw.to_csv(path, index=False, lineterminator="\n")
    return path


def perturbed_data() -> Path:
    return PERTURBED / "leakcheck-folder" / COHORT_NAME


def perturbed_book() -> tuple[Path, str]:
    """(output folder, the build's standard output) of the perturbed book, made once per test run."""
    made, log = PERTURBED / ".made-in-run", PERTURBED / "build.log"
    source = default_book() / "_build"
    with locked("test-perturbed"):
        if not (made.is_file() and made.read_text() == RUN_ID):
            shutil.rmtree(PERTURBED, ignore_errors=True)
            shutil.copytree(source, PERTURBED / "_build", ignore=shutil.ignore_patterns("screenshots"))
            data = confidential_cohort(perturbed_data())
            result = run([sys.executable, "-m", "cmprehab.build", "--output", str(PERTURBED), "--jobs", "1"],
                         build_env(data, CHANGED))
            log.write_text(result.stdout, encoding="utf-8")
            made.write_text(RUN_ID)
    return PERTURBED, log.read_text(encoding="utf-8")
