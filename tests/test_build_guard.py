"""The build refuses a bad cohort file before writing anything, and says why."""
import os
import shutil
import subprocess
import sys

from cmprehab import config
from cmprehab.provenance import data_fingerprint, sidecar_path


def run_build(output, data):
    env = {**os.environ, config.DATA_ENV_VAR: str(data)}
    return subprocess.run([sys.executable, "-m", "cmprehab.build", "--output", str(output)],
                          env=env, capture_output=True, text=True, timeout=120)


def test_build_stops_on_an_invalid_cohort_and_writes_nothing(tmp_path):
    bad = tmp_path / "cohort.csv"
    lines = config.DEFAULT_COHORT.read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    row = lines[1].split(",")
    row[header.index("nprs_start")] = "11"
    bad.write_text("\n".join([lines[0], ",".join(row), *lines[2:]]) + "\n", encoding="utf-8")
    output = tmp_path / "site"
    result = run_build(output, bad)
    assert result.returncode == 1
    assert str(bad) in result.stderr and "line 2" in result.stderr
    assert "nprs_start" in result.stderr and "must be 0–10" in result.stderr and "11" in result.stderr
    assert not output.exists()


def test_build_stops_on_a_missing_file(tmp_path):
    result = run_build(tmp_path / "site", tmp_path / "absent.csv")
    assert result.returncode == 1
    assert "does not exist" in result.stderr and not (tmp_path / "site").exists()


def test_fingerprint_tells_synthetic_from_author_supplied(tmp_path):
    copy = tmp_path / "cohort.csv"
    shutil.copyfile(config.DEFAULT_COHORT, copy)
    assert not data_fingerprint(copy).synthetic  # no sidecar: treated as real data
    shutil.copyfile(sidecar_path(config.DEFAULT_COHORT), sidecar_path(copy))
    assert data_fingerprint(copy).synthetic and data_fingerprint(copy).seed == config.DEFAULT_SEED
    copy.write_text(copy.read_text(encoding="utf-8").replace("SYN001,", "SYN001X,", 1), encoding="utf-8")
    assert not data_fingerprint(copy).synthetic  # edited after generation: no longer vouched for
