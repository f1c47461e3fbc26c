"""Shared fixtures: the committed cohort (loaded once) and a runner for the command-line tools."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from cmprehab import config, params
from cmprehab.data.cohort import load_cohort


#: What a build or an author's shell may set; a test starts without them unless it says otherwise.
BUILD_ENV = {config.DATA_ENV_VAR, config.DATA_SHA256_ENV_VAR, config.VALIDATED_ENV_VAR, params.FILE_ENV_VAR,
             params.SET_ENV_VAR, params.RESOLVED_ENV_VAR, "CMPREHAB_BOOK_PDF"}


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch):
    """Each test reads the default data and parameters, whatever the shell running it has set."""
    for name in BUILD_ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def default_cohort():
    """The committed synthetic cohort, always data/cohort.csv (never $CMPREHAB_DATA)."""
    return load_cohort(config.DEFAULT_COHORT)


@pytest.fixture
def run_cli():
    """Run `python -m <module> <args>` from the project root, without $CMPREHAB_DATA."""
    def run(module: str, *args, env: dict | None = None) -> subprocess.CompletedProcess:
        base = {k: v for k, v in os.environ.items() if k not in BUILD_ENV}
        return subprocess.run([sys.executable, "-m", module, *map(str, args)], cwd=config.ROOT,
                              env={**base, **(env or {})}, capture_output=True, text=True, timeout=120)
    return run
