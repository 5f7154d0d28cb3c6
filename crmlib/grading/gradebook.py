"""The class's grades, from nbgrader's gradebook, as a CSV or an LMS's import layout.

:func:`class_report` reads every roster student's total and per-question
scores (hand scores included), late flag and status from the gradebook;
:func:`write_grades` writes them as a plain CSV or in the import layout of
Canvas's or Moodle's gradebook.

Layouts, as the LMS source code reads them:

- Canvas gradebook import CSV: ``Student, ID, SIS User ID, SIS Login ID,
  Section``, then one column per assignment (``Name (assignment id)`` matches
  an existing assignment, a new name creates one); a ``Points Possible`` row
  may follow the header, and a column whose ``Points Possible`` cell says
  ``(read only)`` is not imported (canvas-lms ``lib/gradebook_importer.rb``;
  Canvas Instructor Guide, "How do I import grades in the Gradebook?").
- Moodle grading worksheet (offline grading): ``Identifier`` ("Participant
  <participant id>"), ``Full name``, ``Email address``, ``Status``, ``Grade``,
  ``Maximum Grade``, ``Grade can be changed``, ``Last modified (submission)``,
  ``Last modified (grade)``; the import reads ``Identifier``, ``Grade`` and
  ``Last modified (grade)`` and ignores other columns (Moodle
  ``mod/assign/feedback/offline/importgradeslib.php``).
"""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook

from crmlib.errors import CRMError
from crmlib.grading.course import released_assignment, spreadsheet_cell
from crmlib.grading.roster import RosterStudent
from crmlib.grading.submissions import read_records, submissions_record

FORMATS = ("csv", "canvas", "moodle")


# --- the class's grades, from the gradebook ---------------------------------------------------


@dataclass
class StudentGrade:
    """One student's grade of an assignment, as the gradebook holds it.

    ``score`` is nbgrader's total: each grade cell's manual score where a
    grader gave one, its automatic score otherwise (None: no submission).
    ``pending`` is the points still waiting for a hand score. ``late`` is
    Canvas's late mark, or the gradebook's (submission time after the due
    date); None when neither is known. ``moodle_participant`` is the
    participant id of the Moodle download the submission came from.
    """

    student: RosterStudent
    status: str
    score: float | None
    max_score: float
    questions: dict[str, float | None]
    pending: float = 0.0
    late: bool | None = None
    submitted_at: str = ""
    moodle_participant: str = ""
    in_roster: bool = True


def question_of(grade_id: str) -> str:
    """The question a grade cell belongs to: its grade id up to the first ``_`` (``q1_hidden`` -> ``q1``)."""
    return grade_id.split("_", 1)[0]


def _master_order(course, assignment: str) -> dict[str, int]:
    """Each grade id's position in the masters (the order of the questions)."""
    order: dict[str, int] = {}
    for path in course.masters(assignment):
        for cell in nbformat.read(path, as_version=4).cells:
            grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
            if grade_id and grade_id not in order:
                order[grade_id] = len(order)
    return order


def class_report(course, assignment: str, roster: list[RosterStudent] | None = None):
    """Every student's grade of an assignment, read from the course's gradebook.

    Parameters
    ----------
    course : crmlib.grading.course.Course
    assignment : str
    roster : list of RosterStudent, optional
        The class. Without it, the gradebook's students (with the names,
        e-mails and LMS ids that :func:`~crmlib.grading.roster.apply_roster` stored).

    Returns
    -------
    questions : dict
        Question -> maximum points, in the notebook's order.
    grades : list of StudentGrade
        One per roster student (``missing`` when there is no graded
        submission), then graded students absent from the roster
        (``in_roster`` False).
    """
    if not course.gradebook.is_file():
        raise CRMError(f"no gradebook yet: release and grade {assignment} first")
    records = read_records(submissions_record(course, assignment))
    with Gradebook(course.db_url, course.course_id) as gb:
        record = released_assignment(gb, assignment)
        several = len(record.notebooks) > 1
        order = _master_order(course, assignment)
        questions: dict[str, float] = {}
        for notebook in sorted(record.notebooks, key=lambda n: n.name):
            cells = sorted(
                notebook.grade_cells, key=lambda c: (order.get(c.name, len(order)), c.name)
            )
            for cell in cells:
                key = (f"{notebook.name}:" if several else "") + question_of(cell.name)
                questions[key] = questions.get(key, 0.0) + float(cell.max_score)
        max_score = float(record.max_score)
        known = {}
        for student in gb.students:
            known[student.id] = RosterStudent(
                student.id,
                student.first_name or "",
                student.last_name or "",
                student.email or "",
                student.lms_user_id or "",
            )
        graded: dict[str, StudentGrade] = {}
        for submission in record.submissions:
            sid = submission.student.id
            per_question: dict[str, float | None] = dict.fromkeys(questions, 0.0)
            pending = 0.0
            for notebook in submission.notebooks:
                for grade in notebook.grades:
                    key = (f"{notebook.name}:" if several else "") + question_of(grade.name)
                    if grade.needs_manual_grade and grade.manual_score is None:
                        pending += float(grade.max_score)
                    per_question[key] = (per_question[key] or 0.0) + float(grade.score or 0)
            lms = records.get(sid, {})
            late = {"yes": True, "no": False}.get(lms.get("late", ""))
            if late is None and submission.timestamp is not None and record.duedate is not None:
                late = submission.total_seconds_late > 0
            elif late is False and submission.total_seconds_late > 0:
                late = True
            stamp = lms.get("submitted_at") or (
                submission.timestamp.isoformat(sep=" ") if submission.timestamp else ""
            )
            graded[sid] = StudentGrade(
                known.get(sid, RosterStudent(sid, "", "", "")),
                "hand grading pending" if pending else "graded",
                float(submission.score),
                max_score,
                per_question,
                pending,
                late,
                stamp,
                lms.get("lms_file_id", "") if lms.get("lms") == "moodle" else "",
            )
    students = roster if roster is not None else [known[s] for s in sorted(known)]
    grades = []
    for student in students:
        found = graded.pop(student.student_id, None)
        if found is None:
            grades.append(
                StudentGrade(student, "missing", None, max_score, dict.fromkeys(questions))
            )
        else:
            found.student = student
            grades.append(found)
    for sid in sorted(graded):
        graded[sid].in_roster = roster is None
        grades.append(graded[sid])
    return questions, grades


