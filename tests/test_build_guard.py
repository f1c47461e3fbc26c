"""The build driver: a bad file changes nothing, and no build inherits another build's results.

The first tests run the real command on bad files. The others run `build.main` with a
stand-in for `jupyter-book` (it writes an executed-notebook cache and a site, then
succeeds or fails as told), which reproduces in seconds what the issue found with
full builds: a failed build on one file left its executed notebooks for the next
build on another file to publish under the wrong banner.

The last part runs builds in processes of their own (`DRIVER`: the real build, with `STAND_IN`,
a process, in place of jupyter-book), to kill one with SIGKILL at a step the test chooses and
to run two at once; and it runs `make book` / `make pdf` with a stand-in for the venv's Python
(`RECORDER`) on data files with awkward names.
"""
import errno
import fcntl
import hashlib
import json
import os
import shlex
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cmprehab import build, config, execute, memo, params
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

    def __call__(self, command, env, **kwargs):
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


def test_make_hands_the_data_path_on_letter_for_letter():
    """make's abspath split a name with spaces into words; a `$` given on make's command line was
    expanded. The recipes get the name as typed; Python resolves it (the test above)."""
    for name in ("data/cohort.csv", *AWKWARD_NAMES):
        for how in ("environment", "command line"):
            env, argv = {**os.environ, config.DATA_ENV_VAR: name}, []
            if how == "command line":
                env.pop(config.DATA_ENV_VAR)
                argv = [f"{config.DATA_ENV_VAR}={name}"]
            shown = subprocess.run(["make", "-s", "--eval", "print-data: ; @printf '%s' \"$$CMPREHAB_DATA\"",
                                    "print-data", *argv], cwd=config.ROOT, env=env, capture_output=True,
                                   text=True, timeout=60)
            assert shown.returncode == 0 and shown.stdout == name, (how, shown.stderr)


def test_make_hands_the_params_path_on_letter_for_letter():
    """PARAMS went through abspath too: a parameters file named with a space was split into words."""
    for name in ("params.yml", *AWKWARD_NAMES):
        shown = subprocess.run(["make", "-s", "--eval", "print-params: ; @printf '%s' \"$$CMPREHAB_PARAMS\"",
                                "print-params", f"PARAMS={name}"], cwd=config.ROOT, capture_output=True,
                               text=True, timeout=60)
        assert shown.returncode == 0 and shown.stdout == name, shown.stderr


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
    for name in ("_config.yml", "_toc.yml", "references.bib", "CITATION.cff", "chapters/05_outcomes.ipynb", "chapters/api.md",
                 "_ext/traced_numbers.py", "book_static/cmprehab.css"):
        assert sources[name] == (config.ROOT / name).read_bytes(), name
    assert sources["$" + config.PDF_ENV_VAR] == b"book.pdf"
    # The vendored MathJax counts by its stamp, not file by file.
    assert not [name for name in sources if name.startswith("book_static/mathjax/") and not name.endswith(".vendored")]


# --- killed, concurrent and unlucky builds --------------------------------------------------

#: Names authors' exports have: spaces, quotes, letters beyond ASCII, what a shell or make would
#: take for its own (`$`, `$(...)`, backquotes, globs, `;`, `&`, `|`, `#`, `%`).
AWKWARD_NAMES = ("cohort 2021.csv", "export \"final\" it's.csv", "kohort åäö Øre ü.csv",
                 "a;b&c|d $HOME $(id) `id` *?[x] #1 50%.csv")

STAND_IN = r'''
"""A stand-in for `jupyter-book build ... --path-output OUTPUT`, in a process of its own: it writes
part of a site and a cache entry; with $STAND_IN_WAIT it then says so in $STAND_IN_GATE/started.json
and waits for the test to write $STAND_IN_GATE/finish (its exit code) before it completes the site."""
import json, os, sys, time
from pathlib import Path

output = Path(sys.argv[sys.argv.index("--path-output") + 1])
site = output / "_build" / "html"
site.mkdir(parents=True, exist_ok=True)
(site / "index.html").write_text("partial site")
(output / "_build" / ".jupyter_cache").mkdir(exist_ok=True)
(output / "_build" / ".jupyter_cache" / "nb").write_text("stand-in")
code = 0
if os.environ.get("STAND_IN_WAIT"):
    gate = Path(os.environ["STAND_IN_GATE"])
    started = {"pid": os.getpid(), "validated": os.environ["CMPREHAB_VALIDATED_COHORT"]}
    (gate / "started.tmp").write_text(json.dumps(started))
    os.replace(gate / "started.tmp", gate / "started.json")
    while not (gate / "finish").exists():  # a state the test sets
        time.sleep(0.01)
    code = int((gate / "finish").read_text())
(site / "index.html").write_text("site of stand-in")
sys.exit(code)
'''

