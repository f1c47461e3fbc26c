"""Check a cohort file against the schema: `python -m cmprehab.validate PATH`.

Prints every problem and exits 1, or prints a one-line summary and exits 0.
Patient ids, cell values and suggestions derived from them are left out of the
report unless the file is the generator's synthetic cohort or --show-values is given.
"""
from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

from . import config
from .instruments import INSTRUMENTS
from .data.cohort import CohortError, CohortWarning, load_cohort


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cmprehab.validate", description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?", type=Path,
                        help=f"cohort CSV (default: ${config.DATA_ENV_VAR} or {config.DEFAULT_COHORT.name})")
    parser.add_argument("--show-values", action="store_true",
                        help="show patient ids and cell values in the report (default: only for the "
                             "generator's synthetic cohort; never on a shared screen or in a log with real data)")
    args = parser.parse_args(argv)
    path = args.path or config.cohort_path()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", CohortWarning)
        try:
            cohort = load_cohort(path, show_values=True if args.show_values else None)
        except CohortError as err:
            print(f"INVALID {err}", file=sys.stderr)
            return 1
    for warning in caught:
        print(f"WARNING {path}: {warning.message}", file=sys.stderr)
    with_1y = int(cohort[[f"{s}_1y" for s in INSTRUMENTS]].notna().any(axis=1).sum())
    print(f"OK {path}: {len(cohort)} patients, {len(cohort.columns)} columns, {with_1y} with 1-year data")
    return 0


if __name__ == "__main__":
    sys.exit(main())
