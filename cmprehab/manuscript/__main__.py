"""``python -m cmprehab.manuscript [--output DIR]``: the manuscript of the book built in DIR (``make manuscript``)."""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from .. import config
from . import DOCX, FIGURES, FOLDER, JATS, MARKDOWN, MECA, ManuscriptError, article, meca
from .source import Build

# The journal's reference style (BioMed Central, CSL 1.0; source and licence in manuscript/README.md).
CSL = config.ROOT / "manuscript" / "biomed-central.csl"
BIBLIOGRAPHY = config.ROOT / "references.bib"
#: Where the site keeps downloads (beside the PDF), linked from every page's footer.
SITE_DOWNLOADS = "_downloads"


def pandoc(markdown: str, to: str, target: Path, folder: Path) -> None:
    """Convert with the pandoc that pypandoc-binary ships (nothing is downloaded)."""
    import pypandoc

    for needed in (CSL, BIBLIOGRAPHY):
        if not needed.is_file():
            raise ManuscriptError(f"{needed}: not found (the manuscript cites with it)")
    try:
        pypandoc.convert_text(markdown, to, format="markdown-smart", outputfile=str(target), sandbox=False,
                              extra_args=["--standalone", "--wrap=none", "--citeproc", f"--bibliography={BIBLIOGRAPHY}",
                                          f"--csl={CSL}", f"--resource-path={folder}"])
    except (RuntimeError, OSError) as err:
        raise ManuscriptError(f"pandoc could not write {target.name}: {err}") from None


#: Pandoc's jats_archiving writer declares JATS 1.2; what it writes is also JATS 1.3 (archiving), which
#: the manuscript declares (the journals' and PMC's current version).
JATS_1_2 = ('<!DOCTYPE article PUBLIC "-//NLM//DTD JATS (Z39.96) Journal Archiving and Interchange DTD v1.2 20190208//EN"',
            '"JATS-archivearticle1.dtd">', 'dtd-version="1.2"')
JATS_1_3 = ('<!DOCTYPE article PUBLIC "-//NLM//DTD JATS (Z39.96) Journal Archiving and Interchange DTD v1.3 20210610//EN"',
            '"JATS-archivearticle1-3.dtd">', 'dtd-version="1.3"')


def declare_jats_1_3(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    for old, new in zip(JATS_1_2, JATS_1_3):
        if text.count(old) != 1:
            raise ManuscriptError(f"{path.name}: pandoc's JATS declaration changed (no single {old!r}); "
                                  "check cmprehab/manuscript/__main__.py against this pandoc")
        text = text.replace(old, new)
    path.write_text(text, encoding="utf-8")


def write(output: Path) -> Path:
    """Write ``<output>/_build/manuscript/`` from the build in `output`; returns that folder."""
    build = Build(output)
    paper = article.assemble(build)
    final = build.build_dir / FOLDER
    # Written aside, then put in place: a failure leaves the last manuscript as it was.
    work = Path(tempfile.mkdtemp(prefix=".manuscript-", dir=build.build_dir))
    try:
        (work / FIGURES).mkdir()
        figures = []
        for figure in paper.figures:
            name = article.figure_file(figure)
            shutil.copyfile(figure.path, work / name)
            figures.append(name)
        docx_source = article.docx_markdown(paper)
        (work / MARKDOWN).write_text(docx_source, encoding="utf-8")
        pandoc(docx_source, "docx", work / DOCX, work)
        pandoc(article.jats_markdown(paper), "jats_archiving", work / JATS, work)
        declare_jats_1_3(work / JATS)
        meca.write_bundle(work / MECA, work, JATS, DOCX, figures)
        work.chmod(0o755)  # mkdtemp made it private; the manuscript is for sharing like the site
        shutil.rmtree(final, ignore_errors=True)
        work.replace(final)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    if build.site.is_dir():  # beside the PDF, where the footer links them
        downloads = build.site / SITE_DOWNLOADS
        downloads.mkdir(exist_ok=True)
        for name in (DOCX, JATS, MECA):
            shutil.copyfile(final / name, downloads / name)
    return final


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cmprehab.manuscript", description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=config.ROOT,
                        help="folder holding the book's _build/ (default: the repository root)")
    args = parser.parse_args(argv)
    try:
        folder = write(args.output.resolve())
    except ManuscriptError as err:
        print(f"cmprehab.manuscript: {err}", file=sys.stderr)
        return 1
    print(f"cmprehab.manuscript: {DOCX}, {JATS} and {MECA} in {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
