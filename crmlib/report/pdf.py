"""The report as one PDF, printed by headless Chromium, offline.

``crm report --pdf`` writes ``summary.pdf`` (the name it always had): the
executive summary followed by every section page that was written, in
lesson order, each section starting on a new page
(:func:`print_report`). The pages are joined into one print document (the
style sheet of the first, each page's content in a ``<section>`` of its own)
that lives only while Chromium prints it; each section is a CSS named page,
so that its printed pages carry the client's name and the section's title in
their header (``@page`` margin boxes, Chromium 131 and later) and page
numbers in the footer. Navigation and tables of contents are not printed.
"""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from crmlib.errors import CRMError
from crmlib.report.pages import MAIN_START, main_content, print_header

PDF_NAME = "summary.pdf"
CHROMIUM_ENV = "CRM_CHROMIUM"
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_chromium(path=None) -> str | None:
    """The Chromium (or Chrome) executable: ``path``, ``$CRM_CHROMIUM``, or on PATH."""
    for candidate in (path, os.environ.get(CHROMIUM_ENV)):
        if candidate:
            return str(candidate) if shutil.which(str(candidate)) else None
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def print_pdf(page: Path, pdf: Path, chromium: str, timeout: int = 120) -> Path:
    """Print an HTML page to PDF with headless Chromium, offline.

    Parameters
    ----------
    page : Path
        The HTML page (its images embedded: nothing is fetched).
    pdf : Path
        The PDF to write.
    chromium : str
        The executable (see :func:`find_chromium`).
    timeout : int, default 120
        Seconds Chromium may take.

    Returns
    -------
    Path
        ``pdf``.

    Raises
    ------
    crmlib.errors.CRMError
        Chromium failed or wrote nothing.
    """
    with tempfile.TemporaryDirectory(prefix="crm-chromium-") as profile:
        cmd = [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--no-pdf-header-footer",
            f"--user-data-dir={profile}",
            f"--print-to-pdf={pdf}",
            Path(page).resolve().as_uri(),
        ]
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise CRMError(f"Chromium did not print {page.name} within {timeout} s") from None
    if done.returncode != 0 or not pdf.exists() or pdf.stat().st_size == 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise CRMError(f"Chromium could not print {page.name} (exit {done.returncode}): {last}")
    return pdf


_PRINT_HEADER = re.compile(r'<style id="crm-print-header">.*?</style>', re.DOTALL)
_TITLE = re.compile(r"<title>(.*?)</title>", re.DOTALL | re.IGNORECASE)


def print_document(pages: list[Path], client: str) -> str:
    """The report's pages joined into one document to print: each a section of its own.

    Parameters
    ----------
    pages : list of Path
        The HTML pages in print order (the summary first).
    client : str
        The client's name, for the print header.

    Returns
    -------
    str
        One HTML document: the head (style sheets) of the first page written by
        :func:`crmlib.report.html.write_html`, then each page's content in a
        ``<section class="crm-print-section">`` on a named page whose header
        names the client and the page's title.
    """
    texts = [Path(p).read_text(encoding="utf-8") for p in pages]
    styled = next((t for t in texts if MAIN_START in t), texts[0])
    head = re.search(r"<head>(.*?)</head>", styled, re.DOTALL | re.IGNORECASE)
    head = _PRINT_HEADER.sub("", head.group(1) if head else "")
    rules, sections = [], []
    for number, text in enumerate(texts):
        found = _TITLE.search(text)
        title = html.unescape(found.group(1).strip()) if found else Path(pages[number]).stem
        rules.append(print_header(client, title, f"crm-s{number}"))
        sections.append(
            f'<section class="crm-print-section" style="page: crm-s{number}">'
            f"{main_content(text)}</section>"
        )
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head>{head}<style>{"".join(rules)}</style></head>'
        '<body class="jp-Notebook crm-page"><div class="crm-layout"><main>'
        f'{"".join(sections)}</main></div></body></html>'
    )


def print_report(pages: list[Path], pdf: Path, chromium: str, client: str) -> Path:
    """Print the report's pages into one PDF (see the module's description).

    Raises
    ------
    crmlib.errors.CRMError
        Chromium failed or wrote nothing.
    """
    pdf = Path(pdf)
    document = pdf.with_name(f".{pdf.stem}-print.html")
    document.write_text(print_document(pages, client), encoding="utf-8")
    try:
        return print_pdf(document, pdf, chromium)
    finally:
        document.unlink(missing_ok=True)
