"""A heavy analysis is computed once per cohort object, study parameters and arguments, and once
per build when the cohort is the build's validated copy."""
import fcntl
import os
import stat
import threading
from pathlib import Path

import pandas as pd
import pytest

from cmprehab import build, config, params
from cmprehab.data.cohort import load_cohort
from cmprehab.memo import per_cohort


def counted():
    calls = []

    @per_cohort
    def analysis(cohort, column="x", rules=None):
        calls.append(column)
        return pd.DataFrame({"total": [cohort[column].sum()]})
    return analysis, calls


def test_the_same_cohort_object_is_computed_once_and_another_object_again():
    analysis, calls = counted()
    cohort = pd.DataFrame({"x": [1, 2], "y": [5, 6]})
    assert analysis(cohort)["total"][0] == 3 and analysis(cohort)["total"][0] == 3
    assert calls == ["x"]
    assert analysis(cohort, "y")["total"][0] == 11 and calls == ["x", "y"]
    other = pd.DataFrame({"x": [10, 20]})  # equal shape, other data: its own result
    assert analysis(other)["total"][0] == 30 and calls == ["x", "y", "x"]


def test_callers_get_copies_and_cannot_change_what_is_kept():
    analysis, _ = counted()
    cohort = pd.DataFrame({"x": [1, 2]})
    result = analysis(cohort)
    result.loc[0, "total"] = 99
    assert analysis(cohort)["total"][0] == 3


def test_other_study_parameters_or_rules_compute_again(monkeypatch):
    analysis, calls = counted()
    cohort = pd.DataFrame({"x": [1, 2]})
    rules = params.current().mcid
    analysis(cohort, rules=rules)
    analysis(cohort, rules=dict(rules))
    assert len(calls) == 1  # equal rules, another dict: the same key
    monkeypatch.setenv(params.SET_ENV_VAR, "confidence=0.9")
    analysis(cohort, rules=rules)
    assert len(calls) == 2


def test_unhashable_arguments_are_computed_every_time():
    analysis, calls = counted()
    cohort = pd.DataFrame({"x": [1, 2]})
    analysis(cohort, rules=pd.Series([1]))
    analysis(cohort, rules=pd.Series([1]))
    assert len(calls) == 2


# --------------------------------------------------------------------------
# Shared between the kernels of one build
# --------------------------------------------------------------------------

def shared_analysis():
    """An analysis counted per call, as the build's kernels would share it."""
    calls = []

    @per_cohort
    def patients_by_sex(cohort, rules=None):
        calls.append(len(cohort))
        return cohort.groupby("sex", observed=False).size().rename("n").reset_index()
    return patients_by_sex, calls


def results_folder(validated):
    return validated.parent / "results"


def test_a_result_of_the_builds_cohort_is_computed_by_one_kernel_and_loaded_by_the_others(copy_of_default):
    _, validated = copy_of_default
    analysis, calls = shared_analysis()
    first = analysis(load_cohort())
    stored = list(results_folder(validated).glob("*.pickle"))
    assert len(stored) == 1 and stat.S_IMODE(stored[0].stat().st_mode) == 0o600
    analysis.cache_clear()  # another kernel: nothing in memory, a cohort object of its own
    again = analysis(load_cohort())
    assert len(calls) == 1
    pd.testing.assert_frame_equal(again, first)
    analysis.cache_clear()
    analysis(load_cohort(), rules=params.current().mcid)  # other arguments: computed, and kept apart
    assert len(calls) == 2 and len(list(results_folder(validated).glob("*.pickle"))) == 2


def test_a_cohort_other_than_the_builds_as_loaded_shares_nothing(copy_of_default):
    _, validated = copy_of_default
    analysis, calls = shared_analysis()
    cohort = load_cohort()
    men = cohort[cohort["sex"] == "male"]  # keeps the attrs (the file's fingerprint): another object
    extended = load_cohort()
    extended["one"] = 1  # the same object, changed after loading
    copied = load_cohort().copy()  # equal, attrs and all, but not what the kernel loaded
    for other in (men, extended, copied):
        analysis(other)
    assert len(calls) == 3 and not results_folder(validated).exists()


