"""A seeded synthetic cohort that reproduces the study's published aggregates, patient by plausible patient.

    python -m cmprehab.synth --seed 20211021 --n 274 --out data/cohort.csv

Every choice here is synthetic, not a finding of the study. `python -m cmprehab.report.fidelity`
prints, for a cohort, each target below with its kind, source, accepted range, measured
value and whether it is met.

Reproduced exactly (every number of data/published.csv, at its published precision):

* Marginals are laid out, not sampled. Each variable's sorted values follow a quantile
  function through the published quartiles (normal scores mapped piecewise linearly through
  the quartiles, on a log scale for pain duration, sessions and program days); the order
  statistics pandas interpolates are pinned, so the median and quartiles hold exactly under
  pandas' default (linear) quantile. Means and SDs are met by a search over scale and shift;
  counts are exact (published count scaled to `n`, categories by largest remainders).
* The MCID shares at discharge (45/61/50 %) and the assumed 1-year shares. Each change
  score is a continuous latent improvement, shifted per measure and time point so that
  exactly the target number of patients reaches the threshold. The thresholds are the
  generator's own `calibration_mcid_*` rows of data/published.csv, passed explicitly to
  `stats.mcid_reached`; the reader's study parameters (`params.yml`) are never read.

Calibrated approximately to a published value:

* The follow-on paper's univariable risk ratios that this schema can express
  (`analysis.calibration.RISK_RATIOS`; e.g. "improved overall health" = 1-year MCID on EQ-VAS). Each
  exposure adds an offset to the latent improvement of its measure, tuned by a short damped
  iteration until the crude risk ratio is close to the published one.

Invented where the publications are silent (acceptance ranges in `cmprehab.fidelity`):

* Dependence comes from latent normal scores: a baseline *severity*, a program
  *intensity*, and for the change scores a *general response* (all measures), a
  *pain-disability response* (mostly NPRS and DRI), each measure's own response, how bad
  the start was, and noise at each time point. So pain and disability change together and
  health the other way, a patient's change at discharge predicts the change at 1 year,
  patients who start worse improve more, a minority worsens by at least the MCID, and no
  band on either side of a threshold is empty or depleted.
* Tails: beyond the quartiles the quantile functions keep the quartile slope and bend
  softly towards plausible bounds (`SHAPES`), with no pile-up at a bound.
* Coherent rows: one session means a program of 0 days; at most two sessions a week on
  average (so never more sessions than days); pain began at age `MIN_ONSET_AGE` or later.
  Values are moved between patients, never changed, so the marginals stay exact.
* Loss to follow-up depends on intensity, severity, smoking and age.

`--n` scales every count; n = 10**6 takes about a minute. The same seed and n give the same
bytes. The file is written with a sidecar `<file>.synthetic.json` holding its SHA-256; the
generator never overwrites a cohort or a sidecar it did not write unless `--force` is given,
and never leaves a file half written (see `write_cohort`).
"""
from __future__ import annotations

import argparse
import json
import math
import signal
import sys
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import ndtri

from . import config
from .files import write_atomically
from .analysis.stats import mcid_reached, round_half_up
from .data import targets as published
from .data.schema import COLUMNS
from .instruments import INSTRUMENTS
from .provenance import sha256_file, sidecar_path
from .analysis.calibration import RISK_RATIOS, calibration_thresholds, exposure_groups

GENERATOR = "cmprehab.synth"

# --------------------------------------------------------------------------
# Synthetic-structure choices (not published)
# --------------------------------------------------------------------------

