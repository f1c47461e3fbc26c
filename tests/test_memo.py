"""A heavy analysis is computed once per cohort object, study parameters and arguments."""
import pandas as pd

from cmprehab import params
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
