# Build and test the book from a fresh clone:  make book  |  make test
# Nothing is downloaded at build or run time; `venv` and `vendor` fetch from
# PyPI / npm once, pinned by requirements-lock.txt and package-lock.json.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := book
.DELETE_ON_ERROR:

PYTHON_BOOTSTRAP ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
# Stamp files make `venv` and `vendor` no-ops until their inputs change.
VENV_STAMP := $(VENV)/.requirements-installed

MATHJAX_SRC   := node_modules/mathjax
MATHJAX_DIR   := book_static/mathjax
MATHJAX_STAMP := $(MATHJAX_DIR)/.vendored
# What es5/tex-chtml.js loads: itself, its CHTML fonts, and the pieces it
# lazy-loads on demand (TeX extensions via autoload, the context menu,
# accessibility, English/Nemeth speech rules).
MATHJAX_FILES := tex-chtml.js output/chtml/fonts input/tex/extensions ui a11y \
                 sre/mathmaps/base.json sre/mathmaps/en.json sre/mathmaps/nemeth.json

BOOK_ARGS ?=

# Debian packages the browser tests and the PDF need: Chromium (Playwright drives it; it
# cannot download a browser of its own), fontconfig (fc-list: which glyphs the fonts have),
# poppler-utils (pdftotext: the PDF read back) and librsvg2-bin (rsvg-convert: pandoc turns the
# SVG figures into the PNG copies a Word manuscript carries for readers without SVG support).
SYSTEM_PACKAGES := chromium fontconfig poppler-utils librsvg2-bin
# The whole book as one PDF: _build/pdf/$(PDF_NAME), linked from every page of the site.
PDF_NAME := cmprehab-book.pdf

# CMPREHAB_DATA goes to every recipe as typed, letter for letter: make's abspath would split a
# name with spaces into words, and make would expand a `$` in one given on the command line.
# A relative name is resolved by Python, against the folder make runs in (the build resolves
# it once and hands the notebook kernels, which run in chapters/, the absolute path).
ifdef CMPREHAB_DATA
override export CMPREHAB_DATA := $(value CMPREHAB_DATA)
endif
# Study parameters (params.yml): another file with PARAMS=..., single values with SET="name=value ...".
# Passed as typed too; the build resolves a relative name once and hands the kernels the values.
ifdef PARAMS
override export CMPREHAB_PARAMS := $(value PARAMS)
endif
ifdef SET
export CMPREHAB_SET := $(SET)
endif
# disclosure.k or disclosure.min_patients below the defaults on real data: ALLOW_WEAKER_DISCLOSURE=yes.
ifdef ALLOW_WEAKER_DISCLOSURE
export CMPREHAB_ALLOW_WEAKER_DISCLOSURE := $(ALLOW_WEAKER_DISCLOSURE)
endif

.PHONY: venv vendor system-deps book pdf manuscript test test-fast bench clean distclean

venv: $(VENV_STAMP)

# The last step installs the package itself, editable, so notebook kernels and
# tests import it from any folder.
$(VENV_STAMP): requirements.txt requirements-lock.txt pyproject.toml
	test -x $(PY) || $(PYTHON_BOOTSTRAP) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check --quiet -r requirements.txt -c requirements-lock.txt
	$(PY) -m pip install --disable-pip-version-check --quiet --no-deps --no-build-isolation -e .
	touch $@

vendor: $(MATHJAX_STAMP)

