"""Return feedback to the students: generate it, check it, pack it for the LMS.

:func:`generate_feedback` writes one feedback file per graded student with
nbgrader's ``generate_feedback``; :func:`package_feedback` checks every file
for hidden tests and rubric text (:func:`check_feedback`) and packs them as
Canvas's or Moodle's bulk feedback upload expects.

Layouts, as the LMS source code reads them:

- Canvas "Download Submissions" zip: flat files named
  ``<name>[_late]_<user id>_<attachment id>_<file name>`` (the file name gets
  ``-1``, ``-2`` … when a student uploaded it again).
  Canvas's "Re-Upload Submissions" takes a zip of files named the same way
  and attaches each file as a comment to the submission: it reads the first
  two all-digit parts of the name as the user id and the attachment id, which
  must be a file of that user's submission (canvas-lms
  ``app/models/assignment.rb``, ``generate_comments_from_files`` and
  ``infer_comment_context_from_filename``).
- Moodle "Download all submissions": one folder per participant,
  ``<Full Name>_<participant id>_assignsubmission_file[_]/<file>``; the
  participant id is Moodle's per-assignment number (``get_uniqueid_for_user``).
  "Upload multiple feedback files in a zip" reads
  ``<anything>_<participant id>_assignfeedback_file[_]/<file>``
  (Moodle ``mod/assign/feedback/file/importziplib.php``).
"""

from __future__ import annotations

import html
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
from nbgrader.converters import GenerateFeedback
from nbgrader.coursedir import CourseDirectory
from nbgrader.preprocessors import GetGrades

from crmlib.errors import CRMError
from crmlib.grading.course import HIDDEN_BEGIN, HIDDEN_END, course_lock, run_converter
from crmlib.grading.feedback import HideHiddenTests
from crmlib.grading.rubric import RUBRIC_TITLE, WithholdRubric
from crmlib.grading.submissions import read_records, submissions_record

FEEDBACK_FORMATS = ("folders", "canvas", "moodle")


# --- feedback ---------------------------------------------------------------------------------


def generate_feedback(course, assignment: str) -> tuple[bool, str]:
    """Write every graded student's feedback with nbgrader's ``generate_feedback``.

    Run after hand grading, so the feedback holds the hand scores and the
    grader's comments. The preprocessors are the course's
    ``GenerateFeedback.preprocessors`` when ``nbgrader_config.py`` sets them,
    otherwise crm grade's (hidden tests and their tracebacks withheld); either
    way :class:`WithholdRubric` runs first.

    Returns
    -------
    (bool, str)
        Whether nbgrader succeeded, and its log.
    """
    config = course.settings()
    configured = [
        p
        for p in course.config.GenerateFeedback.get("preprocessors", [])
        if p is not WithholdRubric and p != "crmlib.grading.rubric.WithholdRubric"
    ]
    chosen = configured or [GetGrades, HideHiddenTests, CSSHTMLHeaderPreprocessor]
    config.GenerateFeedback.preprocessors = [WithholdRubric, *chosen]
    with course_lock(course):
        coursedir = CourseDirectory(config=config)
        coursedir.assignment_id = assignment
        app = GenerateFeedback(coursedir=coursedir, config=config)
        app.force = True
        return run_converter(app)


