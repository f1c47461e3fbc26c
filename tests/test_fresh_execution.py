"""From cache or fresh, the same outputs: nbval runs every notebook of the default book afresh,
in a new kernel, and compares each cell's outputs with those the site was rendered from.

The build (tests/books.py) executed the notebooks in parallel into its jupyter-cache, and
jupyter-book rendered the site from there. Those cached notebooks, with their outputs, are what
nbval checks (`--nbval`, not `--nbval-lax`): it compares every output but images (its default: PNG
bytes are not compared), so every pasted number, table, download and results record must come
out the same. (Not `_build/jupyter_execute/`: when the notebooks come from the cache, jupyter-book
writes them there without outputs, and nbval would compare nothing.) This is the one place the
test suite executes the default book's notebooks a second time, and why.
"""
from __future__ import annotations

import os
import subprocess
import sys

import nbformat
import pytest
from jupyter_cache import get_cache

from books import BuildFailed, build_env, default_book
from cmprehab import execute

NOTEBOOK_TIMEOUT = 600


def cached_notebooks(output, folder) -> dict[str, int]:
    """Write each book notebook as the cache holds it (with outputs) into `folder`: {name: outputs}."""
    cache = get_cache(str(output / "_build" / ".jupyter_cache"))
    found = {}
    for page in execute.toc_notebooks():
        record = cache.match_cache_notebook(nbformat.read(page, as_version=4))  # KeyError: not cached
        notebook = cache.get_cache_bundle(record.pk).nb
        nbformat.write(notebook, folder / page.name)
        found[page.stem] = sum(len(cell.get("outputs", [])) for cell in notebook.cells if cell.cell_type == "code")
    return found


def test_a_fresh_run_of_every_notebook_reproduces_the_outputs_the_book_was_built_from(tmp_path):
    try:
        output = default_book()
    except BuildFailed as failure:
        pytest.fail(str(failure), pytrace=False)
    # In a folder of its own, next to nothing: nbval's kernels run in the notebook's folder.
    copy = tmp_path / "chapters"
    copy.mkdir()
    outputs = cached_notebooks(output, copy)
    assert all(outputs.values()), f"cached notebooks without outputs (nothing to compare): {outputs}"
    env = build_env()  # the default data and parameters
    result = subprocess.run(
        # Two notebooks at a time (one per worker: --dist loadfile keeps a notebook's cells together).
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-n", "2", "--dist", "loadfile",
         "--rootdir", str(tmp_path),
         "-c", os.devnull, "--nbval", "--nbval-current-env", f"--nbval-cell-timeout={NOTEBOOK_TIMEOUT}", "-q",
         *sorted(f"{name}.ipynb" for name in outputs)],
        cwd=copy, env=env, capture_output=True, text=True, timeout=NOTEBOOK_TIMEOUT * 3)
    report = "\n".join(result.stdout.splitlines()[-80:])
    assert result.returncode == 0, f"nbval found outputs that differ from the built book:\n{report}"
    assert " passed" in report and "failed" not in report
