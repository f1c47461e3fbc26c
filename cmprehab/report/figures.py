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
#: Smallest text of a figure, in points: about 9 CSS pixels once a WIDTH-wide figure fills a phone's column.
TEXT_SIZE = 10.5
#: Histogram bins: fixed, so that no edge is one patient's value; the last bin holds
#: everything from its lower edge up (top-coded).
PAIN_YEARS_BINS = 2.0 ** np.arange(-2, 5.6, 0.5)  # 0.25 to 45 years, two bins per doubling; last from 32
SESSION_BINS = np.arange(0.5, 41.5, 1)             # one bar per session count; last: 40 or more
PROGRAM_MONTH_BINS = np.arange(0, 26, 1)           # one bar per month; last: 24 or more


def set_style() -> None:
    """One look for every figure: colour-blind-safe palette, large enough text."""
    sns.set_theme(style="whitegrid", palette=config.PALETTE, font_scale=1.25,
                  rc={"figure.dpi": 110, "savefig.bbox": "tight", "axes.titleweight": "bold",
                      # SVG with text as text, the same bytes on every build
                      "svg.fonttype": "none", "svg.hashsalt": "cmprehab"})


def _histogram(ax, values: pd.Series, bins: np.ndarray, colour: str, policy: Policy) -> None:
    """Bars of patients per bin; values beyond the last edge counted in the last bin; under disclosure
    control small bins left out and the others at their released (rounded) height."""
    counts, edges = np.histogram(np.clip(values.dropna(), bins[0], bins[-1]), bins=bins)
    keep = disclosure.visible_bins(counts, policy)
    heights = np.array([disclosure.released(int(n), policy) if shown else 0 for n, shown in zip(counts, keep)])
    ax.bar(edges[:-1][keep], heights[keep], width=np.diff(edges)[keep], align="edge", color=colour,
           edgecolor="white")
    ax.set_xlim(bins[0], bins[-1])


def _median_line(ax, values: pd.Series, policy: Policy, fmt: str) -> None:
    """A dashed line at the median, named in a legend above the panel (off the bars)."""
    values = values.dropna()
    if values.empty or disclosure.too_few(len(values), policy):
        return
    median = median_iqr(values)[0]
    ax.axvline(median, color="black", linestyle="--", linewidth=1.2, label=f"median {median:{fmt}}")
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), frameon=False, fontsize=TEXT_SIZE,
              borderaxespad=0.2)


def baseline_distributions(cohort: pd.DataFrame) -> plt.Figure:
    """Histograms of NPRS, DRI and EQ-VAS at start and of pain duration, median marked."""
    policy = disclosure.policy(cohort)
    fig, axes = plt.subplots(2, 2, figsize=(WIDTH, 5.8))
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
        _median_line(ax, data[column], policy, ".2g" if column == "pain_duration_years" else ".3g")
        ax.set_xlabel(label)
        ax.set_ylabel("Patients")
    fig.tight_layout()
    return fig


def _withheld_note(ax, x, y, label: str, **kwargs) -> None:
    """Write a withheld cell's label where its mark would have been."""
    ax.text(x, y, label, fontsize=TEXT_SIZE, color="black", fontstyle="italic", **kwargs)


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
    ax.set_xlabel(f"Patients who received the category, % ({study.current().ci_label})", fontsize=11)
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


#: Width of each bar of the MCID figure (two bars per measure: discharge, 1 year).
MCID_BAR_WIDTH = 0.38
#: The forest plot's axis (risk ratios; beyond it an interval ends in an arrowhead) and its ticks.
RR_AXIS = (1 / 3, 3.0)
RR_TICKS = (0.5, 1, 2)


def mcid(table: pd.DataFrame) -> plt.Figure:
    """The primary outcome: % reaching the MCID at discharge and at 1 year, with CI."""
    fig, ax = plt.subplots(figsize=(WIDTH, 3.8))
    measures = list(dict.fromkeys(table["measure"]))
    times = list(dict.fromkeys(table["time"]))
    width = MCID_BAR_WIDTH
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
                ax.text(xi, 2, f"{value:.0f}", ha="center", va="bottom", fontsize=TEXT_SIZE, color="white",
                        fontweight="bold")
    # How many patients each bar is of, under the measure's name (in the bars they would not fit a phone).
    measured = {m: " / ".join(str(n) for n in table[table["measure"] == m]["of"]) for m in measures}
    ax.set_xticks(np.arange(len(measures)), [f"{m}\n{measured[m]}" for m in measures])
    ax.set_xlabel(f"Patients measured: {' / '.join(times)}", fontsize=TEXT_SIZE)
    ax.set_ylim(0, 100)
    ax.set_ylabel(f"Reached the MCID, % ({study.current().ci_label})")
    ax.axhline(50, color="grey", linewidth=0.8, linestyle=":")
    ax.legend(title=None, frameon=False, loc="upper left", ncols=2)
    fig.tight_layout()
    return fig


