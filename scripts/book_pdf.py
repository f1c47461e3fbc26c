"""The whole book as one PDF: ``python scripts/book_pdf.py [--output DIR] [--name NAME]`` (``make pdf``).

Run after ``python -m cmprehab.build`` into the same output folder, with the same data
file and study parameters (``make pdf`` runs both); nothing is executed again:

1. ``jupyter-book build --builder singlehtml`` into ``<output>/_build/singlehtml``, reading
   the notebooks that build executed from its cache. The build stamp must match the
   current inputs, or the cache could hold another data file's numbers: then this stops.
2. Sphinx writes the single page at the root document's path (``chapters/00_overview.html``)
   but computes its links as if it sat at the site's root; it is saved as ``book.html`` at
   the root, its links to itself made links within the page, without the search index
   the theme asks for (a singlehtml build has none), and without the API reference (the site
   has it; on paper it was half the book).
3. That page is served on 127.0.0.1 and printed by Chromium (``--headless --print-to-pdf``):
   A4, page numbers and the data notice on every page, tables whole (the print rules of
   ``book_static/cmprehab.css`` and ``_ext/book_site.py``).
4. The PDF is written to ``<output>/_build/pdf/<name>`` and copied into the site at
   ``_downloads/<name>``, where the footer of every page links to it when the site was built
   with ``CMPREHAB_BOOK_PDF=<name>`` (``make pdf`` does).

Chromium is Debian's ``chromium`` (``make system-deps`` installs it); another binary can be
named with ``--chromium`` or ``$CHROMIUM``. Nothing is fetched from the network.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent  # the book of this checkout, not an installed copy
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from cmprehab import build, config  # noqa: E402
from cmprehab import params as study  # noqa: E402
from cmprehab.provenance import sha256_file  # noqa: E402
from scripts.local_server import LocalServer  # noqa: E402

DEFAULT_NAME = "cmprehab-book.pdf"
#: The single page, at the root of the singlehtml folder.
BOOK_PAGE = "book.html"
#: Where the site keeps the PDF (as _ext/book_site.py links it).
SITE_FOLDER = "_downloads"
#: Debian's Chromium, headless, as root (no sandbox), with nothing of its own on the network
#: (updates, sync...), and not relying on a large /dev/shm.
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
                  "--disable-dev-shm-usage"]
PRINT_TIMEOUT = 300
#: Virtual time the page gets to settle (MathJax typesetting) before it is printed, in ms.
SETTLE_MS = 20000


class PdfError(RuntimeError):
    pass


def chromium_binary(name: str | None = None) -> str:
    candidate = name or os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not (Path(candidate).is_file() and os.access(candidate, os.X_OK)):
        raise PdfError(f"Chromium not found at {candidate}: install Debian's `chromium` (make system-deps) "
                       "or name the binary with --chromium / $CHROMIUM")
    return candidate


def root_document() -> str:
    return config.toc_pages(ROOT)[0][0]


def build_env(output: Path) -> dict[str, str]:
    """The environment cmprehab.build gives jupyter-book, after checking its stamp is current."""
    data = config.cohort_path()
    digest = sha256_file(data)
    params_json = study.to_json(study.load())
    stamp_file = output / "_build" / ".build-stamp"
    current = build.make_stamp(build.stamp_inputs(data, digest, params_json))
    previous = build.read_stamp(stamp_file)
    if previous is None or previous.get("stamp") != current["stamp"]:
        why = ("no stamp of a successful build in " + str(stamp_file) if previous is None
               else "inputs changed since the site was built: " + ", ".join(build.changed_parts(previous, current)))
        raise PdfError(f"the executed notebooks in {output / '_build'} are not those of the current inputs "
                       f"({why}); build the site first: python -m cmprehab.build --output {output}")
    env = {k: v for k, v in os.environ.items() if k != config.PDF_ENV_VAR}  # no link to itself in the PDF
    env.update({config.DATA_ENV_VAR: str(data), config.DATA_SHA256_ENV_VAR: digest,
                study.RESOLVED_ENV_VAR: params_json})
    return env


def build_singlehtml(output: Path, env: dict[str, str]) -> Path:
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    command = [str(jupyter_book if jupyter_book.exists() else "jupyter-book"), "build", str(ROOT),
               "--builder", "singlehtml", "--all", "-W", "-n", "--keep-going", "--path-output", str(output)]
    print("book_pdf:", " ".join(command), flush=True)
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise PdfError(f"singlehtml build failed (exit {result.returncode}):\n"
                       + "\n".join((result.stdout + result.stderr).splitlines()[-40:]))
    return output / "_build" / "singlehtml"


def single_page(folder: Path) -> Path:
    """Save the single page at the folder's root, where its relative links were computed."""
    root = root_document()
    source = folder / f"{root}.html"
    if not source.is_file():
        raise PdfError(f"the singlehtml build wrote no {source}")
    text = source.read_text(encoding="utf-8")
    # Links to the page itself (Sphinx writes them as "<root>.html#anchor"): within the page.
    text = text.replace(f'href="{root}.html#', 'href="#').replace(f'href="{root}.html"', 'href="#"')
    # The theme asks for the search index on every page; a singlehtml build makes none.
    text = text.replace('<script src="searchindex.js"></script>', "")
    text = without_site_only_pages(text)
    page = folder / BOOK_PAGE
    page.write_text(text, encoding="utf-8")
    return page


