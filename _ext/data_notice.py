"""Sphinx extension: a banner on every page naming the data the book was built from.

At `config-inited` it fingerprints the cohort file (cmprehab.provenance, which
honours $CMPREHAB_DATA; the build passes the path absolute and the digest it
validated in $CMPREHAB_DATA_SHA256, so the file is not hashed again) and sets
sphinx-book-theme's `announcement` option, which the theme renders at the top of
every page (also in print):

    <div class="data-notice data-notice--synthetic" role="note" ...>
      Synthetic data: ... (seed S, n = N) ... data SHA-256 <first 12 hex>
    </div>

After the notice, every page links to the page about the data ("Details"): on a phone the
notice is cut to one line (book_static/cmprehab.css) and the rest is one tap away.

For any other file the notice says the data are confidential. It never names the
file: a name may itself be confidential, and is not safe to paste into a page. When
disclosure control is below the defaults (the author acknowledged it with
$CMPREHAB_ALLOW_WEAKER_DISCLOSURE=yes, else the build refuses), the notice opens with that,
in bold: "Disclosure control weakened: k = 3 (default 5)."
"""
from __future__ import annotations

import html
import sys
from pathlib import Path

from sphinx.errors import ExtensionError
from sphinx.util import logging

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # the jupyter-book script does not put the book root on sys.path
    sys.path.insert(0, str(ROOT))

logger = logging.getLogger(__name__)


def notice_text(fingerprint) -> str:
    if fingerprint.synthetic:
        return (f"Synthetic data: this book runs on a synthetic cohort (seed {fingerprint.seed}, "
                f"n = {fingerprint.n}) generated to reproduce the published aggregates; "
                "it contains no real patients.")
    return ("Confidential data: this book was built from an author-supplied cohort file, treated as real "
            f"patient data. Counts below {fingerprint_k()} are suppressed and no patient's row or "
            "single value is shown; share it only as the data owner allows.")


def fingerprint_k() -> int:
    from cmprehab import params

    return params.current().disclosure.k


def params_text() -> str:
    """'' with the default study parameters, else a sentence naming each changed value."""
    from cmprehab import params

    changes = params.current().describe_changes()
    return f"Study parameters changed from the defaults: {changes}." if changes else ""


def weakened_text(fingerprint) -> str:
    """'' unless real data are shown with disclosure control below the defaults, else a sentence
    stating the lowered values (on synthetic data no disclosure control applies)."""
    from cmprehab import params

    weakened = "" if fingerprint.synthetic else params.describe_weakened_disclosure(params.current())
    return (f"{weakened[0].upper()}{weakened[1:]}, at the author's request "
            f"({params.ALLOW_WEAKER_ENV_VAR}=yes).") if weakened else ""


def notice_html(fingerprint) -> str:
    kind = "synthetic" if fingerprint.synthetic else "confidential"
    changed = params_text()
    weakened = weakened_text(fingerprint)
    return (f'<div class="data-notice data-notice--{kind}" role="note" '
            f'data-sha256="{fingerprint.sha256}">'
            + (f'<strong class="data-notice__weakened">{html.escape(weakened)}</strong> ' if weakened else "")
            + f'{html.escape(notice_text(fingerprint))} '
            f'<span class="data-notice__hash">data SHA-256 '
            # The theme's code colour is unreadable on the dark banner; inherit the text colour.
            f'<code style="color: inherit; background: transparent;">{fingerprint.short}</code></span>'
            + (f' <span class="data-notice__params">{html.escape(changed)}</span>' if changed else "")
            + '</div>')


#: The data this build shows (`cmprehab.provenance.DataFingerprint`), for the other extensions.
FINGERPRINT = None


def set_announcement(app, config) -> None:
    import os

    from cmprehab import config as project
    from cmprehab.provenance import data_fingerprint

    try:
        fingerprint = data_fingerprint(sha256=os.environ.get(project.DATA_SHA256_ENV_VAR) or None)
    except FileNotFoundError as err:
        raise ExtensionError(
            f"data_notice: cohort file not found: {err.filename}. Generate the synthetic "
            "cohort or point CMPREHAB_DATA at an existing file.") from err
    global FINGERPRINT
    FINGERPRINT = fingerprint
    options = dict(config.html_theme_options or {})
    banner = notice_html(fingerprint)
    earlier = options.get("announcement") or ""
    if earlier and not earlier.startswith("http"):
        banner += earlier
    options["announcement"] = banner
    config.html_theme_options = options
    logger.info("data_notice: %s, SHA-256 %s", "synthetic" if fingerprint.synthetic else "confidential",
                fingerprint.short)


#: The page that says what the data are, where the banner's "Details" link goes.
DETAILS_PAGE = "chapters/12_provenance"


def details_link(app, pagename, templatename, context, doctree) -> None:
    """After the banner, on every page, a link to the page about the data: on a phone the banner
    is one line (book_static/cmprehab.css) and the rest of it is one tap away."""
    banner = context.get("theme_announcement") or ""
    if "data-notice" not in banner or DETAILS_PAGE not in app.env.all_docs or "pathto" not in context:
        return
    href = context["pathto"](DETAILS_PAGE)
    context["theme_announcement"] = (banner + f' <a class="data-notice__details" href="{html.escape(href)}">'
                                     "Details<span class=\"visually-hidden\"> about the data</span></a>")


def setup(app):
    app.connect("config-inited", set_announcement)
    app.connect("html-page-context", details_link)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