DRIVER = r'''
"""python driver.py STAND_IN MOMENT -- BUILD_ARGS: `python -m cmprehab.build BUILD_ARGS` with the
stand-in started in place of jupyter-book (same environment, same inherited descriptors).
MOMENT: "jupyter-book" makes the stand-in wait; "copy" stops the build once the validated copy
is written, "commit" once the stamps are written, before the last good site is discarded: it
says so in $STAND_IN_GATE/paused and waits to be killed; "none" runs through."""
import os, signal, subprocess, sys
from pathlib import Path
from cmprehab import build

stand_in, moment = sys.argv[1], sys.argv[2]
real_run = subprocess.run


def jupyter_book(command, **kwargs):
    return real_run([sys.executable, stand_in, *command[1:]], **kwargs)


def stop_here():
    (Path(os.environ["STAND_IN_GATE"]) / "paused").write_text(str(os.getpid()))
    while True:
        signal.pause()


subprocess.run = jupyter_book
if moment == "jupyter-book":
    os.environ["STAND_IN_WAIT"] = "1"
elif moment == "copy":
    save = build.save_validated
    build.save_validated = lambda *args: (save(*args), stop_here())
elif moment == "commit":
    discard = build.discard
    build.discard = lambda path: stop_here() if path.name == build.PREVIOUS_SITE else discard(path)
sys.exit(build.main(sys.argv[sys.argv.index("--") + 1:]))
'''


def start_build(tmp_path, output, data, moment, *args, prefix=()):
    """A build of `output` on `data` in a process of its own (see DRIVER). Its output goes to files
    (`ended` reads them): a pipe would stay open as long as the stand-in it started runs."""
    gate = tmp_path / "gate"
    gate.mkdir(exist_ok=True)
    (tmp_path / "stand_in.py").write_text(STAND_IN)
    (tmp_path / "driver.py").write_text(DRIVER)
    env = {**os.environ, config.DATA_ENV_VAR: str(data), "STAND_IN_GATE": str(gate)}
    with open(tmp_path / "build.out", "w") as out, open(tmp_path / "build.err", "w") as err:
        process = subprocess.Popen([*prefix, sys.executable, str(tmp_path / "driver.py"),
                                    str(tmp_path / "stand_in.py"), moment, "--", "--output", str(output),
                                    "--jobs", "1", *args], cwd=config.ROOT, env=env, stdout=out, stderr=err)
    process.log = tmp_path / "build.out", tmp_path / "build.err"
    return process


def ended(process) -> tuple[int, str, str]:
    """The exit code, stdout and stderr of a build `start_build` started, once it has ended."""
    code = process.wait(timeout=120)
    return code, *(path.read_text() for path in process.log)


def wait_for(condition, what, process=None, timeout=120):
    """Until `condition()` holds (a state, checked every 10 ms); fails if `process` ends first."""
    deadline = time.monotonic() + timeout
    while not condition():
        if process is not None and process.poll() is not None:
            raise AssertionError(f"the build ended before {what}:\n{ended(process)}")
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.01)


def lock_is_free(build_dir):
    with open(build_dir / build.LOCK_FILE, "rb") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True


def snapshot(folder):
    """Every file under `folder` with its bytes, and every folder."""
    return {path.relative_to(folder).as_posix(): path.read_bytes() if path.is_file() else None
            for path in sorted(folder.rglob("*"))}


