"""A seeded synthetic cohort that reproduces the study's published aggregates.

    python -m cmprehab.synth --seed 20211021 --n 274 --out data/cohort.csv

How it works (every choice here is synthetic, not a finding of the study):

* Marginals are built, not sampled. For each variable the sorted values are laid
  out along a quantile function through the published quartiles, so that the
  published median and quartiles hold exactly under pandas' default (linear)
  quantile; means and SDs are met by a small search over scale and shift;
  counts are exact (published count scaled to `n`).
* Dependence comes from latent normal scores (a Gaussian-copula idea): each
  patient has a baseline *severity*, a *program intensity* and a *response*
  score; each variable is assigned to patients by ranking a noisy mix of them.
  So pain, disability and health go together, change is larger for worse
  baseline, response at discharge and at 1 year are correlated, and loss to
  follow-up depends on baseline characteristics.
* The MCID shares are exact: among patients with both values, the top-ranked
  responders receive an improvement of at least the MCID, the others less.

The file is written atomically with a sidecar `<file>.synthetic.json` holding its
SHA-256; the generator refuses to overwrite a file without a matching sidecar
(for example real data) unless `--force` is given.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from . import config, published
from .provenance import read_sidecar, sha256_file, sidecar_path
from .schema import COLUMNS
from .stats import mcid_reached, round_half_up

# Synthetic-structure choices (not published): ranges of the marginals beyond the
# published quartiles, and how strongly variables follow the latent scores.
RANGES = {  # (minimum, maximum, interpolation) outside the published quartiles
    "pain_duration_days": (95, 12000, "log"),
    "nprs_start": (2, 10, "linear"),
    "dri_start": (4, 96, "linear"),
    "eqvas_start": (5, 95, "linear"),
    "n_goals": (1, 5, "linear"),
    "n_sessions": (1, 40, "log"),
    "program_days": (14, 730, "log"),
}
BMI_RANGE = (16.0, 45.0)
#: Loadings on the latent baseline severity (positive: higher value = more severe).
SEVERITY_LOADING = {"nprs_start": 0.6, "dri_start": 0.7, "eqvas_start": -0.6, "pain_duration_days": 0.3,
                    "age": 0.15, "bmi": 0.2, "smoker": 0.2, "pain_distribution": 0.5,
                    "low_pain_management": 0.4, "physically_active": -0.4, "anxiety_depression": 0.45,
                    "n_goals": 0.1}
#: Worst change a non-responder can have, as a share of the scale (worsening).
MAX_WORSENING = 0.15
#: Loss to follow-up: more likely with fewer sessions, more severity, smoking, younger age.
RETENTION = {"intensity": 0.5, "severity": -0.3, "smoker": -0.5, "age": 0.3}


def _latent(rng: np.random.Generator, *parts: tuple[float, np.ndarray]) -> np.ndarray:
    """A standard-normal score: the weighted parts plus independent noise for the rest."""
    n = len(parts[0][1])
    mix = sum(w * x for w, x in parts)
    rest = max(0.0, 1.0 - sum(w * w for w, _ in parts))
    return mix + math.sqrt(rest) * rng.standard_normal(n)


def _scaled_count(count: float, n: int) -> int:
    """A published count (out of 274) scaled to a cohort of n; exact at n = 274."""
    return int(round_half_up(count * n / published.COHORT_N))


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


def quartile_values(n: int, q1: float, median: float, q3: float, lo: float, hi: float,
                    interpolation: str, decimals: int) -> np.ndarray:
    """n sorted values whose pandas quartiles are exactly (q1, median, q3)."""
    probs = np.array([0.0, 0.25, 0.5, 0.75, 1.0])
    knots = np.array([lo, q1, median, q3, hi], dtype=float)
    u = (np.arange(n) + 0.5) / n
    if interpolation == "log":
        values = np.exp(np.interp(u, probs, np.log(knots)))
    else:
        values = np.interp(u, probs, knots)
    values = np.round(values, decimals)
    for p, v in zip(probs[1:4], knots[1:4]):  # pin the order statistics pandas interpolates
        h = p * (n - 1)
        values[int(math.floor(h))] = values[int(math.ceil(h))] = v
    values[0], values[-1] = lo, hi
    return np.sort(values)


def mean_sd_values(n: int, mean: float, sd: float, lo: float, hi: float, decimals: int,
                   target_decimals: tuple[int, int], skew: float = 0.0,
                   pin_range: bool = False) -> np.ndarray:
    """n sorted values (rounded to `decimals`, within [lo, hi]) whose mean and SD round to the targets."""
    from scipy.stats import norm

    z = norm.ppf((np.arange(n) + 0.5) / n)
    z = z + skew * (z ** 2 - 1)
    z = (z - z.mean()) / z.std(ddof=1)
    mean_dec, sd_dec = target_decimals
    # Try the natural transform first, then widen the search over scale and shift.
    for scale in sorted(np.linspace(0.85, 1.15, 601), key=lambda s: abs(s - 1)):
        for shift in sorted(np.linspace(-0.5, 0.5, 101), key=abs):
            values = np.clip(np.round(mean + shift + scale * sd * z, decimals), lo, hi)
            if pin_range:
                values[0], values[-1] = lo, hi
            if (round_half_up(values.mean(), mean_dec) == mean
                    and round_half_up(values.std(ddof=1), sd_dec) == sd):
                return values
    raise ValueError(f"no values with mean {mean} and SD {sd} found for n = {n}")


def _improvements(rng, start, responder, observed, instrument, decimals):
    """Direction-adjusted improvement: at least the MCID for responders, below it for others."""
    spec, scale = config.MCID[instrument], config.OUTCOMES[instrument]
    lo, hi, thr = scale["lo"], scale["hi"], spec["threshold"]
    step = 10.0 ** -decimals
    # Room to improve and to worsen without leaving the scale.
    room_up = start - lo if spec["direction"] < 0 else hi - start
    room_down = hi - start if spec["direction"] < 0 else start - lo
    worst = np.minimum(room_down, MAX_WORSENING * (hi - lo))
    shape = rng.beta(1.6, 2.4, size=len(start))
    low = np.where(responder, thr, -worst)
    high = np.where(responder, room_up, np.minimum(thr - step, room_up))
    improvement = np.round(low + shape * (high - low), decimals)
    return np.where(observed, improvement, np.nan)


def generate(n: int = config.DEFAULT_N, seed: int = config.DEFAULT_SEED) -> pd.DataFrame:
    """The synthetic cohort as a DataFrame with the schema's columns."""
    if n < 50:
        raise ValueError("n must be at least 50 for the published quartiles and shares to be reachable")
    targets = published.load_targets().set_index("key")["value"]
    rng = np.random.default_rng(seed)
    severity = rng.standard_normal(n)
    intensity = rng.standard_normal(n)  # how much rehabilitation a patient got
    response = rng.standard_normal(n)   # how well a patient responds, shared by measures and time
    df = pd.DataFrame({"patient_id": [f"SYN{i + 1:0{len(str(n))}d}" for i in range(n)]})

    def quartiles(column, key, decimals=0):
        lo, hi, how = RANGES[column]
        return quartile_values(n, targets[f"{key}_q1"], targets[f"{key}_median"], targets[f"{key}_q3"],
                               lo, hi, how, decimals)

    def severity_latent(column, *more):
        return _latent(rng, (SEVERITY_LOADING[column], severity), *more)

    # Demographics
    age = mean_sd_values(n, targets["age_mean"], targets["age_sd"], targets["age_min"], targets["age_max"],
                         0, (0, 1), pin_range=True)
    df["age"] = _by_rank(severity_latent("age"), age)
    female = _top(_latent(rng, (0.2, severity)), _scaled_count(targets["women_n"], n))
    df["sex"] = np.where(female, "female", "male")
    bmi = mean_sd_values(n, targets["bmi_mean"], targets["bmi_sd"], *BMI_RANGE, 1, (1, 1), skew=0.12)
    df["bmi"] = _by_rank(severity_latent("bmi"), bmi)
    df["smoker"] = _top(severity_latent("smoker"), _scaled_count(targets["smokers_n"], n)).astype(int)
    df["pain_duration_days"] = _by_rank(severity_latent("pain_duration_days"),
                                        quartiles("pain_duration_days", "pain_duration"))

    # Pain distribution: ordered by severity, exact counts, a few missing.
    distribution = severity_latent("pain_distribution")
    missing = _top(rng.standard_normal(n), n - _scaled_count(targets["pain_distribution_valid"], n))
    order = np.argsort(np.where(missing, np.inf, distribution), kind="stable")
    counts = [_scaled_count(targets[k], n) for k in ("localized_n", "regional_n", "generalized_n")]
    labels = np.repeat(config.CATEGORIES["pain_distribution"], counts).astype(object)
    column = np.full(n, None, dtype=object)
    column[order[: len(labels)]] = labels
    df["pain_distribution"] = column

    # Main location: 'cannot pick one region' goes to the most widespread pain, the rest at random.
    missing = _top(rng.standard_normal(n), n - _scaled_count(targets["location_valid"], n))
    keys = ["location_neck_n", "location_no_single_n", "location_spine_n", "location_lower_n", "location_upper_n"]
    counts = dict(zip(config.CATEGORIES["main_pain_location"], (_scaled_count(targets[k], n) for k in keys)))
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

    # Program: sessions and length follow the latent intensity.
    df["n_sessions"] = _by_rank(_latent(rng, (0.9, intensity)), quartiles("n_sessions", "sessions"))
    months = {k: targets[f"program_months_{k}"] * config.DAYS_PER_MONTH for k in ("q1", "median", "q3")}
    program = quartile_values(n, round(months["q1"]), round(months["median"]), round(months["q3"]),
                              *RANGES["program_days"], 0)
    df["program_days"] = _by_rank(_latent(rng, (0.75, intensity)), program)
    for column in config.INTERVENTIONS:
        k = int(round_half_up(targets[f"{column}_pct"] / 100 * n))
        df[column] = _top(_latent(rng, (0.4, intensity), (0.2, severity)), k).astype(int)

    # Baseline outcome scores, ordered by severity.
    for stem, key in (("nprs", "nprs_start"), ("dri", "dri_start"), ("eqvas", "eqvas_start")):
        decimals = 1 if stem == "dri" else 0
        df[f"{stem}_start"] = _by_rank(severity_latent(key), quartiles(key, key, decimals))

    # Who is measured at discharge and at 1 year (loss to follow-up is not at random).
    age_z = (df["age"] - df["age"].mean()) / df["age"].std()
    smoker_z = df["smoker"].to_numpy() - df["smoker"].mean()
    retention = _latent(rng, (RETENTION["intensity"], intensity), (RETENTION["severity"], severity),
                        (RETENTION["smoker"] * 0.3, smoker_z), (RETENTION["age"] * 0.5, age_z.to_numpy()))
    at = {"discharge": _top(retention, _scaled_count(targets["discharge_n"], n)),
          "1y": _top(_latent(rng, (0.7, retention)), _scaled_count(targets["followup_n"], n))}

    # Improvements: responders are ranked by shared response, own noise and room to improve.
    for stem in config.OUTCOMES:
        decimals = 1 if stem == "dri" else 0
        start = df[f"{stem}_start"].to_numpy(dtype=float)
        spec, scale = config.MCID[stem], config.OUTCOMES[stem]
        worse_z = (start - start.mean()) / start.std() * (1 if scale["higher_is_worse"] else -1)
        room = start - scale["lo"] if spec["direction"] < 0 else scale["hi"] - start
        discharge_score = _latent(rng, (0.6, response), (0.3, worse_z))
        scores = {"discharge": discharge_score, "1y": _latent(rng, (0.8, discharge_score))}
        for time, observed in at.items():
            k = int(round_half_up(targets[f"{stem}_mcid_{time}_pct"] / 100 * observed.sum()))
            responder = _top(scores[time], k, observed & (room >= spec["threshold"]))
            gain = _improvements(rng, start, responder, observed, stem, decimals)
            later = np.round(start + spec["direction"] * gain, decimals)
            df[f"{stem}_{time}"] = later
            reached = mcid_reached(pd.Series(start), pd.Series(later), stem)
            assert int(reached.sum()) == k, f"{stem}_{time}: {int(reached.sum())} responders, expected {k}"
    return _typed(df)


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


