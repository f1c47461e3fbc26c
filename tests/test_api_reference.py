"""The API reference covers the whole package (no build).

chapters/api.md holds one recursive ``autosummary`` of the package: Sphinx generates a page for
every module at each build, each an ``automodule`` under the options of `_config.yml`
(``autodoc_default_options``), so no module can be left out (the built book is checked in
tests/test_book_html.py: every module has its page, every public function its anchor). What
autodoc would still drop without a warning, or print where it should not, is checked here:

* every public function is one autodoc documents under those options: a function without a
  docstring or left out of its module's ``__all__`` would otherwise be dropped;
* every module has a docstring (the first line is its summary on the reference's index);
* no documented constant shows an absolute path of the machine that builds the book.
"""
from __future__ import annotations

import importlib
import inspect
import pkgutil
from pathlib import Path

import pytest
import yaml
from sphinx.pycode import ModuleAnalyzer
from sphinx.util.inspect import object_description

import cmprehab
from cmprehab import config

ROOT = Path(__file__).resolve().parent.parent
SPHINX = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))["sphinx"]["config"]
AUTODOC = SPHINX.get("autodoc_default_options", {})


def all_modules() -> list[str]:
    """Every module of cmprehab that autosummary's recursion reaches: the package itself and every
    module below it whose name has no leading _ (``cmprehab.manuscript.__main__`` is a command)."""
    found = [cmprehab.__name__]
    found += [m.name for m in pkgutil.walk_packages(cmprehab.__path__, cmprehab.__name__ + ".")
              if not m.name.rpartition(".")[2].startswith("_")]
    return sorted(found)


MODULES = all_modules()


def public_functions(module) -> list[str]:
    """Functions defined in the module itself (not imported into it) whose name has no leading _."""
    return sorted(name for name, obj in inspect.getmembers(module, inspect.isfunction)
                  if obj.__module__ == module.__name__ and not name.startswith("_"))


def option_names(value) -> set[str]:
    """The names of an autodoc option that takes a list (``exclude-members: a, b``)."""
    if value in (None, True, False, ""):
        return set()
    return {item.strip() for item in str(value).split(",") if item.strip()}


def undocumented_functions(module, options: dict = AUTODOC) -> list[str]:
    """Public functions that autodoc, with these options, would leave out, as autodoc decides."""
    exported = getattr(module, "__all__", None)
    left_out = []
    for name in public_functions(module):
        reasons = []
        if not options.get("ignore-module-all") and exported is not None and name not in exported:
            reasons.append("not in __all__")
        if not options.get("undoc-members") and not inspect.getdoc(getattr(module, name)):
            reasons.append("no docstring")
        if name in option_names(options.get("exclude-members")):
            reasons.append("excluded")
        if reasons:
            left_out.append(f"{module.__name__}.{name} ({', '.join(reasons)})")
    return left_out


def test_the_reference_is_generated_recursively_from_the_package():
    page = (ROOT / f"{config.API_PAGE}.md").read_text(encoding="utf-8")
    assert ".. autosummary::" in page and ":recursive:" in page and "\n   cmprehab\n" in page
    assert len(MODULES) >= 30 and {"cmprehab.report.tables", "cmprehab.data.cohort", "cmprehab.build"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_every_public_function_is_documented(name):
    left_out = undocumented_functions(importlib.import_module(name))
    assert not left_out, f"autodoc would leave out: {left_out}"


def test_the_function_check_sees_what_autodoc_leaves_out():
    from cmprehab.analysis import stats

    assert "rank_biserial" not in stats.__all__  # public, but not exported: only ignore-module-all shows it
    assert undocumented_functions(stats, {}) == ["cmprehab.analysis.stats.rank_biserial (not in __all__)"]
    assert not undocumented_functions(stats, {"ignore-module-all": True})
    from cmprehab import build  # functions without a docstring: only undoc-members shows them

    assert "cmprehab.build.main (no docstring)" in undocumented_functions(build, {})
    assert not undocumented_functions(build, {"undoc-members": True})


@pytest.mark.parametrize("name", MODULES)
def test_every_module_has_a_docstring(name):
    doc = inspect.getdoc(importlib.import_module(name))
    assert doc and doc.strip(), f"{name} has no module docstring"


@pytest.mark.parametrize("name", MODULES)
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
