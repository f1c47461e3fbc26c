"""Execute the book's notebooks in parallel into the jupyter-cache the book build then reads.

Jupyter Book 1 executes notebooks one after another. `cmprehab.build` calls `run()` first:
one worker process per job executes a notebook exactly as myst-nb would
(`jupyter_cache.executors.utils.single_nb_execution`, cwd = the notebook's folder, the
timeout of `_config.yml`), and this process stores each result with
`cache.cache_notebook_bundle`, as myst-nb does. jupyter-cache keys a notebook on its code
cells and kernelspec, so `jupyter-book build` then finds every notebook cached and only
renders; `cached_records()` before and after lets the build check that it did.

Why not jupyter-cache's own parallel executor (`jcache project execute --executor
local-parallel`, `JupyterExecutorLocalMproc` in jupyter_cache/executors/basic.py, 1.0): it
runs `multiprocessing.Pool()` with one process per core, forked from the build (which has just
loaded the cohort: 10^6 rows copied into each worker), that cannot be sized by `--jobs`; every
worker writes its bundle into the one SQLite cache file at the same time; each kernel keeps a
numerical thread pool of every core (a model fit of 10^6 patients ran 2.4 times slower); and
`pool.map` runs every notebook after the first has failed. The notebooks run and are cached with
jupyter-cache's own functions here, so the cache is the same one.
"""
from __future__ import annotations

import multiprocessing
import os
import traceback
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

import nbformat
import yaml
from jupyter_cache import get_cache
from jupyter_cache.base import CacheBundleIn
from jupyter_cache.executors.utils import single_nb_execution

from . import config

JOBS_ENV_VAR = "CMPREHAB_JOBS"
#: Thread pools of the numerical libraries (OpenBLAS, MKL, OpenMP): each sizes itself to every core.
THREAD_ENV_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def default_jobs() -> int:
    """$CMPREHAB_JOBS, else one job per core."""
    value = os.environ.get(JOBS_ENV_VAR, "").strip()
    return max(1, int(value)) if value else (os.cpu_count() or 1)


def toc_notebooks(root: Path = config.ROOT) -> list[Path]:
    """Every .ipynb page of _toc.yml, in toc order (Markdown pages execute nothing)."""
    return [root / f"{name}.ipynb" for name, _ in config.toc_pages(root) if (root / f"{name}.ipynb").is_file()]


def execution_settings(root: Path = config.ROOT) -> dict:
    """The `execute:` options of _config.yml that change how a notebook runs."""
    execute = yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8")).get("execute", {})
    if execute.get("run_in_temp") or execute.get("allow_errors"):
        raise ValueError("cmprehab.execute mirrors run_in_temp: false and allow_errors: false only")
    return {"timeout": execute.get("timeout", 30)}


@dataclass
class Outcome:
    path: Path
    seconds: float
    notebook: str | None = None     # the executed notebook (JSON) on success
    traceback: str | None = None    # on failure


def _set_environment(env: dict[str, str]) -> None:
    os.environ.clear()
    os.environ.update(env)  # each kernel inherits the build's environment (data path, digest, parameters)


def _execute(path: Path, timeout: int) -> Outcome:
    """In a worker: run one notebook as myst-nb's cache mode does (see myst_nb/core/execute/cache.py)."""
    try:
        nb = nbformat.read(path, as_version=4)  # myst-nb: nbformat.reads(text, as_version=4)
        result = single_nb_execution(nb, cwd=str(path.parent), timeout=timeout, allow_errors=False,
                                     meta_override=True)
    except Exception:  # a dead kernel, an unreadable file: not caught by single_nb_execution
        return Outcome(path, 0.0, traceback=traceback.format_exc())
    if result.err is not None:
        return Outcome(path, result.time, traceback=result.exc_string)
    return Outcome(path, result.time, notebook=nbformat.writes(result.nb))


def cached_records(cache_dir: Path) -> set[tuple[int, str]]:
    """(pk, hashkey) of every cached notebook: a notebook jupyter-book re-executed gets a new pk."""
    if not cache_dir.exists():
        return set()
    return {(r.pk, r.hashkey) for r in get_cache(str(cache_dir)).list_cache_records()}


def run(cache_dir: Path, env: dict[str, str], jobs: int, notebooks: list[Path] | None = None,
        log=print) -> list[Outcome]:
    """Execute every notebook not yet cached, `jobs` at a time; return the failures (none: all cached).

    Stops starting notebooks at the first failure: the build fails anyway.
    """
    cache = get_cache(str(cache_dir))
    notebooks = toc_notebooks() if notebooks is None else notebooks
    todo = []
    for path in notebooks:
        try:
            cache.match_cache_notebook(nbformat.read(path, as_version=4))
        except KeyError:
            todo.append(path)
    log(f"cmprehab.build: {len(notebooks) - len(todo)} of {len(notebooks)} notebooks cached, "
        f"executing {len(todo)} with {min(jobs, len(todo)) if todo else 0} jobs")
    if not todo:
        return []
    timeout = execution_settings()["timeout"]
    # N kernels at once, each with a BLAS pool of every core, would oversubscribe the cores (a
    # model fit of 10^6 patients ran 2.4 times slower): each gets its share, unless set already.
    share = str(max(1, (os.cpu_count() or 1) // jobs))
    env = {**{name: share for name in THREAD_ENV_VARS}, **env}
    failures = []
    # spawn: a worker does not inherit this process's memory (the build has just loaded the cohort).
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=min(jobs, len(todo)), mp_context=context,
                             initializer=_set_environment, initargs=(env,)) as pool:
        pending = {pool.submit(_execute, path, timeout) for path in todo}
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                outcome = future.result()
                if outcome.traceback is not None:
                    failures.append(outcome)
                    continue
                # Cached here, one at a time: the cache is one SQLite file.
                cache.cache_notebook_bundle(
                    CacheBundleIn(nbformat.reads(outcome.notebook, as_version=4), str(outcome.path),
                                  data={"execution_seconds": outcome.seconds}),
                    check_validity=False, overwrite=True)
                log(f"cmprehab.build: executed {outcome.path.name} in {outcome.seconds:.1f} s")
            if failures:
                for future in pending:
                    future.cancel()
                break
    return failures
