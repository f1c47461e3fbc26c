"""Every figure of the book. Each takes an aggregate table from `tables` (or the
cohort, for distributions) and returns a matplotlib Figure; the notebook shows it.

Disclosure control reaches the figures through the tables (a withheld cell is
not drawn; its label is written instead) and through `_histogram` (bins are
fixed, not set by the smallest or largest value; the last bin is top-coded;
under control a bin with fewer than k patients is not drawn).
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from .. import config
from .. import params as study
from ..analysis.stats import median_iqr
from ..instruments import INSTRUMENTS
from . import disclosure
from .disclosure import Policy

#: Width that stays legible on a phone when the image is scaled to the screen.
WIDTH = 5.2
#: Histogram bins: fixed, so that no edge is one patient's value; the last bin holds
#: everything from its lower edge up (top-coded).
PAIN_YEARS_BINS = 2.0 ** np.arange(-2, 5.6, 0.5)  # 0.25 to 45 years, two bins per doubling; last from 32
SESSION_BINS = np.arange(0.5, 41.5, 1)             # one bar per session count; last: 40 or more
PROGRAM_MONTH_BINS = np.arange(0, 26, 1)           # one bar per month; last: 24 or more


def set_style() -> None:
    """One look for every figure: colour-blind-safe palette, large enough text."""
    sns.set_theme(style="whitegrid", palette=config.PALETTE, font_scale=1.25,
                  rc={"figure.dpi": 110, "savefig.bbox": "tight", "axes.titleweight": "bold"})


def _histogram(ax, values: pd.Series, bins: np.ndarray, colour: str, policy: Policy) -> None:
    """Bars of patients per bin; values beyond the last edge counted in the last bin; under disclosure
    control small bins left out and the others at their released (rounded) height."""
    counts, edges = np.histogram(np.clip(values.dropna(), bins[0], bins[-1]), bins=bins)
    keep = disclosure.visible_bins(counts, policy)
    heights = np.array([disclosure.released(int(n), policy) if shown else 0 for n, shown in zip(counts, keep)])
    ax.bar(edges[:-1][keep], heights[keep], width=np.diff(edges)[keep], align="edge", color=colour,
           edgecolor="white")
    ax.set_xlim(bins[0], bins[-1])


def _median_line(ax, values: pd.Series, policy: Policy, fmt: str, loc: str = "upper right") -> None:
    values = values.dropna()
    if values.empty or disclosure.too_few(len(values), policy):
        return
    median = median_iqr(values)[0]
    ax.axvline(median, color="black", linestyle="--", linewidth=1.2, label=f"median {median:{fmt}}")
    ax.legend(loc=loc, frameon=False, fontsize=9)


def baseline_distributions(cohort: pd.DataFrame) -> plt.Figure:
    """Histograms of NPRS, DRI and EQ-VAS at start and of pain duration, median marked."""
    policy = disclosure.policy(cohort)
    fig, axes = plt.subplots(2, 2, figsize=(WIDTH, 5.2))
    top = PAIN_YEARS_BINS[-2]
    panels = [("nprs_start", "Pain, NPRS", np.arange(-0.5, 11, 1)),
              ("dri_start", "Disability, DRI", np.arange(0, 105, 5)),
              ("eqvas_start", "Health, EQ-VAS", np.arange(0, 105, 5)),
              ("pain_duration_years", f"Pain duration, years\n(last bar: {top:.0f} or more)", PAIN_YEARS_BINS)]
    data = cohort.assign(pain_duration_years=cohort["pain_duration_days"] / config.DAYS_PER_YEAR)
    for ax, (column, label, bins), colour in zip(axes.flat, panels, config.PALETTE):
        _histogram(ax, data[column], bins, colour, policy)
        if column == "pain_duration_years":
            ax.set_xscale("log")
            ticks = [0.25, 1, 4, 16]
            ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
            ax.minorticks_off()
        _median_line(ax, data[column], policy, ".3g", "upper left" if column == "eqvas_start" else "upper right")
        ax.set_xlabel(label)
        ax.set_ylabel("Patients")
    fig.tight_layout()
    return fig


def _withheld_note(ax, x, y, label: str, **kwargs) -> None:
    """Write a withheld cell's label where its mark would have been."""
    ax.text(x, y, label, fontsize=8.5, color="black", fontstyle="italic", **kwargs)


