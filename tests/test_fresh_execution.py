"""From cache or fresh, the same outputs: nbval runs every notebook of the default book afresh,
in a new kernel, and compares each cell's outputs with those the book was built from.

The build (tests/books.py) executed them in parallel into the jupyter-cache and rendered them
from there; nbval (`--nbval`, not `--nbval-lax`) compares every output but images (its default: PNG bytes are not compared), so
every pasted number, table, download and results record must come out the same. This is the
one place the test suite executes the default book's notebooks a second time, and why.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from cmprehab import config
from books import BuildFailed, build_env, default_book

NOTEBOOK_TIMEOUT = 600


def test_a_fresh_run_of_every_notebook_reproduces_the_outputs_the_book_was_built_from(tmp_path):
    try:
        executed = default_book() / "_build" / "jupyter_execute" / "chapters"
    except BuildFailed as failure:
        pytest.fail(str(failure), pytrace=False)
    # A copy in a folder of its own, next to nothing: nbval's kernels run in the notebook's folder.
    copy = tmp_path / "chapters"
    shutil.copytree(executed, copy, ignore=shutil.ignore_patterns("*.glue.json"))
    notebooks = sorted(path.name for path in copy.glob("*.ipynb"))
    assert {name.removesuffix(".ipynb") for name in notebooks} == {
        path.stem for path in (config.ROOT / "chapters").glob("*.ipynb")}
    env = build_env()  # the default data and parameters
    result = subprocess.run(
        # Two notebooks at a time (one per worker: --dist loadfile keeps a notebook's cells together).
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-n", "2", "--dist", "loadfile",
         "--rootdir", str(tmp_path),
         "-c", os.devnull, "--nbval", "--nbval-current-env", f"--nbval-cell-timeout={NOTEBOOK_TIMEOUT}", "-q",
         *notebooks],
        cwd=copy, env=env, capture_output=True, text=True, timeout=NOTEBOOK_TIMEOUT * 3)
    report = "\n".join(result.stdout.splitlines()[-80:])
    assert result.returncode == 0, f"nbval found outputs that differ from the built book:\n{report}"
    assert " passed" in report and "failed" not in report