def outcomes_over_time(table: pd.DataFrame) -> plt.Figure:
    """Median and interquartile range of each outcome at start, discharge and 1 year."""
    measures = list(dict.fromkeys(table["measure"]))
    # One panel per row: on a phone three side by side leave no room for the time labels.
    fig, axes = plt.subplots(len(measures), 1, figsize=(WIDTH, 2.0 * len(measures)), sharex=True)
    for ax, measure, colour in zip(axes, measures, config.PALETTE):
        rows = table[table["measure"] == measure]
        median, q1, q3 = (disclosure.numeric(rows[c]).to_numpy() for c in ("median", "Q1", "Q3"))
        x = np.arange(len(rows))
        ax.errorbar(x, median, yerr=[median - q1, q3 - median], fmt="o-", color=colour, capsize=4, linewidth=1.5)
        ax.set_xticks(x, rows["time"])
        _instrument_panel(ax, measure)
    fig.supylabel("Median [Q1, Q3]", fontsize=11)
    fig.tight_layout()
    return fig


def _instrument_panel(ax, measure: str) -> None:
    """An instrument's whole scale, with which end is better, as the panel's title."""
    instrument = next(i for i in INSTRUMENTS.values() if i.short == measure)
    ax.set_ylim(instrument.lo, instrument.hi)
    ax.set_xlim(-0.4, 2.4)
    ax.set_title(f"{measure} ({instrument.better} is better)", fontsize=11, loc="left")


def at_a_glance(mcid_table: pd.DataFrame, published: dict[str, float]) -> plt.Figure:
    """Landing-page figure: the share reaching the MCID at discharge and at 1 year (Fig 5.2's bars),
    with the published discharge shares (`published`: instrument stem to %) marked beside them."""
    fig = mcid(mcid_table)
    ax = fig.axes[0]
    stems = list(dict.fromkeys(mcid_table["stem"]))
    x = np.arange(len(stems)) - 0.5 * MCID_BAR_WIDTH  # the discharge bars
    ax.scatter(x, [published.get(stem, np.nan) for stem in stems], marker="_", s=500, linewidths=3,
               color="black", zorder=3, label="published, discharge")
    ax.legend(title=None, frameon=False, loc="upper left", ncols=3, fontsize=TEXT_SIZE, columnspacing=1.0,
              handlelength=1.5)
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
    fig, ax = plt.subplots(figsize=(WIDTH, 5.0))
    # Drawn onto our own axes, so the figure is an ordinary pyplot figure like every other.
    with schemdraw.Drawing(canvas=ax, show=False) as drawing:
        drawing.config(fontsize=TEXT_SIZE, unit=0.6)
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
    legend_rows = (len(methods) + 1) // 2
    fig, ax = plt.subplots(figsize=(WIDTH, 3.1 + 0.4 * legend_rows))
    for i, (method, colour, marker) in enumerate(zip(methods, config.PALETTE, "osD^v")):
        rows = table[table["method"] == method].set_index("measure").loc[measures]
        pct, low, high = (disclosure.numeric(rows[c]).to_numpy() for c in ("%", "CI low", "CI high"))
        y = np.arange(len(measures))[::-1] + ((len(methods) - 1) / 2 - i) * 0.16
        ax.errorbar(pct, y, xerr=[pct - low, high - pct], fmt=marker, color=colour, capsize=3, label=method,
                    markersize=6)
    ax.set_yticks(np.arange(len(measures))[::-1], measures)
    ax.set_xlim(0, 100)
    ax.axvline(50, color="grey", linewidth=0.8, linestyle=":")
    ax.set_xlabel(f"Reached the MCID at 1 year, % ({study.current().ci_label})")
    # The legend hangs a fixed distance in points below the axis label, so that however tight_layout
    # resizes the axes to make room for it, it stays clear of the label.
    from matplotlib.transforms import ScaledTranslation

    fig.tight_layout()
    below = ax.get_window_extent().y0 - ax.xaxis.label.get_window_extent(fig.canvas.get_renderer()).y0
    offset = ScaledTranslation(0, -(below / fig.dpi + 4 / 72), fig.dpi_scale_trans)
    ax.legend(frameon=False, fontsize=TEXT_SIZE, loc="upper center", bbox_to_anchor=(0.45, 0),
              bbox_transform=ax.transAxes + offset, ncols=2)
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
        ax.set_xlabel(f"{instrument.short}: threshold, improvement of at least x {unit}", fontsize=10)
        ax.set_ylabel("Patients, %", fontsize=10)
        ax.set_ylim(0, 100)
        ax.set_xlim(0, 100 if kind == "percent" else instrument.hi - instrument.lo)
    # The legend goes on the first panel that has a curve (none has when no change is measured).
    drawn = [ax for ax in axes if ax.get_legend_handles_labels()[0]]
    if drawn:
        drawn[0].legend(frameon=False, fontsize=TEXT_SIZE, loc="upper right")
    fig.tight_layout()
    return fig


