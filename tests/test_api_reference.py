"""The API reference (chapters/api.md) covers the whole package (no build).

The page is Sphinx autodoc's: for each module, a section headed with the module's name and an
``.. automodule:: <module>`` with ``:members:`` inside an ``{eval-rst}`` fence (outside one,
MyST would show the directive as text). A module left out of the page would have no reference
and no highlighted source, and links to its functions' anchors
(``api.html#cmprehab.report.tables.mcid``) would break. So these tests walk the package with
pkgutil and check that

* every module is on the page, once, with ``:members:``, under a heading naming it
  (package ``__init__`` modules only when they define functions of their own);
* every public function of every module is one autodoc documents, under the options of
  `_config.yml` (``autodoc_default_options``): a function without a docstring or left out of
  its module's ``__all__`` would otherwise be dropped without a warning;
* every module has a docstring (autodoc shows it as the section's introduction);
* no documented constant shows an absolute path of the machine that builds the book.
"""
from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from pathlib import Path

import pytest
import yaml
from sphinx.pycode import ModuleAnalyzer
from sphinx.util.inspect import object_description

import cmprehab
from cmprehab import config

ROOT = Path(__file__).resolve().parent.parent
API_PAGE = ROOT / "chapters" / "api.md"
SPHINX = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))["sphinx"]["config"]
AUTODOC = SPHINX.get("autodoc_default_options", {})

EVAL_RST = re.compile(r"^```\{eval-rst\}[^\n]*\n(.*?)^```\s*$", re.MULTILINE | re.DOTALL)
AUTOMODULE = re.compile(r"^\.\. automodule::[ \t]*(\S+)[ \t]*\n((?:[ \t]+:[\w-]+:.*\n?)*)", re.MULTILINE)
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*$", re.MULTILINE)


def all_modules() -> list[tuple[str, bool]]:
    """(name, is a package) for every module of cmprehab, the package itself included."""
    found = [(cmprehab.__name__, True)]
    found += [(m.name, m.ispkg) for m in pkgutil.walk_packages(cmprehab.__path__, cmprehab.__name__ + ".")]
    return sorted(found)


MODULES = all_modules()


def public_functions(module) -> list[str]:
    """Functions defined in the module itself (not imported into it) whose name has no leading _."""
    return sorted(name for name, obj in inspect.getmembers(module, inspect.isfunction)
                  if obj.__module__ == module.__name__ and not name.startswith("_"))


def to_document() -> list[str]:
    """The modules the page must document: every module; a package only if it defines functions."""
    return [name for name, is_package in MODULES
            if not is_package or public_functions(importlib.import_module(name))]


def automodules(page: str) -> dict[str, list[dict]]:
    """{module: [{option: value}, ...]} for every automodule inside an eval-rst fence of the page,
    each with the title of the nearest heading above it (option "_heading")."""
    found: dict[str, list[dict]] = {}
    for fence in EVAL_RST.finditer(page):
        for directive in AUTOMODULE.finditer(fence.group(1)):
            options = {m.group(1): m.group(2).strip()
                       for m in re.finditer(r":([\w-]+):[ \t]*(.*)", directive.group(2))}
            headings = HEADING.findall(page[:fence.start()])
            options["_heading"] = headings[-1][1] if headings else ""
            found.setdefault(directive.group(1), []).append(options)
    return found


def missing_from(page: str) -> list[str]:
    """Modules the page does not document, once, with :members:, under a heading naming them."""
    entries = automodules(page)
    problems = []
    for name in to_document():
        listed = entries.get(name, [])
        if len(listed) != 1:
            problems.append(f"{name}: {len(listed)} automodule entries (one expected)")
        elif "members" not in listed[0]:
            problems.append(f"{name}: automodule without :members:")
        elif listed[0]["_heading"].strip("`") != name:
            problems.append(f"{name}: under the heading {listed[0]['_heading']!r}, not under its own name")
    return problems


def option_names(value) -> set[str]:
    """The names of an autodoc option that takes a list (``exclude-members: a, b``)."""
    if value in (None, True, False, ""):
        return set()
    return {item.strip() for item in str(value).split(",") if item.strip()}


def undocumented_functions(module, options: dict, defaults: dict = AUTODOC) -> list[str]:
    """Public functions that autodoc, with these automodule options over the defaults
    (``autodoc_default_options`` of _config.yml), would leave out, as autodoc decides."""
    merged = {**defaults, **{k: (True if v == "" else v) for k, v in options.items()}}
    listed = option_names(merged.get("members"))
    exported = getattr(module, "__all__", None)
    left_out = []
    for name in public_functions(module):
        reasons = []
        if listed and name not in listed:
            reasons.append("not in the :members: list")
        if not merged.get("ignore-module-all") and exported is not None and name not in exported:
            reasons.append("not in __all__")
        if not merged.get("undoc-members") and not inspect.getdoc(getattr(module, name)):
            reasons.append("no docstring")
        if name in option_names(merged.get("exclude-members")):
            reasons.append("excluded")
        if reasons:
            left_out.append(f"{module.__name__}.{name} ({', '.join(reasons)})")
    return left_out


