"""Every figure of the book. Each takes an aggregate table from `tables` (or the
cohort, for distributions) and returns a matplotlib Figure; the notebook shows it."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from . import config
from .stats import median_iqr

#: Width that stays legible on a phone when the image is scaled to the screen.
WIDTH = 5.2


def set_style() -> None:
    """One look for every figure: colour-blind-safe palette, large enough text."""
    sns.set_theme(style="whitegrid", palette=config.PALETTE, font_scale=1.25,
                  rc={"figure.dpi": 110, "savefig.bbox": "tight", "axes.titleweight": "bold"})


def baseline_distributions(cohort: pd.DataFrame) -> plt.Figure:
    """Histograms of NPRS, DRI and EQ-VAS at start and of pain duration, median marked."""
    fig, axes = plt.subplots(2, 2, figsize=(WIDTH, 5.2))
    panels = [("nprs_start", "Pain, NPRS", np.arange(-0.5, 11, 1)),
              ("dri_start", "Disability, DRI", np.arange(0, 105, 5)),
              ("eqvas_start", "Health, EQ-VAS", np.arange(0, 105, 5)),
              ("pain_duration_years", "Pain duration, years", None)]
    data = cohort.assign(pain_duration_years=cohort["pain_duration_days"] / 365.25)
    for ax, (column, label, bins), colour in zip(axes.flat, panels, config.PALETTE):
        values = data[column].dropna()
        if bins is None:
            bins = np.geomspace(max(values.min(), 0.2), values.max(), 20)
            ax.set_xscale("log")
        ax.hist(values, bins=bins, color=colour, edgecolor="white")
        median = median_iqr(values)[0]
        ax.axvline(median, color="black", linestyle="--", linewidth=1.2, label=f"median {median:.3g}")
        ax.set_xlabel(label)
        ax.set_ylabel("Patients")
        ax.legend(loc="upper left" if column == "eqvas_start" else "upper right", frameon=False, fontsize=9)
    fig.tight_layout()
    return fig


def interventions(table: pd.DataFrame) -> plt.Figure:
    """Share of patients per intervention category (published order, top to bottom) with its CI."""
    fig, ax = plt.subplots(figsize=(WIDTH, 6.0))
    y = np.arange(len(table))[::-1]
    ax.barh(y, table["%"], color=config.PALETTE[0], height=0.7)
    ax.errorbar(table["%"], y, xerr=[table["%"] - table["CI low"], table["CI high"] - table["%"]],
                fmt="none", ecolor="black", capsize=3, linewidth=1)
    ax.set_yticks(y, [_wrap(label, 28) for label in table["category"]], fontsize=10)
    ax.set_xlim(0, 100)
    ax.set_xlabel(f"Patients who received the category, % ({config.CI_LABEL})")
    fig.tight_layout()
    return fig


def program(cohort: pd.DataFrame) -> plt.Figure:
    """Distribution of sessions and of program length, median marked."""
    fig, axes = plt.subplots(1, 2, figsize=(WIDTH, 3.2))
    panels = [(cohort["n_sessions"], "Sessions", 1), (cohort["program_days"] / config.DAYS_PER_MONTH,
                                                      "Program length, months", 1)]
    for ax, (values, label, width), colour in zip(axes, panels, config.PALETTE[1:]):
        values = values.dropna()
        ax.hist(values, bins=np.arange(0, values.max() + width, width), color=colour, edgecolor="white")
        median = median_iqr(values)[0]
        ax.axvline(median, color="black", linestyle="--", linewidth=1.2, label=f"median {median:.0f}")
        ax.set_xlabel(label)
        ax.set_ylabel("Patients")
        ax.legend(frameon=False)
    fig.tight_layout()
    return fig


def mcid(table: pd.DataFrame) -> plt.Figure:
    """The primary outcome: % reaching the MCID at discharge and at 1 year, with CI."""
    fig, ax = plt.subplots(figsize=(WIDTH, 3.8))
    measures = list(dict.fromkeys(table["measure"]))
    times = list(dict.fromkeys(table["time"]))
    width = 0.38
    for i, (time, colour) in enumerate(zip(times, config.PALETTE)):
        rows = table[table["time"] == time].set_index("measure").loc[measures]
        x = np.arange(len(measures)) + (i - 0.5) * width
        ax.bar(x, rows["%"], width=width, color=colour, label=time)
        ax.errorbar(x, rows["%"], yerr=[rows["%"] - rows["CI low"], rows["CI high"] - rows["%"]],
                    fmt="none", ecolor="black", capsize=3, linewidth=1)
        for xi, pct, n in zip(x, rows["%"], rows["of"]):
            ax.text(xi, 2, f"{pct:.0f} %\nn={n}", ha="center", va="bottom", fontsize=8.5, color="white",
                    fontweight="bold")
    ax.set_xticks(np.arange(len(measures)), measures)
    ax.set_ylim(0, 100)
    ax.set_ylabel(f"Reached the MCID, % ({config.CI_LABEL})")
    ax.axhline(50, color="grey", linewidth=0.8, linestyle=":")
    ax.legend(title=None, frameon=False, loc="upper left", ncols=2)
    fig.tight_layout()
    return fig


def outcomes_over_time(table: pd.DataFrame) -> plt.Figure:
    """Median and interquartile range of each outcome at start, discharge and 1 year."""
    measures = list(dict.fromkeys(table["measure"]))
    fig, axes = plt.subplots(1, len(measures), figsize=(WIDTH, 3.6))
    for ax, measure, colour in zip(axes, measures, config.PALETTE):
        rows = table[table["measure"] == measure]
        x = np.arange(len(rows))
        ax.errorbar(x, rows["median"], yerr=[rows["median"] - rows["Q1"], rows["Q3"] - rows["median"]],
                    fmt="o-", color=colour, capsize=4, linewidth=1.5)
        ax.set_xticks(x, rows["time"], rotation=40, ha="right")
        spec = next(s for s in config.OUTCOMES.values() if s["short"] == measure)
        ax.set_ylim(spec["lo"], spec["hi"])
        better = "lower is better" if spec["higher_is_worse"] else "higher is better"
        ax.set_title(f"{measure}\n({better})", fontsize=10)
    axes[0].set_ylabel("Median [Q1, Q3]")
    fig.tight_layout()
    return fig


def at_a_glance(interventions_table: pd.DataFrame, mcid_table: pd.DataFrame) -> plt.Figure:
    """Landing-page summary: the four most used categories and the 1-year MCID shares."""
    fig, (left, right) = plt.subplots(2, 1, figsize=(WIDTH, 6.0), height_ratios=[1.2, 1])
    top = interventions_table.nlargest(4, "%").iloc[::-1]
    left.barh([_wrap(c, 28) for c in top["category"]], top["%"], color=config.PALETTE[0])
    left.set_xlim(0, 100)
    left.set_xlabel("Patients, %")
    left.set_title("Most used interventions", fontsize=10)
    year = mcid_table[mcid_table["timepoint"] == "1y"]
    right.bar(year["measure"], year["%"], color=config.PALETTE[1],
              yerr=[year["%"] - year["CI low"], year["CI high"] - year["%"]], capsize=4)
    right.set_ylim(0, 100)
    right.set_ylabel(f"MCID, % ({config.CI_LABEL})")
    right.set_title("Improved at 1 year", fontsize=10)
    fig.tight_layout()
    return fig


def _wrap(text: str, width: int) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(text, width, break_on_hyphens=False))
