"""The build driver: a bad file changes nothing, and no build inherits another build's results.

The first tests run the real command on bad files. The others run `build.main` with a
stand-in for `jupyter-book` (it writes an executed-notebook cache and a site, then
succeeds or fails as told), which reproduces in seconds what the issue found with
full builds: a failed build on one file left its executed notebooks for the next
build on another file to publish under the wrong banner.
"""
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cmprehab import build, config, execute, params
from cmprehab.provenance import data_fingerprint, sidecar_path


def run_build(output, data, *args):
    env = {**os.environ, config.DATA_ENV_VAR: str(data)}
    return subprocess.run([sys.executable, "-m", "cmprehab.build", "--output", str(output), *args],
                          env=env, capture_output=True, text=True, timeout=120)


def edited_copy(folder: Path, column: str, value: str) -> Path:
    """The committed cohort with one cell of its first patient changed (no sidecar: real data)."""
    lines = config.DEFAULT_COHORT.read_text(encoding="utf-8").splitlines()
    header, row = lines[0].split(","), lines[1].split(",")
    row[header.index(column)] = value
    path = folder / "cohort.csv"
    path.write_text("\n".join([lines[0], ",".join(row), *lines[2:]]) + "\n", encoding="utf-8")
    return path


def test_build_stops_on_an_invalid_cohort_and_writes_nothing(tmp_path):
    bad = edited_copy(tmp_path, "nprs_start", "11")
    output = tmp_path / "site"
    result = run_build(output, bad, "--show-values")
    assert result.returncode == 1
    assert str(bad) in result.stderr and "line 2" in result.stderr
    assert "nprs_start" in result.stderr and "must be 0–10" in result.stderr and "11" in result.stderr
    assert not output.exists()
    # Real data: without --show-values the message names line and column, not the value or the patient.
    hidden = run_build(output, bad)
    assert hidden.returncode == 1 and "line 2" in hidden.stderr and "nprs_start" in hidden.stderr
    assert "11)" not in hidden.stderr and "'11'" not in hidden.stderr and "SYN001" not in hidden.stderr


def test_build_stops_on_a_missing_file(tmp_path):
    result = run_build(tmp_path / "site", tmp_path / "absent.csv")
    assert result.returncode == 1
    assert "does not exist" in result.stderr and not (tmp_path / "site").exists()


def test_fingerprint_tells_synthetic_from_author_supplied(tmp_path):
    copy = tmp_path / "cohort.csv"
    shutil.copyfile(config.DEFAULT_COHORT, copy)
    assert not data_fingerprint(copy).synthetic  # no sidecar: treated as real data
    shutil.copyfile(sidecar_path(config.DEFAULT_COHORT), sidecar_path(copy))
    assert data_fingerprint(copy).synthetic and data_fingerprint(copy).seed == config.DEFAULT_SEED
    copy.write_text(copy.read_text(encoding="utf-8").replace("SYN001,", "SYN001X,", 1), encoding="utf-8")
    assert not data_fingerprint(copy).synthetic  # edited after generation: no longer vouched for


def test_a_sidecar_with_odd_values_does_not_make_a_file_synthetic(tmp_path):
    copy = tmp_path / "cohort.csv"
    shutil.copyfile(config.DEFAULT_COHORT, copy)
    digest = hashlib.sha256(copy.read_bytes()).hexdigest()
    sidecar_path(copy).write_text(f'{{"sha256": "{digest}", "seed": "<img src=x>", "n": 274}}', encoding="utf-8")
    assert not data_fingerprint(copy).synthetic


# --- the build driver with a stand-in for jupyter-book -----------------------------------

class FakeJupyterBook:
    """Records what each build saw when it started, then writes a cache and a site marked `label`."""

    def __init__(self):
        self.seen = []
        self.outcome = 0
        self.label = ""

    def __call__(self, command, env):
        output = Path(command[command.index("--path-output") + 1])
        cache = output / "_build" / ".jupyter_cache"
        self.seen.append({"cache": (cache / "nb").read_text() if (cache / "nb").exists() else None,
                          "site": (output / "_build" / "html").exists(),
                          "data": env[config.DATA_ENV_VAR], "sha256": env[config.DATA_SHA256_ENV_VAR]})
        cache.mkdir(parents=True, exist_ok=True)
        (cache / "nb").write_text(self.label)
        (output / "_build" / "jupyter_execute").mkdir(exist_ok=True)
        site = output / "_build" / "html"
        site.mkdir(parents=True, exist_ok=True)
        (site / "index.html").write_text(f"site of {self.label}")
        return subprocess.CompletedProcess(command, self.outcome)


