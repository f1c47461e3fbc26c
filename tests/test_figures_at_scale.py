"""No figure draws one mark per patient: at any cohort size each shows aggregates (histograms
with fixed bins, shares with intervals, medians and quartiles, curves on a fixed grid of
thresholds, counts of combinations), so a registry's figure is as light as the study's.

Each figure of the book is drawn, as its chapter draws it, on cohorts of 274 and 4,000
patients; the marks it draws (bars, line points, scatter points, cells) must not grow with
the patients beyond the bins that fill up.
"""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from cmprehab import config, synth  # noqa: E402
from cmprehab.data.cohort import load_cohort  # noqa: E402
from cmprehab.report import figures, follow_up, plain_language, sensitivity, tables, who_benefits  # noqa: E402

LARGE_N = 4000

FIGURES = {
    "baseline_distributions": lambda c: figures.baseline_distributions(c),
    "program": lambda c: figures.program(c),
    "interventions": lambda c: figures.interventions(tables.interventions(c)),
    "mcid": lambda c: figures.mcid(tables.mcid(c)),
    "at_a_glance": lambda c: figures.at_a_glance(tables.mcid(c), plain_language.published_discharge_shares()),
    "outcomes_over_time": lambda c: figures.outcomes_over_time(tables.outcomes_over_time(c)),
    "participant_flow": lambda c: figures.participant_flow(follow_up.flow(c)),
    "missing_data": lambda c: figures.missing_data(follow_up.missing_data(c)),
    "threshold_curves": lambda c: figures.threshold_curves(sensitivity.curves(c), sensitivity.literature(c)),
    "trajectories": lambda c: figures.trajectories(sensitivity.trajectories(c)),
    "cooccurrence": lambda c: figures.cooccurrence(who_benefits.cooccurrence(c), len(c)),
    "combinations": lambda c: figures.combinations(who_benefits.top_combinations(c)),
    "risk_ratios": lambda c: figures.risk_ratios(who_benefits.risk_ratios(c)),
}


def marks(fig) -> int:
    """What a figure draws for its data: bars and patches, points of lines, scatter points, mesh cells."""
    total = 0
    for ax in fig.axes:
        total += len(ax.patches)
        total += sum(len(line.get_xdata()) for line in ax.lines)
        for collection in ax.collections:
            offsets = collection.get_offsets()
            total += max(len(offsets), len(collection.get_paths()))
        total += sum(image.get_array().size for image in ax.images)
    return total


@pytest.fixture(scope="module")
def cohorts(tmp_path_factory):
    path = tmp_path_factory.mktemp("large") / "cohort.csv"
    synth.write_cohort(synth.generate(LARGE_N, 11), path, 11)
    return {config.DEFAULT_N: load_cohort(config.DEFAULT_COHORT), LARGE_N: load_cohort(path)}


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_a_figure_draws_aggregates_not_patients(cohorts, name):
    drawn = {}
    for n, cohort in cohorts.items():
        fig = FIGURES[name](cohort)
        drawn[n] = marks(fig)
        plt.close(fig)
    assert drawn[config.DEFAULT_N] > 0
    # 14.6 times the patients: one mark per patient would draw 14.6 times the marks. More
    # patients may fill more bins, no more.
    assert drawn[LARGE_N] <= 2 * drawn[config.DEFAULT_N] + 50, drawn


def test_every_figure_of_the_book_is_checked():
    import json
    called = set()
    for path in (config.ROOT / "chapters").glob("*.ipynb"):
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            source = "".join(cell["source"])
            called |= {part.split("(")[0] for part in source.split("figures.")[1:]}
    assert called == set(FIGURES)
