"""Unit tests of the book's tables (cmprehab.tables), figures (cmprehab.figures) and
notebook plumbing (cmprehab.book), on the committed cohort and small variations of it."""
from __future__ import annotations

import base64
import io
import math
import re

import matplotlib

matplotlib.use("Agg")  # before pyplot is imported anywhere

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from cmprehab import config, markdown, params  # noqa: E402
from cmprehab.analysis.derive import derive  # noqa: E402
from cmprehab.instruments import INSTRUMENTS, LATER, TIMEPOINTS  # noqa: E402
from cmprehab.report import book, disclosure, figures, follow_up, plain_language, results, sensitivity, tables  # noqa: E402

STEMS = list(INSTRUMENTS)
LATER = ("discharge", "1y")


@pytest.fixture(scope="module")
def cohort(default_cohort):
    return default_cohort


@pytest.fixture(scope="module")
def mcid_table(cohort):
    return tables.mcid(cohort)


def both_present(cohort, stem, time):
    return cohort[f"{stem}_start"].notna() & cohort[f"{stem}_{time}"].notna()


def direct_mcid_count(cohort, stem, time, threshold):
    """Patients whose direction-adjusted improvement is at least `threshold` (tolerance for
    binary floating point, e.g. 32.3 - 22.3 must count as 10)."""
    mask = both_present(cohort, stem, time)
    improvement = INSTRUMENTS[stem].direction * (cohort.loc[mask, f"{stem}_{time}"] - cohort.loc[mask, f"{stem}_start"])
    return int((improvement >= threshold - 1e-9).sum())


# --- interventions ----------------------------------------------------------------

def test_interventions_in_published_order_with_counts_from_the_columns(cohort):
    table = tables.interventions(cohort)
    assert table["category"].tolist() == list(config.INTERVENTIONS.values())
    for row, column in zip(table.itertuples(index=False), config.INTERVENTIONS):
        assert row.n == int(cohort[column].sum())
        assert row.of == int(cohort[column].notna().sum())
    assert np.allclose(table["%"], 100 * table["n"] / table["of"])
    assert (table["CI low"] <= table["%"]).all() and (table["%"] <= table["CI high"]).all()
    assert table["CI low"].ge(0).all() and table["CI high"].le(100).all()


def test_interventions_follow_the_data(cohort):
    changed = cohort.copy()
    column = next(iter(config.INTERVENTIONS))
    changed[column] = 0
    table = tables.interventions(changed)
    assert table.loc[0, "n"] == 0 and table.loc[0, "%"] == 0
    assert table.loc[1:, "n"].tolist() == tables.interventions(cohort).loc[1:, "n"].tolist()


def test_interventions_per_patient_adds_up(cohort):
    table = tables.interventions_per_patient(cohort)
    received = cohort[list(config.INTERVENTIONS)].sum(axis=1)
    assert table["patients"].sum() == len(cohort)
    assert math.isclose(table["%"].sum(), 100)
    for row in table.itertuples(index=False):
        assert row[1] == int((received == row[0]).sum())


def test_program_matches_pandas(cohort):
    table = tables.program(cohort)
    sessions = table.loc["Sessions"]
    assert sessions["n"] == cohort["n_sessions"].notna().sum()
    assert sessions["median"] == cohort["n_sessions"].median()
    assert sessions["Q1"] <= sessions["median"] <= sessions["Q3"]
    months = table.loc["Program length, months"]
    assert math.isclose(months["median"], cohort["program_days"].median() / config.DAYS_PER_MONTH)


# --- outcomes ---------------------------------------------------------------------

def test_follow_up_counts_equal_non_missing_counts(cohort):
    table = tables.follow_up(cohort)
    assert table.index.tolist() == [i.short for i in INSTRUMENTS.values()]
    assert table.columns.tolist() == [t.label for t in TIMEPOINTS.values()]
    for stem, instrument in INSTRUMENTS.items():
        for time, point in TIMEPOINTS.items():
            assert table.loc[instrument.short, point.label] == cohort[f"{stem}_{time}"].notna().sum()
    # The committed cohort loses patients to follow-up, so these counts are not all n.
    assert (table["1 year"] < len(cohort)).all()


