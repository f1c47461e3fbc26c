"""The default book, built once for a test run and read by every module that needs it.

The committed cohort under the default study parameters, built as `make pdf` builds it
(`python -m cmprehab.build` with $CMPREHAB_BOOK_PDF, then scripts/book_pdf.py) into
`_build/test-book/` of the repository. It is the one build in which jupyter-book itself
executes the notebooks (``--jobs 1``, the serial path); the other test builds pre-execute
them in parallel. Its readers:

* tests/test_book_html.py: its pages against the package's numbers;
* tests/test_browser.py: its pages in Chromium, and its PDF;
* tests/test_fresh_execution.py: nbval runs its executed notebooks afresh and compares.

pytest-xdist runs those modules in different processes, so the build is made under a file
lock: the first to ask builds, the others wait and find it done (the build's stamps make a
rebuild with nothing changed a no-op, so a later test run reuses it too).
"""
from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from pathlib import Path

from cmprehab import config
from conftest import BUILD_ENV

ROOT = config.ROOT
OUTPUT = ROOT / "_build" / "test-book"
PDF_NAME = "cmprehab-book.pdf"
PDF_ENV_VAR = "CMPREHAB_BOOK_PDF"   # as _ext/book_site.py reads it
BUILD_TIMEOUT = 1200


class BuildFailed(RuntimeError):
    """A step of the default build failed; the message has its output's tail."""


def _run(command: list[str], env: dict[str, str]) -> None:
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=BUILD_TIMEOUT)
    if result.returncode != 0:
        tail = lambda text: "\n".join(text.splitlines()[-40:])  # noqa: E731
        raise BuildFailed(f"{' '.join(command[1:3])} exited {result.returncode}\n--- stdout (tail) ---\n"
                          f"{tail(result.stdout)}\n--- stderr (tail) ---\n{tail(result.stderr)}")


def default_book() -> Path:
    """The output folder (holding _build/html, _build/pdf, _build/jupyter_execute) of the default book."""
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in BUILD_ENV}
    env[PDF_ENV_VAR] = PDF_NAME
    pdf, site_stamp = OUTPUT / "_build" / "pdf" / PDF_NAME, OUTPUT / "_build" / ".site-stamp"
    with open(OUTPUT.parent / "test-book.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        _run([sys.executable, "-m", "cmprehab.build", "--output", str(OUTPUT), "--jobs", "1"], env)
        # The PDF is printed from the site it links from: again whenever the site was rendered again.
        if not (pdf.is_file() and pdf.stat().st_mtime > site_stamp.stat().st_mtime):
            _run([sys.executable, str(ROOT / "scripts" / "book_pdf.py"), "--output", str(OUTPUT),
                  "--name", PDF_NAME], env)
    return OUTPUT