class FakeExecute:
    """Stands in for the parallel pre-execution (cmprehab.execute.run): fails on request."""

    def __init__(self):
        self.failing = None

    def __call__(self, cache_dir, env, jobs, log=print):
        if self.failing is None:
            return []
        return [execute.Outcome(Path(self.failing), 1.0, traceback="Traceback ...\nValueError: broken cell")]


@pytest.fixture
def fake(monkeypatch):
    runner = FakeJupyterBook()
    runner.execute = FakeExecute()
    monkeypatch.setattr(build.subprocess, "run", runner)
    monkeypatch.setattr(build.execute, "run", runner.execute)
    return runner


def build_with(monkeypatch, fake, output, data, label, outcome=0, *args):
    monkeypatch.setenv(config.DATA_ENV_VAR, str(data))
    fake.label, fake.outcome = label, outcome
    return build.main(["--output", str(output), *args])


def site_text(output):
    return (output / "_build" / "html" / "index.html").read_text()


def test_a_failed_build_leaves_nothing_for_the_next_one(tmp_path, monkeypatch, fake):
    output, other = tmp_path / "out", edited_copy(tmp_path, "age", "40")
    assert build_with(monkeypatch, fake, output, config.DEFAULT_COHORT, "default") == 0
    assert (output / "_build" / ".build-stamp").is_file()

    # Another (valid) file whose build fails: it starts without the default build's results ...
    assert build_with(monkeypatch, fake, output, other, "other", outcome=1) == 1
    assert fake.seen[-1]["cache"] is None
    # ... and leaves no executed results, no stamp, and the last good site in place.
    for name in build.EXECUTION_STATE:
        assert not (output / "_build" / name).exists(), name
    assert not (output / "_build" / ".build-stamp").exists()
    assert site_text(output) == "site of default"

    # Back on the default file: nothing of the failed build is reused (the defect).
    assert build_with(monkeypatch, fake, output, config.DEFAULT_COHORT, "default") == 0
    assert fake.seen[-1]["cache"] is None
    # An unchanged rebuild has nothing to do; forced, it renders again from its own cache.
    runs = len(fake.seen)
    assert build_with(monkeypatch, fake, output, config.DEFAULT_COHORT, "default") == 0
    assert len(fake.seen) == runs
    assert build_with(monkeypatch, fake, output, config.DEFAULT_COHORT, "default", 0, "--force") == 0
    assert fake.seen[-1]["cache"] == "default"


def test_a_build_on_another_file_drops_the_pdf_printed_from_the_previous_one(tmp_path, monkeypatch, fake):
    """Found by the perturbed test build: the PDF of the previous data stayed under _build/."""
    output, other = tmp_path / "out", edited_copy(tmp_path, "age", "40")
    assert build_with(monkeypatch, fake, output, config.DEFAULT_COHORT, "default") == 0
    printed = [output / "_build" / "pdf" / "book.pdf", output / "_build" / "singlehtml" / "book.html"]
    for path in printed:
        path.parent.mkdir(parents=True)
        path.write_text("the default file's numbers")
    assert build_with(monkeypatch, fake, output, config.DEFAULT_COHORT, "default", 0, "--force") == 0
    assert all(path.is_file() for path in printed)  # same inputs: still the site's own PDF
    assert build_with(monkeypatch, fake, output, other, "other") == 0
    assert not any(path.exists() for path in printed)


def test_a_bad_file_leaves_the_previous_site_and_cache(tmp_path, monkeypatch, fake):
    output = tmp_path / "out"
    assert build_with(monkeypatch, fake, output, config.DEFAULT_COHORT, "default") == 0
    bad = edited_copy(tmp_path, "sex", "x")
    assert build_with(monkeypatch, fake, output, bad, "bad") == 1
    assert len(fake.seen) == 1, "jupyter-book must not run on an invalid file"
    assert site_text(output) == "site of default"
    assert (output / "_build" / ".build-stamp").is_file()
    assert build_with(monkeypatch, fake, output, config.DEFAULT_COHORT, "default", 0, "--force") == 0
    assert fake.seen[-1]["cache"] == "default"


def test_a_relative_data_path_is_resolved_once_and_passed_on_absolute(tmp_path, monkeypatch, fake):
    folder = tmp_path / "x"
    folder.mkdir()
    data = edited_copy(folder, "age", "41")
    monkeypatch.chdir(tmp_path / "x")
    assert build_with(monkeypatch, fake, tmp_path / "out", Path("cohort.csv"), "relative") == 0
    seen = fake.seen[-1]
    assert seen["data"] == str(data.resolve()) and Path(seen["data"]).is_absolute()
    assert seen["sha256"] == hashlib.sha256(data.read_bytes()).hexdigest()


