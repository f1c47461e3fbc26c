"""Study parameters an unlucky author cannot turn against the patients (no book build).

* A wrong file given as PARAMS (a patient file, a YAML bomb, a pipe, something huge) is refused
  with a message naming the file and the line, and never a fragment of the file's text.
* A boolean is not a number: `disclosure.k=true` is refused, not read as k = 1.
* On a confidential cohort, disclosure control below the defaults is refused by the cohort loader
  and by the build, unless the author acknowledges it ($CMPREHAB_ALLOW_WEAKER_DISCLOSURE=yes);
  every page's banner then states it. On the synthetic cohort any value is accepted.
"""
from __future__ import annotations

import importlib.util
import os
import shutil
import threading
import tracemalloc
from pathlib import Path
from types import SimpleNamespace

import pytest

from cmprehab import build, config, params
from cmprehab.data import cohort as loader
from cmprehab.data.cohort import CohortError, load_cohort, save_validated
from cmprehab.params import ParamsError

ROOT = Path(__file__).resolve().parent.parent
ACK = params.ALLOW_WEAKER_ENV_VAR

#: Patient rows (the committed cohort's stand for real ones): the header and twelve patients.
PATIENT_LINES = config.DEFAULT_COHORT.read_text(encoding="utf-8").splitlines()[:13]
PATIENT_TEXT = "\n".join(PATIENT_LINES) + "\n"
#: A patient's row without an empty cell (a YAML list of its cells is valid YAML).
FULL_ROW = next(line for line in PATIENT_LINES[1:] if ",," not in line and not line.endswith(","))


@pytest.fixture(autouse=True)
def _no_acknowledgement(monkeypatch):
    """Each test starts without the acknowledgement, whatever the shell running it has set."""
    monkeypatch.delenv(ACK, raising=False)


def assert_shows_no_row(message: str, lines: list[str] = PATIENT_LINES) -> None:
    """Not a patient id, nor two neighbouring cells of any line: not even a fragment of a row."""
    for line in lines:
        cells = line.split(",")
        if len(cells) > 1 and not line.startswith("patient_id"):
            assert cells[0] not in message, f"patient id {cells[0]} shown:\n{message}"
        for pair in map(",".join, zip(cells, cells[1:])):
            assert len(pair) < 6 or pair not in message, f"row fragment {pair!r} shown:\n{message}"


def refusal(path, overrides: str = "") -> str:
    with pytest.raises(ParamsError) as caught:
        params.load(path, overrides=overrides)
    message = str(caught.value)
    assert message.startswith(f"{Path(path).resolve()}: "), "every message names the file first"
    return message


# --------------------------------------------------------------------------
# A wrong file: refused, named, never shown
# --------------------------------------------------------------------------

@pytest.mark.parametrize("kind, content, words", [
    ("a patient CSV", PATIENT_TEXT, ["line 1: expected the parameters as named values", "found text"]),
    ("a CSV with a colon in a cell", PATIENT_TEXT.replace(",neck,", ",neck: left,", 1),
     ["line 2, column", "not valid YAML", "mapping values are not allowed here"]),
    ("patients as YAML", "".join(f"{line.split(',')[0]}: {line.split(',', 1)[1]}\n" for line in PATIENT_LINES[1:]),
     ["(unknown name) (line 1): Extra inputs are not permitted", "(unknown name) (line 12)"]),
    ("a tab after a key", f"mcid:\t{PATIENT_LINES[1]}\n", ["line 1, column 6", "found character (not shown)"]),
    ("a UTF-16 export", PATIENT_TEXT.encode("utf-16"), ["line 1: not valid UTF-8"]),
    ("a control character", f"mcid: x\n{PATIENT_LINES[1]}\x07\n", ["line 2: a control character"]),
])
def test_a_patient_file_given_as_parameters_shows_no_row(tmp_path, kind, content, words):
    path = tmp_path / "cohort.csv"
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    message = refusal(path)
    for word in words:
        assert word in message, message
    assert_shows_no_row(message)


