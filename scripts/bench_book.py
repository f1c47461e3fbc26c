"""Time the book's builds against their floor: ``python scripts/bench_book.py`` (``make bench``).

Works on a temporary copy of this checkout (never on your files or your _build/), with
public tools only: ``python -m cmprehab.build``, ``python -m cmprehab.synth``, nbclient.
In one run, each scenario `--repeat` times (median printed):

* clean        _build/ removed, then a build: every notebook executes;
* clean serial the same with --jobs 1 (jupyter-book executes the notebooks one by one);
* no-op        a second build with nothing changed (the build sees that and stops);
* re-render    the same with --force: jupyter-book renders every page, every notebook cached;
* edit 1 nb    a comment appended to a code cell of one notebook: that notebook re-executes;
* data change  another generated cohort (another seed, n = 274) via $CMPREHAB_DATA:
               every notebook re-executes (the build drops its cache on a new data digest);
* make test    with --with-test: the test command of `make test` (about 9 minutes).
* n = ...      with --scale: a clean build on a generated cohort of that size.

The floor: each notebook executed alone in a fresh kernel (nbclient, one at a time), then
floor = max(sum / cores, longest) + the time jupyter-book takes to write the site with
every notebook cached (its share of the re-render). With --scale, the whole book is
built clean on generated cohorts of those sizes. Linux only: the peak memory is that of
the largest single process (``os.wait4``, in MB), and with psutil the sampled peak of the
whole process tree (parallel kernels add up).

    python scripts/bench_book.py                 # 3 repetitions
    python scripts/bench_book.py --quick         # 1 repetition
    python scripts/bench_book.py --scale 10000,100000,1000000 --with-test
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # this checkout's package, not an installed copy

from cmprehab import config, execute  # noqa: E402
from cmprehab import params as study  # noqa: E402
from cmprehab.data.cohort import load_cohort, save_validated  # noqa: E402

try:
    import psutil
except ImportError:  # the tree's sampled peak is then left out
    psutil = None

IGNORED = shutil.ignore_patterns("_build", ".git", ".venv", "node_modules", ".pytest_cache", "__pycache__",
                                 ".ipynb_checkpoints")
EDITED = "chapters/05_outcomes.ipynb"


class Measured:
    def __init__(self, seconds: float, rss_mb: float, tree_mb: float | None, stdout: str, code: int = 0):
        self.seconds, self.rss_mb, self.tree_mb, self.stdout, self.code = seconds, rss_mb, tree_mb, stdout, code

    def part(self, label: str) -> float | None:
        """A time the build prints: 'done in T s (executing E s, jupyter-book J s)'."""
        for line in self.stdout.splitlines():
            if line.startswith("cmprehab.build: done in") and f"{label} " in line:
                return float(line.split(f"{label} ")[1].split(" s")[0])
        return None


def sample_tree(pid: int, stop: threading.Event, peak: list[float]) -> None:
    """Sum of the resident memory of a process and its descendants, every 0.2 s."""
    while not stop.is_set():
        try:
            parent = psutil.Process(pid)
            total = 0
            for p in [parent, *parent.children(recursive=True)]:
                try:
                    total += p.memory_info().rss
                except psutil.Error:
                    pass
            peak[0] = max(peak[0], total / 2**20)
        except psutil.Error:
            return
        stop.wait(0.2)


def run(command: list[str], cwd: Path, env: dict[str, str], check: bool = True) -> Measured:
    """Run a command; wall time, the peak of its largest process and of its whole tree."""
    with tempfile.TemporaryFile() as out:  # a file, not a pipe: a long log cannot block the child
        started = time.perf_counter()
        child = subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
        stop, peak = threading.Event(), [0.0]
        sampler = threading.Thread(target=sample_tree, args=(child.pid, stop, peak), daemon=True) if psutil else None
        if sampler:
            sampler.start()
        _, status, usage = os.wait4(child.pid, 0)  # includes the descendants it waited for (kernels)
        elapsed = time.perf_counter() - started
        stop.set()
        out.seek(0)
        text = out.read().decode(errors="replace")
    code = os.waitstatus_to_exitcode(status)
    if code != 0 and check:
        sys.exit(f"{' '.join(command)} failed:\n{text[-4000:]}")
    return Measured(elapsed, usage.ru_maxrss / 1024, peak[0] if sampler else None, text, code)


class Copy:
    """A temporary copy of the checkout, built with this venv's Python."""

    def __init__(self, folder: Path):
        self.root = folder / "repo"
        shutil.copytree(ROOT, self.root, ignore=IGNORED, symlinks=True)
        # Kernels import cmprehab from the copy, like the build does.
        self.env = {k: v for k, v in os.environ.items() if k not in (config.DATA_ENV_VAR, study.SET_ENV_VAR,
                                                                    study.FILE_ENV_VAR, study.RESOLVED_ENV_VAR,
                                                                    config.DATA_SHA256_ENV_VAR)}
        self.env["PYTHONPATH"] = os.pathsep.join([str(self.root), self.env.get("PYTHONPATH", "")]).rstrip(os.pathsep)

    def build(self, data: Path | None = None, clean: bool = False, jobs: int | None = None,
              check: bool = True, force: bool = False) -> Measured:
        if clean:
            shutil.rmtree(self.root / "_build", ignore_errors=True)
        env = dict(self.env)
        if data is not None:
            env[config.DATA_ENV_VAR] = str(data)
        jobs_args = ([] if jobs is None else ["--jobs", str(jobs)]) + (["--force"] if force else [])
        return run([sys.executable, "-m", "cmprehab.build", *jobs_args], self.root, env, check)

    def results_digest(self) -> str:
        """The first 12 hex digits of the SHA-256 of the site's results.json: equal digests, equal numbers."""
        import hashlib

        return hashlib.sha256((self.root / "_build" / "html" / "results.json").read_bytes()).hexdigest()[:12]

    def edit_code_cell(self, n: int) -> None:
        """Append a comment to the first code cell of one notebook: its cache key changes."""
        path = self.root / EDITED
        nb = json.loads(path.read_text(encoding="utf-8"))
        cell = next(c for c in nb["cells"] if c["cell_type"] == "code")
        source = "".join(cell["source"]).split("\n# bench edit")[0]
        cell["source"] = source + f"\n# bench edit {n}"
        path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")

    def synth(self, n: int, seed: int, out: Path) -> Path:
        if not out.exists():
            run([sys.executable, "-m", "cmprehab.synth", "--n", str(n), "--seed", str(seed), "--out", str(out)],
                self.root, self.env)
        return out


