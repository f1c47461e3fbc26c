"""Shared fixtures: the committed cohort (loaded once) and a runner for the command-line tools."""
from __future__ import annotations

import hashlib
import importlib
import os
import shutil
import subprocess
import sys

import pytest

from cmprehab import config, params
from cmprehab.data.cohort import load_cohort, save_validated


#: What a build or an author's shell may set; a test starts without them unless it says otherwise.
BUILD_ENV = {config.DATA_ENV_VAR, config.DATA_SHA256_ENV_VAR, config.VALIDATED_ENV_VAR, params.FILE_ENV_VAR,
             params.SET_ENV_VAR, params.RESOLVED_ENV_VAR, params.ALLOW_WEAKER_ENV_VAR,
             config.PDF_ENV_VAR, config.MANUSCRIPT_ENV_VAR}


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
def run_cli(monkeypatch, capsys):
    """Run the command `python -m <module> <args>` from the project root, without $CMPREHAB_DATA:
    its `main(argv)` in this process (what `python -m` calls: no interpreter to start, no pandas to
    import again), or with `process=True` in a new interpreter, as a shell would (each command
    has one such test)."""
    def run(module: str, *args, env: dict | None = None, process: bool = False) -> subprocess.CompletedProcess:
        argv = [str(arg) for arg in args]
        if process:
            base = {k: v for k, v in os.environ.items() if k not in BUILD_ENV}
            return subprocess.run([sys.executable, "-m", module, *argv], cwd=config.ROOT,
                                  env={**base, **(env or {})}, capture_output=True, text=True, timeout=120)
        with monkeypatch.context() as scope:
            scope.chdir(config.ROOT)
            for name, value in (env or {}).items():
                scope.setenv(name, value)
            capsys.readouterr()
            try:
                code = importlib.import_module(module).main(argv)
            except SystemExit as stop:  # argparse's usage errors
                code = stop.code if isinstance(stop.code, int) else 1
            out, err = capsys.readouterr()
        return subprocess.CompletedProcess([module, *argv], code or 0, out, err)
    return run


@pytest.fixture
def copy_of_default(tmp_path, monkeypatch):
    """A real-data-like copy of the committed cohort, validated into a build's folder,
    with the environment a kernel of that build gets."""
    data = tmp_path / "cohort.csv"
    shutil.copyfile(config.DEFAULT_COHORT, data)
    validated = save_validated(load_cohort(data), tmp_path / "_build" / ".cohort")
    monkeypatch.setenv(config.DATA_ENV_VAR, str(data))
    monkeypatch.setenv(config.DATA_SHA256_ENV_VAR, hashlib.sha256(data.read_bytes()).hexdigest())
    monkeypatch.setenv(config.VALIDATED_ENV_VAR, str(validated))
    return data, validated


#: Modules that read a test build (tests/books.py). The desktop browser's starts first: it builds
#: the default book, then visits it, while the other worker runs the unit tests; the phone's
#: visits and nbval come after them, and last those that need the perturbed book (made in the
#: background once the default book is done). The longest of those last (the attack, 27 s) goes
#: before the shortest, so that both workers finish at about the same time.
FIRST = ("test_browser.py",)
LAST = ("test_browser_phone.py", "test_fresh_execution.py", "test_book_html.py", "test_disclosure_attack.py",
        "test_book_confidential.py")


def pytest_collection_modifyitems(config, items):
    """Order modules so the builds overlap the unit tests (with pytest-xdist: `make test` runs
    --dist loadfile --no-loadscope-reorder, which hands the modules out in this order)."""
    import books

    books.PREFETCH_PERTURBED = any(item.path.name in ("test_book_html.py", "test_book_confidential.py",
                                                      "test_disclosure_attack.py")
                                   for item in items)

    def rank(item) -> int:
        name = item.path.name
        return 0 if name in FIRST else 2 + LAST.index(name) if name in LAST else 1
    items.sort(key=rank)


def pytest_sessionfinish(session, exitstatus):
    import books

    books.wait_for_background()