#: Quantile functions beyond the published quartiles: soft bounds (never reached), log scale
#: or not, and the slope (per normal score) with which each tail leaves its quartile
#: (default: the slope of the neighbouring quartile segment).
SHAPES = {
    "pain_duration_days": {"lo": 91, "hi": 40 * config.DAYS_PER_YEAR, "log": True},
    "nprs_start": {"lo": 1, "hi": 10},
    "dri_start": {"lo": 0, "hi": 100},
    "eqvas_start": {"lo": 0, "hi": 100},
    "n_goals": {"lo": 0.5, "hi": 6, "lower_slope": 1.2},
    "n_sessions": {"lo": 0.6, "hi": 150, "log": True, "lower_slope": 1.0},
    "program_days": {"lo": 7, "hi": 4 * config.DAYS_PER_YEAR, "log": True},
}
BMI_RANGE = (16.0, 45.0)
#: Loadings on the latent baseline severity (positive: higher value = more severe).
SEVERITY_LOADING = {"nprs_start": 0.6, "dri_start": 0.7, "eqvas_start": -0.6, "pain_duration_days": 0.25,
                    "age": 0.15, "bmi": 0.2, "smoker": 0.2, "pain_distribution": 0.5,
                    "low_pain_management": 0.4, "physically_active": -0.4, "anxiety_depression": 0.45,
                    "n_goals": 0.1}
#: Older patients have had their pain longer.
DURATION_AGE_LOADING = 0.35
#: Earliest age at which a synthetic patient's pain began.
MIN_ONSET_AGE = 14
#: Sessions and program length follow the latent program intensity.
SESSIONS_LOADING, PROGRAM_LOADING = 0.9, 0.8
#: At most two sessions a week on average: program_days >= DAYS_PER_EXTRA_SESSION * (n_sessions - 1).
DAYS_PER_EXTRA_SESSION = 3.5
#: Loss to follow-up: more likely with fewer sessions, more severity, smoking, younger age;
#: being measured at 1 year follows the same score as at discharge, with this loading.
RETENTION = {"intensity": 0.5, "severity": -0.3, "smoker": -0.5, "age": 0.3}
RETENTION_1Y = 0.85
#: Spread of the latent improvement, in scale units.
IMPROVEMENT_SD = {"nprs": 2.0, "dri": 16.0, "eqvas": 15.0}
#: Loadings of the latent improvement (standard-normal parts). The general response is shared
#: by all measures, the pain-disability response mostly by NPRS and DRI (EQ-VAS has a smaller
#: share and a larger own part); "occasion" is drawn afresh at each time point.
CHANGE_LOADING = {"general": 0.55, "pain_disability": 0.45, "pain_disability_eqvas": 0.2, "own": 0.25,
                  "own_eqvas": 0.35, "worse_start": 0.35, "occasion": 0.5}
#: Risk-ratio calibration: iterations, damping, and the stopping tolerance (share of the CI half-width).
RR_ITERATIONS, RR_DAMPING, RR_TOLERANCE = 40, 0.8, 0.1

_Z_QUARTILE = float(ndtri(0.75))


def _latent(rng: np.random.Generator, *parts: tuple[float, np.ndarray]) -> np.ndarray:
    """A standard-normal score: the weighted parts plus independent noise for the rest."""
    n = len(parts[0][1])
    mix = sum(w * x for w, x in parts)
    rest = max(0.0, 1.0 - sum(w * w for w, _ in parts))
    return mix + math.sqrt(rest) * rng.standard_normal(n)


def _scaled_count(count: float, n: int) -> int:
    """A published count (out of 274) scaled to a cohort of n; exact at n = 274."""
    return int(round_half_up(count * n / published.COHORT_N))


def _scaled_counts(counts: list[float], total: int, n: int) -> list[int]:
    """Published category counts (out of 274) scaled to n, summing to `total` (largest remainders).

    Exact at n = 274, where the published counts sum to the published valid n.
    """
    exact = np.array(counts, dtype=float) * n / published.COHORT_N
    out = np.floor(exact).astype(int)
    remainder = exact - out
    out[np.argsort(-remainder, kind="stable")[: total - out.sum()]] += 1
    return out.tolist()


