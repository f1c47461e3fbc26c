"""How faithful a cohort is to what is known: a table of every calibration target and whether it is met.

    python -m cmprehab.report.fidelity [cohort.csv]

Three kinds of target (the column `kind`):

* published, reproduced exactly: every number of data/published.csv at its published
  precision (one row summarising the reproduction audit, `report.audit.audit`);
* calibrated approximately to a published value: the follow-on paper's univariable risk
  ratios (Bondesson et al. 2023), expressed on this schema with stand-in outcomes and
  cut-points chosen by this project (`RISK_RATIOS`), must have the published direction and
  lie inside the published 95 % confidence interval;
* invented where the publications are silent: how change scores are shaped around every
  MCID threshold, how changes go together across measures and over time, that worse
  starting values improve more, that every row is coherent, that the tails are plausible,
  and that loss to follow-up depends on baseline characteristics. The acceptance ranges
  are this project's; each row states its range.

The MCID thresholds used here are the generator's calibration thresholds
(`calibration_mcid_*` rows of data/published.csv), never the reader's study parameters: the
report describes the synthetic cohort as it was built, whatever threshold a reader chooses
for the analysis. On real data the report is still meaningful (the rows describe the data),
but it was designed to keep the generator honest.
"""
from __future__ import annotations

import math
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats as _scipy_stats

from .. import config
from ..markdown import table
from ..memo import per_cohort
from .. import params as study
from ..analysis.stats import mcid_reached, round_half_up
from ..data import targets as targets_file
from ..data.schema import CROSS_FIELD_RULES, LATER_NEEDS_START
from ..instruments import INSTRUMENTS
from ..analysis.calibration import RISK_RATIOS, RiskRatio, calibration_thresholds, exposure_groups
from ..analysis.predictors import NOT_EXPRESSIBLE, STAND_IN_OUTCOMES
from . import audit as reproduction
from . import disclosure

KIND_EXACT = "published, reproduced exactly"
KIND_APPROXIMATE = "calibrated approximately to a published value"
KIND_INVENTED = "invented where the publications are silent"
#: A published result whose outcome the cohort's columns cannot express.
KIND_NOT_EXPRESSIBLE = "published, cannot be expressed on this schema"



#: Width of the bands compared around each MCID threshold (scale units).
BAND_WIDTH = {"nprs": 1.0, "dri": 5.0, "eqvas": 5.0}
#: A band beside the threshold is "depleted" below this share of the mean of its two neighbours.
DEPLETION = 0.5
#: Share of patients who worsen by at least the MCID, in percent (a realistic minority).
DETERIORATION_PCT = (2.0, 15.0)
#: Minimum Spearman correlations of raw changes (same time point): pain and disability go
#: together, health moves the opposite way.
CROSS_MEASURE_MIN = {("nprs", "dri"): 0.30, ("nprs", "eqvas"): -0.20, ("dri", "eqvas"): -0.20}
#: Minimum Spearman correlation of a patient's change at discharge with the change at 1 year.
WITHIN_PATIENT_MIN = 0.40
#: Minimum Spearman correlation of a worse start with a larger improvement.
SEVERITY_MIN = 0.15
#: Largest share (percent) of patients whose pain began before age 12 ("well under 1 %").
CHILDHOOD_ONSET_MAX_PCT = 0.5
CHILDHOOD_AGE = 12
#: Plausible 90th and 99th percentiles, (low, high) each.
TAILS = {
    "n_sessions": ("Sessions", "", {90: (15, 30), 99: (25, 60)}),
    "program_months": ("Program length", " months", {90: (9, 18), 99: (14, 36)}),
    "pain_duration_years": ("Pain duration", " years", {90: (8, 20), 99: (15, 40)}),
}
#: At most this many sessions a week on average over the program (patients with two or more).
MAX_SESSIONS_PER_WEEK = 2.0
#: Loss to follow-up: baseline variables compared between patients lost and measured at 1 year.
LOSS_VARIABLES = ["age", "female", "bmi", "smoker", "pain_duration_years", "nprs_start", "dri_start",
                  "eqvas_start", "anxiety_depression", "n_sessions", "program_months"]
