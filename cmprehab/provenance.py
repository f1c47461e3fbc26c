"""Where the numbers come from: data file hash, synthetic or not, versions, commit."""
from __future__ import annotations

import hashlib
import json
import platform
import subprocess
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from . import config


def sha256_file(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def sidecar_path(cohort: Path) -> Path:
    return cohort.with_name(cohort.name + config.SYNTHETIC_SIDECAR_SUFFIX)


def read_sidecar(cohort: Path, sha256: str | None = None) -> dict | None:
    """The generator's record for `cohort`, if it exists and still matches the bytes.

    `sha256` is the digest of the cohort's bytes when the caller has it already
    (the loader hashes while it reads); otherwise the file is hashed here.
    """
    side = sidecar_path(cohort)
    if not side.is_file() or not cohort.is_file():
        return None
    try:
        record = json.loads(side.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict):
        return None
    return record if record.get("sha256") == (sha256 or sha256_file(cohort)) else None


@dataclass(frozen=True)
class DataFingerprint:
    path: Path
    sha256: str
    synthetic: bool
    seed: int | None
    n: int | None

    @property
    def short(self) -> str:
        return self.sha256[:12]

    @property
    def is_default(self) -> bool:
        return Path(self.path).resolve() == config.DEFAULT_COHORT.resolve()

    @property
    def description(self) -> str:
        """What the data are, in words built from fixed text and numbers only: never the file's
        name or path (confidential for real data, and unsafe to paste into a page)."""
        if self.synthetic:
            where = "the committed synthetic cohort data/cohort.csv" if self.is_default else "a synthetic cohort"
            return f"{where} (seed {self.seed}, n = {self.n}), not real patients"
        return ("an author-supplied cohort file, treated as confidential real patient data "
                "(its name and location are not recorded)")


def data_fingerprint(path: Path | None = None, sha256: str | None = None) -> DataFingerprint:
    """Which file, its digest, and whether the generator vouches for it (its sidecar matches).

    Pass `sha256` when the bytes were hashed already, so the file is not read again.
    """
    path = Path(path) if path else config.cohort_path()
    sha256 = sha256 or sha256_file(path)
    record = read_sidecar(path, sha256)
    # Only whole numbers pass into the book's text; anything else in a sidecar is not the generator's.
    if record is not None and not all(type(record.get(key)) is int for key in ("seed", "n")):
        record = None
    return DataFingerprint(
        path=path,
        sha256=sha256,
        synthetic=record is not None,
        seed=record["seed"] if record else None,
        n=record["n"] if record else None,
    )


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=config.ROOT,
                             capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=config.ROOT,
                               capture_output=True, text=True, check=True).stdout.strip()
        return out + ("+local changes" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"


KEY_PACKAGES = ["jupyter-book", "myst-nb", "sphinx", "numpy", "pandas", "scipy", "statsmodels",
                "matplotlib", "seaborn", "tableone", "pandera"]


def versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in KEY_PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found
