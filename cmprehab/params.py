"""Study parameters: the analysis choices a reader may change without touching code.

They live in `params.yml` at the top of the project (documented there). A build can
name another file (`make book PARAMS=my.yml`, i.e. $CMPREHAB_PARAMS) and change single
values (`make book SET="mcid.nprs.threshold=1"`, i.e. $CMPREHAB_SET). The build
resolves them once and hands the result to every notebook kernel as JSON
($CMPREHAB_PARAMS_RESOLVED), so a page never reads another value than the banner names.

A parameter file may be the wrong file (a cohort CSV given as PARAMS), so it is read with care:
only a regular file of at most MAX_PARAMS_BYTES, parsed by PyYAML's safe loader without aliases
(a few lines of anchors and aliases expand to gigabytes) and with at most MAX_DEPTH levels of
nesting. An error names the file, the line and the parameter, and never shows the file's text or
a value from it (nor a value given in $CMPREHAB_SET): a patient file given by mistake must not
end up on a console or in a log.

Numbers are numbers: a boolean (YAML reads true, yes and on as one) is refused where a number is
meant. On a confidential cohort, a `disclosure.k` or `disclosure.min_patients` below the defaults
(or below their floors, `DISCLOSURE_FLOORS`, whatever params.yml says) is refused (`refuse_weaker_disclosure`, applied by the cohort loader and the build) unless the
author sets $CMPREHAB_ALLOW_WEAKER_DISCLOSURE=yes; every page's banner then says so.

Unit tests pass parameters explicitly; only the report layer reads `current()`.
"""
from __future__ import annotations

import difflib
import json
import os
import re
import stat
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from . import config
from .instruments import INSTRUMENTS

DEFAULT_FILE = config.ROOT / "params.yml"
FILE_ENV_VAR = "CMPREHAB_PARAMS"
SET_ENV_VAR = "CMPREHAB_SET"
RESOLVED_ENV_VAR = "CMPREHAB_PARAMS_RESOLVED"
#: Set to "yes" to build a confidential cohort with disclosure control below the defaults.
ALLOW_WEAKER_ENV_VAR = "CMPREHAB_ALLOW_WEAKER_DISCLOSURE"

#: Largest parameter file read. The committed params.yml, comments and all, is under 3 KiB; a
#: file several times that size is not a parameter file (a data file given by mistake?). It is
#: refused before it is read: PyYAML holds the whole text, and its tree, in memory.
MAX_PARAMS_BYTES = 16 * 1024
#: Longest $CMPREHAB_SET: a few name=value pairs typed on a command line.
MAX_SET_CHARS = 4 * 1024
#: Deepest nesting of mappings and lists, counting the whole file as one level: the parameters
#: need four (mcid > nprs > threshold; follow_up > ipw_covariates > item). PyYAML composes a
#: document recursively; deeper input would end in a RecursionError traceback.
MAX_DEPTH = 8


