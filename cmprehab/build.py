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
  validated copy (``<sha256>.pickle``, named in $CMPREHAB_VALIDATED_COHORT) after checking
  that the file still has that digest. It holds patient rows, so it is kept outside the
  project, in a folder of the build's own (``tempfile.mkdtemp``: mode 0700, in $TMPDIR or
  /tmp; `cmprehab.memo` keeps the kernels' shared results there too), removed when the build
  ends, whether it succeeded or not. Its path (not its content) is recorded in
  ``_build/.private-folder``, so the next build removes it if this one was killed.
* **One build at a time per output folder.** A build holds a lock on ``_build/.build.lock``
  (`fcntl.flock`; jupyter-book inherits it, and the kernel releases it when both have ended,
  killed or not) and writes its pid there. A second build says "a build is running (pid N)"
  and exits 2, having changed nothing.
* **A killed build loses no site.** While a build runs, the last good site waits in
  ``_build/html.previous`` (``_build/html`` is the site being built, or missing until
  jupyter-book starts writing it). A build that fails puts it back; one killed outright (SIGKILL,
  power loss) cannot, so every build first undoes what a killed one left, before anything else:
  it puts ``html.previous`` back as ``html`` (with the stamps removed: they were the killed
  build's), and removes the killed build's private folder. A site is discarded by renaming it
  first (``html.discarded-*``), so no name ever holds half a site. A first build killed midway
  leaves a partial ``_build/html`` and no stamp; the next build replaces it.
* **An unwritable ``_build`` changes nothing.** It is checked (a file created and removed)
  before anything is deleted; a read-only or full disk gets a message saying so. A full disk
  when writing the validated copy or a stamp fails the build with a message, and the previous
  site stays (or is put back).
* **Nothing to do, nothing done.** When the inputs and every source the site is made of
  (`site_sources`) are those of the last successful build and its site is in place, the
  build says so and stops; ``--force`` renders it again.
* Otherwise every page is rebuilt (``--all``) with warnings as errors.
* **An output-check report for the data controller.** Each notebook kernel writes what its page
  released (true count, shown value, rule per table, figure and glued number: `report.output_check`)
  into ``_build/.output-check-parts/`` ($CMPREHAB_OUTPUT_CHECK_PARTS), dropped with the executed
  results; a successful build merges the parts into ``_build/output-check/`` (``report.json`` and
  ``index.html``), beside the site, never in it.
* **Every core used.** Jupyter Book 1 executes notebooks one at a time; with ``--jobs N``
  (default $CMPREHAB_JOBS, else one per core) the notebooks are first executed N at a
  time into the jupyter-cache the book build reads (`cmprehab.execute`), so it only renders.
  A failing notebook fails the build with its traceback, before jupyter-book runs.
  ``--jobs 1`` leaves execution to jupyter-book, as before.
"""
from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

from . import config
from . import execute
from . import params as study
from .data.cohort import CohortError, file_sha256, load_cohort, save_validated
from .files import write_atomically
from .provenance import data_fingerprint, sidecar_path
from .report import output_check

#: Where builds before the private folder kept the validated copy (removed if one left it).
LEGACY_VALIDATED_DIR = ".cohort"
#: Folders under _build/ that hold executed results (and may hold another dataset's numbers).
EXECUTION_STATE = (".jupyter_cache", "jupyter_execute", ".doctrees", output_check.PARTS_DIR)
#: Under _build/: the lock of the build that runs (it holds that build's pid), the stamps of the
#: last successful build, and the path of the running (or killed) build's private folder.
LOCK_FILE, STAMP_FILE, SITE_STAMP_FILE = ".build.lock", ".build-stamp", ".site-stamp"
PRIVATE_RECORD = ".private-folder"
#: Name of a build's private temporary folder (the validated copy and the kernels' shared results).
PRIVATE_PREFIX = "cmprehab-build-"
#: The site being built, the last good one while it is, and one being deleted (renamed first).
SITE, PREVIOUS_SITE, DISCARDED_PREFIX = "html", "html.previous", "html.discarded-"
#: What `make pdf` and `make manuscript` made from those results (the single page, its PDF, the
#: manuscript): another dataset's numbers once the results are dropped, so they go with them.
PRINTED_FROM_RESULTS = ("singlehtml", "pdf", "manuscript")
#: Environment variables that change the site without changing any executed result.
SITE_ENV_VARS = (config.PDF_ENV_VAR, config.MANUSCRIPT_ENV_VAR)


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
    # Not the API reference's module pages: autosummary generates them at each build from the
    # package, whose modules the inputs' stamp holds already.
    # CITATION.cff: the "Cite this" block and its BibTeX/RIS downloads are made from it (_ext/cite_this.py)
    files = [root / "_config.yml", root / "_toc.yml", root / "references.bib", root / "CITATION.cff"]
    for folder in ("chapters", "_ext", "book_static"):
        files += sorted(path for path in (root / folder).rglob("*") if path.is_file()
                        and "mathjax" not in path.relative_to(root).parts[:2]
                        and ".ipynb_checkpoints" not in path.parts and "__pycache__" not in path.parts
                        and not path.is_relative_to(root / config.API_PAGE))
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


def write_stamp(stamp_file: Path, stamp: dict) -> None:
    write_atomically(stamp_file, lambda out: out.write(json.dumps(stamp, indent=1, sort_keys=True) + "\n"))


class BuildDirError(Exception):
    """The output's _build/ cannot be used now (another build runs, or it cannot be written);
    nothing was changed. `exit_code` is what the build exits with."""

    def __init__(self, message: str, exit_code: int = 1):
        super().__init__(message)
        self.exit_code = exit_code


class BuildDirLock:
    """One build at a time per output folder: an exclusive `flock` on ``_build/.build.lock``.

    The lock belongs to the open file, so the kernel releases it when the build and every
    process it handed the file to (jupyter-book) have ended, however they end.
    """

    def __init__(self) -> None:
        self.fd: int | None = None

    def claim(self, build_dir: Path) -> None:
        """Lock `build_dir` (created if need be), check it can be written, and undo what a killed
        build left (`recover`). Raises BuildDirError, having changed nothing, if it cannot."""
        if self.fd is not None:
            return
        try:
            build_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(build_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as err:
            raise unwritable(build_dir, err) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
            os.close(fd)
            raise BuildDirError(running_message(build_dir, holder), exit_code=2) from None
        self.fd = fd
        check_writable(build_dir)
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        except OSError as err:
            raise unwritable(build_dir, err) from None
        try:
            recover(build_dir)
        except OSError as err:
            raise BuildDirError(f"cannot undo what a killed build left in {build_dir} ({err.strerror or err}); "
                                "nothing was built") from None

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def running_message(build_dir: Path, holder: str) -> str:
    pid = int(holder) if holder.isdigit() else None
    if pid is None:
        who = "pid not yet recorded"
    elif pid_running(pid):
        who = f"pid {pid}"
    else:  # killed; the jupyter-book it started still holds the lock
        who = f"pid {pid}, which has ended; the jupyter-book it started is still finishing"
    return (f"a build is running in {build_dir} ({who}); nothing was done. One build at a time per output "
            "folder: wait for it to end, or build into another folder with --output")


def pid_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def unwritable(build_dir: Path, err: OSError) -> BuildDirError:
    return BuildDirError(f"{build_dir} cannot be written ({err.strerror or err}); nothing was built or deleted, "
                         "and the previous site, if any, is unchanged. Make the folder writable (or free "
                         "disk space) and build again, or build elsewhere with --output")


def check_writable(build_dir: Path) -> None:
    """Create and remove a file in `build_dir` (permissions alone do not tell: root, read-only mounts)."""
    try:
        fd, probe = tempfile.mkstemp(dir=build_dir, prefix=".writable-")
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        raise unwritable(build_dir, err) from None


def discard(path: Path) -> None:
    """Remove a site: renamed first (one step), so that no name is left holding part of it."""
    if not path.exists():
        return
    doomed = path.with_name(f"{DISCARDED_PREFIX}{os.getpid()}-{time.monotonic_ns()}")
    path.rename(doomed)
    shutil.rmtree(doomed, ignore_errors=True)


def recover(build_dir: Path) -> None:
    """Undo what a build killed midway left: its private folder (patient rows) removed, and the
    last good site, which it had set aside, put back in place of the site it was building."""
    remove_private_folder(build_dir)
    shutil.rmtree(build_dir / LEGACY_VALIDATED_DIR, ignore_errors=True)
    for doomed in build_dir.glob(DISCARDED_PREFIX + "*"):
        shutil.rmtree(doomed, ignore_errors=True)
    previous, site = build_dir / PREVIOUS_SITE, build_dir / SITE
    if previous.is_dir():
        for name in (STAMP_FILE, SITE_STAMP_FILE):  # the killed build's, if it got that far: not this site's
            (build_dir / name).unlink(missing_ok=True)
        discard(site)
        previous.rename(site)
        print(f"cmprehab.build: a build was killed before it ended; the last good site is back in {site}")


def make_private_folder(build_dir: Path) -> Path:
    """A new folder only this user can enter (mode 0700), outside the project, for what holds patient
    rows; its path is recorded under `build_dir` first, so the next build can remove it."""
    folder = Path(tempfile.mkdtemp(prefix=PRIVATE_PREFIX))
    try:
        write_atomically(build_dir / PRIVATE_RECORD, lambda out: out.write(f"{folder}\n"))
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return folder


def remove_private_folder(build_dir: Path) -> None:
    """Remove the private folder recorded under `build_dir` (if it is one: a folder of ours, by name)."""
    record = build_dir / PRIVATE_RECORD
    try:
        folder = Path(record.read_text(encoding="utf-8").strip())
    except FileNotFoundError:
        return
    except (OSError, ValueError):  # unreadable: nothing is removed on its word
        folder = Path()
    try:
        info = folder.lstat()
    except OSError:
        info = None
    if (info is not None and folder.is_absolute() and folder.name.startswith(PRIVATE_PREFIX)
            and stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid()):
        shutil.rmtree(folder, ignore_errors=True)
    record.unlink(missing_ok=True)


def drop_stale_api_pages(root: Path = config.ROOT) -> list[Path]:
    """Remove the API reference's generated pages (chapters/api/<module>.rst) of modules the package
    no longer has, and return them. autosummary writes a page per module and never deletes one; a
    renamed or deleted module's page would fail the next build on its import (-W)."""
    import importlib.util

    stale = []
    for page in sorted((root / config.API_PAGE).glob("*.rst")):
        try:
            found = importlib.util.find_spec(page.stem) is not None
        except ImportError:  # its package is gone too
            found = False
        if not found:
            page.unlink(missing_ok=True)
            stale.append(page)
    return stale


def main(argv: list[str] | None = None) -> int:
    lock = BuildDirLock()
    try:
        return _main(argv, lock)
    except BuildDirError as err:
        print(f"cmprehab.build: {err}", file=sys.stderr)
        return err.exit_code
    finally:
        lock.release()


def _main(argv: list[str] | None, lock: BuildDirLock) -> int:
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
    stamp_file, site_stamp_file = build_dir / STAMP_FILE, build_dir / SITE_STAMP_FILE
    site, previous = build_dir / SITE, build_dir / PREVIOUS_SITE
    data = config.cohort_path()  # absolute: resolved once, against this process's working directory
    if build_dir.is_dir():  # before anything else: wait for no other build, undo what a killed one left
        lock.claim(build_dir)

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

    lock.claim(build_dir)  # a first build: _build/ is created now that the file is known to be valid
    try:  # before anything is deleted: a full disk leaves everything as it was
        validated = save_validated(cohort, make_private_folder(build_dir))
    except OSError as err:
        remove_private_folder(build_dir)
        print(f"cmprehab.build: cannot write the validated copy of the cohort ({err.strerror or err}); nothing "
              "was built and the previous site, if any, is unchanged", file=sys.stderr)
        return 1
    del cohort  # the kernels load the copy; this process has no further use for the rows

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
    stamp_file.unlink(missing_ok=True)
    site_stamp_file.unlink(missing_ok=True)
    # The site is built afresh; the last good one waits aside until this one succeeds (`recover`
    # has put back any that a killed build left aside, so none is lost here).
    if site.exists():
        site.rename(previous)

    for page in drop_stale_api_pages():
        print(f"cmprehab.build: removed {page.relative_to(config.ROOT)} (its module is no longer in the package)")
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    command = [str(jupyter_book if jupyter_book.exists() else "jupyter-book"), "build", str(config.ROOT),
               "--all", "-W", "-n", "--keep-going", "--path-output", str(output)]
    env = {**os.environ, config.DATA_ENV_VAR: str(data), config.DATA_SHA256_ENV_VAR: digest,
           config.VALIDATED_ENV_VAR: str(validated), study.RESOLVED_ENV_VAR: params_json,
           output_check.PARTS_ENV_VAR: str(build_dir / output_check.PARTS_DIR)}
    validating = time.perf_counter() - started
    started = time.perf_counter()
    code, cache_dir, cached = 0, build_dir / ".jupyter_cache", None
    try:  # whatever happens, patient rows stay no longer than the build that needs them
        if jobs > 1:
            failures = execute.run(cache_dir, env, jobs, log=lambda text: print(text, flush=True))
            for failure in failures:
                print(f"cmprehab.build: executing {failure.path} failed:\n{failure.traceback}", file=sys.stderr)
            code = 1 if failures else 0
            cached = execute.cached_records(cache_dir)
        executed = time.perf_counter()
        if code == 0:
            print("cmprehab.build:", " ".join(command), flush=True)
            # jupyter-book inherits the lock: no other build starts while it writes, even if this one is killed.
            code = subprocess.run(command, env=env, pass_fds=(lock.fd,)).returncode
    except Exception:  # (jupyter-cache's database, say): a failed build like any other, with its traceback
        traceback.print_exc()
        code = 1
    except KeyboardInterrupt:
        code = 130
    finally:
        remove_private_folder(build_dir)
    elapsed = time.perf_counter() - started

    if code == 0:
        try:  # the stamps first: a build killed before the old site is discarded gets it back (`recover`)
            write_stamp(stamp_file, new)
            write_stamp(site_stamp_file, site_stamp)
        except OSError as err:
            print(f"cmprehab.build: cannot write the stamp {err.filename} ({err.strerror or err})", file=sys.stderr)
            code = 1
    if code == 0:
        try:  # the data controller's report, beside the site (never in it: it holds true counts)
            report = output_check.write_report(build_dir, data_fingerprint(data, sha256=digest).synthetic)
            print(f"cmprehab.build: output-check report for the data controller in {report}")
        except (OSError, ValueError) as err:
            print(f"cmprehab.build: cannot write the output-check report ({err})", file=sys.stderr)
            code = 1
    if code == 0:
        discard(previous)  # this build's site is now the last good one
        if cached is not None:  # a key that did not match would have executed a notebook twice
            again = len(execute.cached_records(cache_dir) - cached)
            print("cmprehab.build: " + (f"jupyter-book re-executed {again} notebook(s)" if again
                                        else "jupyter-book took every notebook from the cache"))
        print(f"cmprehab.build: done in {elapsed + validating:.1f} s (validating {validating:.1f} s, executing "
              f"{executed - started:.1f} s, jupyter-book {elapsed - (executed - started):.1f} s), site in {site}")
        return 0
    drop_execution_state(build_dir)
    stamp_file.unlink(missing_ok=True)
    site_stamp_file.unlink(missing_ok=True)
    discard(site)
    kept = previous.exists()
    if kept:
        previous.rename(site)
    print(f"cmprehab.build: FAILED (exit code {code}) after {elapsed:.1f} s; executed results dropped, "
          + ("the previous site was put back" if kept else "no site was written"), file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
