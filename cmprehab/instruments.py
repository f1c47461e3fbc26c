"""The outcome instruments and time points: one record each, used everywhere.

The schema's column rules, the generator's scales, the analysis (which direction is
an improvement), the figures' axes, the Methods page's words and its citations all
read these records, so an instrument is described in one place only. The MCID a
report applies is a study parameter (`params.yml`); the record holds the thresholds
reported in the literature, which say where an MCID of a given size comes from, each
with its anchor (`ANCHORS`: minimal improvement, much improved, substantial improvement),
and the smallest detectable change where the literature gives one (`DetectableChange`).
"""
from __future__ import annotations

from dataclasses import dataclass


#: The anchors of clinically important change: what patients rated their change as when a threshold
#: was derived, one word each everywhere in the book (tables, Methods, glossary). "minimal": the
#: smallest change patients perceive as beneficial ("a little better", the MCID proper); "much
#: improved": a moderate change ("much better" or "much improved" on a global rating of change,
#: IMMPACT's "moderately important"); "substantial": IMMPACT's benchmark (about 50 % less pain).
ANCHORS: dict[str, str] = {
    "minimal": "minimal improvement",
    "much improved": "much improved (moderate)",
    "substantial": "substantial improvement",
}


@dataclass(frozen=True)
class LiteratureMcid:
    """A threshold reported in the literature, at which the threshold sensitivity shows the share.

    definition: "absolute" (value in the scale's units), "percent" (value in % of the start
    value) or "sd" (value x the standard deviation of the start values, computed from the
    data: a distribution-based threshold, applied as an absolute one).
    anchor: which change the threshold stands for (a key of `ANCHORS`): thresholds of different
    anchors answer different questions, so a range across them says which anchors it mixes.
    """
    value: float
    definition: str
    citation: str             # who reported it, in words (the anchor is added by `source`)
    anchor: str
    cite: str | None = None   # citation key (references.bib)

    def __post_init__(self):
        if self.definition not in ("absolute", "percent", "sd"):
            raise ValueError(f"definition must be 'absolute', 'percent' or 'sd', not {self.definition!r}")
        if not self.value > 0:
            raise ValueError(f"a threshold must be positive, got {self.value!r}")
        if self.anchor not in ANCHORS:
            raise ValueError(f"anchor must be one of {sorted(ANCHORS)}, not {self.anchor!r}")

    @property
    def source(self) -> str:
        """Who reported it and its anchor: 'Salaffi et al. 2004: minimal improvement'."""
        return f"{self.citation}: {ANCHORS[self.anchor]}"


@dataclass(frozen=True)
class DetectableChange:
    """A smallest detectable change (measurement error) reported in the literature, in the scale's units."""
    value: float
    source: str
    cite: str | None = None


@dataclass(frozen=True)
class Instrument:
    stem: str                 # column stem: <stem>_start, <stem>_discharge, <stem>_1y
    short: str                # abbreviation in tables and figures
    name: str                 # full name of the instrument
    construct: str            # what it measures, in the study's words
    lo: float                 # scale minimum
    hi: float                 # scale maximum
    unit: str                 # unit of the scale ("points", "mm")
    decimals: int             # decimals it is recorded with
    higher_is_better: bool
    lo_means: str             # what the scale minimum means
    hi_means: str             # what the scale maximum means
    cite: str | None          # citation key of the instrument (references.bib)
    literature: tuple[LiteratureMcid, ...] = ()  # thresholds reported elsewhere, for sensitivity
    #: The smallest detectable change reported in the literature, if any was found.
    detectable: DetectableChange | None = None

    def mcid_basis(self, threshold: float, definition: str) -> tuple[str, str | None]:
        """Where an MCID of this size comes from, in words, and its citation key: the reported
        threshold it equals, else this project's assumption (the MCID itself is a study parameter)."""
        for reported in self.literature:
            if (reported.value, reported.definition) == (threshold, definition):
                return reported.source, reported.cite
        if any(reported.definition != "sd" for reported in self.literature):
            return "this project's assumption", None
        return f"this project's assumption, as no MCID of the {self.short} has been published", None

    def anchored(self, anchor: str) -> LiteratureMcid | None:
        """The literature threshold this book quotes for `anchor` (the first one listed, an absolute or
        SD-based one before a percentage), or None when no threshold of that anchor is listed."""
        if anchor not in ANCHORS:
            raise ValueError(f"anchor must be one of {sorted(ANCHORS)}, not {anchor!r}")
        found = [t for t in self.literature if t.anchor == anchor]
        found.sort(key=lambda t: t.definition == "percent")  # stable: keeps the listed order otherwise
        return found[0] if found else None

    def mcid_anchor(self, threshold: float, definition: str) -> str | None:
        """The anchor of an MCID of this size, when it equals a reported threshold (else None)."""
        for reported in self.literature:
            if (reported.value, reported.definition) == (threshold, definition):
                return reported.anchor
        return None

    @property
    def direction(self) -> int:
        """+1 when an increase is an improvement, -1 when a decrease is."""
        return 1 if self.higher_is_better else -1

    @property
    def scale(self) -> str:
        return f"{self.lo:g}–{self.hi:g}"

    @property
    def label(self) -> str:
        """'Pain (NPRS, 0–10)': construct, abbreviation and scale."""
        unit = f" {self.unit}" if self.unit == "mm" else ""
        return f"{self.construct} ({self.short}, {self.scale}{unit})"

    @property
    def better(self) -> str:
        return "higher" if self.higher_is_better else "lower"

    @property
    def improvement(self) -> str:
        """The word for an improvement on this scale."""
        return "increase" if self.higher_is_better else "decrease"