def _page_text(text: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", text))


def hidden_test_lines(masters: list[Path]) -> list[str]:
    """Code lines of the masters that appear only inside hidden-test regions (over 15 characters)."""
    hidden, shown = [], set()
    for master in masters:
        inside = False
        for cell in nbformat.read(master, as_version=4).cells:
            for line in cell.source.splitlines():
                stripped = line.strip()
                if HIDDEN_BEGIN in line:
                    inside = True
                elif HIDDEN_END in line:
                    inside = False
                elif inside and len(stripped) > 15 and not stripped.startswith("#"):
                    hidden.append(stripped)
                else:
                    shown.add(stripped)
    return [line for line in hidden if line not in shown]


def check_feedback(path: Path, secrets: list[str]) -> str | None:
    """Why a feedback file must not go to the student, or None when it is clean."""
    raw = path.read_text(encoding="utf-8", errors="replace")
    text = _page_text(raw)
    for marker in (HIDDEN_BEGIN, HIDDEN_END):
        if marker in raw or marker in text:
            return f"it holds the marker '{marker}'"
    if RUBRIC_TITLE in text:
        return "it holds the grader's rubric"
    leaked = [line for line in secrets if line in text]
    if leaked:
        return f"it shows {len(leaked)} line(s) of hidden tests"
    return None


@dataclass
class FeedbackPackage:
    """What :func:`package_feedback` packed, and whom it left out (and why)."""

    path: Path
    students: list[str]
    files: int
    skipped: dict[str, str]
    unsafe: dict[str, str] = field(default_factory=dict)


def package_feedback(
    course, assignment: str, zip_path: str | Path, fmt: str = "folders"
) -> FeedbackPackage:
    """Pack every student's feedback files into one zip for the LMS.

    Every file is checked first (:func:`check_feedback`): a student with a
    file holding a hidden-test marker, a line of a hidden test or the rubric
    is left out of the package and listed in ``unsafe`` with the reason.

    Parameters
    ----------
    fmt : {"folders", "canvas", "moodle"}
        ``folders``: ``<student>/<file>``. ``canvas``: flat files named
        ``feedback_<user id>_<attachment id>_<file>`` for Canvas's "Re-Upload
        Submissions" (ids from the Canvas download that crm grade collected).
        ``moodle``: ``feedback_<participant id>_assignfeedback_file/<file>``
        for Moodle's "Upload multiple feedback files in a zip". A student
        whose LMS ids are unknown (not collected from that LMS's download) is
        skipped and listed.
    """
    if fmt not in FEEDBACK_FORMATS:
        raise CRMError(f"unknown feedback format {fmt!r}: one of {', '.join(FEEDBACK_FORMATS)}")
    records = read_records(submissions_record(course, assignment))
    secrets = hidden_test_lines(course.masters(assignment))
    root = course.folder("feedback")
    planned: list[tuple[Path, str]] = []
    students: list[str] = []
    skipped: dict[str, str] = {}
    unsafe: dict[str, str] = {}
    folders = sorted(p for p in root.glob(f"*/{assignment}") if p.is_dir()) if root.is_dir() else []
    for folder in folders:
        student = folder.parent.name
        files = sorted(p for p in folder.rglob("*") if p.is_file() and p.name != "timestamp.txt")
        if not files:
            continue
        lms = records.get(student, {})
        if fmt == "canvas" and not (lms.get("lms") == "canvas" and lms.get("lms_user_id")):
            skipped[student] = "no Canvas submission recorded"
            continue
        if fmt == "moodle" and not (lms.get("lms") == "moodle" and lms.get("lms_file_id")):
            skipped[student] = "no Moodle submission recorded"
            continue
        problems = {
            path.name: check_feedback(path, secrets) for path in files if path.suffix == ".html"
        }
        problems = {name: problem for name, problem in problems.items() if problem}
        if problems:
            name, problem = next(iter(problems.items()))
            unsafe[student] = f"{name}: {problem}"
            continue
        for path in files:
            rel = path.relative_to(folder).as_posix()
            if fmt == "canvas":
                name = f"feedback_{lms['lms_user_id']}_{lms['lms_file_id']}_{rel.replace('/', '-')}"
            elif fmt == "moodle":
                name = f"feedback_{lms['lms_file_id']}_assignfeedback_file/{rel}"
            else:
                name = f"{student}/{rel}"
            planned.append((path, name))
        students.append(student)
    if not planned and unsafe:
        raise CRMError(
            f"no feedback of {assignment} is safe to send: "
            + "; ".join(f"{student}: {why}" for student, why in sorted(unsafe.items()))
        )
    if not planned:
        raise CRMError(
            f"no feedback to pack for {assignment} in {root}"
            + (
                f" ({len(skipped)} student(s) skipped: {next(iter(skipped.values()))})"
                if skipped
                else ""
            )
        )
    zip_path = Path(zip_path)
    zip_path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, name in planned:
            archive.write(path, name)
    return FeedbackPackage(zip_path, students, len(planned), skipped, unsafe)