def interventions(table: pd.DataFrame) -> plt.Figure:
    """Share of patients per intervention category (published order, top to bottom) with its CI."""
    fig, ax = plt.subplots(figsize=(WIDTH, 6.0))
    y = np.arange(len(table))[::-1]
    pct, low, high = (disclosure.numeric(table[c]).to_numpy() for c in ("%", "CI low", "CI high"))
    ax.barh(y, np.nan_to_num(pct), color=config.PALETTE[0], height=0.7)
    ax.errorbar(pct, y, xerr=[pct - low, high - pct], fmt="none", ecolor="black", capsize=3, linewidth=1)
    for yi, value, n in zip(y, pct, table["n"]):
        if np.isnan(value):
            _withheld_note(ax, 1, yi, f"{n} patients" if n != disclosure.WITHHELD else n, va="center")
    ax.set_yticks(y, [_wrap(label, 28) for label in table["category"]], fontsize=10)
    ax.set_xlim(0, 100)
    ax.set_xlabel(f"Patients who received the category, % ({study.current().ci_label})")
    fig.tight_layout()
    return fig


def program(cohort: pd.DataFrame) -> plt.Figure:
    """Distribution of sessions and of program length, median marked."""
    policy = disclosure.policy(cohort)
    fig, axes = plt.subplots(1, 2, figsize=(WIDTH, 3.2))
    panels = [(cohort["n_sessions"], f"Sessions\n(last bar: {SESSION_BINS[-2] + 0.5:.0f} or more)", SESSION_BINS),
              (cohort["program_days"] / config.DAYS_PER_MONTH,
               f"Program length, months\n(last bar: {PROGRAM_MONTH_BINS[-2]:.0f} or more)", PROGRAM_MONTH_BINS)]
    for ax, (values, label, bins), colour in zip(axes, panels, config.PALETTE[1:]):
        _histogram(ax, values, bins, colour, policy)
        _median_line(ax, values, policy, ".0f")
        ax.set_xlabel(label)
        ax.set_ylabel("Patients")
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
        pct, low, high = (disclosure.numeric(rows[c]).to_numpy() for c in ("%", "CI low", "CI high"))
        ax.bar(x, np.nan_to_num(pct), width=width, color=colour, label=time)
        ax.errorbar(x, pct, yerr=[pct - low, high - pct], fmt="none", ecolor="black", capsize=3, linewidth=1)
        for xi, value, n in zip(x, pct, rows["of"]):
            if np.isnan(value):
                _withheld_note(ax, xi, 2, f"n={n}" if n != disclosure.WITHHELD else "n/a", ha="center",
                               va="bottom", rotation=90)
            else:
                ax.text(xi, 2, f"{value:.0f} %\nn={n}", ha="center", va="bottom", fontsize=8.5, color="white",
                        fontweight="bold")
    ax.set_xticks(np.arange(len(measures)), measures)
    ax.set_ylim(0, 100)
    ax.set_ylabel(f"Reached the MCID, % ({study.current().ci_label})")
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
        median, q1, q3 = (disclosure.numeric(rows[c]).to_numpy() for c in ("median", "Q1", "Q3"))
        x = np.arange(len(rows))
        ax.errorbar(x, median, yerr=[median - q1, q3 - median], fmt="o-", color=colour, capsize=4, linewidth=1.5)
        ax.set_xticks(x, rows["time"], rotation=40, ha="right")
        instrument = next(i for i in INSTRUMENTS.values() if i.short == measure)
        ax.set_ylim(instrument.lo, instrument.hi)
        ax.set_title(f"{measure}\n({instrument.better} is better)", fontsize=10)
    axes[0].set_ylabel("Median [Q1, Q3]")
    fig.tight_layout()
    return fig


