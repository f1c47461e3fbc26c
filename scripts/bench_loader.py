"""Time and memory of validating cohorts of several sizes: ``python scripts/bench_loader.py``.

Uses the public tools only: ``python -m cmprehab.synth`` writes each cohort into a
temporary folder, ``python -m cmprehab.validate`` checks it in a fresh process.
For each size it prints the file size, the wall time and the peak resident memory
of that process, minus those of a process that only imports the package (the
baseline), and the ratio of that extra memory to the file size. Linux only
(``os.wait4`` gives the resource usage of one child process).

    python scripts/bench_loader.py                      # 10^4, 10^5, 2.4·10^5, 10^6 patients
    python scripts/bench_loader.py --sizes 10000 100000 --repeat 3 --keep /tmp/cohorts

Generating the 10^6-patient cohort takes about a minute; `--keep` reuses the files of an
earlier run (empty that folder when the generator or the schema changes).
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent  # run the package of this checkout, not an installed copy
MB = 1 << 20


def run(args: list[str]) -> tuple[float, float]:
    """Run `python ARGS` from the project root: (wall seconds, peak resident memory in MB)."""
    with tempfile.TemporaryFile() as errors:  # a file, not a pipe: a long report cannot block the child
        started = time.perf_counter()
        child = subprocess.Popen([sys.executable, *args], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=errors)
        _, status, usage = os.wait4(child.pid, 0)  # resource usage of this child alone
        elapsed = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode != 0:
            errors.seek(0)
            sys.exit(f"python {' '.join(args)} failed (exit {child.returncode}):\n"
                     + errors.read().decode(errors="replace")[-4000:])
    return elapsed, usage.ru_maxrss / 1024  # ru_maxrss is in KiB on Linux


def best_of(args: list[str], repeat: int) -> tuple[float, float]:
    """Fastest wall time and the smallest peak of `repeat` runs (the least disturbed)."""
    runs = [run(args) for _ in range(repeat)]
    return min(r[0] for r in runs), min(r[1] for r in runs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 240_000, 1_000_000],
                        help="cohort sizes, in patients")
    parser.add_argument("--repeat", type=int, default=1, help="runs per size; the best is shown")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", type=Path, help="folder to keep (and reuse) the generated cohorts in")
    args = parser.parse_args(argv)

    folder = args.keep or Path(tempfile.mkdtemp(prefix="cmprehab-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    base_time, base_rss = best_of(["-c", "import cmprehab.validate"], max(args.repeat, 3))
    print(f"baseline (python -c 'import cmprehab.validate'): {base_time:.2f} s, {base_rss:.0f} MB peak")
    print(f"{'patients':>10} {'file MB':>8} {'time s':>7} {'peak MB':>8} {'peak/file':>9}")
    try:
        for n in args.sizes:
            path = folder / f"cohort-{n}-seed{args.seed}.csv"
            if not path.exists():
                subprocess.run([sys.executable, "-m", "cmprehab.synth", "--n", str(n), "--seed", str(args.seed),
                                "--out", str(path)], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
            size = path.stat().st_size / MB
            wall, rss = best_of(["-m", "cmprehab.validate", str(path)], args.repeat)
            extra = rss - base_rss
            print(f"{n:>10} {size:>8.1f} {wall - base_time:>7.2f} {extra:>8.0f} {extra / size:>9.1f}", flush=True)
    finally:
        if args.keep is None:
            for generated in folder.iterdir():
                generated.unlink()
            folder.rmdir()
    print("time and peak are those of `python -m cmprehab.validate FILE` minus the baseline")
    return 0


if __name__ == "__main__":
    sys.exit(main())
