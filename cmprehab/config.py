"""Every path and every analysis parameter of the project, in one place.

Values marked ASSUMPTION were never published by the study; the book states
them on the Methods page and a reader changes them here, then rebuilds.
"""
from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = ROOT / "data"

#: The committed synthetic cohort (one row per patient).
DEFAULT_COHORT = DATA_DIR / "cohort.csv"
#: Every published number of the study, with its source (see data/README.md).
PUBLISHED_TARGETS = DATA_DIR / "published.csv"
#: Environment variable naming an author-supplied cohort file (real data).
DATA_ENV_VAR = "CMPREHAB_DATA"

#: Sidecar written next to a generated cohort: proves the file is synthetic
#: and lets the generator refuse to overwrite anything it did not write.
SYNTHETIC_SIDECAR_SUFFIX = ".synthetic.json"

#: Seed and size of the committed synthetic cohort.
DEFAULT_SEED = 20211021
DEFAULT_N = 274

#: Minimal clinically important difference, per instrument.
#: ASSUMPTION: the authors' own thresholds were not published.
#: direction -1: improvement is a decrease (NPRS, DRI); +1: an increase (EQ-VAS).
MCID = {
    "nprs": {
        "threshold": 2.0,
        "direction": -1,
        "source": "Farrar et al. 2001 (decrease of at least 2 points on the 0-10 NRS)",
        "cite": "farrar2001",
    },
    "dri": {
        "threshold": 10.0,
        "direction": -1,
        "source": "this project's assumption (no published MCID for the DRI)",
        "cite": None,
    },
    "eqvas": {
        "threshold": 10.0,
        "direction": +1,
        "source": "Pickard et al. 2007 (7-10 points; upper end used)",
        "cite": "pickard2007",
    },
}

#: Outcome instruments: column stem, label, scale, which direction is worse.
OUTCOMES = {
    "nprs": {"label": "Pain (NPRS, 0-10)", "short": "NPRS", "lo": 0, "hi": 10, "higher_is_worse": True},
    "dri": {"label": "Disability (DRI, 0-100 mm)", "short": "DRI", "lo": 0, "hi": 100, "higher_is_worse": True},
    "eqvas": {"label": "Overall health (EQ-VAS, 0-100 mm)", "short": "EQ-VAS", "lo": 0, "hi": 100, "higher_is_worse": False},
}
TIMEPOINTS = {"start": "Start", "discharge": "Discharge", "1y": "1 year"}

#: The ten intervention categories, in the published order.
INTERVENTIONS = {
    "iv_education": "Education",
    "iv_sensorimotor": "Sensorimotor training",
    "iv_activity_advice": "Physical activity advice",
    "iv_structures_functions": "Interventions aiming at improving structures and functions",
    "iv_sensory_stimulation": "Sensory stimulation (TENS, acupuncture)",
    "iv_activity_with_pt": "Physical activity performed together with the physiotherapist",
    "iv_weight_training": "Weight training",
    "iv_relaxation_mindfulness": "Relaxation, mindfulness",
    "iv_act": "Physiotherapy with an ACT-inspired approach",
    "iv_body_awareness": "Basic body awareness therapy and training of specified activities",
}

#: Category levels, in the order the published table lists them.
CATEGORIES = {
    "sex": ["female", "male"],
    "pain_distribution": ["localized", "regional", "generalized"],
    "main_pain_location": ["neck", "no_single_region", "spine_pelvis", "lower_limb", "upper_limb"],
}
CATEGORY_LABELS = {
    "female": "Women", "male": "Men",
    "localized": "Localized", "regional": "Regional", "generalized": "Generalized",
    "neck": "Neck", "no_single_region": "Cannot pick one region",
    "spine_pelvis": "Lumbar, thoracic or pelvis", "lower_limb": "Hip, knee, ankle or foot",
    "upper_limb": "Shoulder, elbow or hand",
}

#: Ability to reduce pain (0-6); 0-2 counts as "low", as in the paper.
LOW_PAIN_MANAGEMENT_MAX = 2
#: Days per month used to express program length in months.
DAYS_PER_MONTH = 365.25 / 12
#: Confidence level of every interval in the book.
CONFIDENCE = 0.95
#: How intervals are labelled in figures and captions ("95 % CI").
CI_LABEL = f"{100 * CONFIDENCE:g} % CI"
#: Disclosure control, applied when the cohort is not the generator's own (real data):
#: every count below this many patients is shown as "<k" (and what could reveal it is withheld).
SUPPRESSION_K = 5
#: A cohort with fewer patients than this is refused: too small to publish aggregates safely.
MIN_COHORT_PATIENTS = 20
#: Largest cohort file accepted, in bytes (a 10^6-patient cohort is about 110 MB).
MAX_COHORT_BYTES = 1 << 30
#: Environment variable the build sets for the notebook kernels: the SHA-256 of the file it
#: validated, so every page is computed from the same bytes as the banner describes.
DATA_SHA256_ENV_VAR = "CMPREHAB_DATA_SHA256"

#: Colour-blind-safe palette (Okabe-Ito) used by every figure.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"]


def cohort_path() -> Path:
    """The cohort file the book and the tests read: $CMPREHAB_DATA or the default."""
    override = os.environ.get(DATA_ENV_VAR, "").strip()
    return Path(override).expanduser().resolve() if override else DEFAULT_COHORT
