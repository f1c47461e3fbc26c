"""The synthetic-cohort generator: reproducible, safe to run, and calibrated with structure."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats

from cmprehab.instruments import INSTRUMENTS
from cmprehab import config, params, synth
from cmprehab.data import targets
from cmprehab.analysis import calibration
from cmprehab.report import audit as reproduction, fidelity
from cmprehab.analysis.derive import derive
from cmprehab.data.cohort import load_cohort
from cmprehab.provenance import read_sidecar, sha256_file, sidecar_path
from cmprehab.analysis.stats import mcid_reached, round_half_up

SEED = config.DEFAULT_SEED
TARGETS = targets.load_targets().set_index("key")["value"]


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
    result = run_cli("cmprehab.synth", "--seed", 1, "--n", 60, "--out", foreign, process=True)
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


def test_rewriting_the_same_seed_gives_the_same_final_bytes(tmp_path):
    path = write(tmp_path / "cohort.csv", seed=5, n=80)
    first = path.read_bytes(), sidecar_path(path).read_bytes()
    write(path, seed=5, n=80)  # over its own output
    assert (path.read_bytes(), sidecar_path(path).read_bytes()) == first
    assert "replaces" not in sidecar(path)
    assert no_temporary_files(tmp_path)


# --------------------------------------------------------------------------
# Interrupted writes: the previous file whole, or the new one; never half a file
# --------------------------------------------------------------------------

def test_a_failure_while_writing_the_csv_leaves_nothing_behind(tmp_path, monkeypatch):
    path = write(tmp_path / "cohort.csv", seed=1, n=60)
    before = path.read_bytes(), sidecar_path(path).read_bytes()

    def broken_to_csv(self, handle, **kwargs):
        handle.write("patient_id,age\nSYN01,4")
        raise OSError("No space left on device")
    monkeypatch.setattr(pd.DataFrame, "to_csv", broken_to_csv)
    with pytest.raises(OSError, match="No space"):
        synth.write_cohort(synth.generate(60, 2), path, 2)
    assert (path.read_bytes(), sidecar_path(path).read_bytes()) == before
    assert no_temporary_files(tmp_path)


def test_sigterm_during_the_write_is_an_orderly_stop(tmp_path, monkeypatch, capsys):
    path = write(tmp_path / "cohort.csv", seed=1, n=60)
    real, calls = os.replace, []

    def replace(src, dst):
        calls.append(dst)
        if len(calls) == 1:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)  # the handler raises here, before the cohort is renamed
        return real(src, dst)
    monkeypatch.setattr(os, "replace", replace)
    handler = signal.getsignal(signal.SIGTERM)
    code = synth.main(["--seed", "2", "--n", "60", "--out", str(path)])
    assert code == 128 + signal.SIGTERM
    assert "SIGTERM" in capsys.readouterr().err
    assert signal.getsignal(signal.SIGTERM) == handler  # the previous handler is back
    assert len(calls) == 1 and no_temporary_files(tmp_path) and synth.is_own_cohort(path)


def test_sigterm_to_the_command_removes_its_temporary_file(tmp_path):
    """SIGTERM while the cohort is being written: exit 143, no temporary file left, and the cohort
    either not there or whole. The signal goes once the temporary file exists; a generator that
    finished before it arrived (a busy machine may let the writing end first) is run again, so
    the verdict never rests on timing."""
    n = 200_000
    env = {k: v for k, v in os.environ.items() if k != config.DATA_ENV_VAR}
    for attempt in range(5):
        folder = tmp_path / f"attempt-{attempt}"
        folder.mkdir()
        out = folder / "big.csv"
        proc = subprocess.Popen([sys.executable, "-m", "cmprehab.synth", "--n", str(n), "--out", str(out)],
                                cwd=config.ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 90
        while not [p for p in folder.iterdir() if p.name.endswith(".tmp")]:  # wait until it is writing
            if proc.poll() is not None or time.monotonic() > deadline:
                break
            time.sleep(0.01)
        proc.send_signal(signal.SIGTERM)  # nothing, if it has ended
        _, err = proc.communicate(timeout=60)
        assert not [p for p in folder.iterdir() if p.name.endswith(".tmp")], err
        if proc.returncode in (0, -signal.SIGTERM):  # done writing before the signal came: again
            assert out.is_file()
            continue
        assert proc.returncode == 128 + signal.SIGTERM, err
        assert "SIGTERM" in err
        # Stopped while writing the cohort (nothing there) or its sidecar (the cohort whole).
        assert not out.exists() or len(out.read_text(encoding="utf-8").splitlines()) == n + 1
        return
    pytest.fail("the generator finished writing before SIGTERM in each of 5 runs")


# --------------------------------------------------------------------------
# Never overwrite a sidecar the generator did not write
# --------------------------------------------------------------------------

@pytest.mark.parametrize("content", ["my notes about this file\n", '{"sha256": "abc", "synthetic": true}\n', "[1, 2]\n"])
def test_refuses_a_foreign_file_at_the_sidecar_path(tmp_path, content):
    out = tmp_path / "cohort.csv"
    side = sidecar_path(out)
    side.write_text(content, encoding="utf-8")
    with pytest.raises(FileExistsError, match="not a sidecar this generator wrote"):
        write(out, n=60)
    assert side.read_text(encoding="utf-8") == content and not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [side.name]
    write(out, n=60, force=True)
    assert read_sidecar(out)["n"] == 60 and no_temporary_files(tmp_path)


def test_cli_refuses_a_foreign_sidecar_unless_forced(tmp_path, run_cli):
    out = tmp_path / "cohort.csv"
    side = sidecar_path(out)
    content = "my notes about this file\n"
    side.write_text(content, encoding="utf-8")
    result = run_cli("cmprehab.synth", "--n", 60, "--out", out)
    assert result.returncode == 1 and str(side) in result.stderr and "--force" in result.stderr
    assert side.read_text(encoding="utf-8") == content and not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [side.name]
    result = run_cli("cmprehab.synth", "--n", 60, "--out", out, "--force")
    assert result.returncode == 0, result.stderr
    assert read_sidecar(out)["n"] == 60 and no_temporary_files(tmp_path)


@pytest.mark.parametrize("force", [False, True])
def test_refuses_a_directory_at_the_sidecar_path(tmp_path, force):
    out = tmp_path / "cohort.csv"
    folder = sidecar_path(out)
    folder.mkdir()
    (folder / "keep.txt").write_text("x")
    with pytest.raises(FileExistsError, match="is a directory"):
        write(out, n=60, force=force)
    assert (folder / "keep.txt").read_text() == "x" and not out.exists()
    assert no_temporary_files(tmp_path)


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
    assert cohort["nprs_1y"].notna().mean() == pytest.approx(TARGETS["followup_n"] / targets.COHORT_N, abs=0.01)


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


@pytest.mark.parametrize("stem", list(INSTRUMENTS))
def test_mcid_at_discharge_and_one_year_are_associated(derived, stem):
    threshold = calibration.calibration_thresholds()[stem]
    reached = {time: mcid_reached(derived[f"{stem}_start"], derived[f"{stem}_{time}"], stem, threshold)
               for time in ("discharge", "1y")}
    both = pd.DataFrame(reached).dropna().astype(bool)
    table = pd.crosstab(both.iloc[:, 0], both.iloc[:, 1]).reindex(index=[False, True], columns=[False, True],
                                                                   fill_value=0)
    odds_ratio, p = scipy_stats.fisher_exact(table.to_numpy(), alternative="greater")
    assert odds_ratio > 1 and p < 0.05, table


# --------------------------------------------------------------------------
# Calibration belongs to the generator and the targets file, not to the reader's settings
# --------------------------------------------------------------------------

def test_the_readers_mcid_does_not_change_the_cohort(monkeypatch):
    baseline = synth.generate(120, 4)
    monkeypatch.setenv(params.SET_ENV_VAR, "mcid.nprs.threshold=5 mcid.dri.threshold=21 mcid.eqvas.definition=percent")
    assert params.current().mcid["nprs"].threshold == 5  # the reader's parameters did change
    pd.testing.assert_frame_equal(synth.generate(120, 4), baseline)


def test_calibration_rows_are_assumptions_without_a_computed_value(default_cohort):
    rows = reproduction.audit(default_cohort).set_index("key")
    thresholds = calibration.calibration_thresholds()
    for stem in INSTRUMENTS:
        row = rows.loc[f"calibration_mcid_{stem}"]
        assert row["status"] == reproduction.STATUS_ASSUMED and np.isnan(row["computed"])
        assert row["published"] == thresholds[stem]


def shares(cohort: pd.DataFrame, thresholds: dict) -> dict:
    """Percent reaching each threshold, by direct arithmetic on the columns."""
    out = {}
    for stem in INSTRUMENTS:
        sign = -1 if not INSTRUMENTS[stem].higher_is_better else 1
        for time in ("discharge", "1y"):
            both = cohort[[f"{stem}_start", f"{stem}_{time}"]].dropna().astype(float)
            gain = (sign * (both.iloc[:, 1] - both.iloc[:, 0])).round(6)
            out[(stem, time)] = round_half_up(100 * (gain >= thresholds[stem]).mean())
    return out


def test_the_generator_calibrates_to_the_thresholds_in_the_targets_file(monkeypatch):
    other = {"nprs": 3.0, "dri": 15.0, "eqvas": 8.0}
    monkeypatch.setattr(synth, "calibration_thresholds", lambda: other)
    cohort = synth.generate(config.DEFAULT_N, SEED)
    expected = {(stem, time): TARGETS[f"{stem}_mcid_{time}_pct"] for stem in INSTRUMENTS
                for time in ("discharge", "1y")}
    assert shares(cohort, other) == expected
    assert shares(cohort, calibration.calibration_thresholds()) != expected  # the thresholds really moved


def test_the_committed_cohort_reaches_the_shares_under_the_calibration_thresholds(default_cohort):
    expected = {(stem, time): TARGETS[f"{stem}_mcid_{time}_pct"] for stem in INSTRUMENTS
                for time in ("discharge", "1y")}
    assert shares(default_cohort, calibration.calibration_thresholds()) == expected


# --------------------------------------------------------------------------
# Every row coherent, at any seed and size
# --------------------------------------------------------------------------

@pytest.mark.parametrize("n,seed", [(50, 1), (274, 7), (274, 99), (1000, 3), (20000, 11)])
def test_rows_are_coherent(n, seed):
    cohort = synth.generate(n, seed).astype({c: float for c in ("age", "n_sessions", "program_days",
                                                                  "pain_duration_days")})
    single = cohort["n_sessions"] == 1
    assert (cohort.loc[single, "program_days"] == 0).all() and (cohort.loc[~single, "program_days"] > 0).all()
    several = cohort[~single]
    # At most two sessions a week on average (stricter than the validator's one a day).
    assert (several["program_days"] >= synth.DAYS_PER_EXTRA_SESSION * (several["n_sessions"] - 1)).all()
    onset = cohort["age"] - cohort["pain_duration_days"] / config.DAYS_PER_YEAR
    assert onset.min() >= synth.MIN_ONSET_AGE


def test_change_scores_have_no_gap_below_the_threshold_at_registry_scale():
    cohort = synth.generate(20000, 5)
    thresholds = calibration.calibration_thresholds()
    for stem in INSTRUMENTS:
        for time in ("discharge", "1y"):
            sign = INSTRUMENTS[stem].direction
            gain = (sign * (cohort[f"{stem}_{time}"].astype(float) - cohort[f"{stem}_start"])).round(6).dropna()
            step = fidelity.BAND_WIDTH[stem]
            thr = thresholds[stem]
            just_below = ((gain >= thr - step) & (gain < thr)).mean()
            at = ((gain >= thr) & (gain < thr + step)).mean()
            assert 0.6 < just_below / at < 1.6, (stem, time, just_below, at)
            assert 0.02 <= (gain <= -thr).mean() <= 0.15, (stem, time)
