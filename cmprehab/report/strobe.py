"""The STROBE checklist for cohort studies (von Elm et al. 2007): where this book addresses each item.

Each item names its target: a page ("doc:"), a section label ("ref:"), a figure ("fig:") or a
table ("tbl:"), or says why it does not apply ("na:"), is not available from the
publications this book draws on ("unavailable:") or was not done here ("notdone:").
`tests/test_strobe.py` checks that every item is here, that every target exists and that each
target's text addresses its item (the item's key term is there, not only a link that resolves);
the book's build fails on a target Sphinx cannot find.
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True)
class Item:
    number: str            # "1a", "2", ...
    topic: str
    recommendation: str    # in short, paraphrased
    targets: tuple[str, ...]


CHECKLIST = (
    Item("1a", "Title and abstract", "The study's design in the title or abstract", ("ref:sec-design",)),
    Item("1b", "Title and abstract", "An informative, balanced summary",
         ("doc:10_conclusions",)),  # the overview does not say there was no control group
    Item("2", "Background/rationale", "Scientific background and rationale", ("doc:01_aims",)),
    Item("3", "Objectives", "Specific objectives", ("doc:01_aims",)),
    Item("4", "Study design", "Key elements of the design, early in the paper", ("ref:sec-design",)),
    Item("5", "Setting", "Setting, locations, dates of recruitment, follow-up and data collection", ("ref:sec-design",)),
    Item("6a", "Participants", "Eligibility, sources and selection of participants; methods of follow-up",
         ("ref:sec-design", "ref:sec-flow")),
    Item("6b", "Participants", "Matched studies: matching criteria and numbers exposed and unexposed",
         ("na:not a matched study",)),
    Item("7", "Variables", "Outcomes, exposures, predictors, confounders and effect modifiers defined",
         ("ref:sec-mcid", "doc:04_interventions", "ref:sec-predictors-method")),
    Item("8", "Data sources/measurement", "Sources of data and methods of measurement for each variable",
         ("ref:sec-outcome-measures", "doc:11_data_dictionary")),
    Item("9", "Bias", "Efforts to address potential sources of bias", ("ref:sec-attrition", "ref:sec-limitations")),
    Item("10", "Study size", "How the study size was arrived at",
         ("unavailable:no size calculation was published; the study included every consecutive patient of "
          "2014–2018 (see the design)", "ref:sec-design")),
    Item("11", "Quantitative variables", "How quantitative variables were handled; groupings and why",
         ("ref:sec-mcid", "ref:sec-predictors-method")),
    Item("12a", "Statistical methods", "All statistical methods, including those to control for confounding",
         ("ref:sec-statistics", "ref:sec-predictors-method")),
    Item("12b", "Statistical methods", "Methods to examine subgroups and interactions",
         ("notdone:no subgroup or interaction analyses; each predictor's risk ratio is a main effect",)),
    Item("12c", "Statistical methods", "How missing data were addressed", ("ref:sec-missing-data",)),
    Item("12d", "Statistical methods", "Cohort study: how loss to follow-up was addressed",
         ("ref:sec-attrition", "ref:sec-missing-data")),
    Item("12e", "Statistical methods", "Sensitivity analyses", ("ref:sec-missing-data", "ref:sec-threshold-sensitivity")),
    Item("13a", "Participants", "Numbers at each stage of the study", ("tbl:tbl-flow",)),
    Item("13b", "Participants", "Reasons for non-participation at each stage",
         ("unavailable:reasons for loss to follow-up are not in the published data or this file",)),
    Item("13c", "Participants", "A flow diagram", ("fig:fig-participant-flow",)),
    Item("14a", "Descriptive data", "Characteristics of the participants", ("tbl:tbl-baseline",)),
    Item("14b", "Descriptive data", "Number of participants with missing data for each variable",
         ("tbl:tbl-baseline", "tbl:tbl-follow-up")),
    Item("14c", "Descriptive data", "Cohort study: follow-up time",
         ("ref:sec-design", "unavailable:the dates of the visits are not in the data, so the time to follow-up "
                            "cannot be summarised beyond its design (one year after discharge)")),
    Item("15", "Outcome data", "Numbers of outcome events or summary measures over time", ("tbl:tbl-mcid",
                                                                                           "tbl:tbl-outcomes-over-time")),
    Item("16a", "Main results", "Unadjusted and adjusted estimates with their precision",
         ("tbl:tbl-risk-ratios", "tbl:tbl-risk-ratios-adjusted")),
    Item("16b", "Main results", "Category boundaries of continuous variables that were categorized",
         ("ref:sec-predictors-method",)),
    Item("16c", "Main results", "Relative risks translated into absolute risk where relevant",
         ("tbl:tbl-beside-published",)),
    Item("17", "Other analyses", "Other analyses: subgroups, interactions, sensitivity analyses",
         ("doc:07_sensitivity", "ref:sec-missing-data")),
    Item("18", "Key results", "Key results with reference to the objectives", ("doc:10_conclusions",)),
    Item("19", "Limitations", "Limitations, including sources of bias or imprecision", ("ref:sec-limitations",)),
    Item("20", "Interpretation", "A cautious overall interpretation", ("doc:10_conclusions",)),
    Item("21", "Generalisability", "Generalisability (external validity) of the results", ("ref:sec-limitations",)),
    Item("22", "Funding", "Sources of funding and the role of the funders",
         ("unavailable:not in the published material this book draws on",)),
)


#: The caption of the checklist on its page (unnumbered: the page is not a chapter).
CAPTION = "The STROBE items for cohort studies and where this book addresses them."


def role(target: str) -> str:
    """A target as MyST: a link to the page, section, figure or table, or the reason in words."""
    kind, _, name = target.partition(":")
    if kind == "doc":
        return f"{{doc}}`{name}`"
    if kind == "ref":
        return f"{{ref}}`{name}`"
    if kind in ("fig", "tbl"):
        return f"{{numref}}`{name}`"
    return {"na": "not applicable: ", "unavailable": "not available: ", "notdone": "not done: "}[kind] + name


def table() -> pd.DataFrame:
    """The checklist as a table whose last column holds MyST links (the page renders them)."""
    return pd.DataFrame([{"item": item.number, "topic": item.topic, "recommendation": item.recommendation,
                          "where in this book": "; ".join(role(t) for t in item.targets)} for item in CHECKLIST])
