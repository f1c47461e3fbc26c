"""The landing page's plain summary and the plain-language page (cmprehab.report.plain_language):
published numbers where the study published them, natural frequencies out of 100 with their time
frame, icon arrays that match them, no relative risks, and disclosure control on confidential data."""
from __future__ import annotations

import json
import re
import shutil
from dataclasses import replace

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import to_rgba  # noqa: E402

from cmprehab import config, params  # noqa: E402
from cmprehab.data import targets  # noqa: E402
from cmprehab.instruments import INSTRUMENTS  # noqa: E402
from cmprehab.report import figures, plain_language, tables  # noqa: E402

CHAPTERS = config.ROOT / "chapters"


def as_confidential(cohort: pd.DataFrame) -> pd.DataFrame:
    out = cohort.copy()
    out.attrs = {**cohort.attrs, "fingerprint": replace(cohort.attrs["fingerprint"], synthetic=False, seed=None,
                                                        n=None)}
    return out


def markdown_of(name: str) -> list[str]:
    cells = json.loads((CHAPTERS / f"{name}.ipynb").read_text(encoding="utf-8"))["cells"]
    return ["".join(c["source"]) for c in cells if c["cell_type"] == "markdown"]


# --- the landing page -------------------------------------------------------------------

def test_the_summary_quotes_the_published_file_not_the_cohort(default_cohort, tmp_path, monkeypatch):
    """The headline shares are the published ones even where the cohort gives none, and follow
    data/published.csv when it changes (they are read, not typed)."""
    no_discharge = default_cohort.assign(**{f"{stem}_discharge": np.nan for stem in INSTRUMENTS})
    shown = {name: r.text for name, r in plain_language.summary(no_discharge).items()}
    for stem in INSTRUMENTS:
        assert shown[f"{stem}_mcid_discharge_pct"] == f"{targets.value(f'{stem}_mcid_discharge_pct'):.0f} %"
    edited = tmp_path / "published.csv"
    shutil.copy(config.PUBLISHED_TARGETS, edited)
    text = edited.read_text(encoding="utf-8").replace("nprs,mcid_pct,discharge,45,", "nprs,mcid_pct,discharge,47,")
    edited.write_text(text, encoding="utf-8")
    monkeypatch.setattr(config, "PUBLISHED_TARGETS", edited)
    assert plain_language.summary(default_cohort)["nprs_mcid_discharge_pct"].text == "47 %"


def test_the_summary_says_the_patients_are_synthetic_only_when_they_are(default_cohort):
    assert "synthetic" in plain_language.summary(default_cohort)["synthetic_patients"].text
    assert plain_language.summary(as_confidential(default_cohort))["synthetic_patients"].text == ""


def test_the_landing_page_leads_with_a_short_plain_summary_and_its_figure():
    cells = json.loads((CHAPTERS / "00_overview.ipynb").read_text(encoding="utf-8"))["cells"]
    lead = "".join(cells[0]["source"])
    paragraphs = [p for p in lead.split("\n\n") if p.strip() and not p.startswith("#")]
    summary = paragraphs[0]
    assert len(re.findall(r"[.!?](?:\s|$)", summary.replace("{glue:text}`synthetic_patients`", ""))) <= 3
    roles = re.findall(r"\{glue:text\}`([^`]+)`", summary)
    assert {f"{stem}_mcid_discharge_pct" for stem in INSTRUMENTS} <= set(roles)
    assert len(roles) <= 5, roles
    assert "no control group" in summary and "synthetic_patients" in summary
    # The next cell draws the key figure (no other output between it and the summary).
    assert "show_figure(figures.at_a_glance" in "".join(cells[1]["source"])
    assert cells[1]["metadata"]["mystnb"]["figure"]["name"] == "fig-at-a-glance"


def test_the_key_figure_marks_the_published_discharge_shares(default_cohort):
    published = plain_language.published_discharge_shares()
    fig = figures.at_a_glance(tables.mcid(default_cohort), published)
    marks = [c for c in fig.axes[0].collections if c.get_label() == "published, discharge"]
    assert len(marks) == 1
    assert marks[0].get_offsets()[:, 1].tolist() == [published[stem] for stem in INSTRUMENTS]
    plt.close(fig)


# --- the plain-language page --------------------------------------------------------------

