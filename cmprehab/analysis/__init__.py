"""Analysis: statistics (stats) and the variables derived from a cohort (derive)."""
