"""Small hand-built cohorts shared by the analysis tests."""
from __future__ import annotations

import numpy as np
import pandas as pd

from cmprehab.instruments import INSTRUMENTS, TIMEPOINTS


def outcomes(**columns) -> pd.DataFrame:
    """A minimal cohort: the nine outcome columns, all missing unless given."""
    n = len(next(iter(columns.values())))
    frame = pd.DataFrame({f"{s}_{t}": [np.nan] * n for s in INSTRUMENTS for t in TIMEPOINTS}, dtype=float)
    for name, values in columns.items():
        frame[name] = pd.Series(values, dtype=float)
    return frame


def small_cohort(template: pd.DataFrame, n: int, **columns) -> pd.DataFrame:
    """The first n patients of `template` (the committed cohort) with some columns replaced (dtypes kept)."""
    cohort = template.iloc[:n].copy().reset_index(drop=True)
    for name, values in columns.items():
        if isinstance(cohort[name].dtype, pd.CategoricalDtype):
            cohort[name] = pd.Categorical(values, categories=cohort[name].cat.categories)
        else:
            cohort[name] = pd.Series(values, dtype=cohort[name].dtype)
    return cohort