def test_two_builds_into_one_folder_run_one_at_a_time(tmp_path, monkeypatch, fake, capsys):
    """Found with two full builds at once: one failed on the cache's database, the other deleted the
    first one's stashed site."""
    output, gate = tmp_path / "out", tmp_path / "gate"
    build_dir = output / "_build"
    assert build_with(monkeypatch, fake, output, config.DEFAULT_COHORT, "good") == 0
    first = start_build(tmp_path, output, config.DEFAULT_COHORT, "jupyter-book", "--force")
    wait_for((gate / "started.json").exists, "the first build to start jupyter-book", first)
    copy = Path(json.loads((gate / "started.json").read_text())["validated"])
    capsys.readouterr()

    # The second build changes nothing and says why, without a traceback.
    assert build_with(monkeypatch, fake, output, config.DEFAULT_COHORT, "second", 0, "--force") == 2
    err = capsys.readouterr().err
    assert f"a build is running in {build_dir} (pid {first.pid})" in err and "Traceback" not in err
    assert len(fake.seen) == 1
    assert (build_dir / build.PREVIOUS_SITE / "index.html").read_text() == "site of good"
    assert copy.is_file()

    # The first ends as if it had been alone.
    (gate / "finish").write_text("0")
    code, out, err = ended(first)
    assert code == 0, err
    assert site_text(output) == "site of stand-in" and not (build_dir / build.PREVIOUS_SITE).exists()
    assert not copy.parent.exists()


@pytest.mark.parametrize("moment", ["copy", "jupyter-book", "commit"])
def test_a_killed_build_loses_no_site_and_leaves_no_patient_rows(tmp_path, monkeypatch, fake, capsys, moment):
    """SIGKILL once the validated copy is written, while jupyter-book runs, and once the new site's stamps
    are written (before the last good site is discarded). Found with a full build: the rows stayed in
    _build/.cohort/, and the next build deleted the last good site."""
    output, gate, other = tmp_path / "out", tmp_path / "gate", edited_copy(tmp_path, "age", "40")
    build_dir = output / "_build"
    assert build_with(monkeypatch, fake, output, config.DEFAULT_COHORT, "good") == 0
    killed = start_build(tmp_path, output, other, moment)
    wait_for((gate / ("started.json" if moment == "jupyter-book" else "paused")).exists,
             f"the build to reach {moment}", killed)
    record = build_dir / build.PRIVATE_RECORD
    private = Path(record.read_text(encoding="utf-8").strip()) if record.exists() else None
    os.kill(killed.pid, signal.SIGKILL)
    assert ended(killed)[0] == -signal.SIGKILL

    # Patient rows, if any are left, are only in the build's private folder, outside the project.
    assert [path for path in output.rglob("*.pickle")] == []
    if moment == "commit":  # removed when jupyter-book ended
        assert private is None
    else:
        assert private.is_dir() and stat.S_IMODE(private.stat().st_mode) == 0o700 and any(private.glob("*.pickle"))
        assert not private.is_relative_to(output) and not private.is_relative_to(config.ROOT)
    if moment == "jupyter-book":  # still running, the stand-in holds the lock the killed build handed it
        capsys.readouterr()
        assert build_with(monkeypatch, fake, output, config.DEFAULT_COHORT, "second") == 2
        err = capsys.readouterr().err
        assert f"pid {killed.pid}, which has ended" in err and "Traceback" not in err
        assert (build_dir / build.PREVIOUS_SITE / "index.html").read_text() == "site of good"
        (gate / "finish").write_text("0")
        wait_for(lambda: lock_is_free(build_dir), "the stand-in jupyter-book to end")

    # The next build, even one that refuses its file, first puts the last good site back and removes the rows.
    (tmp_path / "bad").mkdir()
    assert build_with(monkeypatch, fake, output, edited_copy(tmp_path / "bad", "sex", "x"), "bad") == 1
    assert site_text(output) == "site of good"
    assert sorted(path.name for path in build_dir.iterdir() if path.name.startswith("html")) == ["html"]
    assert not record.exists() and (private is None or not private.exists())
    # Nothing the killed build wrote vouches for that site: its inputs are built again, not taken as done.
    runs = len(fake.seen)
    assert build_with(monkeypatch, fake, output, other, "other") == 0
    assert len(fake.seen) == runs + 1 and site_text(output) == "site of other"


def test_an_unexpected_error_fails_the_build_like_any_other(tmp_path, monkeypatch, fake, capsys):
    """Found with two builds at once: jupyter-cache's RuntimeError escaped the failure handling."""
    output = tmp_path / "out"
    assert build_with(monkeypatch, fake, output, config.DEFAULT_COHORT, "good") == 0

    def broken(cache_dir, env, jobs, log=print):
        raise RuntimeError("attempt to write a readonly database")
    monkeypatch.setattr(build.execute, "run", broken)
    assert build_with(monkeypatch, fake, output, config.DEFAULT_COHORT, "x", 0, "--jobs", "2", "--force") == 1
    err = capsys.readouterr().err
    assert "RuntimeError: attempt to write a readonly database" in err and "FAILED" in err
    assert site_text(output) == "site of good" and not (output / "_build" / build.PREVIOUS_SITE).exists()
    assert not (output / "_build" / build.PRIVATE_RECORD).exists()