#: Pages of the site that are not part of the book on paper: the API reference is a reference for
#: programmers, generated from the package (71 of 144 pages); the site has it, the PDF does not.
SITE_ONLY_PAGES = ("chapters/api",)


def without_site_only_pages(text: str) -> str:
    """The single page without the pages of SITE_ONLY_PAGES: each is the element that follows
    Sphinx's marker ``<span id="document-<name>">`` (its section), removed with the marker."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(text, "html.parser")
    for name in SITE_ONLY_PAGES:
        marker = soup.find("span", id=f"document-{name}")
        if marker is None:
            raise PdfError(f"the single page has no {name} (no <span id='document-{name}'>): "
                           "update SITE_ONLY_PAGES in scripts/book_pdf.py")
        content = marker.find_next_sibling()
        if content is not None:
            content.decompose()
        marker.decompose()
    return str(soup)


def print_pdf(page: Path, pdf: Path, chromium: str) -> None:
    """Serve the page's folder on 127.0.0.1 and print the page with Chromium."""
    pdf.parent.mkdir(parents=True, exist_ok=True)
    partial = pdf.with_suffix(".partial.pdf")
    partial.unlink(missing_ok=True)
    with LocalServer(page.parent) as server, tempfile.TemporaryDirectory(prefix="book-pdf-profile-") as profile:
        command = [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--no-pdf-header-footer",
                   "--generate-pdf-document-outline", f"--virtual-time-budget={SETTLE_MS}",
                   f"--print-to-pdf={partial}", server.base + page.name]
        result = subprocess.run(command, capture_output=True, text=True, timeout=PRINT_TIMEOUT)
        failures = server.failures()
    if result.returncode != 0 or not partial.is_file() or partial.stat().st_size == 0:
        raise PdfError(f"Chromium did not print {page} (exit {result.returncode}):\n{result.stderr[-3000:]}")
    if failures:
        partial.unlink()
        raise PdfError(f"the page asked for files that are not there: {failures}")
    partial.replace(pdf)


def page_count(pdf: Path) -> int | None:
    try:
        from pypdf import PdfReader
    except ImportError:
        return None
    return len(PdfReader(pdf).pages)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python scripts/book_pdf.py", description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=ROOT,
                        help="folder whose _build/ holds the site built by cmprehab.build "
                             "(default: the repository root)")
    parser.add_argument("--name", default=DEFAULT_NAME, help=f"file name of the PDF (default: {DEFAULT_NAME})")
    parser.add_argument("--chromium", help="Chromium binary (default: $CHROMIUM, else chromium on PATH)")
    args = parser.parse_args(argv)
    if "/" in args.name or not args.name.endswith(".pdf"):
        parser.error("--name is a file name ending in .pdf")
    output = args.output.resolve()
    site = output / "_build" / "html"
    started = time.perf_counter()
    try:
        chromium = chromium_binary(args.chromium)
        if not (site / f"{root_document()}.html").is_file():
            raise PdfError(f"no site in {site}: build it first (python -m cmprehab.build --output {output})")
        folder = build_singlehtml(output, build_env(output))
        pdf = output / "_build" / "pdf" / args.name
        print_pdf(single_page(folder), pdf, chromium)
    except (PdfError, subprocess.TimeoutExpired) as err:
        print(f"book_pdf: FAILED: {err}", file=sys.stderr)
        return 1
    target = site / SITE_FOLDER / args.name
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(pdf, target)
    pages = page_count(pdf)
    print(f"book_pdf: {pdf} ({pdf.stat().st_size / 1e6:.1f} MB"
          + (f", {pages} pages" if pages else "") + f") in {time.perf_counter() - started:.1f} s; "
          f"in the site as {target.relative_to(site).as_posix()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