def at_a_glance(interventions_table: pd.DataFrame, mcid_table: pd.DataFrame) -> plt.Figure:
    """Landing-page summary: the four most used categories and the 1-year MCID shares."""
    fig, (left, right) = plt.subplots(2, 1, figsize=(WIDTH, 6.0), height_ratios=[1.2, 1])
    shares = interventions_table.assign(share=disclosure.numeric(interventions_table["%"]))
    top = shares.nlargest(4, "share").iloc[::-1]
    left.barh([_wrap(c, 28) for c in top["category"]], top["share"], color=config.PALETTE[0])
    left.set_xlim(0, 100)
    left.set_xlabel("Patients, %")
    left.set_title("Most used interventions", fontsize=10)
    year = mcid_table[mcid_table["timepoint"] == "1y"]
    pct, low, high = (disclosure.numeric(year[c]).to_numpy() for c in ("%", "CI low", "CI high"))
    right.bar(year["measure"], np.nan_to_num(pct), color=config.PALETTE[1])
    right.errorbar(np.arange(len(year)), pct, yerr=[pct - low, high - pct], fmt="none", ecolor="black", capsize=4)
    right.set_ylim(0, 100)
    right.set_ylabel(f"MCID, % ({study.current().ci_label})")
    right.set_title("Improved at 1 year", fontsize=10)
    fig.tight_layout()
    return fig


def _wrap(text: str, width: int) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(text, width, break_on_hyphens=False))


def participant_flow(flow_table: pd.DataFrame) -> plt.Figure:
    """The participant flow, one column of boxes per outcome measure (schemdraw's flowchart,
    drawn with matplotlib): included, with a start value, measured at discharge and at 1 year,
    and how many were not."""
    import schemdraw
    from schemdraw import flow

    schemdraw.use("matplotlib")
    measures = flow_table[flow_table["stem"] != "any"]
    fig, ax = plt.subplots(figsize=(WIDTH, 4.4))
    # Drawn onto our own axes, so the figure is an ordinary pyplot figure like every other.
    with schemdraw.Drawing(canvas=ax, show=False) as drawing:
        drawing.config(fontsize=7.5, unit=0.6)
        for column, row in enumerate(measures.to_dict("records")):
            x = column * 4.6
            top = flow.Box(w=4.2, h=1.0).at((x, 0)).anchor("N").label(f"{row['measure']}\nIncluded: {row['included']}")
            flow.Arrow().down(0.5).at(top.S)
            start = flow.Box(w=4.2, h=1.0).anchor("N").label(f"With a start value\n{row['with_start']}")
            flow.Arrow().down(0.5).at(start.S)
            discharge = flow.Box(w=4.2, h=1.3).anchor("N").label(
                f"Discharge\nmeasured {row['discharge']}\nnot measured {row['not_discharge']}")
            flow.Arrow().down(0.5).at(discharge.S)
            flow.Box(w=4.2, h=1.7).anchor("N").label(
                f"1 year\nmeasured {row['one_year']}\n({row['one_year_only']} not at discharge)\n"
                f"not measured {row['not_one_year']}")
        drawing.draw(show=False)
    ax.set_axis_off()
    fig.subplots_adjust(left=0, right=1, top=1, bottom=0)  # boxes fill the figure; no tick labels to fit
    return fig


def missing_data(table: pd.DataFrame) -> plt.Figure:
    """The 1-year share reaching the MCID under each way of counting the lost, per measure, with CI."""
    measures = list(dict.fromkeys(table["measure"]))
    methods = list(dict.fromkeys(table["method"]))
    fig, ax = plt.subplots(figsize=(WIDTH, 3.9))
    for i, (method, colour, marker) in enumerate(zip(methods, config.PALETTE, "osD^")):
        rows = table[table["method"] == method].set_index("measure").loc[measures]
        pct, low, high = (disclosure.numeric(rows[c]).to_numpy() for c in ("%", "CI low", "CI high"))
        y = np.arange(len(measures))[::-1] + (1.5 - i) * 0.18
        ax.errorbar(pct, y, xerr=[pct - low, high - pct], fmt=marker, color=colour, capsize=3, label=method,
                    markersize=6)
    ax.set_yticks(np.arange(len(measures))[::-1], measures)
    ax.set_xlim(0, 100)
    ax.axvline(50, color="grey", linewidth=0.8, linestyle=":")
    ax.set_xlabel(f"Reached the MCID at 1 year, % ({study.current().ci_label})")
    ax.legend(frameon=False, fontsize=8.5, loc="upper center", bbox_to_anchor=(0.45, -0.2), ncols=2)
    fig.tight_layout()
    return fig