def _by_rank(latent: np.ndarray, sorted_values: np.ndarray) -> np.ndarray:
    """Give the smallest value to the smallest latent score, and so on."""
    out = np.empty_like(sorted_values)
    out[np.argsort(latent, kind="stable")] = sorted_values
    return out


def _top(latent: np.ndarray, k: int, eligible: np.ndarray | None = None) -> np.ndarray:
    """Boolean mask of the k highest latent scores (among the eligible)."""
    score = np.where(eligible, latent, -np.inf) if eligible is not None else latent
    if eligible is not None and k > eligible.sum():
        raise ValueError(f"need {k} patients but only {int(eligible.sum())} are eligible")
    mask = np.zeros(len(latent), dtype=bool)
    mask[np.argsort(-score, kind="stable")[:k]] = True
    return mask


def _soft_tail(t: np.ndarray, slope: float, room: float) -> np.ndarray:
    """Distance beyond a quartile: starts with `slope` per normal score and never exceeds `room`."""
    if room <= 0 or slope <= 0:
        return np.zeros_like(t)
    return room * np.tanh(slope * t / room)


def quantile_values(n: int, q1: float, median: float, q3: float, lo: float, hi: float, log: bool = False,
                    decimals: int = 0, lower_slope: float | None = None,
                    upper_slope: float | None = None) -> np.ndarray:
    """n sorted values whose pandas quartiles are exactly (q1, median, q3).

    Normal scores of the plotting positions are mapped piecewise linearly through the
    quartiles (on a log scale when `log`); beyond q1 and q3 the tails leave with the given
    slopes (default: the neighbouring segment's) and bend towards `lo` and `hi` without
    reaching them. The order statistics pandas interpolates for each quartile are pinned.
    """
    if not lo < q1 <= median <= q3 < hi:
        raise ValueError(f"need lo < q1 <= median <= q3 < hi, got {lo}, {q1}, {median}, {q3}, {hi}")
    f, f_inv = (np.log, np.exp) if log else ((lambda x: np.asarray(x, dtype=float)), (lambda x: x))
    k_lo, k1, k2, k3, k_hi = (float(f(v)) for v in (lo, q1, median, q3, hi))
    inner_low, inner_high = (k2 - k1) / _Z_QUARTILE, (k3 - k2) / _Z_QUARTILE
    lower_slope = inner_low if lower_slope is None else lower_slope
    upper_slope = inner_high if upper_slope is None else upper_slope
    z = ndtri((np.arange(n) + 0.5) / n)
    y = np.where(z < 0, k2 + inner_low * z, k2 + inner_high * z)
    below, above = z < -_Z_QUARTILE, z > _Z_QUARTILE
    y[below] = k1 - _soft_tail(-_Z_QUARTILE - z[below], lower_slope, k1 - k_lo)
    y[above] = k3 + _soft_tail(z[above] - _Z_QUARTILE, upper_slope, k_hi - k3)
    values = np.round(f_inv(y), decimals)
    for p, v in ((0.25, q1), (0.5, median), (0.75, q3)):  # pin the order statistics pandas interpolates
        h = p * (n - 1)
        values[int(math.floor(h))] = values[int(math.ceil(h))] = v
    return np.sort(values)


