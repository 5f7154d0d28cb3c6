"""The client report: ``crm report`` runs the lessons on a client's data and builds the report.

One module per job:

- :mod:`crmlib.report.runner`: :func:`run_report` (validate once, run the
  lessons in parallel, fail safe, move into place);
- :mod:`crmlib.report.execute`: :func:`run_lesson`, one lesson with
  papermill, scrubbed of paths and secrets;
- :mod:`crmlib.report.parameters`: the lessons and the parameters they declare;
- :mod:`crmlib.report.lessons`: a lesson's batch form (without explorers);
- :mod:`crmlib.report.kernels`: the run's kernels, retried and all stopped;
- :mod:`crmlib.report.html`: the offline HTML page of a lesson (report or lesson view);
- :mod:`crmlib.report.mathml`: the prose's formulas as MathML, made at export;
- :mod:`crmlib.report.pages`: navigation, tables of contents, style sheet, print headers;
- :mod:`crmlib.report.pdf`: the report printed by headless Chromium;
- :mod:`crmlib.report.index`: ``manifest.json`` and the plain index page;
- :mod:`crmlib.report.summary`: the executive summary's figures, recommendations and HTML;
- :mod:`crmlib.report.lock`: one run per report folder.

What a lesson hands the report (its results file) is :mod:`crmlib.results`,
one layer below. Re-exported here: what the ``crm`` command, the tests and
the benchmarks use (``run_report`` and what it takes and returns).
"""

from crmlib.report.execute import LessonRun, Progress, run_lesson
from crmlib.report.html import outside_references
from crmlib.report.kernels import KERNEL_ENV
from crmlib.report.parameters import NOTEBOOKS_DIR, lesson_notebooks
from crmlib.report.pdf import find_chromium
from crmlib.report.runner import IDENTITY_DIR, SNAPSHOT_DIR, ReportResult, run_report

__all__ = [
    "KERNEL_ENV",
    "NOTEBOOKS_DIR",
    "IDENTITY_DIR",
    "SNAPSHOT_DIR",
    "LessonRun",
    "Progress",
    "ReportResult",
    "find_chromium",
    "lesson_notebooks",
    "outside_references",
    "run_lesson",
    "run_report",
]
