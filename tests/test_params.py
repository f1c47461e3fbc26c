"""Study parameters: one documented file a reader edits, overrides per build, clear errors."""
from __future__ import annotations

import json

import pytest
import yaml

from cmprehab import params
from cmprehab.instruments import INSTRUMENTS
from cmprehab.report import results


@pytest.mark.parametrize("stem, rule, source, cite", [
    ("nprs", "threshold=2", "much improved", "farrar2001"),
    ("nprs", "threshold=30 definition=percent", "much improved", "farrar2001"),
    ("nprs", "threshold=3", "this project's assumption", None),
    ("dri", "threshold=10", "no MCID of the DRI has been published", None),
    ("eqvas", "threshold=7", "lower end", "pickard2007"),
])
def test_an_mcid_names_the_source_of_its_size(stem, rule, source, cite):
    """The basis follows the threshold in force, not a default kept beside params.yml."""
    chosen = params.load(overrides=" ".join(f"mcid.{stem}.{pair}" for pair in rule.split()))
    text, key = INSTRUMENTS[stem].mcid_basis(chosen.mcid[stem].threshold, chosen.mcid[stem].definition)
    assert source in text and key == cite
    said = results.mcid_rule_markdown(stem, chosen)
    assert source in said and (f"`{cite}`" in said if cite else "{cite" not in said)
    assert ("set in this build's study parameters" in said) == (chosen.mcid[stem] != params.DEFAULTS.mcid[stem])


def test_single_values_change_by_their_dotted_names():
    changed = params.load(overrides="mcid.nprs.threshold=1 mcid.nprs.definition=percent confidence=0.9")
    assert changed.mcid["nprs"].threshold == 1 and changed.mcid["nprs"].definition == "percent"
    assert changed.confidence == 0.9 and changed.ci_label == "90 % CI"
    assert changed.mcid["dri"] == params.DEFAULTS.mcid["dri"]
    names = [c.name for c in changed.changes()]
    assert names == ["mcid.nprs.threshold", "mcid.nprs.definition", "confidence"]
    assert "mcid.nprs.threshold = 1 (default 2)" in changed.describe_changes()
    lists = params.load(overrides="follow_up.ipw_covariates=[age,bmi];follow_up.smd_flag=0.2")
    assert lists.follow_up.ipw_covariates == ["age", "bmi"] and lists.follow_up.smd_flag == 0.2


def test_another_file_replaces_the_defaults(tmp_path):
    tree = params.DEFAULTS.model_dump()
    tree["mcid"]["eqvas"]["threshold"] = 7
    mine = tmp_path / "my-params.yml"
    mine.write_text(yaml.safe_dump(tree), encoding="utf-8")
    assert params.load(mine, overrides="").mcid["eqvas"].threshold == 7
    assert params.load(mine, overrides="mcid.eqvas.threshold=8").mcid["eqvas"].threshold == 8


@pytest.mark.parametrize("overrides, words", [
    ("mcid.nprs.threshold=-1", ["mcid.nprs.threshold (in $CMPREHAB_SET)", "greater than 0"]),
    ("mcid.nprs.threshold=150 mcid.nprs.definition=percent", ["mcid.nprs", "at most 100"]),
    ("mcid.nprs.definition=relative", ["mcid.nprs.definition", "'absolute' or 'percent'"]),
    ("confidence=1.5", ["confidence", "less than 1"]),
    ("mcid.vas.threshold=3", ["'mcid.vas.threshold' is not a parameter"]),
    ("threshold", ["item 1 is not of the form name=value"]),
    ("confidence=0.9 threshold", ["item 2 is not of the form name=value"]),
    ("follow_up.ipw_covariates=[age,patient_id]", ["follow_up.ipw_covariates.1", "'age', 'sex'"]),
    ("disclosure.k=0", ["disclosure.k", "greater than or equal to 1"]),
])
def test_a_bad_value_is_named_with_its_rule(overrides, words):
    """Named, with the rule it breaks, but not shown (tests/test_params_safety.py: what a value may hold)."""
    with pytest.raises(params.ParamsError) as caught:
        params.load(overrides=overrides)
    for word in words:
        assert word in str(caught.value), str(caught.value)
    assert "given" not in str(caught.value) and "-1" not in str(caught.value)