def test_make_book_with_the_cohort_as_params_stops_without_showing_it(run_cli, tmp_path):
    """`make book PARAMS=data/cohort.csv`: the build stops before writing, and prints no row."""
    result = run_cli("cmprehab.build", "--output", tmp_path, env={params.FILE_ENV_VAR: str(config.DEFAULT_COHORT)})
    assert result.returncode == 1
    assert "the study parameters cannot be used; nothing was built" in result.stderr
    assert f"{config.DEFAULT_COHORT}: is 30,124 bytes, larger than the limit" in result.stderr
    assert_shows_no_row(result.stderr + result.stdout, config.DEFAULT_COHORT.read_text().splitlines())
    assert not (tmp_path / "_build").exists()
    small = tmp_path / "small.csv"  # a file under the size limit: refused for what it holds
    small.write_text(PATIENT_TEXT, encoding="utf-8")
    result = run_cli("cmprehab.build", "--output", tmp_path, env={params.FILE_ENV_VAR: str(small)})
    assert result.returncode == 1 and f"{small}: line 1: expected the parameters as named values" in result.stderr
    assert_shows_no_row(result.stderr + result.stdout)
    assert not (tmp_path / "_build").exists()


def billion_laughs(levels: int) -> str:
    """Each level a list of nine aliases of the one before: 9**levels strings once expanded."""
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 9)}]" for n in range(1, levels)]
    return "\n".join(lines) + "\n"


def refusal_and_peak(path) -> tuple[str, int]:
    """The refusal's message, and the most memory Python held while reading the file."""
    tracemalloc.start()
    try:
        return refusal(path), tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_an_alias_bomb_is_refused_at_its_first_alias_in_bounded_memory(tmp_path):
    path = tmp_path / "bomb.yml"
    path.write_text(billion_laughs(7), encoding="utf-8")  # 9**6 = 531,441 "lol" once expanded (3.7 MB as text)
    message, peak = refusal_and_peak(path)
    assert "line 2, column 10: an alias (*name) is not allowed in study parameters" in message
    assert peak < 2 * 2**20, f"{peak:,} bytes at the peak"
    assert "lol" not in message


def test_an_alias_in_set_is_refused():
    with pytest.raises(ParamsError, match=r"the value of 'confidence' cannot be used: .*an alias \(\*name\)"):
        params.load(overrides="confidence=*a")


@pytest.mark.parametrize("depth, refused", [(params.MAX_DEPTH, False), (params.MAX_DEPTH + 1, True), (5000, True)])
def test_nesting_deeper_than_the_limit_is_refused(tmp_path, depth, refused):
    """The whole file counts as one level; 5,000 levels would be a RecursionError in PyYAML."""
    path = tmp_path / "deep.yml"
    path.write_text("[" * depth + "]" * depth + "\n", encoding="utf-8")
    message = refusal(path)
    nested = f"line 1, column {params.MAX_DEPTH + 1}: nested more than {params.MAX_DEPTH} levels deep"
    assert (nested in message) == refused, message
    if not refused:  # read, and refused for what it is
        assert "expected the parameters as named values (name: value, as in params.yml), found a list" in message


def test_a_block_nested_mapping_deeper_than_the_limit_is_refused(tmp_path):
    path = tmp_path / "deep.yml"
    path.write_text("".join(f"{'  ' * level}k{level}:\n" for level in range(params.MAX_DEPTH)) + "  " * 9 + "x\n",
                    encoding="utf-8")
    assert f"nested more than {params.MAX_DEPTH} levels deep" in refusal(path)


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(tmp_path):
    at_limit = tmp_path / "params.yml"
    text = params.DEFAULT_FILE.read_text(encoding="utf-8")
    at_limit.write_text(text + "#" * (params.MAX_PARAMS_BYTES - len(text.encode()) - 1) + "\n", encoding="utf-8")
    assert at_limit.stat().st_size == params.MAX_PARAMS_BYTES
    assert params.load(at_limit, overrides="") == params.DEFAULTS
    with at_limit.open("a", encoding="utf-8") as more:
        more.write("\n")
    message = refusal(at_limit)
    assert f"is {params.MAX_PARAMS_BYTES + 1:,} bytes, larger than the limit of {params.MAX_PARAMS_BYTES:,}" in message
    huge = tmp_path / "huge.yml"
    with huge.open("wb") as sparse:
        sparse.truncate(64 * 2**20)  # 64 MiB that take no disk; reading them would take 64 MiB of memory
    message, peak = refusal_and_peak(huge)
    assert "67,108,864 bytes, larger than the limit" in message and peak < 2**20, peak


