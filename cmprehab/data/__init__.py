"""Data in: the cohort contract (schema), reading and validating a cohort file (cohort), and the published targets (targets)."""