def threshold_curves(curve: pd.DataFrame, literature: pd.DataFrame, kind: str = "absolute") -> plt.Figure:
    """Share of patients whose improvement reaches each threshold, at discharge and at 1 year,
    with a confidence band; literature thresholds dotted, this build's MCID dashed."""
    params = study.current()
    stems = list(INSTRUMENTS)
    fig, axes = plt.subplots(len(stems), 1, figsize=(WIDTH, 7.6))
    for ax, stem in zip(axes, stems):
        instrument = INSTRUMENTS[stem]
        for time, colour in zip(("discharge", "1y"), config.PALETTE):
            rows = curve[(curve["stem"] == stem) & (curve["timepoint"] == time)].sort_values("threshold")
            if rows.empty:
                continue
            ax.fill_between(rows["threshold"], rows["CI low"], rows["CI high"], color=colour, alpha=0.2, step="post",
                            linewidth=0)
            ax.step(rows["threshold"], rows["%"], where="post", color=colour, label=rows["time"].iloc[0])
        for value in _literature_values(stem, kind):
            ax.axvline(value, color="grey", linestyle=":", linewidth=1)
        rule = params.mcid[stem]
        if rule.definition == kind:
            ax.axvline(rule.threshold, color="black", linestyle="--", linewidth=1.2)
        unit = "% of the start value" if kind == "percent" else instrument.unit
        ax.set_xlabel(f"{instrument.short}: improvement of at least … ({unit})", fontsize=10)
        ax.set_ylabel("Patients, %", fontsize=10)
        ax.set_ylim(0, 100)
        ax.set_xlim(0, 100 if kind == "percent" else instrument.hi - instrument.lo)
    # The legend goes on the first panel that has a curve (none has when no change is measured).
    drawn = [ax for ax in axes if ax.get_legend_handles_labels()[0]]
    if drawn:
        drawn[0].legend(frameon=False, fontsize=9, loc="upper right")
    fig.tight_layout()
    return fig


def _literature_values(stem: str, kind: str) -> list[float]:
    """Where a literature threshold of this kind sits on the axis (the SD-based one is in the table)."""
    return [t.value for t in INSTRUMENTS[stem].literature
            if (t.definition == "percent") == (kind == "percent") and t.definition != "sd"]


def trajectories(table: pd.DataFrame) -> plt.Figure:
    """Median [Q1, Q3] at each time: on the same patients (all three values) and on all measured."""
    measures = list(dict.fromkeys(table["measure"]))
    fig, axes = plt.subplots(1, len(measures), figsize=(WIDTH, 3.8))
    for ax, measure in zip(axes, measures):
        instrument = next(i for i in INSTRUMENTS.values() if i.short == measure)
        for offset, (group, colour, marker) in zip((-0.08, 0.08), (("all three values", config.PALETTE[0], "o"),
                                                                   ("measured at this time", config.PALETTE[1], "s"))):
            rows = table[(table["measure"] == measure) & (table["patients"] == group)]
            median, q1, q3 = (disclosure.numeric(rows[c]).to_numpy() for c in ("median", "Q1", "Q3"))
            x = np.arange(len(rows)) + offset
            ax.errorbar(x, median, yerr=[median - q1, q3 - median], fmt=f"{marker}-", color=colour, capsize=3,
                        label=group, markersize=5)
            ax.set_xticks(np.arange(len(rows)), rows["time"], rotation=40, ha="right")
        ax.set_ylim(instrument.lo, instrument.hi)
        ax.set_title(f"{measure}\n({instrument.better} is better)", fontsize=10)
    axes[0].set_ylabel("Median [Q1, Q3]")
    fig.legend(*axes[0].get_legend_handles_labels(), frameon=False, fontsize=8.5, loc="lower center", ncols=2)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return fig