INSTRUMENTS: dict[str, Instrument] = {i.stem: i for i in (
    Instrument("nprs", "NPRS", "Numeric Pain Rating Scale", "Pain", 0, 10, "points", 0, False,
               "no pain", "worst imaginable pain", None,
               (LiteratureMcid(1, "absolute", "Salaffi et al. 2004", "minimal", "salaffi2004"),
                LiteratureMcid(2, "absolute", "Farrar et al. 2001, Salaffi et al. 2004, Ostelo et al. 2008",
                               "much improved", "farrar2001"),
                LiteratureMcid(15, "percent", "Salaffi et al. 2004", "minimal", "salaffi2004"),
                LiteratureMcid(30, "percent", "Farrar et al. 2001, Ostelo et al. 2008", "much improved",
                               "farrar2001"),
                LiteratureMcid(33, "percent", "Salaffi et al. 2004 (\"much better\")", "much improved",
                               "salaffi2004"),
                LiteratureMcid(50, "percent", "IMMPACT (Dworkin et al. 2008)", "substantial", "dworkin2008")),
               DetectableChange(2, "Childs et al. 2005, in low back pain (standard error of measurement 1.02 points)",
                                "childs2005")),
    Instrument("dri", "DRI", "Disability Rating Index, the mean of 12 visual analogue scales", "Disability", 0, 100, "mm", 1, False,
               "no difficulty", "cannot do at all", "salen1994",
               (LiteratureMcid(0.5, "sd", "half the baseline SD (distribution-based; no published MCID of the "
                                          "DRI)", "minimal", "norman2003"),)),
    Instrument("eqvas", "EQ-VAS", "EQ-5D visual analogue scale", "Overall health", 0, 100, "mm", 0, True,
               "worst imaginable health", "best imaginable health", "euroqol1990",
               (LiteratureMcid(7, "absolute", "Pickard et al. 2007, lower end of the range", "minimal",
                               "pickard2007"),
                LiteratureMcid(8, "absolute", "Zanini et al. 2015 (COPD rehabilitation)", "minimal", "zanini2015"),
                LiteratureMcid(10, "absolute", "Pickard et al. 2007, upper end of the range", "minimal",
                               "pickard2007"))),
)}


@dataclass(frozen=True)
class TimePoint:
    key: str          # column suffix
    label: str        # in tables and figures
    when: str         # in sentences and the data dictionary


TIMEPOINTS: dict[str, TimePoint] = {t.key: t for t in (
    TimePoint("start", "Start", "at the start of rehabilitation"),
    TimePoint("discharge", "Discharge", "at discharge"),
    TimePoint("1y", "1 year", "1 year after discharge"),
)}
#: The time points at which change from the start is measured.
LATER = ("discharge", "1y")


def stems(chosen=None) -> list[str]:
    """The instruments' stems (all, in the order of INSTRUMENTS, when `chosen` is None); an
    unknown one is a KeyError naming the known ones."""
    chosen = list(INSTRUMENTS) if chosen is None else list(chosen)
    unknown = [s for s in chosen if s not in INSTRUMENTS]
    if unknown:
        raise KeyError(f"unknown instrument(s) {unknown}; known: {sorted(INSTRUMENTS)}")
    return chosen