def test_make_passes_a_relative_data_path_on_absolute():
    """`make test` hands $CMPREHAB_DATA to notebook kernels, which run in chapters/."""
    env = {**os.environ, config.DATA_ENV_VAR: "data/cohort.csv"}
    shown = subprocess.run(["make", "-s", "--eval", 'print-data: ; @echo "$$CMPREHAB_DATA"', "print-data"],
                           cwd=config.ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert shown.stdout.strip() == str(config.DEFAULT_COHORT)


def test_bad_study_parameters_stop_the_build_before_anything_is_written(tmp_path, monkeypatch, fake, capsys):
    output = tmp_path / "out"
    assert build_with(monkeypatch, fake, output, config.DEFAULT_COHORT, "default") == 0
    monkeypatch.setenv(params.SET_ENV_VAR, "confidence=2")
    assert build_with(monkeypatch, fake, output, config.DEFAULT_COHORT, "bad parameters") == 1
    assert "confidence" in capsys.readouterr().err
    assert len(fake.seen) == 1 and site_text(output) == "site of default"


def test_a_changed_parameter_drops_the_executed_results(tmp_path, monkeypatch, fake):
    output = tmp_path / "out"
    assert build_with(monkeypatch, fake, output, config.DEFAULT_COHORT, "default") == 0
    monkeypatch.setenv(params.SET_ENV_VAR, "mcid.nprs.threshold=1")
    assert build_with(monkeypatch, fake, output, config.DEFAULT_COHORT, "changed") == 0
    assert fake.seen[-1]["cache"] is None
    assert build_with(monkeypatch, fake, output, config.DEFAULT_COHORT, "changed", 0, "--force") == 0
    assert fake.seen[-1]["cache"] == "changed"


def test_a_notebook_failing_in_parallel_execution_fails_the_build(tmp_path, monkeypatch, fake, capsys):
    """Its traceback is printed, jupyter-book does not run, and the last good site stays."""
    output = tmp_path / "out"
    assert build_with(monkeypatch, fake, output, config.DEFAULT_COHORT, "default") == 0
    fake.execute.failing = "chapters/05_outcomes.ipynb"
    monkeypatch.setenv(params.SET_ENV_VAR, "mcid.nprs.threshold=1")  # other inputs: the cache is dropped first
    assert build.main(["--output", str(output), "--jobs", "2"]) == 1
    err = capsys.readouterr().err
    assert "05_outcomes.ipynb failed" in err and "ValueError: broken cell" in err
    assert len(fake.seen) == 1, "jupyter-book must not run after a failed notebook"
    assert site_text(output) == "site of default"
    assert not (output / "_build" / ".build-stamp").exists()
    for name in build.EXECUTION_STATE:
        assert not (output / "_build" / name).exists(), name


def test_a_rebuild_with_nothing_changed_stops_at_once_and_any_source_change_renders_again(
        tmp_path, monkeypatch, fake, capsys):
    output, sources = tmp_path / "out", {"chapters/05_outcomes.ipynb": b"as built"}
    monkeypatch.setattr(build, "site_sources", lambda: dict(sources))
    assert build_with(monkeypatch, fake, output, config.DEFAULT_COHORT, "default") == 0
    assert build_with(monkeypatch, fake, output, config.DEFAULT_COHORT, "default") == 0
    assert len(fake.seen) == 1 and "nothing changed since the last successful build" in capsys.readouterr().out
    sources["chapters/05_outcomes.ipynb"] = b"edited"  # a page's text: rendered again, results kept
    assert build_with(monkeypatch, fake, output, config.DEFAULT_COHORT, "default") == 0
    assert len(fake.seen) == 2 and fake.seen[-1]["cache"] == "default"
    (output / "_build" / "html" / "index.html").unlink()  # a site that is not all there
    assert build_with(monkeypatch, fake, output, config.DEFAULT_COHORT, "default") == 0
    assert len(fake.seen) == 3


def test_the_site_sources_are_what_jupyter_book_reads(monkeypatch):
    monkeypatch.setenv(config.PDF_ENV_VAR, "book.pdf")
    sources = build.site_sources()
    for name in ("_config.yml", "_toc.yml", "references.bib", "chapters/05_outcomes.ipynb", "chapters/api.md",
                 "_ext/traced_numbers.py", "book_static/cmprehab.css"):
        assert sources[name] == (config.ROOT / name).read_bytes(), name
    assert sources["$" + config.PDF_ENV_VAR] == b"book.pdf"
    # The vendored MathJax counts by its stamp, not file by file.
    assert not [name for name in sources if name.startswith("book_static/mathjax/") and not name.endswith(".vendored")]