def test_outcomes_over_time_matches_pandas(cohort):
    table = tables.outcomes_over_time(cohort)
    assert len(table) == len(INSTRUMENTS) * len(TIMEPOINTS)
    rows = iter(table.itertuples(index=False))
    for stem in INSTRUMENTS:
        for time in TIMEPOINTS:
            row = next(rows)
            values = cohort[f"{stem}_{time}"]
            assert row.n == values.notna().sum()
            assert math.isclose(row.median, values.median())
            assert row.Q1 <= row.median <= row.Q3


def test_mcid_denominators_are_patients_with_both_values(cohort, mcid_table):
    assert len(mcid_table) == len(STEMS) * len(LATER)
    for row in mcid_table.itertuples(index=False):
        assert row.of == both_present(cohort, row.stem, row.timepoint).sum()


def test_mcid_reached_equals_a_direct_count_with_the_parameters(cohort, mcid_table):
    for row in mcid_table.to_dict("records"):
        threshold = params.current().mcid[row["stem"]].threshold
        assert row["reached"] == direct_mcid_count(cohort, row["stem"], row["timepoint"], threshold)
        assert math.isclose(row["%"], 100 * row["reached"] / row["of"])
        assert row["CI low"] < row["%"] < row["CI high"]


def test_mcid_counts_a_change_of_exactly_the_threshold(cohort):
    """32.3 -> 42.3 on the EQ-VAS is +10 on paper but 9.999999999999996 in floats."""
    changed = cohort.copy()
    first = changed.index[both_present(changed, "eqvas", "discharge")][0]
    changed.loc[first, ["eqvas_start", "eqvas_discharge"]] = [32.3, 42.3]
    before = tables.mcid(changed.assign(eqvas_discharge=changed["eqvas_discharge"].where(changed.index != first, 42.2)),
                         params.DEFAULTS)
    after = tables.mcid(changed, params.DEFAULTS)
    row = (after["stem"] == "eqvas") & (after["timepoint"] == "discharge")
    assert after.loc[row, "reached"].item() == before.loc[row, "reached"].item() + 1


@pytest.mark.parametrize("stem", STEMS)
def test_a_stricter_threshold_never_reaches_more_patients(cohort, mcid_table, stem):
    default = params.DEFAULTS.mcid[stem].threshold
    instrument = INSTRUMENTS[stem]
    thresholds = sorted({0.01, default / 2, default, default * 2, float(instrument.hi - instrument.lo) + 1})
    baseline = tables.mcid(cohort, params.DEFAULTS)
    for time in LATER:
        reached = []
        for threshold in thresholds:
            table = tables.mcid(cohort, params.DEFAULTS.updated({f"mcid.{stem}.threshold": threshold}))
            row = table[(table["stem"] == stem) & (table["timepoint"] == time)].iloc[0]
            assert row["MCID"] == params.McidRule(threshold=threshold).describe(instrument.unit)
            assert row["of"] == both_present(cohort, stem, time).sum()  # the denominator does not move
            assert row["reached"] == direct_mcid_count(cohort, stem, time, threshold)
            reached.append(int(row["reached"]))
            # the other measures keep their thresholds
            others = table[table["stem"] != stem]
            assert others["reached"].tolist() == baseline[baseline["stem"] != stem]["reached"].tolist()
        assert reached == sorted(reached, reverse=True), f"{stem} {time}: {list(zip(thresholds, reached))}"
        assert reached[0] > reached[-1] == 0


def test_a_percent_definition_counts_relative_improvement(cohort):
    table = tables.mcid(cohort, params.DEFAULTS.updated({"mcid.nprs.threshold": 30, "mcid.nprs.definition": "percent"}))
    row = table[(table["stem"] == "nprs") & (table["timepoint"] == "discharge")].iloc[0]
    both = cohort[["nprs_start", "nprs_discharge"]].dropna()
    start = both["nprs_start"]
    gain = start - both["nprs_discharge"]
    by_hand = int(((start > 0) & (100 * gain / start.where(start > 0) >= 30 - 1e-9)).sum())
    assert row["MCID"] == "30 %" and row["reached"] == by_hand


