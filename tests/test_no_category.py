"""Patients with none of the ten intervention categories (issue 18: SYN067, 3 sessions, no category).

The publications give each category's share only (education 97 %), so the study allows up to
3 % of the patients without any; the generator assigns each category on its own. The
interventions page therefore says how many patients have none, and why that can happen.
"""
from __future__ import annotations

import csv
import json
from dataclasses import replace

import pytest

from cmprehab import config
from cmprehab.report import results


@pytest.fixture(scope="module")
def page(default_cohort):
    return results.interventions(default_cohort)


def test_the_page_counts_the_patients_without_a_category(default_cohort, page):
    without = int((default_cohort[list(config.INTERVENTIONS)].sum(axis=1) == 0).sum())
    assert page["no_category_patients"].value == without
    assert page["no_category_pct"].value == pytest.approx(100 * without / len(default_cohort))
    # On synthetic data the count is the generator's, and marked so where it stands.
    assert page["no_category_patients"].text == f"{without}{results.DAGGER}"
    assert "generator" in page["no_category_generator"].text


def test_a_cohort_where_everyone_has_a_category_says_none(default_cohort):
    everyone = default_cohort.copy()
    everyone["iv_education"] = 1
    assert results.interventions(everyone)["no_category_patients"].value == 0


def test_how_many_the_publications_allow_is_read_from_the_published_shares(page):
    with open(config.PUBLISHED_TARGETS, encoding="utf-8") as file:
        published = {row["key"]: float(row["value"]) for row in csv.DictReader(file)}
    shares = {column: published[f"{column}_pct"] for column in config.INTERVENTIONS}
    top = max(shares, key=shares.get)
    assert page["published_top_category"].text == config.INTERVENTIONS[top].lower()
    assert page["published_top_pct"].value == shares[top]
    assert page["published_top_pct"].published_key == f"{top}_pct"   # tagged as the published number it is
    assert page["no_category_possible_pct"].text == f"{100 - shares[top]:.0f} %"


def test_on_confidential_data_a_small_count_is_withheld_and_no_generator_is_named(default_cohort):
    confidential = default_cohort.copy()
    confidential.attrs = {**default_cohort.attrs, "fingerprint": replace(default_cohort.attrs["fingerprint"],
                                                                          synthetic=False, seed=None, n=None)}
    page = results.interventions(confidential)
    assert page["no_category_patients"].value is None          # fewer than k: not released
    assert page["no_category_patients"].text.startswith("<")
    assert "generator" not in page["no_category_generator"].text


def test_the_interventions_page_pastes_the_count_and_the_reason():
    notebook = json.loads((config.ROOT / "chapters" / "04_interventions.ipynb").read_text(encoding="utf-8"))
    prose = "".join("".join(cell["source"]) for cell in notebook["cells"] if cell["cell_type"] == "markdown")
    for name in ("no_category_patients", "no_category_pct", "published_top_pct", "no_category_possible_pct",
                 "no_category_generator"):
        assert f"{{glue:text}}`{name}`" in prose, name
