"""Paths and fixed definitions of the project: the ground every module stands on.

What a reader may change (the MCID, the confidence level, disclosure control) is not
here but in `params.yml` (`cmprehab.params`); the instruments and time points are
described once in `cmprehab.instruments`.
"""
from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = ROOT / "data"

# (The API reference hides these two values: they are absolute paths of the machine that builds it.)
#: The API reference's page (``chapters/api.md``); its module pages are in the folder of the same
#: name, generated there by ``sphinx.ext.autosummary`` at each build (not in git).
API_PAGE = "chapters/api"

#: The committed synthetic cohort (one row per patient): ``data/cohort.csv``.
#:
#: :meta hide-value:
DEFAULT_COHORT = DATA_DIR / "cohort.csv"
#: Every published number of the study, with its source (see data/README.md): ``data/published.csv``.
#:
#: :meta hide-value:
PUBLISHED_TARGETS = DATA_DIR / "published.csv"
#: Environment variable naming an author-supplied cohort file (real data).
DATA_ENV_VAR = "CMPREHAB_DATA"

#: Sidecar written next to a generated cohort: proves the file is synthetic
#: and lets the generator refuse to overwrite anything it did not write.
SYNTHETIC_SIDECAR_SUFFIX = ".synthetic.json"

#: Largest cohort file accepted, in bytes (a 10^6-patient cohort is about 110 MB).
MAX_COHORT_BYTES = 1 << 30
#: Environment variable the build sets for the notebook kernels: the SHA-256 of the file it
#: validated, so every page is computed from the same bytes as the banner describes.
DATA_SHA256_ENV_VAR = "CMPREHAB_DATA_SHA256"
#: Environment variable the build sets for the notebook kernels: the file holding the cohort
#: it validated (`cmprehab.data.cohort.save_validated`), so that no kernel parses it again.
VALIDATED_ENV_VAR = "CMPREHAB_VALIDATED_COHORT"

#: Environment variable naming the PDF of the whole book (``make pdf``): every page's footer links it.
PDF_ENV_VAR = "CMPREHAB_BOOK_PDF"
#: Environment variable ``make manuscript`` sets: every page's footer links the manuscript's files
#: (`cmprehab.manuscript` puts them beside the PDF), each with its label.
MANUSCRIPT_ENV_VAR = "CMPREHAB_BOOK_MANUSCRIPT"
MANUSCRIPT_LINKS = (("Word (DOCX)", "manuscript.docx"), ("JATS XML", "manuscript.xml"), ("MECA bundle", "manuscript-meca.zip"))

#: The results file of a build (``results.json``, ``results.csv`` at the site's root): its format
#: name, the glue name under which each page records its results (`report.book.glue_results`),
#: and the columns of each record (`_ext/traced_numbers.py` writes them, `compare` reads them).
RESULTS_FORMAT = "cmprehab-results/1"
RESULTS_RECORD = "results_record"
RESULTS_COLUMNS = ("page", "name", "text", "value", "function", "source", "published_key", "published",
                   "audit_status")

#: Seed and size of the committed synthetic cohort.
DEFAULT_SEED = 20211021
DEFAULT_N = 274

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
#: Days per (Julian) year, to express durations kept in days in years.
DAYS_PER_YEAR = 365.25
#: Days per month used to express program length in months.
DAYS_PER_MONTH = DAYS_PER_YEAR / 12
#: Colour-blind-safe palette (Okabe-Ito) used by every figure.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"]


def toc_pages(root: Path = ROOT) -> list[tuple[str, int | None]]:
    """Every page of the book's `_toc.yml` in reading order, as (file without suffix, chapter number):
    the number Sphinx gives a page of a numbered part (1, 2, ...), None elsewhere (the root page too).
    The one reader of the table of contents."""
    import yaml  # only the build, the executor and the tests read the toc

    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    pages: list[tuple[str, int | None]] = [(toc["root"], None)]
    for part in toc.get("parts", []):
        for number, chapter in enumerate(part.get("chapters", []), start=1):
            if set(chapter) - {"file"}:
                raise ValueError(f"_toc.yml: {chapter} has sections or options this reader does not know")
            pages.append((str(Path(chapter["file"]).with_suffix("")), number if part.get("numbered") else None))
    return pages


def cohort_path() -> Path:
    """The cohort file the book and the tests read: $CMPREHAB_DATA or the default."""
    override = os.environ.get(DATA_ENV_VAR, "").strip()
    return Path(override).expanduser().resolve() if override else DEFAULT_COHORT
