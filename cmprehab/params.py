"""Study parameters: the analysis choices a reader may change without touching code.

They live in `params.yml` at the top of the project (documented there). A build can
name another file (`make book PARAMS=my.yml`, i.e. $CMPREHAB_PARAMS) and change single
values (`make book SET="mcid.nprs.threshold=1"`, i.e. $CMPREHAB_SET). The build
resolves them once and hands the result to every notebook kernel as JSON
($CMPREHAB_PARAMS_RESOLVED), so a page never reads another value than the banner names.

Unit tests pass parameters explicitly; only the report layer reads `current()`.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from . import config
from .instruments import INSTRUMENTS

DEFAULT_FILE = config.ROOT / "params.yml"
FILE_ENV_VAR = "CMPREHAB_PARAMS"
SET_ENV_VAR = "CMPREHAB_SET"
RESOLVED_ENV_VAR = "CMPREHAB_PARAMS_RESOLVED"


class ParamsError(ValueError):
    """The parameters cannot be used; the message names the file, the parameter and the rule."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


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


def parse_overrides(text: str) -> list[tuple[str, object]]:
    """'mcid.nprs.threshold=1 confidence=0.9' -> [(name, value)]: pairs separated by spaces or
    semicolons, values read as YAML (a list without spaces: follow_up.ipw_covariates=[age,sex])."""
    pairs = []
    for item in re.split(r"[\s;]+", text.strip()):
        if not item:
            continue
        name, sep, value = item.partition("=")
        if not sep or not re.fullmatch(r"[a-z_]+(\.[a-z_0-9]+)*", name):
            raise ParamsError(f"${SET_ENV_VAR}: {item!r} is not of the form name=value "
                              "(for example mcid.nprs.threshold=1)")
        try:
            pairs.append((name, yaml.safe_load(value)))
        except yaml.YAMLError:
            raise ParamsError(f"${SET_ENV_VAR}: the value of {name!r} is not valid: {value!r}") from None
    return pairs


def _validated(tree: object, where: str) -> Params:
    if not isinstance(tree, dict):
        raise ParamsError(f"{where}: expected the parameters as named values (see params.yml), got {tree!r}")
    try:
        return Params.model_validate(tree)
    except ValidationError as err:
        problems = []
        for e in err.errors():
            name = ".".join(str(part) for part in e["loc"]) or "(top level)"
            given = f" (given: {e['input']!r})" if not isinstance(e["input"], dict) else ""
            problems.append(f"  - {name}: {e['msg']}{given}")
        raise ParamsError(f"{where}: {len(problems)} problem(s) with the study parameters:\n" + "\n".join(problems)) \
            from None


def load(path: Path | str | None = None, overrides: str | None = None) -> Params:
    """The parameters of `path` (default: $CMPREHAB_PARAMS or params.yml) with `overrides` applied
    (default: $CMPREHAB_SET). Raises ParamsError naming the file, the parameter and the rule."""
    path = Path(path or os.environ.get(FILE_ENV_VAR) or DEFAULT_FILE).expanduser().resolve()
    overrides = os.environ.get(SET_ENV_VAR, "") if overrides is None else overrides
    try:
        tree = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise ParamsError(f"{path}: cannot read the study parameters ({err.strerror})") from None
    except yaml.YAMLError as err:
        raise ParamsError(f"{path}: not valid YAML: {err}") from None
    where = str(path)
    if overrides.strip():
        if not isinstance(tree, dict):
            _validated(tree, where)
        for name, value in parse_overrides(overrides):
            _set(tree, name, value, f"${SET_ENV_VAR}")
        where += f" with ${SET_ENV_VAR}={overrides.strip()!r}"
    return _validated(tree, where)


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