def _literature_values(stem: str, kind: str) -> list[float]:
    """Where a literature threshold of this kind sits on the axis (the SD-based one is in the table)."""
    return [t.value for t in INSTRUMENTS[stem].literature
            if (t.definition == "percent") == (kind == "percent") and t.definition != "sd"]


def trajectories(table: pd.DataFrame) -> plt.Figure:
    """Median [Q1, Q3] at each time: on the same patients (all three values) and on all measured."""
    measures = list(dict.fromkeys(table["measure"]))
    fig, axes = plt.subplots(len(measures), 1, figsize=(WIDTH, 2.0 * len(measures) + 0.6), sharex=True)
    for ax, measure in zip(axes, measures):
        for offset, (group, colour, marker) in zip((-0.08, 0.08), (("all three values", config.PALETTE[0], "o"),
                                                                   ("measured at this time", config.PALETTE[1], "s"))):
            rows = table[(table["measure"] == measure) & (table["patients"] == group)]
            median, q1, q3 = (disclosure.numeric(rows[c]).to_numpy() for c in ("median", "Q1", "Q3"))
            x = np.arange(len(rows)) + offset
            ax.errorbar(x, median, yerr=[median - q1, q3 - median], fmt=f"{marker}-", color=colour, capsize=3,
                        label=group, markersize=5)
            ax.set_xticks(np.arange(len(rows)), rows["time"])
        _instrument_panel(ax, measure)
    fig.supylabel("Median [Q1, Q3]", fontsize=11)
    # Under the last panel, anchored to it: a figure-level legend would move when the SVG is cropped.
    axes[-1].legend(*axes[0].get_legend_handles_labels(), frameon=False, fontsize=TEXT_SIZE, loc="upper center",
                    bbox_to_anchor=(0.5, -0.22), ncols=2, title="Patients:", title_fontsize=TEXT_SIZE)
    fig.tight_layout()
    return fig


def cooccurrence(table: pd.DataFrame, n_patients: int) -> plt.Figure:
    """Heat map of the patients who received both categories (% of all patients); a withheld
    cell is left blank and named. Rows carry the numbered full labels, columns the numbers."""
    values = pd.DataFrame({c: disclosure.numeric(table[c]) for c in table.columns}, index=table.index)
    share = 100 * values.to_numpy(dtype=float) / n_patients
    fig, ax = plt.subplots(figsize=(WIDTH, 7.4))
    # Rows taller than wide, so that a label wrapped on three lines fits its row.
    image = ax.imshow(np.ma.masked_invalid(share), cmap="Blues", vmin=0, vmax=100, aspect="auto")
    for i in range(len(table)):
        for j in range(len(table.columns)):
            cell = table.iloc[i, j]
            text = cell if isinstance(cell, str) else f"{share[i, j]:.0f}"
            ax.text(j, i, text, ha="center", va="center", fontsize=TEXT_SIZE,
                    color="white" if not isinstance(cell, str) and share[i, j] > 55 else "black")
    ax.set_xticks(range(len(table.columns)), [str(i) for i in range(1, len(table.columns) + 1)],
                  fontsize=TEXT_SIZE)
    ax.xaxis.tick_top()
    ax.set_yticks(range(len(table.index)), numbered_categories(table.index), fontsize=TEXT_SIZE)
    ax.grid(False)
    fig.colorbar(image, ax=ax, orientation="horizontal", fraction=0.04, pad=0.03).set_label(
        "Patients who received both, %", fontsize=TEXT_SIZE)
    fig.tight_layout()
    return fig