def test_a_named_pipe_is_refused_without_reading_it(tmp_path):
    fifo = tmp_path / "params.yml"
    os.mkfifo(fifo)

    def write_rows():  # were the pipe read, the loader would get patient rows, not a refusal
        try:
            with open(fifo, "w", encoding="utf-8") as pipe:
                pipe.write(PATIENT_TEXT)
        except BrokenPipeError:  # the loader opened it, saw a pipe and closed it
            pass
    writer = threading.Thread(target=write_rows, daemon=True)
    writer.start()
    try:
        message = refusal(fifo)
    finally:
        release = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # a reader, so the writer's open returns
        writer.join()
        os.close(release)
    assert f"{fifo}: is a named pipe (FIFO), not a regular file" in message
    assert_shows_no_row(message)


def test_a_directory_is_refused(tmp_path):
    assert f"{tmp_path}: is a directory, not a regular file" in refusal(tmp_path)


# --------------------------------------------------------------------------
# $CMPREHAB_SET: names, never values
# --------------------------------------------------------------------------

@pytest.mark.parametrize("overrides, words", [
    (f"disclosure.k={FULL_ROW.split(',')[0]}", ["disclosure.k (in $CMPREHAB_SET)", "valid integer"]),
    (f"confidence=[{FULL_ROW}]", ["confidence (in $CMPREHAB_SET)", "valid number"]),
    (f"confidence=[{FULL_ROW}", ["the value of 'confidence' cannot be used", "not valid YAML"]),
    (FULL_ROW, ["item 1 is not of the form name=value"]),
    (f"follow_up.ipw_covariates=[age,{FULL_ROW}]", ["follow_up.ipw_covariates.1 (in $CMPREHAB_SET)"]),
])
def test_a_bad_set_value_is_named_but_not_shown(overrides, words):
    with pytest.raises(ParamsError) as caught:
        params.load(overrides=overrides)
    for word in words:
        assert word in str(caught.value), str(caught.value)
    assert_shows_no_row(str(caught.value))