def unprivileged() -> list[str]:
    """A prefix for a command that must not write where permissions forbid: root may, except in a
    user namespace of its own (`unshare --user`)."""
    if os.geteuid() != 0:
        return []
    if shutil.which("unshare") and subprocess.call(["unshare", "--user", "true"]) == 0:  # (`fake` took .run)
        return ["unshare", "--user"]
    pytest.skip("run as root, without user namespaces: a read-only folder cannot be made")


def test_a_read_only_build_folder_is_reported_before_anything_is_deleted(tmp_path, monkeypatch, fake):
    """Found with a full build: a raw PermissionError, after the execution cache was emptied."""
    output, other = tmp_path / "out", edited_copy(tmp_path, "age", "40")
    build_dir = output / "_build"
    assert build_with(monkeypatch, fake, output, config.DEFAULT_COHORT, "good") == 0
    before = snapshot(build_dir)
    prefix = unprivileged()
    build_dir.chmod(0o555)
    try:  # another file: the cache would be dropped first
        code, out, err = ended(start_build(tmp_path, output, other, "none", prefix=prefix))
    finally:
        build_dir.chmod(0o755)
    assert code == 1, err
    assert f"{build_dir} cannot be written (Permission denied); nothing was built or deleted" in err
    assert "Traceback" not in err
    assert snapshot(build_dir) == before


def no_space(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_a_full_disk_leaves_the_previous_site(tmp_path, monkeypatch, fake, capsys):
    output, other = tmp_path / "out", edited_copy(tmp_path, "age", "40")
    build_dir = output / "_build"
    assert build_with(monkeypatch, fake, output, config.DEFAULT_COHORT, "good") == 0
    before = snapshot(build_dir)
    made = []
    make_private_folder = build.make_private_folder
    monkeypatch.setattr(build, "make_private_folder", lambda *args: made.append(make_private_folder(*args)) or made[-1])

    # Writing the validated copy: nothing has been changed yet, and nothing is.
    with monkeypatch.context() as scope:
        scope.setattr(memo, "write_private_pickle", no_space)
        assert build_with(monkeypatch, fake, output, other, "other") == 1
    err = capsys.readouterr().err
    assert "cannot write the validated copy of the cohort (No space left on device)" in err and "Traceback" not in err
    assert snapshot(build_dir) == before and len(fake.seen) == 1
    assert len(made) == 1 and not made[0].exists()

    # Writing a stamp once jupyter-book has succeeded: the build fails, and the last good site is put back.
    write_atomically = build.write_atomically
    monkeypatch.setattr(build, "write_atomically", lambda path, *args, **kwargs: no_space() if path.name ==
                        build.SITE_STAMP_FILE else write_atomically(path, *args, **kwargs))
    assert build_with(monkeypatch, fake, output, other, "other") == 1
    err = capsys.readouterr().err
    assert "cannot write the stamp" in err and "(No space left on device)" in err and "Traceback" not in err
    assert len(fake.seen) == 2 and site_text(output) == "site of good"
    assert not (build_dir / build.PREVIOUS_SITE).exists() and not (build_dir / build.STAMP_FILE).exists()
    assert not made[-1].exists()


RECORDER = r'''
"""Stands in for the venv's Python in `make book` and `make pdf` (PY=...): it records what each command
got; `-m cmprehab.build` runs the real build, with a stand-in for jupyter-book that records the data
file it was handed."""
import json, os, subprocess, sys
from pathlib import Path
from cmprehab import build, config


def record(**entry):
    with open(os.environ["RECORDER_LOG"], "a", encoding="utf-8") as log:
        log.write(json.dumps(entry) + "\n")


def jupyter_book(command, env, **kwargs):
    site = Path(command[command.index("--path-output") + 1]) / "_build" / "html"
    site.mkdir(parents=True, exist_ok=True)
    (site / "index.html").write_text("site")
    record(command="jupyter-book", data=env[config.DATA_ENV_VAR], sha256=env[config.DATA_SHA256_ENV_VAR])
    return subprocess.CompletedProcess(command, 0)


record(command=" ".join(sys.argv[1:3]), data=os.environ.get(config.DATA_ENV_VAR), resolved=str(config.cohort_path()))
if sys.argv[1:3] == ["-m", "cmprehab.build"]:
    subprocess.run = jupyter_book
    sys.exit(build.main(sys.argv[3:]))
'''


def make_with_recorder(tmp_path, target, data, via="environment"):
    """`make <target>` with CMPREHAB_DATA=data given as an author would, the venv's Python replaced by RECORDER
    (the setup targets taken as done); returns make's result and what each command got."""
    (tmp_path / "recorder.py").write_text(RECORDER)
    python = tmp_path / "python"
    python.write_text(f"#!/bin/sh\nexec {shlex.quote(sys.executable)} {shlex.quote(str(tmp_path / 'recorder.py'))} \"$@\"\n")
    python.chmod(0o755)
    log = tmp_path / "commands.jsonl"
    log.unlink(missing_ok=True)
    env = {**os.environ, "RECORDER_LOG": str(log)}
    argv = ["make", "-s", "-o", "venv", "-o", "vendor", "-o", "system-deps", target, f"PY={python}",
            f"BOOK_ARGS=--output {tmp_path / 'out'} --jobs 1"]
    if via == "environment":
        env[config.DATA_ENV_VAR] = data
    else:
        argv.append(f"{config.DATA_ENV_VAR}={data}")
    result = subprocess.run(argv, cwd=config.ROOT, env=env, capture_output=True, text=True, timeout=300)
    commands = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()] if log.exists() else []
    return result, commands


