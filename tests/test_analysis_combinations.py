"""How the intervention categories were combined: hand-counted small cohorts and the committed one."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from cmprehab import config
from cmprehab.analysis import combinations as C
from cmprehab.analysis import stats as S
from cmprehab.analysis.derive import derive
from cmprehab.data.cohort import load_cohort

CONFIDENCE = 0.95  # passed explicitly: unit tests do not read the study parameters
IV = list(C.CATEGORY_COLUMNS)

# A warning (e.g. a pandas deprecation) must not escape the module.
pytestmark = pytest.mark.filterwarnings("error")

#: Six patients, ten categories (columns in published order): counted by hand below.
SMALL = np.array([
    # edu sm adv str sen wpt wgt rel act bba
    [1, 1, 1, 1, 0, 0, 0, 0, 0, 0],   # the poster's four
    [1, 1, 1, 1, 1, 0, 0, 0, 0, 0],   # the four + sensory stimulation
    [1, 1, 1, 1, 0, 0, 0, 0, 0, 0],   # the four again
    [1, 1, 0, 0, 0, 0, 0, 0, 0, 0],   # education + sensorimotor
    [0, 0, 0, 0, 0, 0, 0, 0, 1, 0],   # ACT only
    [0, 0, 0, 0, 0, 0, 0, 0, 0, 0],   # none of the ten
])


@pytest.fixture(scope="module")
def base():
    return load_cohort(config.DEFAULT_COHORT)


def small(base, matrix=SMALL) -> pd.DataFrame:
    cohort = base.iloc[: len(matrix)].copy().reset_index(drop=True)
    cohort[IV] = matrix
    return cohort


# --------------------------------------------------------------------------
# Co-occurrence
# --------------------------------------------------------------------------

def test_cooccurrence_counts_by_hand(base):
    counts = C.cooccurrence(small(base))
    assert list(counts.index) == IV and list(counts.columns) == IV
    assert counts.loc["iv_education", "iv_education"] == 4        # diagonal: everyone with the category
    assert counts.loc["iv_education", "iv_sensorimotor"] == 4
    assert counts.loc["iv_education", "iv_activity_advice"] == 3
    assert counts.loc["iv_sensory_stimulation", "iv_structures_functions"] == 1
    assert counts.loc["iv_act", "iv_act"] == 1
    assert counts.loc["iv_act", "iv_education"] == 0
    assert counts.loc["iv_body_awareness"].sum() == 0             # a category nobody received
    assert (counts.to_numpy() == counts.to_numpy().T).all()
    assert counts.dtypes.map(pd.api.types.is_integer_dtype).all()


def test_cooccurrence_percent_is_of_all_patients(base):
    cohort = small(base)
    pct = C.cooccurrence(cohort, percent=True)
    assert pct.loc["iv_education", "iv_activity_advice"] == pytest.approx(100 * 3 / 6)
    assert pct.loc["iv_act", "iv_act"] == pytest.approx(100 / 6)
    assert np.allclose(pct.to_numpy(), C.cooccurrence(cohort).to_numpy() * 100 / 6)


def test_cooccurrence_diagonal_is_each_category_share(base):
    counts = C.cooccurrence(base)
    assert np.diag(counts.to_numpy()).tolist() == base[IV].sum().tolist()


def test_cooccurrence_of_an_empty_cohort_is_nan_in_percent(base):
    empty = base.iloc[:0]
    assert (C.cooccurrence(empty).to_numpy() == 0).all()
    assert C.cooccurrence(empty, percent=True).isna().all().all()


# --------------------------------------------------------------------------
# Exact combinations and UpSet data
# --------------------------------------------------------------------------

def test_top_combinations_by_hand(base):
    top = C.top_combinations(small(base), top=None)
    assert top["n"].tolist() == [2, 1, 1, 1, 1]
    first = top.iloc[0]
    assert first["categories"] == C.POSTER_FOUR
    assert first["n_categories"] == 4 and first["pct"] == pytest.approx(100 * 2 / 6)
    assert first["combination"] == " + ".join(config.INTERVENTIONS[c] for c in C.POSTER_FOUR)
    # Ties of one patient each: fewer categories first, then by label.
    assert top["n_categories"].tolist() == [4, 0, 1, 2, 5]
    assert top.iloc[1]["combination"] == "none of the ten"
    assert top.iloc[2]["categories"] == ("iv_act",)
    assert top["n"].sum() == 6


def test_top_limits_the_rows(base):
    assert len(C.top_combinations(small(base), top=2)) == 2
    assert len(C.top_combinations(base)) == 10


def test_top_combinations_cover_every_patient_once(base):
    every = C.top_combinations(base, top=None)
    assert every["n"].sum() == len(base)
    assert every["categories"].is_unique
    assert every["pct"].sum() == pytest.approx(100)
    assert every["n"].is_monotonic_decreasing


def test_categories_per_patient_by_hand(base):
    dist = C.categories_per_patient(small(base))
    assert dist["n_categories"].tolist() == list(range(11))
    assert dist.set_index("n_categories")["n"].to_dict() == {0: 1, 1: 1, 2: 1, 3: 0, 4: 2, 5: 1, 6: 0, 7: 0, 8: 0,
                                                             9: 0, 10: 0}
    assert dist["pct"].iloc[4] == pytest.approx(100 * 2 / 6)
    assert dist["cumulative_pct"].iloc[-1] == 100.0
    assert dist["cumulative_pct"].iloc[2] == pytest.approx(50.0)


def test_categories_per_patient_is_derives_count(base):
    dist = C.categories_per_patient(base).set_index("n_categories")["n"]
    expected = derive(base)["n_interventions"].value_counts()
    assert dist[dist > 0].to_dict() == expected.to_dict()


# --------------------------------------------------------------------------
# The poster's four
# --------------------------------------------------------------------------

def test_share_with_all_four_by_hand(base):
    share = C.share_with_all(small(base), CONFIDENCE)
    assert (share.k, share.n) == (3, 6)        # two with exactly the four, one with the four and more
    low, high = S.wilson_ci(3, 6, CONFIDENCE)
    assert share.pct == pytest.approx(50.0)
    assert (share.low, share.high) == pytest.approx((100 * low, 100 * high))


def test_share_with_all_uses_the_confidence_passed(base):
    wide = C.share_with_all(base, 0.99)
    narrow = C.share_with_all(base, 0.80)
    assert wide.k == narrow.k and wide.low < narrow.low < narrow.high < wide.high


def test_share_with_all_on_the_committed_cohort_counts_patients(base):
    share = C.share_with_all(base, CONFIDENCE)
    assert share.k == int(base[list(C.POSTER_FOUR)].eq(1).all(axis=1).sum()) and share.n == len(base)


def test_share_with_all_edges(base):
    nobody = small(base, SMALL * np.array([0, 1, 1, 1, 1, 1, 1, 1, 1, 1]))  # nobody had education
    share = C.share_with_all(nobody, CONFIDENCE)
    assert (share.k, share.low) == (0, 0.0)
    empty = C.share_with_all(base.iloc[:0], CONFIDENCE)
    assert empty.n == 0 and math.isnan(empty.pct) and math.isnan(empty.low)
    assert C.share_with_all(small(base), CONFIDENCE, categories=("iv_act",)).k == 1
    with pytest.raises(ValueError):
        C.share_with_all(small(base), CONFIDENCE, categories=())


# --------------------------------------------------------------------------
# Refused input
# --------------------------------------------------------------------------

def test_missing_values_are_refused(base):
    cohort = small(base).astype({"iv_act": "float64"})
    cohort.loc[2, "iv_act"] = np.nan
    with pytest.raises(ValueError, match="iv_act"):
        C.cooccurrence(cohort)


def test_values_other_than_zero_and_one_are_refused(base):
    cohort = small(base)
    cohort.loc[0, "iv_education"] = 2
    with pytest.raises(ValueError, match="other than 0/1"):
        C.top_combinations(cohort)


def test_a_missing_column_is_refused(base):
    with pytest.raises(ValueError, match="iv_weight_training"):
        C.categories_per_patient(base.drop(columns="iv_weight_training"))
