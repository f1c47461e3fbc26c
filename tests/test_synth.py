"""The synthetic-cohort generator: reproducible, safe to run, and calibrated with structure."""
from __future__ import annotations

import json

import pandas as pd
import pytest
from scipy import stats as scipy_stats

from cmprehab import config, published, synth
from cmprehab.analysis import derive
from cmprehab.cohort import load_cohort
from cmprehab.provenance import read_sidecar, sha256_file, sidecar_path

SEED = config.DEFAULT_SEED
TARGETS = published.load_targets().set_index("key")["value"]


def write(path, n=config.DEFAULT_N, seed=SEED, force=False):
    synth.write_cohort(synth.generate(n, seed), path, seed, force=force)
    return path


def sidecar(path) -> dict:
    return json.loads(sidecar_path(path).read_text(encoding="utf-8"))


def no_temporary_files(folder) -> bool:
    return not [p.name for p in folder.iterdir() if ".tmp" in p.name]


# --------------------------------------------------------------------------
# Reproducibility
# --------------------------------------------------------------------------

def test_same_seed_gives_identical_bytes(tmp_path):
    a = write(tmp_path / "a" / "cohort.csv")
    b = write(tmp_path / "b" / "cohort.csv")
    assert a.read_bytes() == b.read_bytes()
    assert sidecar(a)["sha256"] == sidecar(b)["sha256"] == sha256_file(a)
    assert no_temporary_files(a.parent) and no_temporary_files(b.parent)


def test_different_seed_gives_different_bytes(tmp_path):
    a = write(tmp_path / "a.csv", seed=SEED)
    b = write(tmp_path / "b.csv", seed=SEED + 1)
    assert a.read_bytes() != b.read_bytes()
    assert sidecar(a)["sha256"] != sidecar(b)["sha256"]


def test_committed_cohort_is_what_the_generator_writes_now(tmp_path):
    fresh = write(tmp_path / "cohort.csv", n=config.DEFAULT_N, seed=config.DEFAULT_SEED)
    assert fresh.read_bytes() == config.DEFAULT_COHORT.read_bytes(), (
        "data/cohort.csv drifted from its generator; regenerate it with "
        f"python -m cmprehab.synth --seed {config.DEFAULT_SEED} --n {config.DEFAULT_N} --force")
    record = read_sidecar(config.DEFAULT_COHORT)
    assert record is not None, "the committed sidecar does not match data/cohort.csv"
    assert (record["synthetic"], record["seed"], record["n"]) == (True, config.DEFAULT_SEED, config.DEFAULT_N)


def test_sidecar_records_seed_n_and_command(tmp_path):
    path = write(tmp_path / "c.csv", n=80, seed=7)
    record = sidecar(path)
    assert (record["synthetic"], record["seed"], record["n"]) == (True, 7, 80)
    assert "--seed 7 --n 80" in record["command"]


def test_generated_file_has_ordinary_permissions(tmp_path):
    # A temporary file is created owner-only (0600); the cohort must not keep that mode.
    path = write(tmp_path / "cohort.csv")
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    assert oct(path.stat().st_mode & 0o777) == oct(plain.stat().st_mode & 0o777)


@pytest.mark.parametrize("seed", [SEED, 1])
def test_generated_file_passes_the_loader(tmp_path, seed):
    path = write(tmp_path / "cohort.csv", seed=seed)
    cohort = load_cohort(path)
    assert len(cohort) == config.DEFAULT_N


# --------------------------------------------------------------------------
# Never overwrite what the generator did not write
# --------------------------------------------------------------------------

def test_refuses_a_file_without_sidecar(tmp_path, run_cli):
    foreign = tmp_path / "real.csv"
    foreign.write_bytes(config.DEFAULT_COHORT.read_bytes()[:500])
    before = foreign.read_bytes()
    with pytest.raises(FileExistsError, match="not written by this generator"):
        write(foreign)
    result = run_cli("cmprehab.synth", "--seed", 1, "--n", 60, "--out", foreign)
    assert result.returncode != 0
    assert "ERROR" in result.stderr and str(foreign) in result.stderr and "--force" in result.stderr
    assert foreign.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["real.csv"]  # no sidecar, no temporary file