def awkward_copy(tmp_path, name):
    """The committed cohort (without its sidecar: real data) under `name`, in a folder whose name has a space."""
    folder = tmp_path / "author's exports"
    folder.mkdir(exist_ok=True)
    shutil.copyfile(config.DEFAULT_COHORT, folder / name)
    return folder / name


@pytest.mark.parametrize("name", AWKWARD_NAMES)
def test_make_book_builds_from_a_data_file_with_any_name(tmp_path, name):
    """Found with CMPREHAB_DATA="/data/cohort 2021.csv" make book: abspath split the name into words.
    Given relative, as authors do: Python resolves it against the folder make runs in."""
    data = awkward_copy(tmp_path, name)
    result, commands = make_with_recorder(tmp_path, "book", os.path.relpath(data, config.ROOT))
    assert result.returncode == 0, result.stderr
    assert [c["command"] for c in commands] == ["-m cmprehab.build", "jupyter-book"]
    assert commands[0]["resolved"] == str(data)
    assert commands[1]["data"] == str(data)
    assert commands[1]["sha256"] == hashlib.sha256(data.read_bytes()).hexdigest()


def test_make_pdf_builds_and_prints_from_a_data_file_with_any_name(tmp_path):
    data = awkward_copy(tmp_path, AWKWARD_NAMES[-1])
    result, commands = make_with_recorder(tmp_path, "pdf", str(data), via="command line")
    assert result.returncode == 0, result.stderr
    assert [c["command"] for c in commands] == ["-m cmprehab.build", "jupyter-book", "scripts/book_pdf.py --name"]
    assert [c.get("resolved", c["data"]) for c in commands] == [str(data)] * 3


@pytest.mark.parametrize("name", AWKWARD_NAMES)
def test_the_validator_reads_a_data_file_with_any_name(tmp_path, run_cli, name):
    data = awkward_copy(tmp_path, name)
    for args, env in (([data], None), ([], {config.DATA_ENV_VAR: str(data)})):
        result = run_cli("cmprehab.validate", *args, env=env)
        assert result.returncode == 0 and result.stdout.startswith(f"OK {data}: 274 patients"), result.stderr


def test_the_api_page_of_a_module_that_is_gone_is_removed_before_the_build(tmp_path):
    """autosummary never deletes the page it generated for a module; after a module is renamed or
    deleted, its page would fail the next build on its import. The build removes such pages only."""
    folder = tmp_path / config.API_PAGE
    folder.mkdir(parents=True)
    kept = [folder / "cmprehab.report.tables.rst", folder / "cmprehab.rst"]
    gone = [folder / "cmprehab.report.no_such_module.rst", folder / "cmprehab.no_such_package.tables.rst"]
    for page in kept + gone:
        page.write_text("stub\n", encoding="utf-8")
    assert build.drop_stale_api_pages(tmp_path) == sorted(gone)
    assert sorted(folder.iterdir()) == sorted(kept)
