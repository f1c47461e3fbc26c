"""The landing page's plain summary and the plain-language page for patients and the public.

What a clinician can show a patient: natural frequencies out of a fixed number of patients
("of 100 patients like these, about 45 …"), an icon array for each, the time frame stated each
time, no relative risks, and the missing control group said plainly (Fagerlin et al. 2011;
IPDAS; Cochrane's 2021 plain-language-summary guidance).

The headline uses the study's *published* discharge shares (data/published.csv), not the
shares this build computes: on synthetic data the latter are the generator's, and the 1-year
shares were never published. The page's own numbers come from the cohort through `tables.mcid`,
so on confidential data they are released counts (`disclosure`); a share computed from fewer
than k patients, or withheld, is stated as not shown and is not drawn as icons.
"""
from __future__ import annotations

import math

import matplotlib.pyplot as plt
import pandas as pd

from .. import config
from ..data import targets
from ..instruments import INSTRUMENTS
from . import disclosure, tables
from .results import Page, Result

#: The fixed denominator of every natural frequency on the page.
OUT_OF = 100
#: What each instrument measures, in words a patient uses.
PLAIN_WHAT = {"nprs": "pain", "dri": "everyday activities (disability)", "eqvas": "overall health"}
#: What reaching the MCID means for each, in plain words.
PLAIN_BETTER = {"nprs": "had clearly less pain", "dri": "found everyday activities clearly easier",
                "eqvas": "rated their overall health clearly better"}
#: The time points of the page, as a patient would say them.
PLAIN_WHEN = {"discharge": "at the end of their rehabilitation (after about 5 months)",
              "1y": "one year after the end of their rehabilitation"}


def published_discharge_shares() -> dict[str, float]:
    """The published share (%) reaching the MCID at discharge, per instrument (data/published.csv)."""
    return {stem: targets.value(f"{stem}_mcid_discharge_pct") for stem in INSTRUMENTS}


def summary(cohort: pd.DataFrame) -> dict[str, Result]:
    """The landing page's plain summary: the published discharge shares, in words (glued with the
    overview's results; each name distinct from theirs)."""
    page = Page(cohort, summary)
    shares = published_discharge_shares()
    for stem, value in shares.items():
        page.number(f"published_mcid_{stem}_discharge", value, ".0f", "targets.value", unit=" %")
    page.text("synthetic_patients",
              "The patients on these pages are synthetic: a generated cohort that reproduces the published "
              "numbers, because the real patient data are not public." if page.synthetic else "",
              "provenance.DataFingerprint")
    return page.results


def of_100(pct: float) -> int:
    """A percentage as a whole number of patients out of `OUT_OF`."""
    return int(math.floor(pct * OUT_OF / 100 + 0.5))


def frequencies(cohort: pd.DataFrame) -> pd.DataFrame:
    """One row per instrument and time point: the share reaching the MCID, as 'about N of 100'.

    `per_100` is None (and `shown` False) when disclosure control withholds the share or too few
    patients were measured; `measured` is the released number of patients it is out of.
    """
    table = tables.mcid(cohort)
    policy = disclosure.policy(cohort)
    rows = []
    for row in table.to_dict("records"):
        pct = row["%"]
        measured = row["of"]
        shown = not isinstance(pct, str) and not (isinstance(pct, float) and math.isnan(pct))
        if shown and (isinstance(measured, str) or disclosure.too_few(int(measured), policy)):
            shown = False
        rows.append({"stem": row["stem"], "timepoint": row["timepoint"], "what": PLAIN_WHAT[row["stem"]],
                     "better": PLAIN_BETTER[row["stem"]], "when": PLAIN_WHEN[row["timepoint"]],
                     "measured": measured, "shown": shown, "per_100": of_100(pct) if shown else None})
    return pd.DataFrame(rows)


def sentence(row: dict) -> str:
    """'Of 100 patients like these, about 45 had clearly less pain at the end of … .'"""
    if not row["shown"]:
        return (f"For {row['what']} {row['when']}, too few patients were measured to say how many improved "
                "without risking that someone could be recognised, so no number is shown.")
    return (f"Of {OUT_OF} patients like these, about {row['per_100']} {row['better']} {row['when']}; "
            f"about {OUT_OF - row['per_100']} did not.")


def page_results(cohort: pd.DataFrame) -> dict[str, Result]:
    """The plain-language page's numbers: one sentence per instrument and time, the fixed
    denominator, and how many patients each is based on (released counts)."""
    page = Page(cohort, page_results)
    page.number("out_of", OUT_OF, "d", "plain_language.OUT_OF")
    page.patients("n_patients", len(cohort), "len(cohort)")
    for row in frequencies(cohort).to_dict("records"):
        key = f"{row['stem']}_{row['timepoint']}"
        page.add(f"plain_{key}", row["per_100"], page.mark(sentence(row), unpublished=row["timepoint"] == "1y"),
                 "plain_language.frequencies")
        page.patients(f"plain_{key}_measured", row["measured"], "tables.mcid")
    page.unpublished_note()
    return page.results


def _person(ax, x: float, y: float, colour) -> None:
    """A simple person: a head over a body (drawn, no icon font needed offline)."""
    from matplotlib.patches import Circle, FancyBboxPatch

    ax.add_patch(Circle((x, y + 0.22), 0.15, color=colour, linewidth=0))
    ax.add_patch(FancyBboxPatch((x - 0.2, y - 0.38), 0.4, 0.42, boxstyle="round,pad=0,rounding_size=0.12",
                                color=colour, linewidth=0))


def icon_arrays(frame: pd.DataFrame, timepoint: str) -> plt.Figure | None:
    """The icon arrays of one time point, one per instrument side by side (a share not shown is
    left out, its panel says so)."""
    rows = frame[frame["timepoint"] == timepoint].to_dict("records")
    side = int(math.isqrt(OUT_OF))
    fig, axes = plt.subplots(1, len(rows), figsize=(5.2, 2.9), squeeze=False)
    for ax, row, colour in zip(axes[0], rows, config.PALETTE):
        ax.set_xlim(-0.6, side - 0.4)
        ax.set_ylim(-0.6, side - 0.4)
        ax.set_aspect("equal")
        ax.set_axis_off()
        ax.set_title(row["what"].split(" (")[0].capitalize(), fontsize=11)
        if not row["shown"]:
            ax.text(side / 2 - 0.5, side / 2 - 0.5, "not shown:\ntoo few\npatients", ha="center", va="center",
                    fontsize=10)
            continue
        for index in range(OUT_OF):
            r, c = divmod(index, side)
            _person(ax, c, side - 1 - r, colour if index < row["per_100"] else "0.85")
        ax.text(side / 2 - 0.5, -1.0, f"{row['per_100']} of {OUT_OF}\nimproved clearly", ha="center", va="top",
                fontsize=10)
    fig.tight_layout()
    return fig
