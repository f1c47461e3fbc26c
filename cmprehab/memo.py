"""One computation per cohort and page: a heavy analysis that several tables, figures and the
results record of a page ask for is computed once in that page's kernel.

At 274 patients recomputing costs little; on a registry of 10^6 patients an attrition table
(tableone) or the predictor models take minutes, and a page asks for them up to three times.
`per_cohort` keeps the latest results of a function for the cohort object it was given, by
identity: a cohort is read-only once loaded (no page or function changes it in place), so
the same object means the same data. A new cohort (another object) gets fresh results;
the study parameters are part of the key. Callers get a copy, so none can change the kept one.
"""
from __future__ import annotations

import functools
import weakref

import pandas as pd
from pydantic import BaseModel

from . import params as study

#: Results kept per function: a page works on one cohort (tests on a few).
KEPT = 8


def _key(value):
    """A hashable stand-in for an argument: study parameters by their values, containers by content."""
    if isinstance(value, BaseModel):
        return type(value).__name__, value.model_dump_json()
    if isinstance(value, dict):
        return tuple(sorted((k, _key(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return tuple(_key(v) for v in value)
    hash(value)  # TypeError for anything else unhashable (a Series, say): not kept
    return value


def per_cohort(function):
    """Decorate ``function(cohort, *args, **kwargs) -> DataFrame`` to compute once per cohort
    object, study parameters and arguments (others than pydantic models, dicts, lists and
    tuples of hashable values are computed every time)."""
    kept: dict[tuple, tuple[weakref.ref, pd.DataFrame]] = {}

    @functools.wraps(function)
    def wrapper(cohort: pd.DataFrame, *args, **kwargs):
        try:
            key = (id(cohort), study.to_json(study.current()), _key(args), _key(kwargs))
        except (TypeError, study.ParamsError):  # unhashable arguments: nothing kept
            return function(cohort, *args, **kwargs)
        held = kept.get(key)
        if held is not None and held[0]() is cohort:  # the very object: not another one at a reused address
            return held[1].copy()
        result = function(cohort, *args, **kwargs)
        while len(kept) >= KEPT:
            kept.pop(next(iter(kept)))
        kept[key] = (weakref.ref(cohort), result)
        return result.copy()

    wrapper.cache_clear = kept.clear
    return wrapper
