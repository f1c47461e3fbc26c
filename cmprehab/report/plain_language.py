"""The landing page's plain summary and the plain-language page for patients and the public.

What a clinician can show a patient, following published risk-communication guidance
(Fagerlin et al. 2011; the IPDAS primer, Trevena et al. 2013; Cochrane's plain-language-summary
guidance, Pitcher et al. 2021): natural frequencies out of one fixed number of patients ("of 100
patients like these, about 45 …"), an icon array for each, the time frame stated each time, no
relative risks, and the missing control group said in plain words.

The landing page's headline quotes the study's *published* discharge shares (data/published.csv),
not the shares this build computes (on synthetic data those are the generator's; the 1-year
shares were never published). The plain-language page's frequencies come from the cohort through
`tables.mcid`, so on confidential data they are computed from released counts (`disclosure`); a
share that disclosure control withholds, or that rests on fewer than k patients, is said to be
not shown and is not drawn as icons.
"""
from __future__ import annotations

import math

import matplotlib.pyplot as plt
import pandas as pd

from .. import config
from ..data import targets
from ..instruments import INSTRUMENTS
from . import disclosure, tables
from .results import DAGGER, Page, Result

#: The fixed denominator of every natural frequency on the page.
OUT_OF = 100
#: What each instrument measures, in the words a patient uses.
PLAIN_WHAT = {"nprs": "pain", "dri": "everyday activities", "eqvas": "overall health"}
#: What reaching the MCID means for each, in plain words.
PLAIN_BETTER = {"nprs": "had clearly less pain", "dri": "found everyday activities clearly easier",
                "eqvas": "felt clearly healthier overall"}
#: The time points, as a patient would say them (the program's published median length).
PLAIN_WHEN = {"discharge": "at the end of their rehabilitation",
              "1y": "one year after the end of their rehabilitation"}


def published_discharge_shares() -> dict[str, float]:
    """The published share (%) reaching the MCID at discharge, per instrument (data/published.csv)."""
    return {stem: targets.value(f"{stem}_mcid_discharge_pct") for stem in INSTRUMENTS}


def summary(cohort: pd.DataFrame) -> dict[str, Result]:
    """The landing page's plain summary: the published discharge shares (named by their keys in
    data/published.csv, so each traced number links to it) and, on synthetic data, that the
    patients are synthetic. Glue together with `results.overview` (no name is shared)."""
    page = Page(cohort, summary)
    for stem, value in published_discharge_shares().items():
        page.number(f"{stem}_mcid_discharge_pct", value, ".0f", "plain_language.published_discharge_shares",
                    unit=" %")
    page.text("synthetic_patients", "The patients on these pages are synthetic, generated to match the published "
              "numbers: the real data are not public." if page.synthetic else "", "provenance.DataFingerprint")
    return page.results


def of_100(pct: float) -> int:
    """A percentage as a whole number of patients out of `OUT_OF` (half up)."""
    return int(math.floor(pct * OUT_OF / 100 + 0.5))


def frequencies(cohort: pd.DataFrame) -> pd.DataFrame:
    """One row per instrument and time point: how many of `OUT_OF` patients like these reached
    the MCID, with the confidence interval in the same terms.

    `shown` is False, and the frequencies None, when disclosure control withholds the share or
    fewer than k patients were measured; `measured` is the (released) number of patients behind it.
    """
    policy = disclosure.policy(cohort)
    rows = []
    for row in tables.mcid(cohort).to_dict("records"):
        pct, measured = row["%"], row["of"]
        shown = not isinstance(pct, str) and not math.isnan(float(pct))
        if shown and (isinstance(measured, str) or disclosure.too_few(int(measured), policy)):
            shown = False
        rows.append({"stem": row["stem"], "timepoint": row["timepoint"], "what": PLAIN_WHAT[row["stem"]],
                     "better": PLAIN_BETTER[row["stem"]], "when": PLAIN_WHEN[row["timepoint"]],
                     "measured": measured, "shown": shown,
                     "per_100": of_100(pct) if shown else None,
                     "low_100": of_100(row["CI low"]) if shown else None,
                     "high_100": of_100(row["CI high"]) if shown else None})
    return pd.DataFrame(rows)


def sentence(row: dict, mark: str = "") -> str:
    """'Of 100 patients like these, about 45 had clearly less pain at the end of their rehabilitation;
    about 55 did not.' `mark` (a dagger) follows the number when it was never published."""
    if not row["shown"] and row["measured"] == 0:
        return f"For {row['what']} {row['when']}, no patient was measured, so there is no number to show."
    if not row["shown"]:
        return (f"For {row['what']} {row['when']}, too few patients were measured to show a number without "
                "risking that someone could be recognised.")
    return (f"Of {OUT_OF} patients like these, about {row['per_100']}{mark} {row['better']} {row['when']}; "
            f"about {OUT_OF - row['per_100']}{mark} did not.")


