"""Shared fixtures: the committed cohort (loaded once) and a runner for the command-line tools."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from cmprehab import config
from cmprehab.data.cohort import load_cohort


@pytest.fixture(scope="session")
def default_cohort():
    """The committed synthetic cohort, always data/cohort.csv (never $CMPREHAB_DATA)."""
    return load_cohort(config.DEFAULT_COHORT)


@pytest.fixture
def run_cli():
    """Run `python -m <module> <args>` from the project root, without $CMPREHAB_DATA."""
    def run(module: str, *args, env: dict | None = None) -> subprocess.CompletedProcess:
        base = {k: v for k, v in os.environ.items() if k != config.DATA_ENV_VAR}
        return subprocess.run([sys.executable, "-m", module, *map(str, args)], cwd=config.ROOT,
                              env={**base, **(env or {})}, capture_output=True, text=True, timeout=120)
    return run