def _shown(path: Path) -> str:
    """The path as a reader would type it: relative to the project when inside it."""
    path = path.resolve()
    return str(path.relative_to(config.ROOT)) if path.is_relative_to(config.ROOT) else str(path)


def write_cohort(df: pd.DataFrame, out: Path, seed: int, force: bool = False) -> None:
    """Write the CSV and its sidecar atomically; never replace a file we did not generate."""
    out = Path(out)
    if out.is_dir():
        raise FileExistsError(f"{out}: is a directory; give a file name for the cohort")
    if out.exists() and read_sidecar(out) is None and not force:
        raise FileExistsError(
            f"{out}: exists and was not written by this generator (no matching {sidecar_path(out).name}); "
            "it may be real data. Choose another --out, or pass --force to overwrite it.")
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=out.parent, suffix=".tmp", delete=False, encoding="utf-8",
                                     newline="") as tmp:
        df.to_csv(tmp, index=False, lineterminator="\n", float_format="%.1f")
    # NamedTemporaryFile creates the file readable by its owner only (0600); give the CSV
    # the permissions any new file gets (0666 minus the umask), like the sidecar.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp.name, 0o666 & ~umask)
    record = {"synthetic": True, "generator": "cmprehab.synth", "seed": seed, "n": len(df),
              "sha256": sha256_file(Path(tmp.name)),
              "command": f"python -m cmprehab.synth --seed {seed} --n {len(df)} --out {_shown(out)}",
              "note": "Synthetic cohort: no real patients. Calibrated to the published aggregates."}
    side_tmp = Path(tmp.name + ".json")
    side_tmp.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp.name, out)
    os.replace(side_tmp, sidecar_path(out))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cmprehab.synth", description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=config.DEFAULT_SEED)
    parser.add_argument("--n", type=int, default=config.DEFAULT_N)
    parser.add_argument("--out", type=Path, default=config.DEFAULT_COHORT)
    parser.add_argument("--force", action="store_true", help="overwrite a file this tool did not write")
    args = parser.parse_args(argv)
    try:
        df = generate(args.n, args.seed)
        write_cohort(df, args.out, args.seed, force=args.force)
    except (ValueError, FileExistsError) as err:
        print(f"ERROR {err}", file=sys.stderr)
        return 1
    print(f"wrote {args.out}: {len(df)} synthetic patients (seed {args.seed}), sha256 {sha256_file(args.out)[:12]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
