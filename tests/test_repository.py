"""What git holds: real patient data never enters it."""
import subprocess

import pytest

from cmprehab import config

#: The only files allowed under data/: the synthetic cohort, its sidecar, the targets and their README.
ALLOWED_DATA_FILES = {"data/README.md", "data/cohort.csv", "data/cohort.csv.synthetic.json", "data/published.csv"}


def git(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=config.ROOT, capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module", autouse=True)
def checkout():
    if git("rev-parse", "--is-inside-work-tree").stdout.strip() != "true":
        pytest.skip("not a git checkout")


def test_only_the_synthetic_cohort_its_sidecar_targets_and_readme_are_tracked_under_data():
    tracked = set(git("ls-files", "data").stdout.split())
    assert tracked == ALLOWED_DATA_FILES, f"unexpected files tracked under data/: {sorted(tracked - ALLOWED_DATA_FILES)}"


@pytest.mark.parametrize("path", ["data/private/cohort.csv", "data/private/sub/x.csv", "data/cohort.private.csv",
                                  "elsewhere/real.private.csv"])
def test_places_for_real_data_are_ignored(path):
    assert git("check-ignore", "-q", "--no-index", path).returncode == 0, f"{path} is not git-ignored"