def test_change_tests_pairs_and_p_values(cohort):
    table = tables.change_tests(cohort)
    assert len(table) == len(STEMS) * len(LATER)
    rows = iter(table.itertuples(index=False))
    for stem in STEMS:
        for time in LATER:
            row = next(rows)
            assert row.pairs == both_present(cohort, stem, time).sum()
            assert 0 <= row.p <= 1
            assert -1 <= row[-1] <= 1  # rank-biserial r


# --- The baseline table -----------------------------------------------------------------------

def baseline_missing(frame: pd.DataFrame) -> dict[str, int]:
    """Characteristic (as labelled) -> Missing, for the first row of each variable."""
    named = frame[frame["Characteristic"] != ""]
    return dict(zip(named["Characteristic"], named["Missing"].astype(int)))


def row_for(missing: dict[str, int], label: str, kind: str) -> str:
    key = label.replace("Age", "Age range") if kind == "range" else label
    matches = [name for name in missing if name.startswith(key + ",")]
    assert len(matches) == 1, f"{key!r}: rows {matches} in {list(missing)}"
    return matches[0]


def test_baseline_table_has_one_row_per_variable_and_real_missing_counts(cohort):
    frame = tables.baseline_table(cohort)
    assert frame.columns.tolist()[:3] == ["Characteristic", "Level", "Missing"]
    assert str(len(cohort)) in frame.columns[3]
    missing = baseline_missing(frame)
    assert len(missing) == len(tables.BASELINE_ROWS)
    data = derive(cohort)
    for column, label, kind in tables.BASELINE_ROWS:
        source = "age" if column == "age_range" else column
        assert missing[row_for(missing, label, kind)] == data[source].isna().sum(), label
    # The committed cohort has missing values, so the check above is not only 0 == 0.
    assert sum(missing.values()) > 0


def test_baseline_missing_follows_the_data(cohort):
    changed = cohort.copy()
    changed.loc[changed.index[:7], "bmi"] = np.nan
    missing = baseline_missing(tables.baseline_table(changed))
    assert missing[row_for(missing, "BMI, kg/m²", "mean")] == 7


def test_baseline_table_lists_every_category_level(cohort):
    frame = tables.baseline_table(cohort)
    levels = set(frame["Level"])
    for variable in ("pain_distribution", "main_pain_location"):
        assert {config.CATEGORY_LABELS[c] for c in config.CATEGORIES[variable]} <= levels


def test_outcome_results_quote_the_mcid_table(cohort, mcid_table):
    quoted = results.outcomes(cohort)
    assert quoted["n_patients"].text == str(len(cohort))
    assert quoted["n_1y"].value == cohort[[f"{s}_1y" for s in STEMS]].notna().any(axis=1).sum()
    for row in mcid_table.to_dict("records"):
        prefix = f"mcid_{row['stem']}_{row['timepoint']}"
        assert quoted[f"{prefix}_k"].value == row["reached"] and quoted[f"{prefix}_n"].value == row["of"]
        assert quoted[prefix].value == row["%"]
        # On the synthetic cohort an unpublished share (1 year) carries a dagger.
        dagger = results.DAGGER if row["timepoint"] == "1y" else ""
        assert quoted[prefix].text == (f"{round(row['%'])} %{dagger} ({params.current().ci_label} "
                                       f"{round(row['CI low'])}–{round(row['CI high'])} %)")


def test_results_are_plain_python_values(cohort):
    for page in (results.overview, results.baseline, results.interventions, results.outcomes, results.audit,
                 results.conclusions, results.methods, results.aims):
        for result in page(cohort).values():
            assert result.value is None or type(result.value) in (int, float, str), (result.name, type(result.value))
            assert isinstance(result.text, str) and result.text and "nan" not in result.text, result


@pytest.mark.parametrize("intervals, words", [
    ([(40, 55), (45, 60), (48, 51)], "every confidence interval includes 50 %"),
    ([(20, 39), (30, 49.9)], "fewer than half"),
    ([(50.1, 70), (61, 80)], "more than half"),
    ([(40, 55), (55, 70)], "differs by measure"),
    ([], "not available")])
def test_describe_share_follows_the_intervals(intervals, words):
    assert words in tables.describe_share(intervals)


# --- figures -----------------------------------------------------------------------