def test_a_kernel_waits_for_the_result_another_kernel_is_computing(copy_of_default):
    _, validated = copy_of_default
    analysis, calls = shared_analysis()
    cohort = load_cohort()
    expected = analysis(cohort)
    analysis.cache_clear()
    stored = next(results_folder(validated).glob("*.pickle"))
    computed = stored.read_bytes()
    stored.unlink()
    lock = os.open(stored.with_suffix(".lock"), os.O_RDWR)
    fcntl.flock(lock, fcntl.LOCK_EX)  # another kernel is computing it
    got = []
    waiting = threading.Thread(target=lambda: got.append(analysis(cohort)))
    waiting.start()
    waiting.join(0.5)
    assert waiting.is_alive() and got == []
    stored.write_bytes(computed)  # that kernel is done
    os.close(lock)
    waiting.join(30)
    assert len(calls) == 1  # loaded, not computed again
    pd.testing.assert_frame_equal(got[0], expected)


def test_a_kernel_that_fails_leaves_no_result_and_no_lock_held(copy_of_default):
    _, validated = copy_of_default

    @per_cohort
    def failing(cohort):
        raise RuntimeError("model did not converge")
    with pytest.raises(RuntimeError):
        failing(load_cohort())
    assert list(results_folder(validated).glob("*.pickle")) == []
    analysis, calls = shared_analysis()
    analysis(load_cohort())
    assert len(calls) == 1


def test_a_result_that_cannot_be_pickled_leaves_no_file_half_written(tmp_path):
    from cmprehab.memo import write_private_pickle
    target = tmp_path / "result.pickle"
    write_private_pickle({"n": 1}, target)
    with pytest.raises(Exception):
        write_private_pickle({"n": 2, "unpicklable": lambda: None}, target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result.pickle"]  # no temporary left behind
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    import pickle
    assert pickle.loads(target.read_bytes()) == {"n": 1}  # the previous file, whole


def test_a_builds_shared_results_are_kept_outside_the_project_and_go_with_its_copy(tmp_path, monkeypatch):
    """A kernel of a real build (`build.main`, with a stand-in for jupyter-book that computes as a kernel
    would, in the environment the build hands its kernels): the results it shares are aggregates
    not yet through disclosure control, so they stay in the build's private folder, and go with it."""
    analysis, calls = shared_analysis()
    stored, modes = [], []

    def jupyter_book(command, env, **kwargs):
        with monkeypatch.context() as kernel:
            for name in (config.DATA_ENV_VAR, config.DATA_SHA256_ENV_VAR, config.VALIDATED_ENV_VAR,
                         params.RESOLVED_ENV_VAR):
                kernel.setenv(name, env[name])
            analysis(load_cohort())
            copy = Path(env[config.VALIDATED_ENV_VAR])
            stored.extend(path for path in copy.parent.rglob("*.pickle") if path != copy)
            modes.extend(stat.S_IMODE(path.stat().st_mode) for path in (copy.parent, *stored))
        site = tmp_path / "out" / "_build" / "html"
        site.mkdir(parents=True, exist_ok=True)
        (site / "index.html").write_text("site")
        return build.subprocess.CompletedProcess(command, 0)
    monkeypatch.setattr(build.subprocess, "run", jupyter_book)
    monkeypatch.setenv(config.DATA_ENV_VAR, str(config.DEFAULT_COHORT))
    assert build.main(["--output", str(tmp_path / "out"), "--jobs", "1"]) == 0
    assert len(calls) == 1 and len(stored) == 1
    result = stored[0]
    assert result.parent.name == "results" and result.parent.parent.name.startswith(build.PRIVATE_PREFIX)
    assert modes == [0o700, 0o600]
    assert not result.is_relative_to(tmp_path) and not result.is_relative_to(config.ROOT)
    assert not result.parent.parent.exists(), "the shared results go with the copy"