@pytest.mark.parametrize("content, words", [
    ("mcid: [1, 2\n", ["line 2, column 1: not valid YAML (while parsing a flow sequence, expected ',' or ']'"]),
    ("- 1\n- 2\n", ["line 1: expected the parameters as named values", "found a list of 2 items"]),
    ("", ["expected the parameters as named values", "found nothing (an empty file?)"]),
    ("mcid: {}\nmcid: {}\n", ["line 2, column 1: mcid is given twice (first on line 1); keep one"]),
    ("mcid:\n  1: x\n", ["line 2, column 3: a key that is not a name"]),
    ("confidence: 0.95\n", ["mcid", "Field required"]),
    (None, ["cannot read the study parameters"]),
])
def test_a_bad_file_is_named_with_its_problem(tmp_path, content, words):
    path = tmp_path / "params.yml"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(params.ParamsError) as caught:
        params.load(path, overrides="")
    assert str(path) in str(caught.value)
    for word in words:
        assert word in str(caught.value), str(caught.value)


def test_an_unknown_key_in_a_file_is_refused(tmp_path):
    """Named by its line and a suggestion, not shown: a key the parameters do not know may be anything."""
    tree = params.DEFAULTS.model_dump()
    tree["mcid"]["nprs"]["treshold"] = 3
    path = tmp_path / "params.yml"
    path.write_text(yaml.safe_dump(tree), encoding="utf-8")
    line = path.read_text(encoding="utf-8").splitlines().index("    treshold: 3") + 1
    with pytest.raises(params.ParamsError) as caught:
        params.load(path, overrides="")
    assert (f"  - mcid.nprs.(unknown name) (line {line}): Extra inputs are not permitted (did you mean threshold?)"
            in str(caught.value)), str(caught.value)
    assert "treshold" not in str(caught.value)


def test_a_build_hands_its_parameters_on_resolved(monkeypatch, tmp_path):
    """Kernels read what the build resolved, not the files (which may change during a build)."""
    resolved = params.load(overrides="mcid.dri.threshold=5")
    monkeypatch.setenv(params.RESOLVED_ENV_VAR, params.to_json(resolved))
    monkeypatch.setenv(params.SET_ENV_VAR, "mcid.dri.threshold=20")
    assert params.current() == resolved
    assert json.loads(params.to_json(resolved))["mcid"]["dri"]["threshold"] == 5


def test_current_follows_the_environment(monkeypatch):
    assert params.current() == params.DEFAULTS
    monkeypatch.setenv(params.SET_ENV_VAR, "confidence=0.8")
    assert params.current().confidence == 0.8


def test_parameters_beside_their_defaults():
    rows = {r["parameter"]: r for r in params.load(overrides="mcid.nprs.threshold=1").beside_defaults()}
    assert rows["mcid.nprs.threshold"] == {"parameter": "mcid.nprs.threshold", "value": "1", "default": "2",
                                           "changed": "yes"}
    assert rows["confidence"]["changed"] == ""


def test_the_predictor_names_are_the_analysis_predictors():
    """params.yml names predictors by the keys of analysis.predictors (params sits below it)."""
    from cmprehab.analysis import predictors

    assert set(params.PREDICTOR_KEYS) == set(predictors.PREDICTORS)
    assert set(params.DEFAULTS.predictors.adjusted_for) < set(predictors.PREDICTORS)


def test_the_build_resolved_parameters_list_as_the_file_does(monkeypatch):
    """The build hands the kernels JSON with sorted keys; a page listing the parameters must read
    the same there as in a fresh kernel reading params.yml (nbval compares the two)."""
    from_file = params.load(overrides="")
    monkeypatch.setenv(params.RESOLVED_ENV_VAR, params.to_json(from_file))
    resolved = params.current()
    assert resolved == from_file
    assert resolved.beside_defaults() == from_file.beside_defaults()
    assert list(resolved.mcid) == list(INSTRUMENTS)