def test_a_set_longer_than_the_limit_is_refused():
    with pytest.raises(ParamsError, match=f"more than the limit of {params.MAX_SET_CHARS:,}"):
        params.load(overrides="confidence=0.9 " * (params.MAX_SET_CHARS // 10))


# --------------------------------------------------------------------------
# A boolean is not a number
# --------------------------------------------------------------------------

NUMBERS = ["mcid.nprs.threshold", "mcid.eqvas.threshold", "confidence", "follow_up.smd_flag", "disclosure.k",
           "disclosure.min_patients"]


@pytest.mark.parametrize("name", NUMBERS)
@pytest.mark.parametrize("word", ["true", "yes", "on", "false"])
def test_a_boolean_is_refused_where_a_number_is_meant(name, word):
    with pytest.raises(ParamsError) as caught:
        params.load(overrides=f"{name}={word}")
    assert f"  - {name} (in $CMPREHAB_SET): a number is needed here, not true/false" in str(caught.value)


def test_a_boolean_in_a_file_is_refused_with_its_line(tmp_path):
    path = tmp_path / "params.yml"
    text = params.DEFAULT_FILE.read_text(encoding="utf-8")
    line = text[:text.index("  k: 5")].count("\n") + 1
    path.write_text(text.replace("  k: 5", "  k: yes"), encoding="utf-8")
    assert f"disclosure.k (line {line}): a number is needed here, not true/false" in refusal(path)


def test_every_number_of_the_parameters_is_guarded():
    """A number added to the parameters later is guarded too (the validator applies to every field)."""
    numbers = [name for name, value in params.DEFAULTS.flat().items()
               if isinstance(value, (int, float)) and not isinstance(value, bool)]
    assert set(numbers) == set(NUMBERS) | {"mcid.dri.threshold"}


# --------------------------------------------------------------------------
# Disclosure control below the defaults: confidential data need the author's word
# --------------------------------------------------------------------------

@pytest.fixture
def confidential(tmp_path):
    """A copy of the committed cohort without its sidecar: real patient data, for the loader."""
    path = tmp_path / "cohort.csv"
    shutil.copyfile(config.DEFAULT_COHORT, path)
    return path


def test_the_defaults_are_what_the_rule_compares_with():
    assert (params.DEFAULTS.disclosure.k, params.DEFAULTS.disclosure.min_patients) == (5, 20)


@pytest.mark.parametrize("lowered", ["disclosure.k=3", "disclosure.min_patients=10",
                                     "disclosure.k=1 disclosure.min_patients=1"])
def test_lowering_is_refused_on_confidential_data_unless_acknowledged(confidential, monkeypatch, lowered):
    monkeypatch.setenv(params.SET_ENV_VAR, lowered)
    for answer in (None, "", "true", "1", "YES please"):
        if answer is not None:
            monkeypatch.setenv(ACK, answer)
        with pytest.raises(CohortError) as caught:
            load_cohort(confidential)
        message = str(caught.value)
        assert message.startswith(f"{confidential}: disclosure.")
        for change in params.weakened_disclosure(params.current()):
            assert f"{change.name} = {change.value} is below the default {change.default}" in message
        assert f"{ACK}=yes" in message and "weakens disclosure control" in message
    monkeypatch.setenv(ACK, "yes")
    assert len(load_cohort(confidential)) == 274


def test_an_edited_params_file_cannot_lower_the_floor(confidential, tmp_path, monkeypatch):
    """An author who edits the defaults themselves (k: 1 in a copy of params.yml) is refused too."""
    edited = tmp_path / "params.yml"
    text = params.DEFAULT_FILE.read_text(encoding="utf-8")
    assert "\n  k: 5\n" in text
    edited.write_text(text.replace("\n  k: 5\n", "\n  k: 1\n"), encoding="utf-8")
    monkeypatch.setenv(params.FILE_ENV_VAR, str(edited))
    # as if params.yml itself had been edited: its values are then the defaults too
    monkeypatch.setattr(params, "DEFAULTS", params.load(edited, overrides=""))
    assert params.DEFAULTS.disclosure.k == 1
    with pytest.raises(CohortError, match="disclosure.k = 1 is below the default 5"):
        load_cohort(confidential)
    monkeypatch.setenv(ACK, "yes")
    assert len(load_cohort(confidential)) == 274


def test_a_cohort_below_min_patients_loads_only_with_the_acknowledgement(tmp_path, monkeypatch):
    three = tmp_path / "three.csv"
    three.write_text("\n".join(PATIENT_LINES[:4]) + "\n", encoding="utf-8")
    monkeypatch.setenv(params.SET_ENV_VAR, "disclosure.min_patients=1")
    with pytest.raises(CohortError, match="disclosure.min_patients = 1 is below the default 20"):
        load_cohort(three)
    monkeypatch.setenv(ACK, "yes")
    assert len(load_cohort(three)) == 3


def test_raising_disclosure_control_needs_no_acknowledgement(confidential, monkeypatch):
    monkeypatch.setenv(params.SET_ENV_VAR, "disclosure.k=10 disclosure.min_patients=50")
    assert len(load_cohort(confidential)) == 274


def test_lowering_is_allowed_on_the_synthetic_cohort(monkeypatch):
    monkeypatch.setenv(params.SET_ENV_VAR, "disclosure.k=1 disclosure.min_patients=1")
    cohort = load_cohort(config.DEFAULT_COHORT)
    assert cohort.attrs["fingerprint"].synthetic and len(cohort) == 274


def test_the_build_s_validated_copy_is_refused_without_the_acknowledgement(confidential, tmp_path, monkeypatch):
    """A kernel loads the build's validated copy; the rule holds there too."""
    monkeypatch.setenv(params.SET_ENV_VAR, "disclosure.k=3")
    monkeypatch.setenv(ACK, "yes")
    validated = save_validated(load_cohort(confidential), tmp_path / "_build" / ".cohort")
    monkeypatch.setenv(config.DATA_ENV_VAR, str(confidential))
    monkeypatch.setenv(config.DATA_SHA256_ENV_VAR, validated.stem)
    monkeypatch.setenv(config.VALIDATED_ENV_VAR, str(validated))

    def parse(self):
        raise AssertionError("the file was parsed: the validated copy was not used")
    monkeypatch.setattr(loader._Reader, "read", parse)
    assert len(load_cohort()) == 274  # the copy
    monkeypatch.delenv(ACK)
    with pytest.raises(CohortError, match="disclosure.k = 3 is below the default 5"):
        load_cohort()


def test_the_build_refuses_lowering_on_confidential_data_before_writing(run_cli, confidential, tmp_path, monkeypatch):
    env = {config.DATA_ENV_VAR: str(confidential), params.SET_ENV_VAR: "disclosure.k=3"}
    result = run_cli("cmprehab.build", "--output", tmp_path, env=env)
    assert result.returncode == 1
    assert "the study parameters cannot be used on this cohort; nothing was built" in result.stderr
    assert "disclosure.k = 3 is below the default 5" in result.stderr and f"{ACK}=yes" in result.stderr
    assert not (tmp_path / "_build").exists()

    # With the acknowledgement the build goes on to read the cohort (stopped there: no whole build here).
    def stop(*args, **kwargs):
        raise CohortError("the test stops the build where it reads the cohort")
    monkeypatch.setattr(build, "load_cohort", stop)
    result = run_cli("cmprehab.build", "--output", tmp_path, env={**env, ACK: "yes"})
    assert result.returncode == 1 and "the test stops the build where it reads the cohort" in result.stderr
    assert "below the default" not in result.stderr
    # On the synthetic cohort it goes on without one.
    result = run_cli("cmprehab.build", "--output", tmp_path,
                     env={config.DATA_ENV_VAR: str(config.DEFAULT_COHORT), params.SET_ENV_VAR: "disclosure.k=3"})
    assert result.returncode == 1 and "the test stops the build where it reads the cohort" in result.stderr


# --------------------------------------------------------------------------
# The banner says so
# --------------------------------------------------------------------------

def data_notice():
    spec = importlib.util.spec_from_file_location("data_notice", ROOT / "_ext" / "data_notice.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def banner(synthetic: bool) -> str:
    return data_notice().notice_html(SimpleNamespace(synthetic=synthetic, seed=7 if synthetic else None,
                                                     n=274 if synthetic else None, sha256="ab" * 32, short="ab" * 6))


def test_the_banner_states_weakened_disclosure_control_first(monkeypatch):
    monkeypatch.setenv(params.SET_ENV_VAR, "disclosure.k=3 disclosure.min_patients=10 confidence=0.9")
    monkeypatch.setenv(ACK, "yes")
    notice = banner(synthetic=False)
    assert notice.startswith('<div class="data-notice data-notice--confidential" role="note" '
                             f'data-sha256="{"ab" * 32}"><strong class="data-notice__weakened">Disclosure control '
                             "weakened: k = 3 (default 5), min_patients = 10 (default 20), at the author&#x27;s "
                             f"request ({ACK}=yes).</strong> Confidential data:"), notice
    assert "Counts below 3 are suppressed" in notice


@pytest.mark.parametrize("overrides, synthetic", [
    ("disclosure.k=3", True),  # no disclosure control on synthetic data: nothing weakened
    ("disclosure.k=7 disclosure.min_patients=30", False),  # stronger
    ("", False),
])
def test_the_banner_says_nothing_weakened_otherwise(monkeypatch, overrides, synthetic):
    monkeypatch.setenv(params.SET_ENV_VAR, overrides)
    notice = banner(synthetic)
    assert "weakened" not in notice.lower()
    if overrides:  # still named among the changed parameters
        assert "Study parameters changed from the defaults: disclosure.k = " in notice