# Not under _static/: Jupyter Book 1 injects every .js/.css found there into every page.
$(MATHJAX_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
	rm -rf $(MATHJAX_DIR)
	mkdir -p $(MATHJAX_DIR)
	cd $(MATHJAX_SRC)/es5 && cp -R --parents $(MATHJAX_FILES) $(CURDIR)/$(MATHJAX_DIR)/
	cp $(MATHJAX_SRC)/LICENSE $(MATHJAX_DIR)/LICENSE
	touch $@

# Installs the missing ones with apt-get (as root; `apt-get update` only if the first try fails).
# Elsewhere it names what to install and stops; with chromium on PATH and no dpkg it passes.
system-deps:
	@if ! command -v dpkg-query >/dev/null; then \
	  command -v chromium >/dev/null && command -v fc-list >/dev/null && command -v pdftotext >/dev/null && command -v rsvg-convert >/dev/null && exit 0; \
	  echo "system-deps: install Chromium, fontconfig (fc-list), poppler (pdftotext) and librsvg (rsvg-convert) with your package manager" >&2; exit 1; \
	fi; \
	missing=""; \
	for p in $(SYSTEM_PACKAGES); do \
	  status=$$(dpkg-query -W -f='$${Status}' $$p 2>/dev/null || true); \
	  [ "$$status" = "install ok installed" ] || missing="$$missing $$p"; \
	done; \
	[ -z "$$missing" ] && exit 0; \
	if [ "$$(id -u)" != 0 ]; then echo "system-deps: missing Debian packages:$$missing; run: sudo apt-get install --no-install-recommends$$missing" >&2; exit 1; fi; \
	echo "system-deps: apt-get install$$missing"; \
	export DEBIAN_FRONTEND=noninteractive; \
	apt-get install -y -q --no-install-recommends $$missing \
	  || { apt-get update -q && apt-get install -y -q --no-install-recommends $$missing; }

# Notebooks execute one per core before jupyter-book renders (cmprehab/execute.py);
# CMPREHAB_JOBS=N or BOOK_ARGS="--jobs N" changes that, --jobs 1 is the serial build.
book: venv vendor
	$(PY) -m cmprehab.build $(BOOK_ARGS)

# The site (as `make book`, with a link to the PDF in every page's footer), then the PDF:
# a singlehtml build from the same executed notebooks, printed by Chromium (scripts/book_pdf.py).
pdf: venv vendor system-deps
	CMPREHAB_BOOK_PDF=$(PDF_NAME) $(PY) -m cmprehab.build $(BOOK_ARGS)
	$(PY) scripts/book_pdf.py --name $(PDF_NAME)

# The author's manuscript (cmprehab/manuscript): the site as `make book` builds it (a no-op when
# nothing changed but the footer's links), then _build/manuscript/ (manuscript.docx, manuscript.xml
# (JATS), manuscript-meca.zip) from that build's results, tables and figures, put beside the PDF in
# the site, whose every page links them. pandoc comes with pypandoc-binary: nothing is downloaded.
manuscript: venv vendor system-deps
	CMPREHAB_BOOK_MANUSCRIPT=yes $(PY) -m cmprehab.build $(BOOK_ARGS)
	$(PY) -m cmprehab.manuscript

# Unit tests, two book builds (tests/books.py: the default book with its PDF, and the perturbed
# book over a copy of it), the site in Chromium (tests/test_browser.py), and nbval running every
# notebook of the default book afresh (tests/test_fresh_execution.py). loadfile keeps a module
# on one worker; the modules are handed out in tests/conftest.py's order, not by size.
test: venv vendor system-deps
	$(PY) -m pytest -n 2 --dist loadfile --no-loadscope-reorder tests

# The unit tests alone: no book build, no notebook execution, no browser.
test-fast: venv
	$(PY) -m pytest -n 2 tests --ignore=tests/test_book_html.py --ignore=tests/test_book_confidential.py \
	  --ignore-glob='tests/test_browser*.py' --ignore=tests/test_fresh_execution.py \
	  --ignore=tests/test_disclosure_attack.py --ignore=tests/test_manuscript.py --ignore=tests/test_mcid_explorer.py \
	  --ignore=tests/test_figure_zoom.py --ignore=tests/test_table_labels.py

# Build times against their floor, on a temporary copy of the checkout (scripts/bench_book.py):
# BENCH_ARGS="--quick", "--repeat 5", "--scale 10000,100000,1000000", "--with-test".
BENCH_ARGS ?=
bench: venv vendor
	$(PY) scripts/bench_book.py $(BENCH_ARGS)

clean:
	rm -rf _build .pytest_cache $(MATHJAX_DIR) node_modules

distclean: clean
	rm -rf $(VENV)
