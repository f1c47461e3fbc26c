"""The build parses and validates the cohort once; its kernels load that validated copy.

A kernel still hashes the file, so a file changed since the build validated it is refused,
and it uses the copy only for this build's file, digest and study parameters.
"""
import hashlib
import os
import shutil
import stat
from pathlib import Path

import pandas as pd
import pytest

from cmprehab import build, config, params
from cmprehab.data import cohort as loader
from cmprehab.data.cohort import CohortError, load_cohort, save_validated


@pytest.fixture
def parses(monkeypatch):
    """Counts the files the loader parses."""
    seen = []
    original = loader._Reader.read

    def read(self):
        seen.append(self.path)
        return original(self)
    monkeypatch.setattr(loader._Reader, "read", read)
    return seen


def test_a_kernel_loads_the_validated_copy_without_parsing_the_file(copy_of_default, parses):
    data, validated = copy_of_default
    assert validated.name == f"{hashlib.sha256(data.read_bytes()).hexdigest()}.pickle"
    assert stat.S_IMODE(validated.stat().st_mode) == 0o600  # it holds patient rows
    kernel = load_cohort()
    assert parses == []
    fresh = load_cohort(data, show_values=False)
    pd.testing.assert_frame_equal(kernel, fresh, check_exact=True)
    assert kernel.attrs["fingerprint"] == fresh.attrs["fingerprint"]


def test_a_file_changed_since_the_build_validated_it_is_refused(copy_of_default, parses):
    data, _ = copy_of_default
    data.write_bytes(data.read_bytes().replace(b"\n", b"\r\n", 1))
    with pytest.raises(CohortError, match="changed since the build validated it"):
        load_cohort()
    assert parses == []


def test_the_copy_is_not_used_under_other_parameters_or_for_another_file(copy_of_default, parses, tmp_path,
                                                                           monkeypatch):
    data, _ = copy_of_default
    monkeypatch.setenv(params.RESOLVED_ENV_VAR, params.to_json(params.load(overrides="confidence=0.9")))
    load_cohort()
    assert parses == [data]  # validated again, under these parameters
    monkeypatch.delenv(params.RESOLVED_ENV_VAR)
    load_cohort(config.DEFAULT_COHORT)
    assert parses == [data, config.DEFAULT_COHORT]


def test_a_missing_copy_means_the_file_is_parsed(copy_of_default, parses):
    data, validated = copy_of_default
    validated.unlink()
    assert len(load_cohort()) == len(pd.read_csv(data))
    assert parses == [data]


def test_the_build_hands_its_kernels_the_copy_and_removes_it_when_it_ends(tmp_path, monkeypatch):
    """Run with a stand-in for jupyter-book that records what a kernel would get. The copy holds patient
    rows: it is kept in a folder of the build's own, outside the project, that only its user can enter."""
    seen = []
    outcome = [0]
    build_dir = tmp_path / "out" / "_build"

    def jupyter_book(command, env, **kwargs):
        copy = Path(env[config.VALIDATED_ENV_VAR])
        record = (build_dir / build.PRIVATE_RECORD).read_text(encoding="utf-8").strip()
        seen.append((copy, copy.is_file(), stat.S_IMODE(copy.parent.stat().st_mode), record))
        site = build_dir / "html"
        site.mkdir(parents=True, exist_ok=True)
        (site / "index.html").write_text("site")
        return build.subprocess.CompletedProcess(command, outcome[0])
    monkeypatch.setattr(build.subprocess, "run", jupyter_book)
    monkeypatch.setenv(config.DATA_ENV_VAR, str(config.DEFAULT_COHORT))
    args = ["--output", str(tmp_path / "out"), "--jobs", "1"]
    assert build.main(args) == 0
    copy, existed, mode, record = seen[-1]
    assert existed and mode == 0o700 and copy.parent.name.startswith(build.PRIVATE_PREFIX)
    assert not copy.is_relative_to(tmp_path) and not copy.is_relative_to(config.ROOT)
    assert record == str(copy.parent)  # its path, for the next build should this one be killed
    assert copy.name == f"{hashlib.sha256(config.DEFAULT_COHORT.read_bytes()).hexdigest()}.pickle"
    assert not copy.parent.exists(), "patient rows must not outlive the build"
    assert not (build_dir / build.PRIVATE_RECORD).exists()
    assert [path for path in build_dir.rglob("*.pickle")] == []
    outcome[0] = 1  # a failed build removes it too
    assert build.main(args + ["--force"]) == 1
    assert seen[-1][1] and seen[-1][0].parent != copy.parent and not seen[-1][0].parent.exists()
    assert not (build_dir / build.PRIVATE_RECORD).exists()