LOSS_SMD = 0.1       # an |SMD| above this counts as an imbalance (as follow_up.smd_flag's default)
LOSS_MIN_VARIABLES = 2
LOSS_ALPHA = 0.05    # the joint likelihood-ratio test of a logistic model of loss must reach this


@dataclass(frozen=True)
class RiskRatioResult:
    k_exposed: int
    n_exposed: int
    k_reference: int
    n_reference: int

    @property
    def rr(self) -> float:
        if not self.n_exposed or not self.n_reference or not self.k_reference:
            return math.nan
        return (self.k_exposed / self.n_exposed) / (self.k_reference / self.n_reference)


def risk_ratio(cohort: pd.DataFrame, spec: RiskRatio, thresholds: dict[str, float] | None = None) -> RiskRatioResult:
    """Crude 2×2 risk ratio among the patients with the (stand-in) outcome measured."""
    thresholds = calibration_thresholds() if thresholds is None else thresholds
    stem = spec.measure
    reached = mcid_reached(cohort[f"{stem}_start"], cohort[f"{stem}_1y"], stem, threshold=thresholds[stem])
    measured = reached.notna().to_numpy()
    hit = reached.fillna(False).to_numpy(dtype=bool)
    exposed, reference = exposure_groups(cohort, spec.key)
    return RiskRatioResult(int((hit & exposed & measured).sum()), int((exposed & measured).sum()),
                           int((hit & reference & measured).sum()), int((reference & measured).sum()))


# --------------------------------------------------------------------------
# The report
# --------------------------------------------------------------------------

def _improvement(cohort: pd.DataFrame, stem: str, time: str) -> pd.Series:
    """Direction-adjusted improvement (positive = better), among patients with both values."""
    change = cohort[f"{stem}_{time}"].astype(float) - cohort[f"{stem}_start"].astype(float)
    return (INSTRUMENTS[stem].direction * change).round(6).dropna()


def _spearman(a: pd.Series, b: pd.Series) -> float:
    both = pd.concat([a, b], axis=1).dropna()
    if len(both) < 3:
        return math.nan
    return float(_scipy_stats.spearmanr(both.iloc[:, 0], both.iloc[:, 1])[0])


def _pct(x: float) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.1f} %"


def _short(stem: str) -> str:
    return INSTRUMENTS[stem].short


_TIME_WORDS = {"discharge": "at discharge", "1y": "at 1 year"}


def _band_counts(improvement: pd.Series, threshold: float, width: float) -> list[int]:
    """Patients in [thr-2w, thr-w), [thr-w, thr), [thr, thr+w), [thr+w, thr+2w)."""
    edges = [threshold + j * width for j in (-2, -1, 0, 1, 2)]
    return [int(((improvement >= lo - 1e-9) & (improvement < hi - 1e-9)).sum()) for lo, hi in zip(edges, edges[1:])]


def band_ok(counts: list[int]) -> bool:
    """No empty band, and neither band beside the threshold depleted relative to its neighbours."""
    below2, below, at, above = counts
    return (min(counts) > 0 and below >= DEPLETION * (below2 + at) / 2
            and at >= DEPLETION * (below + above) / 2)


