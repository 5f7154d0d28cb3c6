"""The summary as PDF: the index page printed by headless Chromium, offline."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from crmlib.errors import CRMError

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