@pytest.fixture
def close_figures():
    yield
    plt.close("all")


@pytest.mark.usefixtures("close_figures")
@pytest.mark.filterwarnings("error")  # a warning would print onto the page (stderr under the figure)
@pytest.mark.parametrize("make, n_axes", [
    (lambda c: figures.baseline_distributions(c), 4),
    (lambda c: figures.interventions(tables.interventions(c)), 1),
    (lambda c: figures.program(c), 2),
    (lambda c: figures.mcid(tables.mcid(c)), 1),
    (lambda c: figures.outcomes_over_time(tables.outcomes_over_time(c)), len(INSTRUMENTS)),
    (lambda c: figures.at_a_glance(tables.mcid(c), plain_language.published_discharge_shares()), 1),
    (lambda c: figures.participant_flow(follow_up.flow(c)), 1),
    (lambda c: figures.missing_data(follow_up.missing_data(c)), 1),
    (lambda c: figures.threshold_curves(sensitivity.curves(c), sensitivity.literature(c)), len(INSTRUMENTS)),
    (lambda c: figures.trajectories(sensitivity.trajectories(c)), len(INSTRUMENTS)),
], ids=["baseline_distributions", "interventions", "program", "mcid", "outcomes_over_time", "at_a_glance",
        "participant_flow", "missing_data", "threshold_curves", "trajectories"])
def test_figure_functions_return_a_figure(cohort, make, n_axes):
    fig = make(cohort)
    assert isinstance(fig, matplotlib.figure.Figure)
    assert len(fig.axes) == n_axes
    fig.canvas.draw()  # renders without error on Agg


@pytest.mark.usefixtures("close_figures")
def test_interventions_figure_lists_categories_top_down_in_published_order(cohort):
    fig = figures.interventions(tables.interventions(cohort))
    ax = fig.axes[0]
    ticks = sorted(zip(ax.get_yticks(), (t.get_text().replace("\n", " ") for t in ax.get_yticklabels())),
                   reverse=True)
    assert [label for _, label in ticks] == list(config.INTERVENTIONS.values())


@pytest.mark.usefixtures("close_figures")
def test_mcid_figure_has_a_bar_per_measure_and_time(mcid_table):
    fig = figures.mcid(mcid_table)
    heights = sorted(round(p.get_height(), 9) for p in fig.axes[0].patches)
    assert heights == sorted(round(v, 9) for v in mcid_table["%"])


# --- book plumbing ------------------------------------------------------------------

@pytest.mark.parametrize("p, text", [
    (0.00001, "< 0.0001"), (0.0, "< 0.0001"), (0.0001, "0.0001"), (0.012345, "0.012"),
    (0.5, "0.5"), (1.0, "1"), (float("nan"), ""), (None, "")])
def test_format_p(p, text):
    assert book.format_p(p) == text


def test_markdown_table_layout_and_decimals():
    frame = pd.DataFrame({"name": ["a|b", "c"], "n": [1, 20], "x": [1.25, math.nan], "y": [0.123456, 2.0]})
    lines = markdown.table(frame, decimals={"x": 1, "y": 3}).splitlines()
    assert lines[0] == "| name | n | x | y |"
    assert lines[1] == "|---|--:|--:|--:|"  # text left, numbers right
    assert lines[2] == r"| a\|b | 1 | 1.2 | 0.123 |"
    assert lines[3] == "| c | 20 |  | 2.000 |"
    assert len(lines) == 2 + len(frame)
    assert markdown.table(frame, decimals=0).splitlines()[3].endswith("| 2 |")


def test_markdown_table_keeps_a_named_index():
    table = tables.follow_up(pd.DataFrame({f"{s}_{t}": [1.0, None] for s in STEMS for t in TIMEPOINTS}),
                             policy=disclosure.SHOW_ALL)
    lines = markdown.table(table, 0).splitlines()
    assert lines[0].startswith("| measure | Start |")
    assert lines[2] == "| NPRS | 1 | 1 | 1 |"


@pytest.fixture
def shown(monkeypatch):
    captured = []
    monkeypatch.setattr(book, "display", captured.append)
    return captured