class ParamsError(ValueError):
    """The parameters cannot be used; the message names the file, the parameter and the rule."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @field_validator("*", mode="before")
    @classmethod
    def _numbers_are_not_booleans(cls, value, info):
        # pydantic reads True as 1: `disclosure.k=true` (or `yes`, or `on`) would mean k = 1.
        if isinstance(value, bool) and cls.model_fields[info.field_name].annotation in (int, float):
            raise ValueError("a number is needed here, not true/false (YAML reads true, false, yes, no, "
                             "on and off as booleans)")
        return value


class McidRule(_Strict):
    threshold: float = Field(gt=0, description="least improvement that counts")
    definition: Literal["absolute", "percent"] = "absolute"

    @model_validator(mode="after")
    def _percent_is_a_percentage(self):
        if self.definition == "percent" and self.threshold > 100:
            raise ValueError("a percent threshold must be at most 100")
        return self

    def describe(self, unit: str) -> str:
        if self.definition == "percent":
            return f"{self.threshold:g} %"
        return f"{self.threshold:g} {unit.removesuffix('s') if self.threshold == 1 else unit}"  # 1 point


class Disclosure(_Strict):
    k: int = Field(ge=1, le=100, description="counts below k are suppressed on real data")
    min_patients: int = Field(ge=1, description="smaller cohorts are refused")


#: Baseline columns a model of being measured may use (complete at baseline by the schema, or nearly so).
COVARIATES = ("age", "sex", "bmi", "smoker", "pain_duration_days", "anxiety_depression", "n_goals",
              "n_sessions", "program_days", "pain_distribution", "pain_management")


class FollowUp(_Strict):
    smd_flag: float = Field(gt=0, le=2, description="|SMD| above which a characteristic is imbalanced")
    ipw_covariates: list[Literal[COVARIATES]] = Field(min_length=1)


#: The candidate predictors of the follow-on paper this schema holds (`analysis.predictors.PREDICTORS`).
PREDICTOR_KEYS = ("age", "sex", "bmi", "smoker", "pain_duration", "pain_distribution", "main_pain_location",
                  "severe_pain", "dri_start", "eqvas_start", "low_pain_management", "physically_active",
                  "anxiety_depression")


class Predictors(_Strict):
    adjusted_for: list[Literal[PREDICTOR_KEYS]] = Field(min_length=1)


class Params(_Strict):
    mcid: dict[Literal[tuple(INSTRUMENTS)], McidRule]
    confidence: float = Field(gt=0, lt=1)
    follow_up: FollowUp
    predictors: Predictors
    disclosure: Disclosure

    @model_validator(mode="before")
    @classmethod
    def _rules_in_the_instruments_order(cls, data):
        """The MCID rules in the instruments' order, however they come: the build hands the kernels
        JSON with sorted keys, and a table of the parameters must read the same in a build as in a
        fresh kernel (nbval found the provenance page's rows in another order)."""
        if isinstance(data, dict) and isinstance(data.get("mcid"), dict):
            mcid = data["mcid"]
            ordered = {stem: mcid[stem] for stem in INSTRUMENTS if stem in mcid}
            data = {**data, "mcid": {**ordered, **{k: v for k, v in mcid.items() if k not in ordered}}}
        return data

    @model_validator(mode="after")
    def _every_instrument(self):
        missing = [stem for stem in INSTRUMENTS if stem not in self.mcid]
        if missing:
            raise ValueError(f"mcid needs a rule for every instrument; missing: {', '.join(missing)}")
        return self

    @property
    def ci_label(self) -> str:
        """How intervals are labelled in figures and captions ("95 % CI")."""
        return f"{100 * self.confidence:g} % CI"

    def updated(self, changes: dict[str, object]) -> "Params":
        """A copy with some values changed by their dotted names: `p.updated({"mcid.nprs.threshold": 1})`."""
        tree = self.model_dump()
        for name, value in changes.items():
            _set(tree, name, value, "Params.updated")
        return _validated(tree, "Params.updated")

    def flat(self) -> dict[str, object]:
        """Every parameter by its dotted name (the names `SET` uses)."""
        return _flatten(self.model_dump())

    def changes(self) -> list["Change"]:
        """The parameters that differ from the project's defaults."""
        default = DEFAULTS.flat()
        return [Change(name, value, default[name]) for name, value in self.flat().items() if value != default[name]]

    def beside_defaults(self) -> list[dict[str, str]]:
        """Every parameter with its value and default, as text, and whether it was changed."""
        default = DEFAULTS.flat()
        return [{"parameter": name, "value": _show(value), "default": _show(default[name]),
                 "changed": "yes" if value != default[name] else ""} for name, value in self.flat().items()]

    def describe_changes(self) -> str:
        """'' when every parameter has its default, else one phrase naming each change."""
        return "; ".join(f"{c.name} = {_show(c.value)} (default {_show(c.default)})" for c in self.changes())


@dataclass(frozen=True)
class Change:
    name: str
    value: object
    default: object


def _show(value) -> str:
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return f"{value:g}" if isinstance(value, float) else str(value)


def _flatten(tree: dict, prefix: str = "") -> dict[str, object]:
    flat = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        flat.update(_flatten(value, name + ".") if isinstance(value, dict) else {name: value})
    return flat


def _set(tree: dict, dotted: str, value, where: str) -> None:
    *parents, leaf = dotted.split(".")
    node = tree
    for part in parents:
        if not isinstance(node.get(part), dict):
            raise ParamsError(f"{where}: {dotted!r} is not a parameter (see params.yml for the names)")
        node = node[part]
    if leaf not in node or isinstance(node[leaf], dict):
        raise ParamsError(f"{where}: {dotted!r} is not a parameter (see params.yml for the names)")
    node[leaf] = value


#: A dotted parameter name as $CMPREHAB_SET gives it.
_NAME = re.compile(r"[a-z_]+(\.[a-z_0-9]+)*")


def parse_overrides(text: str) -> list[tuple[str, object]]:
    """'mcid.nprs.threshold=1 confidence=0.9' -> [(name, value)]: pairs separated by spaces or
    semicolons, values read as YAML (a list without spaces: follow_up.ipw_covariates=[age,sex]).
    An error names the item and the parameter, never the value given."""
    if len(text) > MAX_SET_CHARS:
        raise ParamsError(f"${SET_ENV_VAR}: {len(text):,} characters, more than the limit of {MAX_SET_CHARS:,} "
                          "(MAX_SET_CHARS in cmprehab/params.py); change a few values with SET, or give a file "
                          "with PARAMS")
    pairs = []
    for number, item in enumerate(filter(None, re.split(r"[\s;]+", text.strip())), start=1):
        name, sep, value = item.partition("=")
        if not sep or not _NAME.fullmatch(name):
            raise ParamsError(f"${SET_ENV_VAR}: item {number} is not of the form name=value "
                              "(for example mcid.nprs.threshold=1)")
        try:
            pairs.append((name, _parse(value)[0]))
        except yaml.YAMLError as err:
            raise ParamsError(f"${SET_ENV_VAR}: the value of {name!r} cannot be used: {_yaml_problem(err, value)}"
                              ) from None
    return pairs


# --------------------------------------------------------------------------
# Reading a parameter file: never its content in a message
# --------------------------------------------------------------------------

def _read_text(path: Path) -> str:
    """The text of a parameter file: a regular file of at most MAX_PARAMS_BYTES, in UTF-8."""
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer. The type is checked on the open
        # descriptor, so the file cannot be swapped between the check and the read.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as err:
        raise ParamsError(f"{path}: cannot read the study parameters ({err.strerror})") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = ("a directory" if stat.S_ISDIR(info.st_mode) else "a named pipe (FIFO)"
                    if stat.S_ISFIFO(info.st_mode) else "a device or a socket")
            raise ParamsError(f"{path}: is {kind}, not a regular file; the study parameters must be a YAML "
                              "file on disk (like params.yml)")
        if info.st_size > MAX_PARAMS_BYTES:
            raise ParamsError(_too_large(path, info.st_size))
        data = b""
        while len(data) <= MAX_PARAMS_BYTES and (block := os.read(fd, MAX_PARAMS_BYTES + 1 - len(data))):
            data += block
    except OSError as err:
        raise ParamsError(f"{path}: cannot read the study parameters ({err.strerror})") from None
    finally:
        os.close(fd)
    if len(data) > MAX_PARAMS_BYTES:  # it grew while being read
        raise ParamsError(_too_large(path, len(data)))
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data[:err.start].count(b"\n") + 1
        raise ParamsError(f"{path}: line {line}: not valid UTF-8 (is it a text file?); the study parameters "
                          "are a YAML file in UTF-8, like params.yml") from None


def _too_large(path: Path, size: int) -> str:
    return (f"{path}: is {size:,} bytes, larger than the limit of {MAX_PARAMS_BYTES:,} bytes for study parameters "
            "(MAX_PARAMS_BYTES in cmprehab/params.py); is it a parameter file like params.yml?")


class _Refused(yaml.MarkedYAMLError):
    """YAML the study parameters do not accept; its message holds nothing of the input."""


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader without aliases, and with at most MAX_DEPTH levels of nesting.

    Aliases are refused rather than capped: no parameter needs one, and a "billion laughs" file
    then stays the few bytes it is (as loaded by yaml.safe_load it grows to gigabytes)."""

    def __init__(self, text: str):
        super().__init__(text)
        self.depth = 0

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            raise _Refused(problem="an alias (*name) is not allowed in study parameters; write the value out",
                           problem_mark=self.peek_event().start_mark)
        if self.depth >= MAX_DEPTH:
            raise _Refused(problem=f"nested more than {MAX_DEPTH} levels deep (MAX_DEPTH in cmprehab/params.py); "
                                   "the parameters are at most four", problem_mark=self.peek_event().start_mark)
        self.depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def construct_object(self, node, deep=False):
        try:
            return super().construct_object(node, deep)
        except ValueError:  # Python's own message may quote the value
            raise _Refused(problem="a value that cannot be read (a date that does not exist, a number of "
                                   "thousands of digits?)", problem_mark=node.start_mark) from None


def _parse(text: str) -> tuple[object, dict[tuple, int]]:
    """The YAML document in `text`, and the line of each key and list item in it ({("mcid", "nprs"): 22})."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, {}
        lines = _lines(node)
        return loader.construct_document(node), lines
    finally:
        loader.dispose()


def _lines(node, path: tuple = (), lines: dict | None = None, line: int | None = None) -> dict[tuple, int]:
    """The line of each key (`line`: of the key whose value `node` is) and of each list item."""
    lines = {} if lines is None else lines
    lines[path] = line or node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key, value in node.value:
            if not (isinstance(key, yaml.ScalarNode) and key.tag == "tag:yaml.org,2002:str"):
                raise _Refused(problem="a key that is not a name (see params.yml for the names)",
                               problem_mark=key.start_mark)
            if key.value in seen:
                raise _Refused(problem=f"{_shown(path + (key.value,))} is given twice (first on line "
                                       f"{seen[key.value]}); keep one", problem_mark=key.start_mark)
            seen[key.value] = key.start_mark.line + 1
            _lines(value, path + (key.value,), lines, seen[key.value])
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _lines(item, path + (index,), lines)
    return lines


#: What PyYAML's messages quote may be the input's text: only its token names ('<scalar>') and
#: YAML's own punctuation are kept.
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
_SAFE_QUOTE = re.compile(r"'(<[a-z ]+>|[-,:?\[\]{}|>#&*!%@`]+)'")


def _yaml_problem(err: yaml.YAMLError, text: str) -> str:
    """Where and why `text` is not YAML the parameters accept, without a character of `text`."""
    if isinstance(err, yaml.MarkedYAMLError):
        mark = err.problem_mark or err.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        if isinstance(err, _Refused):
            return where + err.problem
        words = ", ".join(_QUOTED.sub(lambda m: m[0] if _SAFE_QUOTE.fullmatch(m[0]) else "(not shown)", part)
                          for part in (err.context, err.problem) if part)
        return f"{where}not valid YAML ({words})"
    if isinstance(err, yaml.reader.ReaderError):
        return (f"line {text[:err.position].count(chr(10)) + 1}: a control character YAML does not accept "
                "(is it a text file?)")
    return "not valid YAML"


#: Every name a parameter path is made of. A key outside them may be anything (a patient's value,
#: when a data file is given by mistake), so messages do not show it.
_KNOWN_NAMES = frozenset(INSTRUMENTS).union(*(model.model_fields for model in
                                              (Params, McidRule, FollowUp, Predictors, Disclosure)))


def _shown(loc: tuple) -> str:
    """A parameter's dotted name as a message may show it (list items by their position)."""
    parts = [str(part) if isinstance(part, int) or part in _KNOWN_NAMES else "(unknown name)" for part in loc]
    return ".".join(parts) or "(top level)"


def _kind(value) -> str:
    """What a value is, in words that show nothing of it."""
    if value is None:
        return "nothing (an empty file?)"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return f"text ({len(value):,} characters)"
    if isinstance(value, list):
        return f"a list of {len(value):,} items"
    return f"a value of type {type(value).__name__}"


def _problem(error: dict, origins: dict[tuple, str]) -> str:
    loc = tuple(part for part in error["loc"] if part != "[key]")  # pydantic's mark of a dict key
    origin = next((origins[loc[:n]] for n in range(len(loc), 0, -1) if loc[:n] in origins), "")
    unknown = next((part for part in loc if isinstance(part, str) and part not in _KNOWN_NAMES), None)
    close = difflib.get_close_matches(unknown, _KNOWN_NAMES, n=1) if unknown else []
    hint = f" (did you mean {close[0]}?)" if close else ""
    return f"{_shown(loc)}{f' ({origin})' if origin else ''}: {error['msg'].removeprefix('Value error, ')}{hint}"


def _validated(tree: object, where: str, origins: dict[tuple, str] | None = None) -> Params:
    """`tree` as Params; else a ParamsError naming each parameter, the line (or $CMPREHAB_SET) it
    came from and the rule broken, but no value given (`origins`: where each parameter came from)."""
    origins = origins or {}
    if not isinstance(tree, dict):
        at = f"{origins[()]}: " if () in origins else ""
        raise ParamsError(f"{where}: {at}expected the parameters as named values (name: value, as in params.yml), "
                          f"found {_kind(tree)}")
    try:
        return Params.model_validate(tree)
    except ValidationError as err:
        problems = [f"  - {_problem(e, origins)}" for e in err.errors()]
        raise ParamsError(f"{where}: {len(problems)} problem(s) with the study parameters:\n" + "\n".join(problems)) \
            from None


def load(path: Path | str | None = None, overrides: str | None = None) -> Params:
    """The parameters of `path` (default: $CMPREHAB_PARAMS or params.yml) with `overrides` applied
    (default: $CMPREHAB_SET). Raises ParamsError naming the file, the line, the parameter and the rule."""
    path = Path(path or os.environ.get(FILE_ENV_VAR) or DEFAULT_FILE).expanduser().resolve()
    overrides = os.environ.get(SET_ENV_VAR, "") if overrides is None else overrides
    text = _read_text(path)
    try:
        tree, lines = _parse(text)
    except yaml.YAMLError as err:
        raise ParamsError(f"{path}: {_yaml_problem(err, text)}") from None
    origins = {key: f"line {line}" for key, line in lines.items()}
    where = str(path)
    if overrides.strip():
        if not isinstance(tree, dict):
            _validated(tree, where, origins)
        for name, value in parse_overrides(overrides):
            _set(tree, name, value, f"${SET_ENV_VAR}")
            key = tuple(name.split("."))
            origins = {at: line for at, line in origins.items() if at[:len(key)] != key}
            origins[key] = f"in ${SET_ENV_VAR}"
        where += f" with ${SET_ENV_VAR}"
    return _validated(tree, where, origins)


#: The project's defaults: the committed params.yml, their only home. A build's banner and its
#: Provenance page name each value that PARAMS or SET changes from them.
DEFAULTS = load(DEFAULT_FILE, overrides="")


def to_json(params: Params) -> str:
    return json.dumps(params.model_dump(), sort_keys=True)


def current() -> Params:
    """The parameters of this build: as the build resolved them, else from the files."""
    return _current(os.environ.get(RESOLVED_ENV_VAR, ""), os.environ.get(FILE_ENV_VAR, ""),
                    os.environ.get(SET_ENV_VAR, ""))


@lru_cache(maxsize=8)
def _current(resolved: str, path: str, overrides: str) -> Params:
    if resolved:
        return _validated(json.loads(resolved), f"${RESOLVED_ENV_VAR}")
    return load(path or None, overrides)


# --------------------------------------------------------------------------
# Disclosure control below the defaults: refused on real data unless acknowledged
# --------------------------------------------------------------------------

#: The parameters that protect real patients, with the smallest value each may take on real data
#: without the author's acknowledgement. A floor, not a default: params.yml may raise them, but an
#: edited params.yml cannot lower them silently, since the comparison would otherwise be with itself.
#: k = 5 and 20 patients are what the disclosure design (report/disclosure.py) and its attack test
#: (tests/test_disclosure_attack.py) were made for.
DISCLOSURE_FLOORS = {"disclosure.k": 5, "disclosure.min_patients": 20}
DISCLOSURE_PARAMETERS = tuple(DISCLOSURE_FLOORS)


def weakened_disclosure(params: Params) -> list[Change]:
    """The disclosure parameters set below the project's defaults or below their floor; each
    Change names the higher of the two as its `default`."""
    default = DEFAULTS.flat()
    weaker = []
    for name, value in params.flat().items():
        if name in DISCLOSURE_FLOORS:
            bar = max(default[name], DISCLOSURE_FLOORS[name])
            if value < bar:
                weaker.append(Change(name, value, bar))
    return weaker


def describe_weakened_disclosure(params: Params) -> str:
    """'' unless disclosure control is below the defaults, else
    'disclosure control weakened: k = 3 (default 5), min_patients = 10 (default 20)'."""
    weaker = weakened_disclosure(params)
    return ("disclosure control weakened: " + ", ".join(
        f"{c.name.removeprefix('disclosure.')} = {c.value} (default {c.default})" for c in weaker)) if weaker else ""


def weaker_disclosure_acknowledged() -> bool:
    return os.environ.get(ALLOW_WEAKER_ENV_VAR, "").strip() == "yes"


def refuse_weaker_disclosure(params: Params, synthetic: bool) -> None:
    """Raise ParamsError when `params` set disclosure control below the defaults on a confidential
    cohort (`synthetic` False) and the author has not acknowledged it with
    $CMPREHAB_ALLOW_WEAKER_DISCLOSURE=yes. On the generator's synthetic cohort no disclosure control
    applies, so any value passes. The cohort loader and the build both ask."""
    weaker = weakened_disclosure(params)
    if synthetic or not weaker or weaker_disclosure_acknowledged():
        return
    lowered = "; ".join(f"{c.name} = {c.value} is below the default {c.default}" for c in weaker)
    raise ParamsError(
        f"{lowered}: on a confidential cohort (real patient data) that weakens disclosure control, and is "
        f"refused. If the data owner's rules allow it, say so with {ALLOW_WEAKER_ENV_VAR}=yes (make book "
        "ALLOW_WEAKER_DISCLOSURE=yes); the banner of every page then states the lowered value.")