def uncertainty(row: dict, mark: str = "") -> str:
    """The confidence interval as natural frequencies: 'the true number could be between about 38 and 52'."""
    if not row["shown"]:
        return ""
    return (f"Because the study was not large, the true number for {row['what']} {row['when']} could be "
            f"anywhere between about {row['low_100']}{mark} and {row['high_100']}{mark} of {OUT_OF}.")


def sentences(cohort: pd.DataFrame) -> dict[str, str]:
    """The page's sentences, by name: per instrument and time point, the natural frequency and its
    uncertainty range (words, kept in the page's record with no value, as the † note is)."""
    synthetic = bool(getattr(cohort.attrs.get("fingerprint"), "synthetic", False))
    out = {}
    for row in frequencies(cohort).to_dict("records"):
        key = f"{row['stem']}_{row['timepoint']}"
        # The 1-year shares were never published: on synthetic data they are the generator's.
        mark = DAGGER if synthetic and row["timepoint"] == "1y" else ""
        out[f"plain_{key}"] = sentence(row, mark)
        out[f"plain_{key}_range"] = uncertainty(row, mark)
    return out


def page_results(cohort: pd.DataFrame) -> dict[str, Result]:
    """The plain-language page's values: its sentences (`sentences`), the fixed denominator, the
    program's length and how many patients the frequencies rest on (released counts)."""
    page = Page(cohort, page_results)
    for name, text in sentences(cohort).items():
        page.text(name, text, "plain_language.frequencies")
    page.patients("n_patients", len(cohort), "len(cohort)")
    page.number("out_of", OUT_OF, "d", "plain_language.OUT_OF")
    program = tables.program(cohort)
    page.number("program_months_median", program.loc["Program length, months", "median"], ".0f",
                "tables.program")
    for time in PLAIN_WHEN:
        measured = tables.mcid(cohort).query("timepoint == @time")["of"]
        numbers = disclosure.numeric(measured).dropna()
        # The number measured at discharge was never published (the generator's); at 1 year it was.
        page.patients(f"plain_measured_{time}", int(numbers.min()) if len(numbers) else math.nan,
                      "tables.mcid", unpublished=time == "discharge")
    page.unpublished_note()
    return page.results


def _person(ax, x: float, y: float, colour) -> None:
    """A simple person, a head over a body, drawn (no icon font needed offline)."""
    from matplotlib.patches import Circle, FancyBboxPatch

    ax.add_patch(Circle((x, y + 0.24), 0.2, color=colour, linewidth=0))
    ax.add_patch(FancyBboxPatch((x - 0.3, y - 0.45), 0.6, 0.5, boxstyle="round,pad=0,rounding_size=0.2",
                                color=colour, linewidth=0))


#: Colour of the patients who did not improve clearly: a grey distinct from every palette colour, with
#: a contrast of 3:1 against white (WCAG 1.4.11 for graphics).
NOT_IMPROVED = "0.55"


def icon_arrays(frame: pd.DataFrame, timepoint: str) -> plt.Figure:
    """The icon arrays of one time point, side by side, one 10 × 10 array per instrument: the
    patients who improved clearly filled, from the top left, row by row. A share not shown draws
    no icons; its panel says why."""
    rows = frame[frame["timepoint"] == timepoint].to_dict("records")
    side = math.isqrt(OUT_OF)
    fig, axes = plt.subplots(1, len(rows), figsize=(5.2, 2.9), squeeze=False)
    for ax, row, colour in zip(axes[0], rows, config.PALETTE):
        ax.set_xlim(-0.6, side - 0.4)
        ax.set_ylim(-0.6, side - 0.4)
        ax.set_aspect("equal")
        ax.set_axis_off()
        title = row["what"].capitalize().replace(" ", "\n", 1) if " " in row["what"] else row["what"].capitalize()
        if not row["shown"]:
            ax.set_title(f"{title}\nnot shown:\ntoo few patients", fontsize=10.5)
            continue
        for index in range(OUT_OF):
            r, c = divmod(index, side)
            _person(ax, c, side - 1 - r, colour if index < row["per_100"] else NOT_IMPROVED)
        ax.set_title(f"{title}\n{row['per_100']} of {OUT_OF}", fontsize=10.5)
    fig.tight_layout()
    return fig
