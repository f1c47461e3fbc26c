"""What tests/test_browser.py uses to look at the site: a recording local server, Debian's
Chromium under Playwright, the JavaScript it runs in the pages, font coverage and PDF text."""
from __future__ import annotations

import functools
import http.server
import os
import shutil
import subprocess
import threading
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

#: Debian's Chromium (`make system-deps`); Playwright cannot download a browser of its own here.
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
#: As root (no sandbox), nothing of Chromium's own on the network (updates, sync...), and not
#: relying on a large /dev/shm. Playwright adds --headless.
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--no-first-run", "--disable-quic", "--disable-dev-shm-usage"]


# --- a local server that remembers every request --------------------------------------------

@dataclass
class Served:
    base: str                                              # http://127.0.0.1:PORT/
    root: Path
    log: list[tuple[str, int]] = field(default_factory=list)   # (path, status) in order
    #: Stretches of `log` (start, end) asked for by axe-core's audits rather than by the pages.
    audits: list[tuple[int, int]] = field(default_factory=list)

    def is_local(self, url: str) -> bool:
        return url.startswith(self.base)


class _Recorder(http.server.SimpleHTTPRequestHandler):
    def __init__(self, *args, log: list, **kwargs):
        self._log = log
        super().__init__(*args, **kwargs)

    def log_message(self, format, *args):  # noqa: A002 - the stdlib's name
        pass

    def log_request(self, code="-", size="-"):
        self._log.append((self.path, int(getattr(code, "value", code))))


class LocalServer:
    """Serves a folder on 127.0.0.1 (a free port) until closed."""

    def __init__(self, root: Path):
        self.log: list[tuple[str, int]] = []
        handler = functools.partial(_Recorder, directory=str(root), log=self.log)
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        self.served = Served(f"http://127.0.0.1:{self.httpd.server_address[1]}/", root, self.log)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


# --- JavaScript run in the pages ----------------------------------------------------------------

#: Every <img>: whether it loaded, and its alt text.
IMAGES_JS = """() => Array.from(document.images).map(img => ({
    src: img.getAttribute('src'), alt: img.getAttribute('alt'),
    loaded: img.complete && img.naturalWidth > 0,
    inFigure: !!img.closest('figure, .cell_output')}))"""

#: Every link (resolved URL and as written) and every id/name an anchor can point at.
LINKS_JS = """() => ({
    links: Array.from(document.querySelectorAll('a[href]')).map(a => ({
        url: a.href, raw: a.getAttribute('href'), text: (a.innerText || a.getAttribute('aria-label') || '').trim()})),
    anchors: Array.from(document.querySelectorAll('[id], a[name]')).map(e => e.id || e.getAttribute('name')),
    icons: Array.from(document.querySelectorAll('link[rel~="icon"]')).map(l => l.href)})"""

#: Elements that stick out of the viewport sideways, unless a scroll box that itself fits holds them
#: (`strict`: none may, as on paper).
OVERFLOW_JS = """(strict) => {
  const width = document.documentElement.clientWidth, out = [];
  const fits = r => r.left >= -1 && r.right <= width + 1;
  const name = e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '')
      + (typeof e.className === 'string' && e.className.trim() ? '.' + e.className.trim().split(/\\s+/).join('.') : '');
  for (const el of document.body.querySelectorAll('*')) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0 || fits(r)) continue;
    const style = getComputedStyle(el);
    if (style.visibility === 'hidden' || style.position === 'fixed') continue;
    let box = el.parentElement, held = false;
    while (box && box !== document.documentElement) {
      if (!strict && getComputedStyle(box).overflowX !== 'visible') { held = fits(box.getBoundingClientRect()); break; }
      box = box.parentElement;
    }
    if (!held) out.push(`${name(el)} spans ${Math.round(r.left)}..${Math.round(r.right)} px`);
  }
  return {viewport: width, scrollWidth: document.documentElement.scrollWidth, outside: out};
}"""