def cooccurrence(table: pd.DataFrame, n_patients: int) -> plt.Figure:
    """Heat map of the patients who received both categories (% of all patients); a withheld
    cell is left blank and named."""
    values = pd.DataFrame({c: disclosure.numeric(table[c]) for c in table.columns}, index=table.index)
    share = 100 * values.to_numpy(dtype=float) / n_patients
    fig, ax = plt.subplots(figsize=(WIDTH, WIDTH))
    image = ax.imshow(np.ma.masked_invalid(share), cmap="Blues", vmin=0, vmax=100)
    for i in range(len(table)):
        for j in range(len(table.columns)):
            cell = table.iloc[i, j]
            text = cell if isinstance(cell, str) else f"{share[i, j]:.0f}"
            ax.text(j, i, text, ha="center", va="center", fontsize=7,
                    color="white" if not isinstance(cell, str) and share[i, j] > 55 else "black")
    short = [_short_category(c) for c in table.index]
    ax.set_xticks(range(len(table.columns)), short, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(len(table.index)), short, fontsize=8)
    ax.grid(False)
    fig.colorbar(image, ax=ax, fraction=0.04, pad=0.02).set_label("Patients who received both, %", fontsize=9)
    fig.tight_layout()
    return fig


def _short_category(label: str) -> str:
    """A category label short enough for an axis (the full labels are in the tables)."""
    words = label.replace("(TENS, acupuncture)", "").replace("Physiotherapy with an ", "").split()
    return " ".join(words[:3]) + ("…" if len(words) > 3 else "")


def combinations(table: pd.DataFrame) -> plt.Figure:
    """UpSet-style chart: patients per combination (bars) above the categories each holds (dots).
    Drawn with matplotlib: upsetplot 0.9 cannot plot under pandas 3."""
    rows = table[table["members"].map(len) > 0]
    columns = list(config.INTERVENTIONS)
    fig, (bars, dots) = plt.subplots(2, 1, figsize=(WIDTH, 6.4), height_ratios=[1, 1.3], sharex=True)
    x = np.arange(len(rows))
    counts = disclosure.numeric(rows["patients"]).to_numpy()
    bars.bar(x, np.nan_to_num(counts), color=config.PALETTE[0])
    for xi, n in zip(x, rows["patients"]):
        bars.text(xi, 0.5, str(n), ha="center", va="bottom", fontsize=8, color="white", fontweight="bold")
    bars.set_ylabel("Patients")
    for xi, members in zip(x, rows["members"]):
        used = [columns.index(c) for c in members]
        dots.scatter([xi] * len(columns), range(len(columns)), color="0.85", s=25)
        dots.scatter([xi] * len(used), used, color="black", s=25)
        if used:
            dots.plot([xi, xi], [min(used), max(used)], color="black", linewidth=1.2)
    dots.set_yticks(range(len(columns)), [_short_category(config.INTERVENTIONS[c]) for c in columns], fontsize=8)
    dots.invert_yaxis()
    dots.set_xticks(x, [f"{i + 1}" for i in x])
    dots.set_xlabel("Combination (the table below names each)")
    dots.grid(False)
    fig.tight_layout()
    return fig


def risk_ratios(table: pd.DataFrame) -> plt.Figure:
    """Forest plot of the univariable risk ratios of reaching the MCID at 1 year, per outcome."""
    outcomes = list(dict.fromkeys(table["outcome"]))
    fig, axes = plt.subplots(len(outcomes), 1, figsize=(WIDTH, 11), sharex=True)
    for ax, outcome in zip(np.atleast_1d(axes), outcomes):
        rows = table[table["outcome"] == outcome]
        rr, low, high = (disclosure.numeric(rows[c]).to_numpy() for c in ("RR", "CI low", "CI high"))
        y = np.arange(len(rows))[::-1]
        ax.errorbar(rr, y, xerr=[rr - low, high - rr], fmt="o", color=config.PALETTE[0], capsize=2, markersize=4)
        labels = [f"{p}: {lvl}" if lvl else p for p, lvl in zip(rows["predictor"], rows["level"])]
        ax.set_yticks(y, labels, fontsize=7.5)
        ax.axvline(1, color="grey", linewidth=0.8, linestyle=":")
        ax.set_xscale("log")
        ax.set_title(f"{outcome}: reached the MCID at 1 year", fontsize=10)
    np.atleast_1d(axes)[-1].set_xlabel(f"Risk ratio ({study.current().ci_label}, log scale)")
    fig.tight_layout()
    return fig
