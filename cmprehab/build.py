"""Build the book: ``python -m cmprehab.build [--output DIR]`` (``make book``).

jupyter-cache keys a notebook on its code cells only, so a changed cohort file or
a changed ``cmprehab`` module would silently reuse stale outputs. This wrapper
hashes those inputs into a stamp, drops the execution cache when the stamp
differs from the last successful build, then rebuilds every page (``--all``, so
no page keeps stale glued values) with warnings as errors.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

from . import config
from .cohort import CohortError, load_cohort
from .provenance import sidecar_path


def stamp_inputs() -> dict[str, bytes]:
    """Everything that changes notebook outputs without changing notebook code."""
    cohort = config.cohort_path()
    if not cohort.is_file():
        sys.exit(f"cmprehab.build: cohort file not found: {cohort} "
                 f"(generate it, or set {config.DATA_ENV_VAR} to an existing file)")
    inputs = {"cohort path": str(cohort).encode(), "cohort file": cohort.read_bytes()}
    if sidecar_path(cohort).is_file():  # decides "synthetic or not" in the book's text
        inputs["cohort sidecar"] = sidecar_path(cohort).read_bytes()
    for module in sorted((config.ROOT / "cmprehab").rglob("*.py")):
        inputs[module.relative_to(config.ROOT).as_posix()] = module.read_bytes()
    if config.PUBLISHED_TARGETS.is_file():
        inputs["data/published.csv"] = config.PUBLISHED_TARGETS.read_bytes()
    inputs["requirements-lock.txt"] = (config.ROOT / "requirements-lock.txt").read_bytes()
    return inputs


def make_stamp(inputs: dict[str, bytes]) -> dict:
    parts = {name: hashlib.sha256(data).hexdigest() for name, data in inputs.items()}
    total = hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()
    return {"stamp": total, "parts": parts}


def changed_parts(old: dict, new: dict) -> list[str]:
    before, after = old.get("parts", {}), new["parts"]
    return sorted(name for name in before.keys() | after.keys() if before.get(name) != after.get(name))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cmprehab.build", description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=config.ROOT,
                        help="folder that receives _build/ (default: the repository root)")
    args = parser.parse_args(argv)
    output = args.output.resolve()
    build_dir = output / "_build"
    stamp_file = build_dir / ".build-stamp"
    cache_dir = build_dir / ".jupyter_cache"

    try:  # a bad file stops here, with the validator's report, before anything is written
        load_cohort(config.cohort_path())
    except CohortError as err:
        print(f"cmprehab.build: the cohort file cannot be used; nothing was built.\n{err}", file=sys.stderr)
        return 1

    new = make_stamp(stamp_inputs())
    try:
        old = json.loads(stamp_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        old = None

    if old is not None and old.get("stamp") == new["stamp"]:
        print("cmprehab.build: inputs unchanged, execution cache kept")
    elif not cache_dir.exists():
        print("cmprehab.build: no execution cache yet, every notebook will run")
    else:
        why = "no stamp from a successful build" if old is None else "changed: " + ", ".join(changed_parts(old, new))
        print(f"cmprehab.build: execution cache invalidated ({why})")
        shutil.rmtree(cache_dir)

    # Start the site from scratch (the execution cache is kept): no figure, download or
    # page of an earlier build, or of earlier data, survives into this one.
    shutil.rmtree(build_dir / "html", ignore_errors=True)

    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    command = [str(jupyter_book if jupyter_book.exists() else "jupyter-book"), "build", str(config.ROOT),
               "--all", "-W", "-n", "--keep-going", "--path-output", str(output)]
    print("cmprehab.build:", " ".join(command), flush=True)
    started = time.perf_counter()
    code = subprocess.run(command).returncode
    elapsed = time.perf_counter() - started

    if code == 0:
        build_dir.mkdir(parents=True, exist_ok=True)
        stamp_file.write_text(json.dumps(new, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        print(f"cmprehab.build: done in {elapsed:.1f} s, site in {build_dir / 'html'}")
    else:
        print(f"cmprehab.build: FAILED (exit code {code}) after {elapsed:.1f} s; stamp not updated")
    return code


if __name__ == "__main__":
    sys.exit(main())