#: Tables wider than their own box, and whether that box scrolls sideways.
TABLES_JS = """() => Array.from(document.querySelectorAll('article table')).map(t => {
  const box = t.parentElement, style = getComputedStyle(box);
  return {id: t.id || (t.querySelector('caption') || {}).innerText || '(no id)',
          wide: t.getBoundingClientRect().width > box.clientWidth + 1,
          scrolls: ['auto', 'scroll'].includes(style.overflowX) && box.scrollWidth > box.clientWidth,
          boxWidth: box.getBoundingClientRect().width};
})"""

#: The text a reader sees (innerText leaves out what is not rendered).
TEXT_JS = "() => document.body.innerText"

#: axe-core with its default rules (WCAG 2.x A and AA, best practices) plus its experimental
#: ones, which include label-content-name-mismatch; no rule is turned off.
AXE_RUN_JS = """async () => {
  const experimental = axe.getRules(['experimental']).map(r => r.ruleId);
  const rules = Object.fromEntries(experimental.map(id => [id, {enabled: true}]));
  const result = await axe.run(document, {resultTypes: ['violations'], rules});
  return {version: axe.version, violations: result.violations.map(v => ({
      id: v.id, impact: v.impact, help: v.help,
      nodes: v.nodes.map(n => ({target: n.target.join(' '), html: n.html.slice(0, 200)}))}))};
}"""


def axe_script() -> str:
    """axe-core as shipped by axe-playwright-python."""
    from axe_playwright_python.sync_playwright import Axe

    return Axe().axe_script


# --- glyphs -----------------------------------------------------------------------------------

SKIPPED_CATEGORIES = {"Zs", "Zl", "Zp", "Cc", "Cf"}  # spaces, controls, format characters


@functools.cache
def font_has(char: str) -> bool:
    """Whether any font fontconfig knows (the fonts Chromium falls back on) has a glyph for `char`."""
    out = subprocess.run(["fc-list", f":charset={ord(char):x}", "family"], capture_output=True, text=True,
                         check=True).stdout
    return bool(out.strip())


def missing_glyphs(text: str) -> list[str]:
    """Characters of `text` that no installed font can draw (a browser shows them as empty boxes)."""
    chars = {c for c in text if ord(c) > 0x7E and unicodedata.category(c) not in SKIPPED_CATEGORIES
             and not 0xFE00 <= ord(c) <= 0xFE0F}
    return sorted(c for c in chars if not font_has(c))


def describe(chars: list[str]) -> str:
    return ", ".join(f"U+{ord(c):04X} {unicodedata.name(c, '?')} ({c})" for c in chars)


# --- PDF ----------------------------------------------------------------------------------------

def pdf_pages_text(pdf: Path) -> list[str]:
    """The text of each page, by pdftotext (poppler-utils), which ends every page with a form feed."""
    pdftotext = shutil.which("pdftotext")
    assert pdftotext, "pdftotext not found: install Debian's poppler-utils (make system-deps)"
    out = subprocess.run([pdftotext, "-enc", "UTF-8", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    pages = out.split("\f")
    return pages[:-1] if pages and not pages[-1].strip() else pages


def pdf_images_per_page(pdf: Path) -> list[int]:
    """How many images each page draws (image XObjects, also inside form XObjects)."""
    from pypdf import PdfReader

    def count(resources, seen) -> int:
        found = 0
        for ref in (resources or {}).get("/XObject", {}).values():
            obj = ref.get_object()
            if id(obj) in seen:
                continue
            seen.add(id(obj))
            if obj.get("/Subtype") == "/Image":
                found += 1
            elif obj.get("/Subtype") == "/Form":
                found += count(obj.get("/Resources"), seen)
        return found

    return [count(page.get("/Resources"), set()) for page in PdfReader(pdf).pages]


def squeeze(text: str) -> str:
    """Text without any whitespace (PDF text breaks lines where the page does)."""
    return "".join(text.split())