def test_refuses_a_generated_file_edited_afterwards(tmp_path, run_cli):
    path = write(tmp_path / "cohort.csv")
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[1] = lines[1].replace(",male,", ",female,", 1) if ",male," in lines[1] else lines[1].replace(
        ",female,", ",male,", 1)
    path.write_text("".join(lines), encoding="utf-8")
    edited, side = path.read_bytes(), sidecar_path(path).read_bytes()
    assert read_sidecar(path) is None  # the sha no longer matches
    with pytest.raises(FileExistsError):
        write(path, seed=SEED + 1)
    result = run_cli("cmprehab.synth", "--seed", SEED + 1, "--out", path)
    assert result.returncode != 0 and "--force" in result.stderr
    assert (path.read_bytes(), sidecar_path(path).read_bytes()) == (edited, side)
    assert no_temporary_files(tmp_path)


def test_force_overwrites_a_foreign_file(tmp_path, run_cli):
    foreign = tmp_path / "real.csv"
    foreign.write_text("patient_id\nP1\n", encoding="utf-8")
    result = run_cli("cmprehab.synth", "--seed", 3, "--n", 60, "--out", foreign, "--force")
    assert result.returncode == 0, result.stderr
    assert f"wrote {foreign}: 60 synthetic patients (seed 3)" in result.stdout
    expected = write(tmp_path / "expected.csv", n=60, seed=3)
    assert foreign.read_bytes() == expected.read_bytes()
    assert read_sidecar(foreign)["seed"] == 3
    assert no_temporary_files(tmp_path)


def test_overwriting_its_own_output_is_allowed(tmp_path):
    path = write(tmp_path / "cohort.csv", seed=1)
    first = path.read_bytes()
    write(path, seed=2)
    assert path.read_bytes() != first
    assert read_sidecar(path)["seed"] == 2
    assert no_temporary_files(tmp_path)


def test_refuses_a_directory(tmp_path):
    with pytest.raises(FileExistsError, match="directory"):
        write(tmp_path)


def test_too_small_n_is_rejected(tmp_path, run_cli):
    with pytest.raises(ValueError, match="at least 50"):
        synth.generate(49, SEED)
    out = tmp_path / "small.csv"
    result = run_cli("cmprehab.synth", "--seed", 1, "--n", 10, "--out", out)
    assert result.returncode != 0
    assert "ERROR" in result.stderr and "at least 50" in result.stderr
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------
# A larger cohort keeps the published shape
# --------------------------------------------------------------------------

def test_large_cohort_validates_and_keeps_the_proportions(tmp_path):
    n = 5000
    cohort = load_cohort(write(tmp_path / "big.csv", n=n, seed=11))
    assert len(cohort) == n
    women = (cohort["sex"] == "female").mean() * 100
    assert women == pytest.approx(TARGETS["women_pct"], abs=1)
    assert cohort["nprs_start"].median() == TARGETS["nprs_start_median"]
    assert cohort["age"].mean() == pytest.approx(TARGETS["age_mean"], abs=0.5)
    assert cohort["nprs_1y"].notna().mean() == pytest.approx(TARGETS["followup_n"] / published.COHORT_N, abs=0.01)


# --------------------------------------------------------------------------
# Structure (a regression that assigned values independently would break these)
# --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def derived(default_cohort):
    return derive(default_cohort)


def test_pain_and_disability_go_together(derived):
    rho, p = scipy_stats.spearmanr(derived["nprs_start"], derived["dri_start"], nan_policy="omit")
    assert rho > 0 and p < 0.05


def test_patients_lost_to_follow_up_had_fewer_sessions(derived):
    retained = derived["nprs_1y"].notna()
    assert 0 < retained.sum() < len(derived)
    assert derived.loc[retained, "n_sessions"].mean() > derived.loc[~retained, "n_sessions"].mean()
    _, p = scipy_stats.mannwhitneyu(derived.loc[retained, "n_sessions"], derived.loc[~retained, "n_sessions"],
                                    alternative="greater")
    assert p < 0.05


@pytest.mark.parametrize("stem", list(config.OUTCOMES))
def test_mcid_at_discharge_and_one_year_are_associated(derived, stem):
    both = derived[[f"mcid_{stem}_discharge", f"mcid_{stem}_1y"]].dropna().astype(bool)
    table = pd.crosstab(both.iloc[:, 0], both.iloc[:, 1]).reindex(index=[False, True], columns=[False, True],
                                                                   fill_value=0)
    odds_ratio, p = scipy_stats.fisher_exact(table.to_numpy(), alternative="greater")
    assert odds_ratio > 1 and p < 0.05, table