def mean_sd_values(n: int, mean: float, sd: float, lo: float, hi: float, decimals: int,
                   target_decimals: tuple[int, int], skew: float = 0.0,
                   pin_range: bool = False) -> np.ndarray:
    """n sorted values (rounded to `decimals`, within [lo, hi]) whose mean and SD round to the targets."""
    z = ndtri((np.arange(n) + 0.5) / n)
    z = z + skew * (z ** 2 - 1)
    z = (z - z.mean()) / z.std(ddof=1)
    mean_dec, sd_dec = target_decimals

    def values(scale, shift):
        v = np.clip(np.round(mean + shift + scale * sd * z, decimals), lo, hi)
        if pin_range:
            v[0], v[-1] = lo, hi
        return v

    def met(v):
        return (round_half_up(v.mean(), mean_dec) == mean
                and round_half_up(v.std(ddof=1), sd_dec) == sd)

    # A few fixed-point steps towards the continuous solution (clipping moves mean and SD) ...
    scale, shift = 1.0, 0.0
    for _ in range(25):
        v = values(scale, shift)
        if met(v):
            return v
        shift += mean - v.mean()
        spread = v.std(ddof=1)
        scale *= sd / spread if spread > 0 else 1.0
    # ... then a small search around it for what rounding to `decimals` allows.
    for d_scale in sorted(np.linspace(-0.03, 0.03, 61), key=abs):
        for d_shift in sorted(np.linspace(-0.5, 0.5, 101), key=abs):
            v = values(scale + d_scale, shift + d_shift)
            if met(v):
                return v
    raise ValueError(f"no values with mean {mean} and SD {sd} found for n = {n}")


def _fit_under(rng: np.random.Generator, values: np.ndarray, cap: np.ndarray, what: str) -> np.ndarray:
    """Move values between patients until value <= cap for everyone (the multiset is unchanged).

    Each round takes the patients over their cap and a random set of others, and hands
    that group's values out in the order of their caps (sorted values to sorted caps),
    which succeeds within the group whenever any arrangement does.
    """
    values = values.copy()
    bad = values > cap
    extra = max(4 * int(bad.sum()), 8)
    for _ in range(30):
        if not bad.any():
            return values
        others = np.flatnonzero(~bad)
        partners = rng.choice(others, size=min(extra, len(others)), replace=False)
        group = np.concatenate([np.flatnonzero(bad), partners])
        order = group[np.lexsort((rng.random(len(group)), cap[group]))]
        values[order] = np.sort(values[group])
        bad = values > cap
        extra *= 2
    raise ValueError(f"cannot arrange {what} so that every row is coherent")


def _improvement_shift(x: np.ndarray, eligible: np.ndarray, k: int, cut: float) -> float:
    """The shift s for which exactly k eligible values have x + s >= cut (midway between two of them)."""
    vals = x[eligible]
    m = len(vals)
    if not 0 <= k <= m:
        raise ValueError(f"need {k} patients reaching the MCID but only {m} can")
    if m == 0:
        return 0.0
    if k == 0:
        return cut - float(vals.max()) - 1.0
    if k == m:
        return cut - float(vals.min()) + 1.0
    part = np.partition(vals, [m - k - 1, m - k])
    return cut - (float(part[m - k]) + float(part[m - k - 1])) / 2


class _Measure:
    """What the change-score code needs to know of one instrument, in whole units of its last decimal."""

    def __init__(self, stem: str, start: np.ndarray, threshold: float):
        instrument = INSTRUMENTS[stem]
        self.stem, self.sign = stem, instrument.direction
        self.decimals = instrument.decimals
        self.step = 10.0 ** -self.decimals
        self.start = np.round(start / self.step).astype(np.int64)
        self.lo, self.hi = round(instrument.lo / self.step), round(instrument.hi / self.step)
        self.threshold = round(threshold / self.step)
        self.cut = (self.threshold - 0.5) * self.step  # x >= cut  <=>  x rounds to at least the threshold
        self.room = self.start - self.lo if self.sign < 0 else self.hi - self.start

    def later(self, x: np.ndarray, observed: np.ndarray) -> np.ndarray:
        """The later value for a latent improvement x (scale units); NaN where not observed."""
        units = np.floor(x / self.step + 0.5).astype(np.int64)
        later = np.clip(self.start + self.sign * units, self.lo, self.hi) * self.step
        return np.where(observed, np.round(later, self.decimals), np.nan)