def test_of_100_rounds_half_up():
    assert [plain_language.of_100(p) for p in (0, 44.49, 44.5, 61.2, 100)] == [0, 44, 45, 61, 100]


def test_every_frequency_is_out_of_100_with_its_time_frame(default_cohort):
    shares = tables.mcid(default_cohort).set_index(["stem", "timepoint"])["%"]
    results = plain_language.page_results(default_cohort)
    for stem in INSTRUMENTS:
        for time, when in plain_language.PLAIN_WHEN.items():
            text = results[f"plain_{stem}_{time}"].text
            expected = plain_language.of_100(shares[(stem, time)])
            assert re.match(rf"Of 100 patients like these, about {expected}†? ", text), text
            assert when in text and f"about {100 - expected}" in text, text
            assert when in results[f"plain_{stem}_{time}_range"].text


def test_the_page_has_no_relative_risks_or_percentages(default_cohort):
    words = "\n".join(markdown_of("plain_language") + [r.text for r in
                                                        plain_language.page_results(default_cohort).values()])
    for banned in ("risk ratio", "relative risk", "times as likely", "times more likely", "%", "odds"):
        assert banned not in words.lower(), banned
    assert "no comparison group" in words.lower()


def test_the_page_is_in_the_book():
    assert "chapters/plain_language" in (config.ROOT / "_toc.yml").read_text(encoding="utf-8")
    assert "{doc}`plain_language`" in "\n".join(markdown_of("00_overview"))


def coloured_people(ax, colour) -> int:
    """People drawn in `colour` (each is a head and a body)."""
    return sum(1 for p in ax.patches if np.allclose(p.get_facecolor(), to_rgba(colour))) // 2


def test_each_icon_array_draws_its_frequency(default_cohort):
    frame = plain_language.frequencies(default_cohort)
    fig = plain_language.icon_arrays(frame, "discharge")
    rows = frame[frame["timepoint"] == "discharge"].to_dict("records")
    for ax, row, colour in zip(fig.axes, rows, config.PALETTE):
        assert coloured_people(ax, colour) == row["per_100"]
        assert coloured_people(ax, plain_language.NOT_IMPROVED) == 100 - row["per_100"]
    plt.close(fig)


def test_on_confidential_data_a_share_of_too_few_patients_is_not_drawn(default_cohort):
    """Three patients measured on the NPRS at 1 year: the share is withheld, said so, and not drawn."""
    cohort = default_cohort.copy()
    cohort.loc[cohort.index[3:], "nprs_1y"] = np.nan
    cohort = as_confidential(cohort)
    frame = plain_language.frequencies(cohort)
    row = frame[(frame["stem"] == "nprs") & (frame["timepoint"] == "1y")].iloc[0]
    assert not row["shown"] and pd.isna(row["per_100"])
    text = plain_language.page_results(cohort)["plain_nprs_1y"].text
    assert "Of 100" not in text and "too few patients" in text
    fig = plain_language.icon_arrays(frame, "1y")
    assert len(fig.axes[0].patches) == 0 and "not shown" in fig.axes[0].get_title()
    assert len(fig.axes[1].patches) == 200  # the DRI array: 100 people
    plt.close(fig)


def test_on_confidential_data_frequencies_come_from_released_counts(default_cohort):
    cohort = as_confidential(default_cohort)
    released = tables.mcid(cohort).set_index(["stem", "timepoint"])
    for row in plain_language.frequencies(cohort).to_dict("records"):
        share = released.loc[(row["stem"], row["timepoint"])]
        assert row["per_100"] == plain_language.of_100(share["%"])
        assert row["measured"] == share["of"] and share["of"] % params.current().disclosure.k == 0  # released


def test_a_time_point_nobody_was_measured_at_says_so(default_cohort):
    """On synthetic data "no patient"; on confidential data the released label ("<5") says only
    "too few", as disclosure control shows it."""
    cohort = default_cohort.assign(**{f"{stem}_1y": np.nan for stem in INSTRUMENTS})
    for data, said in ((cohort, "no patient was measured"), (as_confidential(cohort), "too few patients")):
        results = plain_language.page_results(data)
        assert said in results["plain_nprs_1y"].text
        assert results["plain_nprs_1y_range"].text == ""
