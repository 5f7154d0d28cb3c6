"""What a student's feedback shows: nbgrader's feedback preprocessors and exporter.

``nbgrader_config.py`` gives every feedback route (``crm grade``,
``nbgrader generate_feedback`` and formgrader's button) the pipeline
:data:`FEEDBACK_PREPROCESSORS`: the grader's rubric withheld
(:class:`crmlib.grading.rubric.WithholdRubric`), hidden tests removed and a
failing one reduced to its message (:class:`HideHiddenTests`), graded cells
named by their question (:class:`NameQuestions` and the template
``templates/feedback/crm_feedback.html.j2`` of :class:`FeedbackExporter`),
tracebacks without library frames or machine paths (:class:`CleanTracebacks`).
nbgrader's own autograde (the command and formgrader's button) refuses to
run (:class:`CrmGradeOnly`).
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from pathlib import Path

from nbconvert.exporters import HTMLExporter, NotebookExporter
from nbgrader.converters.base import NbGraderException
from nbgrader.preprocessors import ClearHiddenTests
from nbgrader.preprocessors.base import NbGraderPreprocessor
from traitlets.config import Config

from crmlib.grading.course import HIDDEN_BEGIN, REPO_ROOT
from crmlib.grading.sandbox import SANDBOX_HOME


class HideHiddenTests(ClearHiddenTests):
    """ClearHiddenTests that also withholds the tracebacks of hidden-test cells.

    A failing hidden test keeps its exception name and message (which the
    instructor wrote for the student: what was checked, not how) but not its
    traceback, which would print the hidden lines. Part of
    :data:`FEEDBACK_PREPROCESSORS`.
    """

    def preprocess_cell(self, cell, resources, index):
        meta = cell.metadata.get("nbgrader", {})
        if not meta.get("grade") or meta.get("solution"):
            return cell, resources  # a student's cell: whatever it says, it hides nothing
        if cell.cell_type == "code" and self.begin_test_delimeter in cell.source:
            for output in cell.get("outputs", []):
                if output.output_type == "error":
                    output.traceback = [
                        f"{output.ename}: {output.evalue}",
                        "(a hidden test failed; its code is not shown)",
                    ]
        return super().preprocess_cell(cell, resources, index)


def _environment_roots() -> list[tuple[str, str]]:
    """(folder, what to show instead) for the folders of this installation, longest first."""
    import site

    roots = [(str(REPO_ROOT), "")]
    packages = {*site.getsitepackages(), site.getusersitepackages()}
    roots += [(folder, "") for folder in packages if folder]
    for prefix in {sys.prefix, sys.base_prefix, sys.exec_prefix}:
        lib = Path(prefix) / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}"
        roots += [(str(lib), ""), (prefix, "")]
    roots += [(tempfile.gettempdir(), ""), (str(Path.home()), "~")]
    roots = [(os.path.realpath(folder), shown) for folder, shown in roots] + roots
    return sorted(set(roots), key=lambda pair: -len(pair[0]))


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_PATH_END = r"""[^\s'"(),:;\x1b]*"""


def without_paths(text: str) -> str:
    """``text`` with the folders of this installation removed from every path in it.

    ``…/site-packages/pandas/core/frame.py`` becomes ``pandas/core/frame.py``,
    a file of the repository its path in the repository, a path under the
    home folder ``~/…``; other temporary and Python folders are dropped, so
    that feedback shows no path of the grading machine.
    """
    for folder, shown in _environment_roots():
        if folder in ("/", ""):
            continue
        # the folder itself or a path in it, not a longer name that starts the same
        pattern = re.compile(re.escape(folder.rstrip("/")) + r"(?![\w.\-])(/" + _PATH_END + r")?")

        def shorten(match, shown=shown):
            rest = (match.group(1) or "").lstrip("/")
            return f"{shown}/{rest}" if shown else rest or "…"

        text = pattern.sub(shorten, text)
    return text


def _frame_package(frame: str) -> str | None:
    """The package a traceback frame runs in, or None for the student's own cells."""
    plain = _ANSI.sub("", frame).lstrip()
    match = re.match(r"File\s+([~/]\S*?)(?::\d+)?,? ", plain)
    if not match:
        return None
    path = match.group(1)
    if path.startswith("~"):  # IPython shortens paths under the kernel's home folder
        path = SANDBOX_HOME + path[1:]
    if "site-packages/" in path:
        return path.split("site-packages/", 1)[1].split("/", 1)[0].removesuffix(".py")
    if Path(path).resolve().is_relative_to(REPO_ROOT):
        return "crmlib"
    return "Python"


class CleanTracebacks(NbGraderPreprocessor):
    """Tracebacks and warnings in feedback without library internals or machine paths.

    In every error output, the frames that run inside a library (pandas,
    numpy, crmlib, Python itself) are replaced by one line naming it: the
    student sees the line of their own code that failed and the error
    message. Every path left (in messages, warnings printed to stderr) loses
    the folders of this installation (:func:`without_paths`).
    """

    def preprocess_cell(self, cell, resources, index):
        for output in cell.get("outputs", []):
            if output.output_type == "error":
                output.evalue = without_paths(output.evalue)
                output.traceback = [without_paths(line) for line in self._frames(output.traceback)]
            elif output.output_type == "stream":
                output.text = without_paths(output.text)
        return cell, resources

    @staticmethod
    def _frames(traceback_lines: list[str]) -> list[str]:
        kept: list[str] = []
        hidden: list[str] = []

        def flush():
            if hidden:
                packages = ", ".join(dict.fromkeys(hidden))
                frames = "frame" if len(hidden) == 1 else "frames"
                kept.append(f"... ({len(hidden)} {frames} inside {packages} not shown)")
                hidden.clear()

        for frame in traceback_lines:
            package = _frame_package(frame)
            if package is None:
                flush()
                kept.append(frame)
            else:
                hidden.append(package)
        flush()
        return kept


_QUESTION_HEADING = re.compile(r"^#+\s*(Question\s+\w+\s*[:.\-–—]?.*?)\s*(\(.*\))?\s*$")


class NameQuestions(NbGraderPreprocessor):
    """Give every graded cell a readable name: its question and what the cell is.

    The question is the last markdown heading before the cell that starts
    with "Question" (``## Question 2: customers acquired per month (3
    points)`` gives "Question 2: customers acquired per month"). The name is
    stored in the cell's ``nbgrader.crm_label`` metadata, which the course's
    feedback template (``crm_feedback``) shows in the summary instead of
    nbgrader's "Test cell"; a cell before any question heading is named by
    its grade id.
    """

    def preprocess(self, nb, resources):
        question = None
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader", {})
            if cell.cell_type == "markdown" and not meta.get("solution"):
                for line in cell.source.splitlines():
                    match = _QUESTION_HEADING.match(line.strip())
                    if match:
                        question = match.group(1).rstrip(" :")
                        break
            if not meta.get("grade") or not meta.get("grade_id"):
                continue
            if meta.get("solution"):
                kind = "your answer"
            elif self._is_hidden(cell):
                kind = "hidden tests"
            else:
                kind = "tests"
            meta["crm_label"] = f"{question}: {kind}" if question else meta["grade_id"]
        return nb, resources

    @staticmethod
    def _is_hidden(cell) -> bool:
        return HIDDEN_BEGIN in cell.source


#: The feedback pipeline of the course, whoever runs it: ``crm grade``,
#: ``nbgrader generate_feedback`` and formgrader's "Generate Feedback" button
#: (``nbgrader_config.py`` sets it; crm grade's workers set it themselves,
#: :mod:`crmlib.grading.worker`).
FEEDBACK_PREPROCESSORS = [
    "crmlib.grading.rubric.WithholdRubric",  # the rubric crm grade puts beside hand-graded answers
    "nbgrader.preprocessors.GetGrades",
    "crmlib.grading.feedback.NameQuestions",
    "crmlib.grading.feedback.HideHiddenTests",
    "crmlib.grading.feedback.CleanTracebacks",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]
FEEDBACK_TEMPLATE_FILE = "crm_feedback.html.j2"  # in crmlib/grading/templates/feedback/


def feedback_template_dirs() -> list[str]:
    """Where the course's feedback template and nbgrader's own (which it extends) live."""
    import nbgrader

    nbgrader_templates = Path(nbgrader.__file__).parent / "server_extensions" / "formgrader"
    return [str(Path(__file__).parent / "templates"), str(nbgrader_templates / "templates")]


class FeedbackExporter(HTMLExporter):
    """nbgrader's feedback page, with every graded cell named by its question.

    ``nbgrader_config.py`` makes it nbgrader's feedback exporter
    (``c.GenerateFeedback.exporter_class``). It renders
    ``crmlib/grading/templates/feedback/crm_feedback.html.j2``, which extends
    nbgrader's ``feedback`` template (the template name formgrader asks for)
    and shows the names :class:`NameQuestions` gives the cells. Set on this
    class alone, the template leaves formgrader's other pages alone.
    """

    def __init__(self, config: Config | None = None, **kwargs):
        config = Config(config or {})  # a copy: the caller's stays as it was
        dirs = list(config.HTMLExporter.get("extra_template_basedirs", []))
        ours = Config()
        ours.FeedbackExporter.extra_template_basedirs = [
            *(d for d in feedback_template_dirs() if d not in dirs),
            *dirs,
        ]
        ours.FeedbackExporter.template_file = FEEDBACK_TEMPLATE_FILE
        config.merge(ours)
        super().__init__(config=config, **kwargs)


AUTOGRADE_REFUSAL = (
    "this course grades student notebooks only with crm grade, which runs each one in "
    "a sandbox (nbgrader's own autograde, and formgrader's Autograde button, would run "
    "student code as you, able to read the masters and the gradebook). Run "
    "`crm grade ASSIGNMENT --submissions var/course/submitted` from the repository, "
    "then generate feedback or grade by hand in formgrader as usual"
)


class CrmGradeOnly(NotebookExporter):
    """The exporter ``nbgrader_config.py`` gives nbgrader's Autograde: it refuses to start.

    nbgrader builds its exporter before it touches a submission, so the
    refusal leaves the autograded notebooks, feedback and gradebook as
    ``crm grade`` left them. ``crm grade`` configures nbgrader's ordinary
    exporter for its own sandboxed runs.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.log.error(AUTOGRADE_REFUSAL)
        raise NbGraderException(f"nbgrader autograde is disabled: {AUTOGRADE_REFUSAL}")
