"""The lesson notebooks as files: finding them, and their batch form.

A lesson's interactive explorers (cells tagged ``explorer``) only make sense
with a person at a JupyterLab: in a client report, or a test run through
papermill, there is nobody to move a slider and the widget would show as the
text ``VBox(...)``. :func:`batch_notebook` returns the lesson without those
cells, which is what ``crm report`` and the lesson tests execute. (Executing
widget cells headless also risks nbclient's intermittent hang on widget
messages, jupyter/nbclient#312.) The explorers themselves are tested in a
real browser (tests/test_browser.py) and as objects (tests per widget module).
"""

from __future__ import annotations

from pathlib import Path

import nbformat

EXPLORER_TAG = "explorer"


def batch_notebook(path: Path) -> nbformat.NotebookNode:
    """The lesson at ``path`` without its ``explorer`` cells."""
    nb = nbformat.read(path, as_version=4)
    nb.cells = [c for c in nb.cells if EXPLORER_TAG not in c.metadata.get("tags", [])]
    return nb


def write_batch_notebook(path: Path, folder: Path) -> Path:
    """Write the batch form of a lesson into ``folder`` (same file name); return its path."""
    out = Path(folder) / Path(path).name
    nbformat.write(batch_notebook(path), out)
    return out
