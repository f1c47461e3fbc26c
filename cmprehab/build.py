"""Build the book: ``python -m cmprehab.build [--output DIR] [--show-values] [--jobs N]`` (``make book``).

What this wrapper guarantees, beyond ``jupyter-book build``:

* **One file, one set of bytes.** The data path is resolved once, here, against the
  working directory, and handed on absolute (``CMPREHAB_DATA``) together with the
  SHA-256 of the bytes it validated (``CMPREHAB_DATA_SHA256``): the banner, the
  notebook kernels and the stamp all describe the same file, and a kernel refuses a
  file that changed during the build.
* **One set of study parameters.** `params.yml` (or $CMPREHAB_PARAMS, with
  $CMPREHAB_SET applied) is read once, here, and handed on resolved
  ($CMPREHAB_PARAMS_RESOLVED); a change of any value re-executes every page.
* **A bad file changes nothing.** The data file and the parameters are validated
  before anything is written; an invalid one stops the build with a report and the
  previous site stays as it was.
* **No build inherits another's results.** jupyter-cache keys a notebook on its code
  cells only, and keeps what a failed build executed. So the stamp of the inputs
  (data digest, package code, targets, lock file) is removed before executing; when
  it is missing or differs, every executed result (the cache, ``jupyter_execute``
  and Sphinx's doctrees) is dropped first; a failed build drops them again and puts
  the previous site back. The stamp is written only after a success.
* **The file is parsed and validated once per build**, here; the kernels load the
  validated copy (``_build/.cohort/<sha256>.pickle``, named in $CMPREHAB_VALIDATED_COHORT)
  after checking that the file still has that digest. It holds patient rows, so it is
  removed when the build ends, whether it succeeded or not.
* **Nothing to do, nothing done.** When the inputs and every source the site is made of
  (`site_sources`) are those of the last successful build and its site is in place, the
  build says so and stops; ``--force`` renders it again.
* Otherwise every page is rebuilt (``--all``) with warnings as errors.
* **Every core used.** Jupyter Book 1 executes notebooks one at a time; with ``--jobs N``
  (default $CMPREHAB_JOBS, else one per core) the notebooks are first executed N at a
  time into the jupyter-cache the book build reads (`cmprehab.execute`), so it only renders.
  A failing notebook fails the build with its traceback, before jupyter-book runs.
  ``--jobs 1`` leaves execution to jupyter-book, as before.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from . import config
from . import execute
from . import params as study
from .data.cohort import CohortError, file_sha256, load_cohort, save_validated
from .provenance import data_fingerprint, sidecar_path

#: Where the build keeps the validated cohort for its kernels (removed when the build ends).
VALIDATED_DIR = ".cohort"
#: Folders under _build/ that hold executed results (and may hold another dataset's numbers), and
#: the validated copy, in case a build was killed before it could remove it.
EXECUTION_STATE = (".jupyter_cache", "jupyter_execute", ".doctrees", VALIDATED_DIR)
#: What `make pdf` made from those results (the single page and its PDF): another dataset's
#: numbers once the results are dropped, so they go with them.
PRINTED_FROM_RESULTS = ("singlehtml", "pdf")
#: Environment variables that change the site without changing any executed result.
SITE_ENV_VARS = (config.PDF_ENV_VAR,)


def stamp_inputs(data: Path, data_sha256: str, params_json: str) -> dict[str, bytes]:
    """Everything that changes notebook outputs without changing notebook code."""
    inputs = {"cohort path": str(data).encode(), "cohort sha256": data_sha256.encode(),
              "study parameters": params_json.encode()}
    if sidecar_path(data).is_file():  # decides "synthetic or confidential" in the book's text
        inputs["cohort sidecar"] = sidecar_path(data).read_bytes()
    for module in sorted((config.ROOT / "cmprehab").rglob("*.py")):
        inputs[module.relative_to(config.ROOT).as_posix()] = module.read_bytes()
    if config.PUBLISHED_TARGETS.is_file():
        inputs["data/published.csv"] = config.PUBLISHED_TARGETS.read_bytes()
    inputs["requirements-lock.txt"] = (config.ROOT / "requirements-lock.txt").read_bytes()
    return inputs


def site_sources(root: Path = config.ROOT) -> dict[str, bytes]:
    """What jupyter-book reads besides the executed results: configuration, pages, extensions,
    static files (the vendored MathJax by its stamp) and the environment that changes a page."""
    files = [root / "_config.yml", root / "_toc.yml", root / "references.bib"]
    for folder in ("chapters", "_ext", "book_static"):
        files += sorted(path for path in (root / folder).rglob("*") if path.is_file()
                        and "mathjax" not in path.relative_to(root).parts[:2]
                        and ".ipynb_checkpoints" not in path.parts and "__pycache__" not in path.parts)
    files.append(root / "book_static" / "mathjax" / ".vendored")
    sources = {path.relative_to(root).as_posix(): path.read_bytes() for path in files if path.is_file()}
    for name in SITE_ENV_VARS:
        sources["$" + name] = os.environ.get(name, "").encode()
    return sources


def make_stamp(inputs: dict[str, bytes]) -> dict:
    parts = {name: hashlib.sha256(data).hexdigest() for name, data in inputs.items()}
    total = hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()
    return {"stamp": total, "parts": parts}


def changed_parts(old: dict, new: dict) -> list[str]:
    before, after = old.get("parts", {}), new["parts"]
    return sorted(name for name in before.keys() | after.keys() if before.get(name) != after.get(name))


def drop_execution_state(build_dir: Path) -> None:
    for name in EXECUTION_STATE + PRINTED_FROM_RESULTS:
        shutil.rmtree(build_dir / name, ignore_errors=True)


def read_stamp(stamp_file: Path) -> dict | None:
    try:
        return json.loads(stamp_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cmprehab.build", description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=config.ROOT,
                        help="folder that receives _build/ (default: the repository root)")
    parser.add_argument("--show-values", action="store_true",
                        help="name patient ids and cell values in error messages (hidden for real data)")
    parser.add_argument("--force", action="store_true",
                        help="render the site even when nothing changed since the last successful build")
    parser.add_argument("--jobs", type=int, default=None,
                        help=f"notebooks executed at a time (default: ${execute.JOBS_ENV_VAR}, else one per core); "
                             "1: jupyter-book executes them one after another")
    args = parser.parse_args(argv)
    jobs = max(1, args.jobs if args.jobs is not None else execute.default_jobs())
    output = args.output.resolve()
    build_dir = output / "_build"
    stamp_file, site_stamp_file = build_dir / ".build-stamp", build_dir / ".site-stamp"
    site, previous = build_dir / "html", build_dir / "html.previous"
    data = config.cohort_path()  # absolute: resolved once, against this process's working directory

    try:  # bad parameters or a bad file stop here, with a report, before anything is written
        chosen = study.load()
        params_json = study.to_json(chosen)
    except study.ParamsError as err:
        print(f"cmprehab.build: the study parameters cannot be used; nothing was built.\n{err}", file=sys.stderr)
        return 1
    unusable = ("cmprehab.build: the cohort file cannot be used; nothing was built and the previous "
                "site, if any, is unchanged.\n")
    try:
        digest = file_sha256(data)
    except CohortError as err:
        print(f"{unusable}{err}", file=sys.stderr)
        return 1
    try:  # checked before the stamp: an unchanged site must not stand for a refused build either
        study.refuse_weaker_disclosure(chosen, data_fingerprint(data, sha256=digest).synthetic)
    except study.ParamsError as err:
        print(f"cmprehab.build: the study parameters cannot be used on this cohort; nothing was built.\n{err}",
              file=sys.stderr)
        return 1
    new = make_stamp(stamp_inputs(data, digest, params_json))
    old = read_stamp(stamp_file)
    unchanged = old is not None and old.get("stamp") == new["stamp"]
    site_stamp = make_stamp({"inputs": new["stamp"].encode(), "output": str(output).encode(), **site_sources()})
    if (unchanged and not args.force and read_stamp(site_stamp_file) == site_stamp
            and (site / "index.html").is_file()):
        print(f"cmprehab.build: nothing changed since the last successful build; site in {site} "
              "(--force renders it again)")
        return 0

    started = time.perf_counter()
    try:
        cohort = load_cohort(data, show_values=args.show_values or None)
    except CohortError as err:
        print(f"{unusable}{err}", file=sys.stderr)
        return 1
    if cohort.attrs["fingerprint"].sha256 != digest:
        print(f"{unusable}{data}: the file changed while the build was reading it", file=sys.stderr)
        return 1

    if unchanged:
        print("cmprehab.build: inputs unchanged, execution cache kept")
    elif not any((build_dir / name).exists() for name in EXECUTION_STATE):
        print("cmprehab.build: no execution cache yet, every notebook will run")
    else:
        why = ("no stamp of a successful build with these inputs" if old is None
               else "changed: " + ", ".join(changed_parts(old, new)))
        print(f"cmprehab.build: executed results dropped ({why})")
        drop_execution_state(build_dir)

    # Until this build succeeds, nothing on disk vouches for the executed results.
    build_dir.mkdir(parents=True, exist_ok=True)
    stamp_file.unlink(missing_ok=True)
    site_stamp_file.unlink(missing_ok=True)
    # The site is built afresh; the last good one waits aside until this one succeeds.
    shutil.rmtree(previous, ignore_errors=True)
    if site.exists():
        site.rename(previous)

    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    command = [str(jupyter_book if jupyter_book.exists() else "jupyter-book"), "build", str(config.ROOT),
               "--all", "-W", "-n", "--keep-going", "--path-output", str(output)]
    # Written last before the step that removes it whatever happens: rows never outlive the build.
    validated = save_validated(cohort, build_dir / VALIDATED_DIR)
    del cohort  # the kernels load the copy; this process has no further use for the rows
    env = {**os.environ, config.DATA_ENV_VAR: str(data), config.DATA_SHA256_ENV_VAR: digest,
           config.VALIDATED_ENV_VAR: str(validated), study.RESOLVED_ENV_VAR: params_json}
    validating = time.perf_counter() - started
    started = time.perf_counter()
    code, cache_dir, cached = 0, build_dir / ".jupyter_cache", None
    try:
        if jobs > 1:
            failures = execute.run(cache_dir, env, jobs, log=lambda text: print(text, flush=True))
            for failure in failures:
                print(f"cmprehab.build: executing {failure.path} failed:\n{failure.traceback}", file=sys.stderr)
            code = 1 if failures else 0
            cached = execute.cached_records(cache_dir)
        executed = time.perf_counter()
        if code == 0:
            print("cmprehab.build:", " ".join(command), flush=True)
            code = subprocess.run(command, env=env).returncode
    finally:  # patient rows stay no longer than the build that needs them
        shutil.rmtree(build_dir / VALIDATED_DIR, ignore_errors=True)
    elapsed = time.perf_counter() - started

    if code == 0:
        shutil.rmtree(previous, ignore_errors=True)
        stamp_file.write_text(json.dumps(new, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        site_stamp_file.write_text(json.dumps(site_stamp, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        if cached is not None:  # a key that did not match would have executed a notebook twice
            again = len(execute.cached_records(cache_dir) - cached)
            print("cmprehab.build: " + (f"jupyter-book re-executed {again} notebook(s)" if again
                                        else "jupyter-book took every notebook from the cache"))
        print(f"cmprehab.build: done in {elapsed + validating:.1f} s (validating {validating:.1f} s, executing "
              f"{executed - started:.1f} s, jupyter-book {elapsed - (executed - started):.1f} s), site in {site}")
        return 0
    drop_execution_state(build_dir)
    shutil.rmtree(site, ignore_errors=True)
    kept = previous.exists()
    if kept:
        previous.rename(site)
    print(f"cmprehab.build: FAILED (exit code {code}) after {elapsed:.1f} s; executed results dropped, "
          + ("the previous site was put back" if kept else "no site was written"), file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
