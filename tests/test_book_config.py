"""Fast checks of the book's configuration (no build): the things that otherwise
surface only as a failed `jupyter-book build -W -n`, or not at all."""
from __future__ import annotations

import importlib.util
import json
import os
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
from pybtex.database import parse_file

from cmprehab.config import toc_pages

ROOT = Path(__file__).resolve().parent.parent
BIB = parse_file(str(ROOT / "references.bib"))
SUFFIXES = (".md", ".ipynb")
CITE_ROLE = re.compile(r"\{(?:foot)?cite(?::[a-z]+)?\}`([^`]*)`")
REQUIRED_KEYS = {"trulsson2021", "bondesson2023", "farrar2001", "salaffi2004", "ostelo2008",
                 "pickard2007", "salen1994", "pollard2018", "wilson1927", "euroqol1990",
                 "treede2019", "vonelm2007", "hayes2006", "kerby2014", "rosenthal1991"}
NO_DOI = {"rosenthal1991", "pitcher2021"}  # a 1991 Sage book, cited by publisher; Cochrane's guidance (no DOI)


def source_of(entry: str) -> list[Path]:
    """The file(s) a toc entry can mean (an entry may omit its suffix)."""
    path = ROOT / entry
    if path.suffix in SUFFIXES:
        return [path] if path.is_file() else []
    return [p for p in (path.with_name(path.name + s) for s in SUFFIXES) if p.is_file()]


def book_sources() -> list[Path]:
    """Pages Sphinx may parse: Markdown/notebooks at the root and under chapters/."""
    pages = [p for s in SUFFIXES for p in ROOT.glob(f"*{s}")]
    pages += [p for s in SUFFIXES for p in (ROOT / "chapters").rglob(f"*{s}")]
    return sorted(p for p in pages if ".ipynb_checkpoints" not in p.parts)


def page_text(path: Path) -> str:
    if path.suffix == ".ipynb":
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        return "\n".join("".join(c["source"]) if isinstance(c["source"], list) else c["source"]
                         for c in cells)
    return path.read_text(encoding="utf-8")


def final_sphinx_config() -> dict:
    from jupyter_book.config import get_final_config
    config, _ = get_final_config(user_yaml=ROOT / "_config.yml", sourcedir=ROOT,
                                 cli_config={"latex_individualpages": False})
    return config


# --- table of contents ---------------------------------------------------------

def test_toc_lists_only_existing_files_each_once():
    entries = [name for name, _ in toc_pages(ROOT)]
    assert entries
    for entry in entries:
        matches = source_of(entry)
        assert len(matches) == 1, f"_toc.yml entry {entry!r} matches {matches or 'no file'}"
    assert len(entries) == len(set(entries)), "a page is listed twice in _toc.yml"


def test_every_chapter_file_is_in_the_toc():
    listed = {m.resolve() for e, _ in toc_pages(ROOT) for m in source_of(e)}
    chapters = [p for p in book_sources() if p.parent != ROOT]
    assert chapters, "no chapter pages found"
    missing = [p.relative_to(ROOT).as_posix() for p in chapters if p.resolve() not in listed]
    assert not missing, f"not in _toc.yml (only_build_toc_files would drop them): {missing}"


# --- _config.yml ----------------------------------------------------------------

def test_mathjax_is_local_and_not_injected_into_every_page():
    config = final_sphinx_config()
    path = config["mathjax_path"]
    assert "://" not in path and not path.startswith("/"), path
    assert any((ROOT / static / path).is_file() for static in config["html_static_path"]), \
        f"{path} not vendored: run `make vendor`"
    # JB1 adds every .js/.css under html_static_path to every page once a _static/ folder exists.
    injected = config.get("html_js_files", []) + config.get("html_css_files", [])
    assert not [f for f in injected if "mathjax" in str(f)]


# --- citations ------------------------------------------------------------------

def test_bibliography_has_the_required_entries_with_dois():
    assert REQUIRED_KEYS <= set(BIB.entries)
    for key, entry in BIB.entries.items():
        if key in NO_DOI:
            continue
        assert re.fullmatch(r"10\.\d{4,9}/\S+", entry.fields.get("doi", "")), f"{key}: DOI missing or malformed"


def test_every_cited_key_exists():
    unknown = {}
    for page in book_sources():
        for group in CITE_ROLE.findall(page_text(page)):
            for key in filter(None, (k.strip() for k in group.split(","))):
                if key not in BIB.entries:
                    unknown.setdefault(page.relative_to(ROOT).as_posix(), []).append(key)
    assert not unknown, f"cited but not in references.bib: {unknown}"


def test_full_references_render_on_one_page_only():
    pages = [p.relative_to(ROOT).as_posix() for p in book_sources()
             if re.search(r"^(```|:::)\{bibliography\}", page_text(p), re.MULTILINE)]
    assert pages == ["chapters/references.md"]


# --- data notice and build stamp --------------------------------------------------

def load_data_notice():
    spec = importlib.util.spec_from_file_location("data_notice", ROOT / "_ext" / "data_notice.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("synthetic", [True, False])
def test_data_notice_names_the_data(synthetic):
    notice = load_data_notice().notice_html(SimpleNamespace(
        synthetic=synthetic, seed=7 if synthetic else None, n=274 if synthetic else None,
        sha256="ab" * 32, short="ab" * 6, path=Path("/private/<real>.csv")))
    assert notice.startswith('<div class="data-notice') and re.search(r"data SHA-256 <code[^>]*>abababababab</code>", notice)
    if synthetic:
        assert "Synthetic data" in notice and "seed 7, n = 274" in notice and "no real patients" in notice
    else:
        assert "Confidential data" in notice and "Synthetic" not in notice and "suppressed" in notice
        # Never the file's name or path (confidential, and unsafe to paste into a page).
        assert "real" not in notice.replace("real patient", "") and "private" not in notice


def test_build_stamp_follows_the_data_file(tmp_path):
    from cmprehab import build

    cohort = tmp_path / "cohort.csv"
    first = build.make_stamp(build.stamp_inputs(cohort, "a" * 64, "{}"))
    assert build.make_stamp(build.stamp_inputs(cohort, "a" * 64, "{}")) == first
    second = build.make_stamp(build.stamp_inputs(cohort, "b" * 64, "{}"))
    assert second["stamp"] != first["stamp"]
    assert build.changed_parts(first, second) == ["cohort sha256"]
    moved = build.make_stamp(build.stamp_inputs(tmp_path / "other.csv", "a" * 64, "{}"))
    assert build.changed_parts(first, moved) == ["cohort path"]
    reparametrised = build.make_stamp(build.stamp_inputs(cohort, "a" * 64, '{"confidence": 0.9}'))
    assert build.changed_parts(first, reparametrised) == ["study parameters"]


def test_ci_entry_point_is_executable():
    assert os.access(ROOT / ".ci" / "run", os.X_OK)