def _risk_ratios(hit: np.ndarray, groups: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    out = np.full(len(groups), np.nan)
    for i, (exposed, reference) in enumerate(groups):
        if exposed.any() and reference.any() and hit[reference].any():
            out[i] = hit[exposed].mean() / hit[reference].mean()
    return out


def _calibrate_offsets(base: np.ndarray, design: np.ndarray, sd: float, measure: _Measure, observed: np.ndarray,
                       k: int, specs: list, groups: list) -> np.ndarray:
    """Offsets (one per exposure) that bring the crude 1-year risk ratios close to the published ones."""
    eligible = observed & (measure.room >= measure.threshold)
    target = np.log([s.rr for s in specs])
    half_width = np.log([s.high / s.low for s in specs]) / 2
    groups = [(e & observed, r & observed) for e, r in groups]
    beta = np.zeros(len(specs))
    best, best_beta = math.inf, beta.copy()
    for _ in range(RR_ITERATIONS):
        x = sd * (base + design @ beta)
        hit = eligible & (x + _improvement_shift(x, eligible, k, measure.cut) >= measure.cut)
        error = target - np.log(_risk_ratios(hit, groups))
        error = np.where(np.isfinite(error), error, 0.0)
        loss = float(np.max(np.abs(error) / half_width))
        if loss < best:
            best, best_beta = loss, beta.copy()
        if loss < RR_TOLERANCE:
            break
        beta = beta + RR_DAMPING * error
    return best_beta


def generate(n: int = config.DEFAULT_N, seed: int = config.DEFAULT_SEED) -> pd.DataFrame:
    """The synthetic cohort as a DataFrame with the schema's columns."""
    if n < 50:
        raise ValueError("n must be at least 50 for the published quartiles and shares to be reachable")
    targets = published.load_targets().set_index("key")["value"]
    thresholds = calibration_thresholds()
    rng = np.random.default_rng(seed)
    severity = rng.standard_normal(n)
    intensity = rng.standard_normal(n)  # how much rehabilitation a patient got
    df = pd.DataFrame({"patient_id": [f"SYN{i + 1:0{len(str(n))}d}" for i in range(n)]})

    def quartiles(column, key, decimals=0):
        return quantile_values(n, targets[f"{key}_q1"], targets[f"{key}_median"], targets[f"{key}_q3"],
                               decimals=decimals, **SHAPES[column])

    def severity_latent(column, *more):
        return _latent(rng, (SEVERITY_LOADING[column], severity), *more)

    # Demographics
    age = mean_sd_values(n, targets["age_mean"], targets["age_sd"], targets["age_min"], targets["age_max"],
                         0, (0, 1), skew=0.1, pin_range=True)
    df["age"] = _by_rank(severity_latent("age"), age)
    female = _top(_latent(rng, (0.2, severity)), _scaled_count(targets["women_n"], n))
    df["sex"] = np.where(female, "female", "male")
    bmi = mean_sd_values(n, targets["bmi_mean"], targets["bmi_sd"], *BMI_RANGE, 1, (1, 1), skew=0.12)
    df["bmi"] = _by_rank(severity_latent("bmi"), bmi)
    df["smoker"] = _top(severity_latent("smoker"), _scaled_count(targets["smokers_n"], n)).astype(int)

    # Pain duration: longer with severity and age; pain began at MIN_ONSET_AGE or later.
    age_z = (df["age"].to_numpy(dtype=float) - targets["age_mean"]) / targets["age_sd"]
    duration = _by_rank(severity_latent("pain_duration_days", (DURATION_AGE_LOADING, age_z)),
                        quartiles("pain_duration_days", "pain_duration"))
    cap = (df["age"].to_numpy(dtype=float) - MIN_ONSET_AGE) * config.DAYS_PER_YEAR
    df["pain_duration_days"] = _fit_under(rng, duration, cap, "pain duration and age")

    # Pain distribution: ordered by severity, exact counts, a few missing.
    distribution = severity_latent("pain_distribution")
    valid = _scaled_count(targets["pain_distribution_valid"], n)
    missing = _top(rng.standard_normal(n), n - valid)
    order = np.argsort(np.where(missing, np.inf, distribution), kind="stable")
    counts = _scaled_counts([targets[k] for k in ("localized_n", "regional_n", "generalized_n")], valid, n)
    labels = np.repeat(config.CATEGORIES["pain_distribution"], counts).astype(object)
    column = np.full(n, None, dtype=object)
    column[order[: len(labels)]] = labels
    df["pain_distribution"] = column

    # Main location: 'cannot pick one region' goes to the most widespread pain, the rest at random.
    valid = _scaled_count(targets["location_valid"], n)
    missing = _top(rng.standard_normal(n), n - valid)
    keys = ["location_neck_n", "location_no_single_n", "location_spine_n", "location_lower_n", "location_upper_n"]
    counts = dict(zip(config.CATEGORIES["main_pain_location"],
                      _scaled_counts([targets[k] for k in keys], valid, n)))
    column = np.full(n, None, dtype=object)
    widespread = _top(distribution + 0.8 * rng.standard_normal(n), counts.pop("no_single_region"), ~missing)
    column[widespread] = "no_single_region"
    rest = np.flatnonzero(~missing & ~widespread)
    column[rng.permutation(rest)[: sum(counts.values())]] = np.repeat(list(counts), list(counts.values()))
    df["main_pain_location"] = column

    low = _top(severity_latent("low_pain_management"), _scaled_count(targets["low_pain_management_n"], n))
    df["pain_management"] = np.where(low, rng.choice([0, 1, 2], size=n, p=[0.2, 0.35, 0.45]),
                                     rng.choice([3, 4, 5, 6], size=n, p=[0.4, 0.3, 0.2, 0.1]))
    answered = _top(rng.standard_normal(n), _scaled_count(targets["active_valid"], n))
    active = _top(severity_latent("physically_active"), _scaled_count(targets["active_n"], n), answered)
    df["physically_active"] = np.where(answered, active.astype(float), np.nan)
    df["anxiety_depression"] = _top(severity_latent("anxiety_depression"),
                                    _scaled_count(targets["anxiety_depression_n"], n)).astype(int)
    df["n_goals"] = _by_rank(severity_latent("n_goals"), quartiles("n_goals", "goals"))

    # Program: sessions and length follow the latent intensity. One session means 0 days;
    # otherwise at most two sessions a week on average.
    sessions = _by_rank(_latent(rng, (SESSIONS_LOADING, intensity)), quartiles("n_sessions", "sessions"))
    months = {k: round(targets[f"program_months_{k}"] * config.DAYS_PER_MONTH) for k in ("q1", "median", "q3")}
    program = quantile_values(n, months["q1"], months["median"], months["q3"], **SHAPES["program_days"])
    single = sessions == 1
    if single.sum() >= math.floor(0.25 * (n - 1)):
        raise ValueError("too many single-session patients for the program-length quartiles")
    program[: single.sum()] = 0  # the shortest programs are the single sessions
    days = np.zeros(n)
    several = np.flatnonzero(~single)
    days[several] = _by_rank(_latent(rng, (PROGRAM_LOADING, intensity))[several], program[single.sum():])
    need = DAYS_PER_EXTRA_SESSION * (sessions[several] - 1)
    days[several] = -_fit_under(rng, -days[several], -need, "sessions and program length")
    df["n_sessions"], df["program_days"] = sessions, days
    for column in config.INTERVENTIONS:
        k = int(round_half_up(targets[f"{column}_pct"] / 100 * n))
        df[column] = _top(_latent(rng, (0.4, intensity), (0.2, severity)), k).astype(int)

    # Baseline outcome scores, ordered by severity.
    for stem, instrument in INSTRUMENTS.items():
        key = f"{stem}_start"
        df[key] = _by_rank(severity_latent(key), quartiles(key, key, instrument.decimals))

    # Who is measured at discharge and at 1 year (loss to follow-up is not at random).
    smoker_z = df["smoker"].to_numpy() - df["smoker"].mean()
    retention = _latent(rng, (RETENTION["intensity"], intensity), (RETENTION["severity"], severity),
                        (RETENTION["smoker"] * 0.3, smoker_z), (RETENTION["age"] * 0.5, age_z))
    at = {"discharge": _top(retention, _scaled_count(targets["discharge_n"], n)),
          "1y": _top(_latent(rng, (RETENTION_1Y, retention)), _scaled_count(targets["followup_n"], n))}

    _change_scores(rng, df, at, thresholds, targets)
    return _typed(df)


def _change_scores(rng, df: pd.DataFrame, at: dict[str, np.ndarray], thresholds: dict[str, float], targets) -> None:
    """Discharge and 1-year values of every measure (adds the columns to df)."""
    n = len(df)
    loading = CHANGE_LOADING
    general, pain_disability = rng.standard_normal(n), rng.standard_normal(n)
    for stem in INSTRUMENTS:
        start = df[f"{stem}_start"].to_numpy(dtype=float)
        measure = _Measure(stem, start, thresholds[stem])
        worse = -measure.sign * (start - start.mean()) / start.std()
        base = (loading["general"] * general + loading["worse_start"] * worse
                + (loading["own_eqvas"] if stem == "eqvas" else loading["own"]) * rng.standard_normal(n)
                + loading["pain_disability_eqvas" if stem == "eqvas" else "pain_disability"] * pain_disability)
        occasion = {time: loading["occasion"] * rng.standard_normal(n) for time in at}
        ks = {time: int(round_half_up(targets[f"{stem}_mcid_{time}_pct"] / 100 * observed.sum()))
              for time, observed in at.items()}
        specs = [s for s in RISK_RATIOS if s.measure == stem]
        beta = np.zeros(0)
        design = np.zeros((n, 0))
        if specs:
            groups = [exposure_groups(df, s.key) for s in specs]
            design = np.column_stack([0.5 * e.astype(float) - 0.5 * r.astype(float) for e, r in groups])
            beta = _calibrate_offsets(base + occasion["1y"], design, IMPROVEMENT_SD[stem], measure, at["1y"],
                                      ks["1y"], specs, groups)
        for time, observed in at.items():
            x = IMPROVEMENT_SD[stem] * (base + design @ beta + occasion[time])
            eligible = observed & (measure.room >= measure.threshold)
            x = x + _improvement_shift(x, eligible, ks[time], measure.cut)
            later = measure.later(x, observed)
            reached = mcid_reached(pd.Series(start), pd.Series(later), stem, threshold=thresholds[stem])
            if int(reached.sum()) != ks[time]:
                raise RuntimeError(f"{stem}_{time}: {int(reached.sum())} reach the MCID, expected {ks[time]}")
            df[f"{stem}_{time}"] = later


def _typed(df: pd.DataFrame) -> pd.DataFrame:
    """Schema column order; whole numbers as nullable integers so the CSV has no '.0'."""
    out = df[COLUMNS].copy()
    for column in COLUMNS:
        if column in ("patient_id", "sex", "pain_distribution", "main_pain_location"):
            continue
        if column in ("bmi",) or column.startswith("dri_"):
            out[column] = out[column].astype(float).round(1)
        else:
            out[column] = pd.array(np.round(out[column].astype(float)), dtype="Int64")
    return out


# --------------------------------------------------------------------------
# Writing: never lose a file we did not write, never leave a half-written one
# --------------------------------------------------------------------------

def _shown(path: Path) -> str:
    """The path as a reader would type it: relative to the project when inside it."""
    path = path.resolve()
    return str(path.relative_to(config.ROOT)) if path.is_relative_to(config.ROOT) else str(path)


def own_sidecar(cohort: Path) -> dict | None:
    """The sidecar next to `cohort` if this generator wrote it (whatever file it describes), else None."""
    side = sidecar_path(Path(cohort))
    if not side.is_file():
        return None
    try:
        record = json.loads(side.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if (isinstance(record, dict) and record.get("generator") == GENERATOR and record.get("synthetic") is True
            and isinstance(record.get("sha256"), str)):
        return record
    return None


def is_own_cohort(cohort: Path) -> bool:
    """Whether `cohort` is a file this generator wrote: its SHA-256 is the one its sidecar records."""
    cohort = Path(cohort)
    record = own_sidecar(cohort)
    return record is not None and cohort.is_file() and sha256_file(cohort) == record["sha256"]


def write_cohort(df: pd.DataFrame, out: Path, seed: int, force: bool = False) -> None:
    """Write the CSV and its sidecar; never replace a file we did not write (unless `force`).

    Each file is written whole to a temporary file and renamed over its target
    (`files.write_atomically`): the cohort, then its sidecar. Stopped between the two, the new
    cohort and the old sidecar do not match, so the book treats the file as real data and
    the generator asks for --force: the safe side. The final bytes depend only on `df`, `seed` and `out`.
    """
    out = Path(out)
    side = sidecar_path(out)
    if out.is_dir():
        raise FileExistsError(f"{out}: is a directory; give a file name for the cohort")
    if side.is_dir():
        raise FileExistsError(f"{side}: is a directory where the generator's sidecar goes; "
                              "move it away or choose another --out (a directory is never removed, even with --force)")
    if out.exists() and not is_own_cohort(out) and not force:
        raise FileExistsError(
            f"{out}: exists and was not written by this generator (no matching {side.name}); "
            "it may be real data. Choose another --out, or pass --force to overwrite it.")
    if side.exists() and own_sidecar(out) is None and not force:
        raise FileExistsError(
            f"{side}: exists and is not a sidecar this generator wrote; it may belong to someone else. "
            "Choose another --out, or pass --force to overwrite it.")
    out.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(out, lambda handle: df.to_csv(handle, index=False, lineterminator="\n", float_format="%.1f"))
    record = {"synthetic": True, "generator": GENERATOR, "seed": seed, "n": len(df), "sha256": sha256_file(out),
              "command": f"python -m {GENERATOR} --seed {seed} --n {len(df)} --out {_shown(out)}",
              "note": "Synthetic cohort: no real patients. Calibrated to the published aggregates."}
    write_atomically(side, lambda handle: handle.write(json.dumps(record, indent=2) + "\n"))


class Interrupted(Exception):
    """The generator was asked to stop by a signal."""


def _raise_interrupted(signum, frame):
    raise Interrupted(f"stopped by {signal.Signals(signum).name}")


@contextmanager
def _sigterm_raises():
    """Within the block SIGTERM raises `Interrupted`, so every `finally` runs (main thread only)."""
    try:
        previous = signal.signal(signal.SIGTERM, _raise_interrupted)
    except ValueError:  # not the main thread: signals are not ours to handle
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=f"python -m {GENERATOR}", description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=config.DEFAULT_SEED)
    parser.add_argument("--n", type=int, default=config.DEFAULT_N)
    parser.add_argument("--out", type=Path, default=config.DEFAULT_COHORT)
    parser.add_argument("--force", action="store_true", help="overwrite a file this tool did not write")
    args = parser.parse_args(argv)
    with _sigterm_raises():
        try:
            df = generate(args.n, args.seed)
            write_cohort(df, args.out, args.seed, force=args.force)
        except (ValueError, OSError) as err:
            print(f"ERROR {err}", file=sys.stderr)
            return 1
        except (Interrupted, KeyboardInterrupt) as err:
            print(f"ERROR {err or 'interrupted'}: {args.out} and its sidecar are each either as they were "
                  "or completely replaced, and no temporary file was left behind", file=sys.stderr)
            return 128 + (signal.SIGTERM if isinstance(err, Interrupted) else signal.SIGINT)
    print(f"wrote {args.out}: {len(df)} synthetic patients (seed {args.seed}), sha256 {sha256_file(args.out)[:12]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