def numbered_categories(labels, width: int = 26) -> list[str]:
    """Category labels numbered in the published order and wrapped, whole (no label cut short)."""
    return [_wrap(f"{i}. {label}", width) for i, label in enumerate(labels, start=1)]


def combinations(table: pd.DataFrame) -> plt.Figure:
    """UpSet-style chart: patients per combination (bars) above the categories each holds (dots).
    Drawn with matplotlib: upsetplot 0.9 cannot plot under pandas 3."""
    rows = table[table["members"].map(len) > 0]
    columns = list(config.INTERVENTIONS)
    fig, (bars, dots) = plt.subplots(2, 1, figsize=(WIDTH, 8.0), height_ratios=[1, 2.6], sharex=True)
    x = np.arange(len(rows))
    counts = disclosure.numeric(rows["patients"]).to_numpy()
    bars.bar(x, np.nan_to_num(counts), color=config.PALETTE[0])
    for xi, n in zip(x, rows["patients"]):
        bars.text(xi, 0.5, str(n), ha="center", va="bottom", fontsize=TEXT_SIZE, color="white")
    bars.set_ylabel("Patients")
    for xi, members in zip(x, rows["members"]):
        used = [columns.index(c) for c in members]
        dots.scatter([xi] * len(columns), range(len(columns)), color="0.85", s=25)
        dots.scatter([xi] * len(used), used, color="black", s=25)
        if used:
            dots.plot([xi, xi], [min(used), max(used)], color="black", linewidth=1.2)
    dots.set_yticks(range(len(columns)), numbered_categories(config.INTERVENTIONS[c] for c in columns),
                    fontsize=TEXT_SIZE)
    dots.invert_yaxis()
    dots.set_xticks(x, [f"{i + 1}" for i in x])
    dots.set_xlabel("Combination\n(the table below names each)", fontsize=11)
    dots.grid(False)
    fig.tight_layout()
    return fig


def risk_ratios(table: pd.DataFrame) -> plt.Figure:
    """Forest plot of the univariable risk ratios of reaching the MCID at 1 year: one panel per
    outcome, side by side on the same rows, each with its own plain ticks 0.5, 1 and 2. An
    interval reaching beyond the axis ends in an arrowhead at the edge."""
    from matplotlib.ticker import FixedLocator, NullLocator

    outcomes = list(dict.fromkeys(table["outcome"]))
    named = table.assign(label=[f"{p}: {lvl}" if lvl else p for p, lvl in zip(table["predictor"], table["level"])])
    labels = list(dict.fromkeys(named["label"]))
    row = {label: len(labels) - 1 - i for i, label in enumerate(labels)}  # first label at the top
    fig, axes = plt.subplots(1, len(outcomes), figsize=(WIDTH, 0.58 * len(labels) + 1.4), sharey=True,
                             squeeze=False)
    low_end, high_end = RR_AXIS
    for ax, outcome in zip(axes[0], outcomes):
        rows = named[named["outcome"] == outcome]
        rr, low, high = (disclosure.numeric(rows[c]).to_numpy() for c in ("RR", "CI low", "CI high"))
        y = np.array([row[label] for label in rows["label"]])
        ax.errorbar(np.clip(rr, low_end, high_end), y,
                    xerr=[np.clip(rr, low_end, high_end) - np.clip(low, low_end, high_end),
                          np.clip(high, low_end, high_end) - np.clip(rr, low_end, high_end)],
                    fmt="o", color=config.PALETTE[0], capsize=2, markersize=4)
        for beyond, edge, marker in ((low < low_end, low_end, "<"), (high > high_end, high_end, ">")):
            ax.scatter(np.full(int(np.sum(beyond)), edge), y[beyond], marker=marker, color=config.PALETTE[0],
                       s=30, clip_on=False, zorder=3)
        ax.axvline(1, color="grey", linewidth=0.8, linestyle=":")
        ax.set_xscale("log")
        ax.set_xlim(low_end, high_end)
        ax.xaxis.set_major_locator(FixedLocator(RR_TICKS))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xticks(RR_TICKS, [f"{t:g}" for t in RR_TICKS], fontsize=TEXT_SIZE)
        ax.set_title(outcome, fontsize=11)
    axes[0][0].set_yticks(list(row.values()), [_wrap(label, 22) for label in row], fontsize=TEXT_SIZE)
    axes[0][0].set_ylim(-0.6, len(labels) - 0.4)
    fig.supxlabel(f"Risk ratio of reaching the MCID at 1 year\n({study.current().ci_label}, log scale)",
                  fontsize=11)
    fig.tight_layout()
    return fig