def notebook_times(copy: Copy, folder: Path) -> dict[str, float]:
    """Each notebook alone, one after another, each in a fresh kernel, with the build's environment
    (the data file, its digest, the parameters and the validated copy of the cohort)."""
    import nbclient
    import nbformat

    data = copy.root / "data" / config.DEFAULT_COHORT.name
    cohort = load_cohort(data)
    env = {**copy.env, config.DATA_ENV_VAR: str(data),
           config.DATA_SHA256_ENV_VAR: cohort.attrs["fingerprint"].sha256,
           config.VALIDATED_ENV_VAR: str(save_validated(cohort, folder / "validated")),
           study.RESOLVED_ENV_VAR: study.to_json(study.load())}
    timeout = execute.execution_settings(copy.root)["timeout"]
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)  # the kernel inherits this process's environment
    try:
        times = {}
        for path in execute.toc_notebooks(copy.root):
            nb = nbformat.read(path, as_version=4)
            started = time.perf_counter()
            nbclient.NotebookClient(nb, timeout=timeout, resources={"metadata": {"path": str(path.parent)}}).execute()
            times[path.stem] = time.perf_counter() - started
        return times
    finally:
        os.environ.clear()
        os.environ.update(saved)


def row(label: str, runs: list[Measured], note: str = "") -> str:
    seconds = [m.seconds for m in runs]
    tree = [m.tree_mb for m in runs if m.tree_mb is not None]
    return (f"| {label:<24} | {statistics.median(seconds):>8.1f} | {' '.join(f'{s:.1f}' for s in seconds):<18} "
            f"| {max(m.rss_mb for m in runs):>8.0f} | {(f'{max(tree):.0f}' if tree else '-'):>8} | {note}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per scenario (median shown)")
    parser.add_argument("--quick", action="store_true", help="one run per scenario")
    parser.add_argument("--with-test", action="store_true", help="also time the `make test` command (≈ 9 min)")
    parser.add_argument("--scale", default="", help="cohort sizes to build the book on, e.g. 10000,100000,1000000")
    parser.add_argument("--keep", type=Path, help="folder for the copy and cohorts (kept; default: a temporary one)")
    args = parser.parse_args(argv)
    repeat = 1 if args.quick else max(1, args.repeat)
    sizes = [int(s) for s in args.scale.split(",") if s.strip()]

    folder = args.keep or Path(tempfile.mkdtemp(prefix="cmprehab-bench-book-"))
    folder.mkdir(parents=True, exist_ok=True)
    cores = os.cpu_count() or 1
    try:
        copy = Copy(folder) if not (folder / "repo").exists() else None
        if copy is None:
            sys.exit(f"{folder / 'repo'} exists: empty --keep first")
        print(f"bench: copy of the checkout in {copy.root}; {cores} cores, "
              f"{execute.default_jobs()} jobs, load average {os.getloadavg()[0]:.1f}", flush=True)
        results: dict[str, list[Measured]] = {k: [] for k in ("serial", "clean", "noop", "render", "edit", "data")}
        cohorts = [copy.synth(config.DEFAULT_N, 1000 + i, folder / f"cohort-seed{1000 + i}.csv") for i in range(repeat)]
        digests = []
        for i in range(repeat):
            results["serial"].append(copy.build(clean=True, jobs=1))
            results["clean"].append(copy.build(clean=True))
            digests.append(copy.results_digest())
            results["noop"].append(copy.build())
            results["render"].append(copy.build(force=True))
            copy.edit_code_cell(i)
            results["edit"].append(copy.build())
            results["data"].append(copy.build(data=cohorts[i]))
            print(f"bench: repetition {i + 1}/{repeat} done", flush=True)
        if args.with_test:
            # The test command of the Makefile's `test` target.
            results["test"] = [run([sys.executable, "-m", "pytest", "-q", "-n", "2", "--dist", "loadfile",
                                    "--no-loadscope-reorder", "tests"], copy.root, copy.env)]

        print("bench: the floor (each notebook alone in a fresh kernel) ...", flush=True)
        times = notebook_times(copy, folder)
        render = statistics.median(m.part("jupyter-book") for m in results["render"])
        total, longest = sum(times.values()), max(times.values())
        floor = max(total / cores, longest) + render
        clean = statistics.median(m.seconds for m in results["clean"])

        print()
        print(f"| {'scenario':<24} | {'median s':>8} | {'runs s':<18} | {'max MB':>8} | {'tree MB':>8} | notes")
        print(f"|{'-' * 26}|{'-' * 10}|{'-' * 20}|{'-' * 10}|{'-' * 10}|------")
        execs = [m.part("executing") for m in results["clean"]]
        print(row("clean build", results["clean"], f"executing {statistics.median(execs):.1f} s; "
                                                   f"results.json {', '.join(sorted(set(digests)))}"))
        print(row("clean build, --jobs 1", results["serial"], "serial: jupyter-book executes"))
        print(row("no-op rebuild", results["noop"], "nothing changed: stops"))
        print(row("re-render (--force)", results["render"], f"jupyter-book {render:.1f} s"))
        print(row(f"edit 1 nb ({Path(EDITED).stem})", results["edit"]))
        print(row("data change (seed)", results["data"]))
        if "test" in results:
            print(row("make test", results["test"]))
        for size in sizes:
            data = copy.synth(size, 1, folder / f"cohort-{size}.csv")
            built = copy.build(data=data, clean=True, check=False)  # a failure is a result here, not the end
            failed = [line for line in built.stdout.splitlines() if "failed:" in line or "FAILED" in line]
            parts = ", ".join(f"{label} {built.part(label):.1f} s" for label in ("validating", "executing", "jupyter-book")
                              if built.part(label) is not None)
            parts += f"; results.json {copy.results_digest()}" if built.code == 0 else ""
            print(row(f"clean, n = {size}", [built], "; ".join(failed)[-300:] if built.code else parts), flush=True)
        print()
        print("notebooks alone (s): " + ", ".join(f"{name} {t:.1f}" for name, t in times.items()))
        print(f"floor = max(sum {total:.1f} / {cores} cores, longest {longest:.1f}) + render {render:.1f} "
              f"= {floor:.1f} s")
        serial = statistics.median(m.seconds for m in results["serial"])
        print(f"clean build / floor = {clean:.1f} / {floor:.1f} = {clean / floor:.2f}; "
              f"serial clean build / floor = {serial / floor:.2f}")
        print("max MB: largest single process (os.wait4); tree MB: sampled sum of the build's processes")
    finally:
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
