"""A MECA 1.0 bundle (Manuscript Exchange Common Approach): a zip whose ``manifest.xml`` lists
every other file in it, each as an ``item`` with its ``item-type`` and an ``instance`` giving its
``media-type`` and ``xlink:href`` (the element names and DOCTYPE of the MECA manifest DTD,
``-//MECA//DTD Manifest v1.0//en``). The manifest does not list itself.

Item types used: ``article-metadata`` (the JATS file), ``manuscript`` (the Word file) and
``article-supporting-file`` (the figures the JATS file points to, at the same relative paths).
"""
from __future__ import annotations

import zipfile
from pathlib import Path
from xml.sax.saxutils import quoteattr

MANIFEST = "manifest.xml"
NAMESPACE = "https://manuscriptexchange.org/schema/manifest"
XLINK = "http://www.w3.org/1999/xlink"
DOCTYPE = '<!DOCTYPE manifest PUBLIC "-//MECA//DTD Manifest v1.0//en" "MECA_manifest.dtd">'
MEDIA_TYPES = {".xml": "application/xml", ".png": "image/png", ".svg": "image/svg+xml",
               ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document"}
#: Fixed timestamp for every member: the same manuscript gives the same bytes.
ZIP_TIME = (1980, 1, 1, 0, 0, 0)


def manifest(items: list[tuple[str, str]]) -> str:
    """The manifest of (item-type, path in the zip) items."""
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', DOCTYPE,
             f'<manifest manifest-version="1" xmlns="{NAMESPACE}" xmlns:xlink="{XLINK}">']
    for item_type, href in items:
        media = MEDIA_TYPES.get(Path(href).suffix, "application/octet-stream")
        lines += [f"  <item item-type={quoteattr(item_type)}>",
                  f"    <instance media-type={quoteattr(media)} xlink:href={quoteattr(href)}/>",
                  "  </item>"]
    lines.append("</manifest>")
    return "\n".join(lines) + "\n"


def write_bundle(target: Path, folder: Path, jats: str, docx: str, figures: list[str]) -> None:
    """Write the bundle `target` from files of `folder` (paths relative to it)."""
    items = [("article-metadata", jats), ("manuscript", docx)] + [("article-supporting-file", f) for f in figures]
    partial = target.with_name(f".{target.name}.partial")
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        for name, data in [(MANIFEST, manifest(items).encode("utf-8"))] + [
                (href, (folder / href).read_bytes()) for _, href in items]:
            info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            bundle.writestr(info, data)
    partial.replace(target)
