"""Variables derived from the cohort, defined once for the book, the audit and the tests."""
from __future__ import annotations

import pandas as pd

from .. import config


def derive(cohort: pd.DataFrame) -> pd.DataFrame:
    """The cohort plus derived columns (the input is not modified).

    low_pain_management  1 when ability to reduce pain is 0-2 of 6, the paper's "low" (missing stays missing)
    pain_duration_years  pain duration in years
    program_months       program length in months
    n_interventions      how many of the ten intervention categories a patient received

    Whether a patient reached the MCID depends on the study parameters; see `tables.mcid`.
    """
    out = cohort.copy()
    pm = out["pain_management"]
    out["low_pain_management"] = (pm <= config.LOW_PAIN_MANAGEMENT_MAX).astype(float).where(pm.notna())
    out["pain_duration_years"] = out["pain_duration_days"] / config.DAYS_PER_YEAR
    out["program_months"] = out["program_days"] / config.DAYS_PER_MONTH
    out["n_interventions"] = out[list(config.INTERVENTIONS)].sum(axis=1).astype(int)
    return out