def _loss_test(frame: pd.DataFrame, lost: pd.Series) -> float:
    """p-value of the likelihood-ratio test of a logistic model of loss on the baseline variables."""
    from statsmodels.discrete.discrete_model import Logit
    from statsmodels.tools.tools import add_constant

    x = frame[LOSS_VARIABLES].astype(float)
    keep = x.notna().all(axis=1)
    x = x[keep]
    x = (x - x.mean()) / x.std(ddof=0).replace(0, 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            fit = Logit(lost[keep].astype(float), add_constant(x)).fit(disp=0, maxiter=200)
        except Exception:  # noqa: BLE001 - separation or a singular design: no evidence either way
            return math.nan
    return float(fit.llr_pvalue)


def _audit_at_calibration(cohort: pd.DataFrame, thresholds: dict[str, float]) -> pd.DataFrame:
    """The audit with every MCID share computed under the calibration thresholds, everything shown.

    The book's audit follows the reader's study parameters; the generator is judged by its own thresholds.
    """
    calibrated = study.DEFAULTS.updated({f"mcid.{stem}.{key}": value for stem, threshold in thresholds.items()
                                         for key, value in (("threshold", threshold), ("definition", "absolute"))})
    return reproduction.audit(cohort, params=calibrated, policy=disclosure.SHOW_ALL)


@per_cohort
def fidelity_report(cohort: pd.DataFrame, thresholds: dict[str, float] | None = None) -> pd.DataFrame:
    """One row per calibration target: criterion, kind, source, target, measured, met.

    `cohort` is a loaded cohort (`cohort.load_cohort`) or any frame with the schema's columns.
    `met` is True/False, or <NA> for a published result this schema cannot express.
    """
    thresholds = calibration_thresholds() if thresholds is None else thresholds
    rows: list[dict] = []

    def add(criterion, kind, source, target, measured, met):
        rows.append({"criterion": criterion, "kind": kind, "source": source, "target": target,
                     "measured": measured, "met": met})

    # Published numbers (and this project's unpublished targets) reproduced exactly.
    audit = _audit_at_calibration(cohort, thresholds)
    targets = targets_file.load_targets().set_index("key")
    statistic = audit["key"].map(targets["statistic"])
    assumed = audit["key"].map(targets["assumption"]).astype(bool)
    computed = audit["computed"].notna() & statistic.ne("calibration")
    pub = audit[computed & ~assumed]
    matches = int((pub["status"] == reproduction.STATUS_MATCH).sum())
    differs = pub.loc[pub["status"] != reproduction.STATUS_MATCH, "key"].tolist()
    add("Every published number (baseline, interventions, design, discharge MCID shares)", KIND_EXACT,
        "P; A; T1; T2", "each equals the published value at its published precision",
        f"{matches} of {len(pub)} match" + (f"; differ: {', '.join(differs)}" if differs else ""),
        matches == len(pub))
    own = audit[computed & assumed]
    own_match = own["computed"].to_numpy() == own["published"].to_numpy()
    add("Unpublished targets: discharge n, 1-year MCID shares, quartiles of sessions and program length",
        KIND_INVENTED, "X", "each equals this project's assumed value (data/published.csv, assumption = yes)",
        f"{int(own_match.sum())} of {len(own)} match", bool(own_match.all()))

    # The follow-on paper's risk ratios.
    for spec in RISK_RATIOS:
        label = f"Risk ratio: {spec.predictor} → {spec.outcome}"
        published_rr = f"RR {spec.rr:.2f} (95 % CI {spec.low:.2f}–{spec.high:.2f})"
        if spec.measure is None:
            add(label, KIND_NOT_EXPRESSIBLE, spec.source, published_rr, f"not computed: {NOT_EXPRESSIBLE}", pd.NA)
            continue
        result = risk_ratio(cohort, spec, thresholds)
        rr = result.rr
        same_direction = (rr > 1) if spec.rr > 1 else (rr < 1)
        met = bool(not math.isnan(rr) and same_direction and spec.low <= round_half_up(rr, 2) <= spec.high)
        add(label, KIND_APPROXIMATE, spec.source,
            f"{published_rr}: same direction and inside the CI. Stand-in outcome: "
            f"{STAND_IN_OUTCOMES[spec.measure]} (≥ {thresholds[spec.measure]:g}); "
            f"{spec.exposed} vs {spec.reference}",
            f"RR {rr:.2f} ({result.k_exposed}/{result.n_exposed} vs {result.k_reference}/{result.n_reference})",
            met)

    # Shape of change around every threshold.
    improvements = {(stem, time): _improvement(cohort, stem, time) for stem in INSTRUMENTS
                    for time in ("discharge", "1y")}
    for (stem, time), imp in improvements.items():
        thr, w = thresholds[stem], BAND_WIDTH[stem]
        counts = _band_counts(imp, thr, w)
        add(f"{_short(stem)} improvement {_TIME_WORDS[time]}: continuous across the MCID ({thr:g})", KIND_INVENTED,
            "X", f"patients in the bands [{thr - 2 * w:g}, {thr - w:g}), [{thr - w:g}, {thr:g}), "
                 f"[{thr:g}, {thr + w:g}), [{thr + w:g}, {thr + 2 * w:g}): none empty, and neither band beside "
                 f"the threshold below {DEPLETION:g} × the mean of its two neighbours",
            " / ".join(map(str, counts)), band_ok(counts))
    lo, hi = DETERIORATION_PCT
    for stem in INSTRUMENTS:
        shares = {time: 100 * float((improvements[(stem, time)] <= -thresholds[stem]).mean())
                  for time in ("discharge", "1y")}
        add(f"{_short(stem)}: worsened by at least the MCID ({thresholds[stem]:g})", KIND_INVENTED, "X",
            f"{lo:g}–{hi:g} % of those measured, at discharge and at 1 year",
            f"discharge {_pct(shares['discharge'])}, 1 year {_pct(shares['1y'])}",
            all(lo <= s <= hi for s in shares.values()))

    # Changes move together across measures and within a patient over time.
    changes = {(stem, time): cohort[f"{stem}_{time}"].astype(float) - cohort[f"{stem}_start"].astype(float)
               for stem in INSTRUMENTS for time in ("discharge", "1y")}
    for (a, b), minimum in CROSS_MEASURE_MIN.items():
        rho = {time: _spearman(changes[(a, time)], changes[(b, time)]) for time in ("discharge", "1y")}
        ok = all((r >= minimum) if minimum > 0 else (r <= minimum) for r in rho.values())
        add(f"Change in {_short(a)} and change in {_short(b)} go {'together' if minimum > 0 else 'opposite ways'}",
            KIND_INVENTED, "X", f"Spearman {'≥' if minimum > 0 else '≤'} {minimum:+.2f} at discharge and at 1 year",
            f"discharge {rho['discharge']:+.2f}, 1 year {rho['1y']:+.2f}", ok)
    for stem in INSTRUMENTS:
        rho = _spearman(changes[(stem, "discharge")], changes[(stem, "1y")])
        add(f"{_short(stem)}: a patient's change at discharge predicts the change at 1 year", KIND_INVENTED, "X",
            f"Spearman ≥ {WITHIN_PATIENT_MIN:+.2f}", f"{rho:+.2f}", rho >= WITHIN_PATIENT_MIN)
    for stem in INSTRUMENTS:
        worse_start = -INSTRUMENTS[stem].direction * cohort[f"{stem}_start"].astype(float)
        rho = {time: _spearman(worse_start, improvements[(stem, time)]) for time in ("discharge", "1y")}
        add(f"{_short(stem)}: patients who start worse improve more", KIND_INVENTED, "X",
            f"Spearman of a worse start with the improvement ≥ {SEVERITY_MIN:+.2f} at discharge and at 1 year",
            f"discharge {rho['discharge']:+.2f}, 1 year {rho['1y']:+.2f}",
            all(r >= SEVERITY_MIN for r in rho.values()))

    # Every row coherent.
    later_rules = [r for r in CROSS_FIELD_RULES if r.columns in LATER_NEEDS_START]
    violations = sum(int((~r.holds(cohort)).sum()) for r in later_rules)
    add("Coherent rows: a later value has its start value", KIND_INVENTED, "X", "0 rows break the rule",
        f"{violations} rows", violations == 0)
    for rule in CROSS_FIELD_RULES:
        if rule in later_rules:
            continue
        violations = int((~rule.holds(cohort)).sum())
        add(f"Coherent rows: {rule.description}", KIND_INVENTED, "X", "0 rows break the rule",
            f"{violations} rows", violations == 0)
    sessions, days = cohort["n_sessions"].astype(float), cohort["program_days"].astype(float)
    several = sessions >= 2
    per_week = ((sessions - 1) / (days / 7)).where(several & (days > 0), np.inf).where(several)
    worst = float(per_week.max()) if several.any() else 0.0
    add("Session frequency", KIND_INVENTED, "X",
        f"at most {MAX_SESSIONS_PER_WEEK:g} sessions a week on average over the program (patients with ≥ 2 sessions)",
        f"largest {worst:.2f} a week", worst <= MAX_SESSIONS_PER_WEEK)
    onset = cohort["age"].astype(float) - cohort["pain_duration_days"].astype(float) / config.DAYS_PER_YEAR
    childhood = 100 * float((onset < CHILDHOOD_AGE).mean())
    add(f"Pain began before age {CHILDHOOD_AGE}", KIND_INVENTED, "X",
        f"rare: below {CHILDHOOD_ONSET_MAX_PCT:g} % of patients", f"{childhood:.1f} % "
        f"({int((onset < CHILDHOOD_AGE).sum())} patients)", childhood < CHILDHOOD_ONSET_MAX_PCT)

    # Plausible tails.
    frame = pd.DataFrame({"n_sessions": sessions, "program_months": days / config.DAYS_PER_MONTH,
                          "pain_duration_years": cohort["pain_duration_days"].astype(float) / config.DAYS_PER_YEAR})
    for column, (name, unit, ranges) in TAILS.items():
        values = {p: float(frame[column].quantile(p / 100)) for p in ranges}
        add(f"{name}: upper tail", KIND_INVENTED, "X",
            "; ".join(f"{p}th percentile {a:g}–{b:g}{unit}" for p, (a, b) in ranges.items()),
            "; ".join(f"{p}th {v:.1f}{unit}" for p, v in values.items()),
            all(a <= values[p] <= b for p, (a, b) in ranges.items()))

    # Loss to follow-up depends on baseline characteristics.
    base = pd.DataFrame({
        "age": cohort["age"], "female": (cohort["sex"].astype(object) == "female").astype(float),
        "bmi": cohort["bmi"], "smoker": cohort["smoker"], "pain_duration_years": frame["pain_duration_years"],
        "nprs_start": cohort["nprs_start"], "dri_start": cohort["dri_start"], "eqvas_start": cohort["eqvas_start"],
        "anxiety_depression": cohort["anxiety_depression"], "n_sessions": sessions,
        "program_months": frame["program_months"]}).astype(float)
    lost = cohort["nprs_1y"].isna()
    if lost.any() and (~lost).any():
        # The SMDs and their count are the follow-up page's (measured - lost, one convention, one count).
        from ..analysis import attrition

        flagged = attrition.imbalanced(attrition.attrition_table(cohort), LOSS_SMD)
        big = pd.Series(flagged["SMD"].to_numpy(), index=flagged["variable"])
        p = _loss_test(base, lost)
        shown = ", ".join(f"{v} {s:+.2f}" for v, s in big.head(4).items()) or "none"
        measured = f"{len(big)} characteristics (largest: {shown}); p = {p:.3g}"
        met = len(big) >= LOSS_MIN_VARIABLES and p < LOSS_ALPHA
    else:
        measured, met = "nobody or everybody lost at 1 year", False
    add("Loss to follow-up at 1 year depends on baseline characteristics", KIND_INVENTED, "X",
        f"|SMD| > {LOSS_SMD:g} (measured − lost, as on the follow-up page) on at least {LOSS_MIN_VARIABLES} "
        "characteristics, and the "
        f"likelihood-ratio test of a logistic model of loss on them p < {LOSS_ALPHA:g}", measured, met)

    report = pd.DataFrame(rows)
    report["met"] = report["met"].astype("boolean")
    return report


def applies(cohort: pd.DataFrame) -> bool:
    """Whether the report describes this cohort: only the generator's own synthetic file."""
    return bool(getattr(cohort.attrs.get("fingerprint"), "synthetic", False))


def shown(report: pd.DataFrame) -> pd.DataFrame:
    """The report for reading: whether each target is met as yes, no or n/a (not expressible)."""
    return report.assign(met=[("n/a" if value is pd.NA else "yes" if value else "no") for value in report["met"]])


def markdown(report: pd.DataFrame) -> str:
    """The report as a Markdown table."""
    return table(shown(report)) + "\n"


def main(argv: list[str] | None = None) -> int:
    from ..data.cohort import CohortError, load_cohort

    argv = sys.argv[1:] if argv is None else argv
    path = Path(argv[0]) if argv else None
    try:
        cohort = load_cohort(path)
    except CohortError as err:
        print(f"ERROR {err}", file=sys.stderr)
        return 1
    report = fidelity_report(cohort)
    print(markdown(report), end="")
    failed = int((report["met"] == False).sum())  # noqa: E712 - <NA> rows are not failures
    print(f"\n{int(report['met'].eq(True).sum())} met, {failed} not met, "
          f"{int(report['met'].isna().sum())} not applicable")
    return 0 if failed == 0 else 2


if __name__ == "__main__":
    sys.exit(main())
