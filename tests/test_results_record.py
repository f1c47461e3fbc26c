"""The record of each quoted number (cmprehab.report.results.records), without a build."""
from __future__ import annotations

import json

import pytest

from cmprehab.data.cohort import load_cohort
from cmprehab.data.targets import load_targets
from cmprehab.report import audit, results


@pytest.fixture(scope="module")
def cohort():
    return load_cohort()


def test_every_alias_names_a_published_key():
    keys = set(load_targets()["key"])
    assert set(results.PUBLISHED_AS.values()) <= keys, sorted(set(results.PUBLISHED_AS.values()) - keys)


def test_a_record_names_the_page_function_the_source_and_the_published_number(cohort):
    page = results.outcomes(cohort)
    table = audit.audit(cohort)
    rows = {row["name"]: row for row in results.records(page, table)}
    assert set(rows) == set(page)
    share = rows["mcid_nprs_discharge"]
    assert share["function"] == "cmprehab.report.results.outcomes"
    assert share["source"] == "tables.mcid"
    assert share["published_key"] == "nprs_mcid_discharge_pct"
    target = table.set_index("key").loc["nprs_mcid_discharge_pct"]
    assert share["published"] == target["published"] and share["audit_status"] == target["status"]
    # The 1-year share is this project's assumption (data/published.csv, source X): not a published number.
    assumed = rows["mcid_nprs_1y"]
    assert (assumed["published_key"], assumed["published"], assumed["audit_status"]) == (None, None, None)
    # A value nobody published has no published key, value or status.
    unpublished = rows["mcid_nprs_1y_k"]
    assert unpublished["published_key"] is None and unpublished["published"] is None
    assert unpublished["audit_status"] is None


def test_without_the_audit_a_record_still_gives_the_published_value(cohort):
    rows = {row["name"]: row for row in results.records(results.overview(cohort))}
    assert rows["n_patients"]["published"] == 274 and rows["n_patients"]["audit_status"] is None


def test_every_page_record_is_plain_json(cohort):
    for page in (results.overview, results.methods, results.baseline, results.interventions, results.outcomes,
                 results.follow_up, results.sensitivity, results.predictors, results.audit, results.conclusions):
        rows = results.records(page(cohort))
        text = json.dumps(rows, allow_nan=False)   # no NaN, no numpy scalar
        assert json.loads(text) == rows
        assert all(row["function"] == f"cmprehab.report.results.{page.__name__}" for row in rows)