# --- the page lists every module ---------------------------------------------------------------

def test_the_package_has_the_modules_the_page_was_written_for():
    names = to_document()
    assert len(names) >= 30, f"pkgutil found only {names}"
    assert {"cmprehab.report.tables", "cmprehab.analysis.stats", "cmprehab.data.cohort",
            "cmprehab.build", "cmprehab.synth", "cmprehab.validate"} <= set(names)


def test_every_module_has_its_section_and_automodule():
    problems = missing_from(API_PAGE.read_text(encoding="utf-8"))
    assert not problems, "chapters/api.md:\n  " + "\n  ".join(problems)


def test_the_page_documents_no_module_that_does_not_exist():
    unknown = sorted(set(automodules(API_PAGE.read_text(encoding="utf-8"))) - {n for n, _ in MODULES})
    assert not unknown, f"chapters/api.md documents modules the package does not have: {unknown}"


@pytest.mark.parametrize("name", to_document())
def test_a_module_left_out_of_the_page_is_found(name):
    """The check above fails when any one module's section is removed."""
    page = API_PAGE.read_text(encoding="utf-8")
    section = re.compile(rf"^##[^\n]*\b{re.escape(name)}\b[^\n]*\n.*?(?=^## |\Z)", re.MULTILINE | re.DOTALL)
    shorter, removed = section.subn("", page)
    assert removed == 1, f"no section for {name} in chapters/api.md"
    assert any(p.startswith(f"{name}:") for p in missing_from(shorter))


def test_an_automodule_outside_an_eval_rst_fence_does_not_count():
    page = "## cmprehab.config\n\n.. automodule:: cmprehab.config\n   :members:\n"
    assert "cmprehab.config" not in automodules(page)
    fenced = "## cmprehab.config\n\n```{eval-rst}\n.. automodule:: cmprehab.config\n   :members:\n```\n"
    assert automodules(fenced)["cmprehab.config"][0]["_heading"] == "cmprehab.config"


# --- every public function is documented ---------------------------------------------------------

@pytest.mark.parametrize("name", to_document())
def test_every_public_function_is_documented(name):
    module = importlib.import_module(name)
    listed = automodules(API_PAGE.read_text(encoding="utf-8")).get(name)
    assert listed, f"{name} is not in chapters/api.md"
    left_out = undocumented_functions(module, {k: v for k, v in listed[0].items() if k != "_heading"})
    assert not left_out, f"autodoc would leave out: {left_out}"


def test_the_function_check_sees_what_autodoc_leaves_out():
    from cmprehab.analysis import stats

    assert "rank_biserial" not in stats.__all__  # public, but not exported: only ignore-module-all shows it
    assert undocumented_functions(stats, {"members": ""}, defaults={}) == [
        "cmprehab.analysis.stats.rank_biserial (not in __all__)"]
    assert not undocumented_functions(stats, {"members": ""}, defaults={"ignore-module-all": True})
    from cmprehab import build  # functions without a docstring: only undoc-members shows them

    assert "cmprehab.build.main (no docstring)" in undocumented_functions(build, {"members": ""}, defaults={})
    assert not undocumented_functions(build, {"members": ""}, defaults={"undoc-members": True})


def test_the_stylesheet_finds_the_page():
    """book_static/cmprehab.css wraps the page's long names under #api-reference, the id Sphinx
    gives the section of the page's title: without it, signatures widen the page on a phone."""
    assert API_PAGE.read_text(encoding="utf-8").startswith("# API reference\n")
    assert "#api-reference .sig .pre" in (ROOT / "book_static" / "cmprehab.css").read_text(encoding="utf-8")


# --- docstrings and values -------------------------------------------------------------------------

@pytest.mark.parametrize("name", [n for n, _ in MODULES])
def test_every_module_has_a_docstring(name):
    doc = inspect.getdoc(importlib.import_module(name))
    assert doc and doc.strip(), f"{name} has no module docstring"


@pytest.mark.parametrize("name", to_document())
def test_no_documented_value_names_the_build_machine(name):
    """autodoc prints the value of every constant with a #: comment; a path under the project's
    folder would put the builder's folder into the book. Such a comment needs :meta hide-value:."""
    module = importlib.import_module(name)
    analyzer = ModuleAnalyzer.for_module(name)
    shown = []
    for (scope, attribute), comment in analyzer.find_attr_docs().items():
        if scope or not hasattr(module, attribute):
            continue
        value = object_description(getattr(module, attribute))
        if str(config.ROOT) in value and ":meta hide-value:" not in "\n".join(comment):
            shown.append(f"{name}.{attribute} = {value}")
    assert not shown, f"values that name this machine's folders: {shown}"