@pytest.mark.parametrize("name", ["table", "tbl_x", "fig-x", "tbl-A", "tbl-", "tbl-x y", " tbl-x"])
def test_show_table_rejects_bad_names(shown, name):
    with pytest.raises(ValueError, match="tbl-"):
        book.show_table(pd.DataFrame({"a": [1]}), name, "caption")
    assert not shown


def test_show_table_writes_a_numbered_table_with_a_csv_link(shown, default_cohort, monkeypatch):
    monkeypatch.setattr(book, "_fingerprint", default_cohort.attrs["fingerprint"])
    frame = pd.DataFrame({"measure": ["NPRS"], "%": [44.8276]})
    book.show_table(frame, "tbl-some-name-2", "A caption.", decimals=1)
    text = shown[0].data
    assert text.startswith(":::{table} A caption.\n:name: tbl-some-name-2\n")
    assert "| NPRS | 44.8 |" in text
    short = default_cohort.attrs["fingerprint"].short
    link = re.search(rf'download="some-name-2-synthetic-{short}.csv" href="data:text/csv;base64,([^"]+)"', text)
    # A tidy CSV: the header first, named columns, no index column, the numbers as computed.
    assert link and base64.b64decode(link.group(1)).decode("utf-8") == "measure,%\nNPRS,44.8276\n"
    assert pd.read_csv(io.StringIO(base64.b64decode(link.group(1)).decode())).equals(frame)
    # What the file is goes in a README beside it: the data it comes from and the caption.
    readme = re.search(rf'download="some-name-2-synthetic-{short}-README.txt" href="data:text/plain;base64,([^"]+)"',
                       text)
    assert readme and f"Synthetic data, SHA-256 {short}" in base64.b64decode(readme.group(1)).decode("utf-8")
    assert "Table: A caption." in base64.b64decode(readme.group(1)).decode("utf-8")


def test_a_csv_download_names_its_row_labels_and_holds_p_as_a_number(shown, default_cohort, monkeypatch):
    monkeypatch.setattr(book, "_fingerprint", default_cohort.attrs["fingerprint"])
    frame = pd.DataFrame({"W": [10.0, 3.0], "p": [2e-16, 0.031]}, index=pd.Index(["NPRS", "DRI"], name="measure"))
    shown_frame = frame.assign(p=frame["p"].map(book.format_p))
    book.show_table(shown_frame, "tbl-change", "Change.", decimals={"W": 0, "p": 4})
    text = shown[0].data
    assert "| NPRS | 10 | < 0.0001 |" in text   # the page shows p as journals print it
    payload = re.search(r'href="data:text/csv;base64,([^"]+)"', text).group(1)
    read = pd.read_csv(io.StringIO(base64.b64decode(payload).decode("utf-8")))
    assert list(read.columns) == ["measure", "W", "p"]
    assert read["p"].tolist() == [2e-16, 0.031] and read["measure"].tolist() == ["NPRS", "DRI"]


def test_show_table_without_csv(shown):
    book.show_table(pd.DataFrame({"a": [1]}), "tbl-x", "Caption", csv=False)
    assert "download=" not in shown[0].data and ":name: tbl-x" in shown[0].data


def test_glue_passes_plain_python_values(monkeypatch):
    import myst_nb

    glued = {}
    monkeypatch.setattr(myst_nb, "glue", lambda name, value, display=True: glued.update({name: (value, display)}))
    book.glue("count", np.int64(3))
    book.glue("share", np.float64(0.5))
    book.glue("text", "x")
    assert glued == {"count": (3, False), "share": (0.5, False), "text": ("x", False)}
    assert type(glued["count"][0]) is int and type(glued["share"][0]) is float


def test_a_table_not_made_from_the_data_downloads_as_it_is(shown, monkeypatch):
    monkeypatch.setattr(book, "_fingerprint", None)
    frame = pd.DataFrame({"column": ["age"], "type": ["integer"]})
    book.show_table(frame, "tbl-data-dictionary", "Columns.")
    link = re.search(r'download="data-dictionary.csv" href="data:text/csv;base64,([^"]+)"', shown[0].data)
    assert link and base64.b64decode(link.group(1)).decode("utf-8") == frame.to_csv(index=False)
    assert "README" not in shown[0].data  # nothing to say about data it does not come from