def _number(value: float | None) -> str:
    return "" if value is None else f"{round(value, 2):g}"


def _late(value: bool | None) -> str:
    return "" if value is None else ("late" if value else "on time")


def write_grades(
    questions: dict[str, float],
    grades: list[StudentGrade],
    path: str | Path,
    fmt: str = "csv",
    assignment: str = "",
    column: str | None = None,
) -> Path:
    """Write the class's grades as a plain CSV or in an LMS's gradebook import layout.

    - ``csv``: student_id, last_name, first_name, email, lms_id, status,
      score, max_score, one column per question, pending_hand_points, late,
      submitted_at.
    - ``canvas``: Canvas's gradebook CSV (``Student, ID, SIS User ID, SIS
      Login ID, Section``, the assignment column, then the per-question
      scores and the late flag as columns that a ``Points Possible`` row marks
      ``(read only)``, which Canvas's import skips; see the module docstring).
      ``ID`` is the roster's ``lms_id`` (Canvas user id), ``SIS User ID`` its
      ``student_id``. A student without a score (missing) has an empty cell,
      which Canvas leaves unchanged.
    - ``moodle``: Moodle's grading worksheet (``Identifier`` = "Participant
      <id>" from the Moodle download, ``Full name``, ``Email address``,
      ``Status``, ``Grade``, ``Maximum Grade``, ``Grade can be changed``,
      ``Last modified (submission)``, ``Last modified (grade)``), then the
      per-question scores and the late flag, which the import ignores.

    Parameters
    ----------
    column : str, optional
        The assignment column's header in the Canvas layout (default: the
        assignment's name). Use ``Name (id)`` as in Canvas's own export to
        update an existing Canvas assignment.
    """
    if fmt not in FORMATS:
        raise CRMError(f"unknown format {fmt!r}: one of {', '.join(FORMATS)}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    names = list(questions)
    if fmt == "csv":
        header = ["student_id", "last_name", "first_name", "email", "lms_id", "status"]
        header += ["score", "max_score", *names, "pending_hand_points", "late", "submitted_at"]
        rows = [
            [
                g.student.student_id,
                g.student.last_name,
                g.student.first_name,
                g.student.email,
                g.student.lms_id,
                g.status if g.in_roster else f"{g.status} (not in the roster)",
                _number(g.score),
                _number(g.max_score),
                *(_number(g.questions[q]) for q in names),
                _number(g.pending),
                _late(g.late),
                g.submitted_at,
            ]
            for g in grades
        ]
    elif fmt == "canvas":
        title = column or assignment
        header = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", title]
        header += [f"{assignment} {q}" for q in names] + [f"{assignment} late"]
        points = ["    Points Possible", "", "", "", "", _number(sum(questions.values()))]
        points += ["(read only)"] * (len(names) + 1)
        rows = [points] + [
            [
                g.student.sortable_name,
                g.student.lms_id,
                g.student.student_id,
                g.student.login_id,
                g.student.section,
                _number(g.score),
                *(_number(g.questions[q]) for q in names),
                _late(g.late),
            ]
            for g in grades
        ]
    else:
        header = [
            "Identifier",
            "Full name",
            "Email address",
            "Status",
            "Grade",
            "Maximum Grade",
            "Grade can be changed",
            "Last modified (submission)",
            "Last modified (grade)",
        ]
        header += [f"{assignment} {q}" for q in names] + ["Late"]
        now = dt.datetime.now().strftime("%Y-%m-%d %H:%M:%S")
        status = {"graded": "Submitted for grading - Graded", "missing": "No submission"}
        rows = [
            [
                f"Participant {g.moodle_participant}" if g.moodle_participant else "",
                g.student.full_name,
                g.student.email,
                status.get(g.status, "Submitted for grading - Not graded"),
                _number(g.score),
                _number(g.max_score),
                "Yes",
                g.submitted_at,
                now,
                *(_number(g.questions[q]) for q in names),
                _late(g.late),
            ]
            for g in grades
        ]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for row in rows:
            writer.writerow([spreadsheet_cell(value) for value in row])
    return path
