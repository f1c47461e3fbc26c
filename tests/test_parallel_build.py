"""Parallel pre-execution (cmprehab.execute): what it caches is what the book build looks up.

Small notebooks in a temporary folder, so each test takes seconds. The book-level checks
are in the build tests: the default test book, built in parallel, must report that jupyter-book
took every notebook from the cache (tests/books.py), and nbval must reproduce every output
of the cached notebooks in fresh kernels (tests/test_fresh_execution.py).
"""
from __future__ import annotations

import os

import nbformat
from jupyter_cache import get_cache
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from cmprehab import config, execute


def write_notebook(path, *sources):
    nb = new_notebook(cells=[new_markdown_cell("# A page")] + [new_code_cell(s) for s in sources])
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    nbformat.write(nb, path)
    return path


def outputs(nb) -> str:
    return "".join(o.get("text", "") for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs)


def test_notebooks_run_in_their_folder_with_the_build_environment_and_are_cached_by_their_key(tmp_path):
    folder = tmp_path / "chapters"
    folder.mkdir()
    pages = [write_notebook(folder / f"page{i}.ipynb", "import os", f"print(os.getcwd(), os.environ['PROBE'], {i})")
             for i in range(3)]
    cache_dir = tmp_path / "_build" / ".jupyter_cache"
    env = {**os.environ, "PROBE": "from-the-build"}
    assert execute.run(cache_dir, env, jobs=2, notebooks=pages, log=lambda _: None) == []

    cache = get_cache(str(cache_dir))
    for i, page in enumerate(pages):
        # The lookup myst-nb makes (myst_nb/core/execute/cache.py) on the notebook as read from disk.
        record = cache.match_cache_notebook(nbformat.read(page, as_version=4))
        assert record.uri == str(page)
        text = outputs(cache.get_cache_bundle(record.pk).nb)
        assert text.split() == [str(folder), "from-the-build", str(i)]
    # A second run finds them all cached and executes nothing.
    before = execute.cached_records(cache_dir)
    assert execute.run(cache_dir, env, jobs=2, notebooks=pages, log=lambda _: None) == []
    assert execute.cached_records(cache_dir) == before


def test_a_failing_notebook_is_reported_with_its_traceback_and_not_cached(tmp_path):
    good = write_notebook(tmp_path / "good.ipynb", "x = 1")
    bad = write_notebook(tmp_path / "bad.ipynb", "raise ValueError('broken on purpose')")
    cache_dir = tmp_path / "cache"
    failures = execute.run(cache_dir, dict(os.environ), jobs=2, notebooks=[bad, good], log=lambda _: None)
    assert [f.path for f in failures] == [bad]
    assert "ValueError" in failures[0].traceback and "broken on purpose" in failures[0].traceback
    cache = get_cache(str(cache_dir))
    assert {r.uri for r in cache.list_cache_records()} <= {str(good)}


def test_the_book_notebooks_are_the_toc_pages():
    names = [p.stem for p in execute.toc_notebooks()]
    assert names[0] == "00_overview" and "strobe" in names and "glossary" in names
    assert "references" not in names  # a Markdown page: nothing to execute
    assert len(names) == len(list((config.ROOT / "chapters").glob("*.ipynb")))


def test_jobs_default_to_the_cores_and_follow_the_environment(monkeypatch):
    monkeypatch.delenv(execute.JOBS_ENV_VAR, raising=False)
    assert execute.default_jobs() == (os.cpu_count() or 1)
    monkeypatch.setenv(execute.JOBS_ENV_VAR, "1")
    assert execute.default_jobs() == 1


def test_parallel_kernels_share_the_cores_between_their_thread_pools(tmp_path, monkeypatch):
    page = write_notebook(tmp_path / "page.ipynb", "import os",
                          "print(os.environ['OPENBLAS_NUM_THREADS'], os.environ['OMP_NUM_THREADS'])")
    cache_dir = tmp_path / "cache"
    env = {k: v for k, v in os.environ.items() if k not in execute.THREAD_ENV_VARS}
    monkeypatch.setattr(execute.os, "cpu_count", lambda: 4)
    assert execute.run(cache_dir, env, jobs=2, notebooks=[page], log=lambda _: None) == []
    cache = get_cache(str(cache_dir))
    record = cache.match_cache_notebook(nbformat.read(page, as_version=4))
    assert outputs(cache.get_cache_bundle(record.pk).nb).split() == ["2", "2"]
