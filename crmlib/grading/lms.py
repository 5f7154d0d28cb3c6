"""The class and the LMS: roster, LMS downloads, gradebook exports and feedback packages.

Everything an instructor needs between ``crm grade`` and the learning
management system (LMS), on nbgrader's own records (its gradebook and its
``feedback`` folder):

- **Roster** (:func:`read_roster`): a CSV of the class, one student per row,
  with the columns of :data:`ROSTER_COLUMNS` (and optionally
  :data:`ROSTER_OPTIONAL`). :func:`apply_roster` writes the names, e-mails and
  LMS ids into nbgrader's gradebook (``Student.first_name``, ``last_name``,
  ``email``, ``lms_user_id``), where formgrader shows them.
- **LMS downloads** (:func:`identify_entry`, :func:`assign_students`): the
  file layouts of Canvas's "Download Submissions" zip and Moodle's "Download
  all submissions" zip, and the plain ``<student>/<notebook>.ipynb``; read by
  :func:`crmlib.grading.collect_zip`, which also records each submission's
  time (the zip entry's) and Canvas's late mark.
- **Rubric** (:func:`add_rubric_cells`, :class:`WithholdRubric`): the master's
  model answer of every hand-graded cell, shown to the grader in formgrader
  right below the student's answer and withheld from feedback.
- **Gradebook export** (:func:`class_report`, :func:`write_grades`): every
  roster student with total and per-question scores (hand scores included),
  late flag and status, as a plain CSV or in the import layout of Canvas's or
  Moodle's gradebook.
- **Feedback** (:func:`generate_feedback`, :func:`package_feedback`): one
  feedback file per student, checked for hidden tests and rubric text, packed
  as Canvas's or Moodle's bulk feedback upload expects.

Layouts, as the LMS source code reads them:

- Canvas "Download Submissions" zip: flat files named
  ``<name>[_late]_<user id>_<attachment id>_<file name>`` (the file name gets
  ``-1``, ``-2`` … when a student uploaded it again). Canvas's "Re-Upload
  Submissions" takes a zip of files named the same way and attaches each file
  as a comment to the submission: it reads the first two all-digit parts of
  the name as the user id and the attachment id, which must be a file of that
  user's submission (canvas-lms ``app/models/assignment.rb``,
  ``generate_comments_from_files`` and ``infer_comment_context_from_filename``).
- Canvas gradebook import CSV: ``Student, ID, SIS User ID, SIS Login ID,
  Section``, then one column per assignment (``Name (assignment id)`` matches
  an existing assignment, a new name creates one); a ``Points Possible`` row
  may follow the header, and a column whose ``Points Possible`` cell says
  ``(read only)`` is not imported (canvas-lms ``lib/gradebook_importer.rb``;
  Canvas Instructor Guide, "How do I import grades in the Gradebook?").
- Moodle "Download all submissions": one folder per participant,
  ``<Full Name>_<participant id>_assignsubmission_file[_]/<file>``; the
  participant id is Moodle's per-assignment number (``get_uniqueid_for_user``).
  "Upload multiple feedback files in a zip" reads
  ``<anything>_<participant id>_assignfeedback_file[_]/<file>``
  (Moodle ``mod/assign/feedback/file/importziplib.php``).
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
import html
import re
import unicodedata
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbconvert.preprocessors import Preprocessor
from traitlets import Bool

from crmlib.errors import CRMError, DataError

ROSTER_COLUMNS = ("student_id", "first_name", "last_name", "email", "lms_id")
ROSTER_OPTIONAL = ("section", "login_id")
FORMATS = ("csv", "canvas", "moodle")
FEEDBACK_FORMATS = ("folders", "canvas", "moodle")

# The submissions record that collect_zip writes beside the collected folders,
# and the per-assignment record that crm grade keeps in the course.
SUBMISSIONS_FILE = ".crm-submissions.csv"
SUBMISSION_COLUMNS = ("student", "lms", "lms_user_id", "lms_file_id", "submitted_at", "late")

RUBRIC_TITLE = "Rubric for the grader (the model answer; never shown to the student)"
_STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_MAX_LISTED = 10


# --- roster ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RosterStudent:
    """One student of the roster.

    Parameters
    ----------
    student_id : str
        The id the course uses (nbgrader's student id, a folder name): letters,
        digits, ``.``, ``_`` and ``-``.
    first_name, last_name : str
        As the LMS shows them (Canvas's ``Student`` column is "Last, First").
    email : str
    lms_id : str
        The student's LMS user id (Canvas: the numeric user id of the ``ID``
        column of its gradebook export); may be empty.
    section, login_id : str
        Optional: Canvas's ``Section`` and ``SIS Login ID``.
    """

    student_id: str
    first_name: str
    last_name: str
    email: str
    lms_id: str = ""
    section: str = ""
    login_id: str = ""

    @property
    def full_name(self) -> str:
        return " ".join(part for part in (self.first_name, self.last_name) if part)

    @property
    def sortable_name(self) -> str:
        return ", ".join(part for part in (self.last_name, self.first_name) if part)


def read_roster(path: str | Path) -> list[RosterStudent]:
    """Read and validate a roster CSV (UTF-8, header row, one student per row).

    Required columns: ``student_id, first_name, last_name, email, lms_id``
    (``lms_id`` may be empty); optional: ``section, login_id``; other columns
    are ignored. Every problem is reported as ``file, row N, column C:
    reason`` (row = line of the file, the header is row 1), without the
    values, which are personal data.

    Raises
    ------
    DataError
        When the file is missing, unreadable, lacks a column, or has a row
        with an empty or malformed value, or a student id or LMS id used twice.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"the roster {path} does not exist", file=str(path))
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise DataError(f"{path.name}: not UTF-8 text (save the roster as CSV UTF-8)") from None
    reader = csv.reader(text.splitlines())
    header = [h.strip().lower() for h in next(reader, [])]
    missing = [c for c in ROSTER_COLUMNS if c not in header]
    if missing:
        raise DataError(
            f"{path.name}, row 1: missing column(s) {', '.join(missing)} "
            f"(a roster has the columns {', '.join(ROSTER_COLUMNS)})",
            file=str(path),
            column=missing[0],
        )
    problems: list[tuple[int, str, str]] = []
    students: list[RosterStudent] = []
    first_row: dict[tuple[str, str], int] = {}
    for line, record in enumerate(reader, start=2):
        if not any(value.strip() for value in record):
            continue
        if len(record) != len(header):
            problems.append((line, "", f"{len(record)} fields where the header has {len(header)}"))
            continue
        row = {name: value.strip() for name, value in zip(header, record, strict=True)}
        if not _STUDENT_ID.match(row["student_id"]):
            reason = (
                "empty"
                if not row["student_id"]
                else "not a student id (letters, digits, '.', '_' and '-' only)"
            )
            problems.append((line, "student_id", reason))
        if not row["first_name"] and not row["last_name"]:
            problems.append((line, "last_name", "empty: give a first or a last name"))
        if not _EMAIL.match(row["email"]):
            problems.append(
                (line, "email", "empty" if not row["email"] else "not an e-mail address")
            )
        for column in ("student_id", "lms_id"):
            value = row[column]
            if value and (column, value) in first_row:
                problems.append(
                    (line, column, f"the same {column} as row {first_row[(column, value)]}")
                )
            elif value:
                first_row[(column, value)] = line
        students.append(
            RosterStudent(**{k: row.get(k, "") for k in ROSTER_COLUMNS + ROSTER_OPTIONAL})
        )
    if problems:
        listed = [
            f"{path.name}, row {line}" + (f", column {column}" if column else "") + f": {reason}"
            for line, column, reason in problems[:_MAX_LISTED]
        ]
        more = len(problems) - _MAX_LISTED
        raise DataError(
            "the roster has problems:\n  "
            + "\n  ".join(listed)
            + (f"\n  … and {more} more" if more > 0 else ""),
            file=str(path),
            column=problems[0][1] or None,
        )
    if not students:
        raise DataError(f"{path.name}: the roster has no students", file=str(path))
    return students


def apply_roster(course, roster: list[RosterStudent]) -> int:
    """Write the roster's names, e-mails and LMS ids into the course's gradebook.

    Formgrader and ``nbgrader export`` then show them. Students of the roster
    without a submission are added too (formgrader lists them as missing).

    Returns
    -------
    int
        The number of students written.
    """
    from nbgrader.api import Gradebook
    from sqlalchemy.exc import SAWarning

    if not course.gradebook.is_file():
        raise CRMError("no gradebook yet: release an assignment first (crm exercises release)")
    with warnings.catch_warnings(), Gradebook(course.db_url, course.course_id) as gb:
        warnings.simplefilter("ignore", SAWarning)
        for student in roster:
            gb.update_or_create_student(
                student.student_id,
                first_name=student.first_name or None,
                last_name=student.last_name or None,
                email=student.email or None,
                lms_user_id=student.lms_id or None,
            )
    return len(roster)


# --- LMS downloads ---------------------------------------------------------------------

# <name>[_late]_<user id>_<attachment id>_<file>; the name part has no "_".
_CANVAS = re.compile(
    r"^(?P<name>[^_/]+?)(?:_(?P<late>late))?_(?P<user>\d+)_(?P<file_id>\d+)_(?P<file>[^/]+)$",
    re.IGNORECASE,
)
_CANVAS_COPY = re.compile(r"-\d+$")  # Canvas's suffix for a file uploaded again
# <Full Name>_<participant id>_assignsubmission_<plugin>[_] (a folder, or a file prefix)
_MOODLE = re.compile(r"^(?P<name>.+?)_(?P<participant>\d+)_assignsubmission_[a-z]+_?(?P<rest>.*)$")


@dataclass
class Entry:
    """A notebook of an LMS download and whose it is.

    ``key`` identifies the student within the LMS (Canvas user id, Moodle
    participant id, or the folder name); ``name`` is the student's name as the
    LMS wrote it (Moodle only; used to find the student in the roster, never
    printed).
    """

    path: str
    lms: str
    key: str
    notebook: str
    late: bool | None = None
    file_id: str = ""
    name: str = field(default="", repr=False)
    submitted_at: dt.datetime | None = None
    student: str = ""


def identify_entry(relpath: str) -> Entry | None:
    """Recognise a notebook's path inside an LMS download; None when it is not a notebook.

    Raises
    ------
    CRMError
        For a notebook whose path fits no known layout (it names the file).
    """
    parts = [p for p in relpath.split("/") if p]
    if not parts or not parts[-1].endswith(".ipynb"):
        return None
    filename = parts[-1]
    canvas = _CANVAS.match(filename)
    if canvas:
        stem = _CANVAS_COPY.sub("", canvas["file"].removesuffix(".ipynb"))
        return Entry(
            relpath,
            "canvas",
            canvas["user"],
            f"{stem}.ipynb",
            late=bool(canvas["late"]),
            file_id=canvas["file_id"],
        )
    for index, part in enumerate(parts):
        moodle = _MOODLE.match(part)
        if moodle and (index < len(parts) - 1 or moodle["rest"].endswith(".ipynb")):
            notebook = filename if index < len(parts) - 1 else moodle["rest"]
            return Entry(
                relpath,
                "moodle",
                moodle["participant"],
                notebook,
                file_id=moodle["participant"],
                name=moodle["name"],
            )
    if len(parts) >= 2:
        return Entry(relpath, "folder", parts[-2], filename)
    raise CRMError(
        f"{relpath}: not a layout crm grade knows. Expected <student>/<notebook>.ipynb, "
        "Canvas's <name>_<user id>_<file id>_<notebook>.ipynb or Moodle's "
        "<name>_<participant id>_assignsubmission_file_/<notebook>.ipynb (or set "
        "c.FileNameCollectorPlugin.named_regexp in nbgrader_config.py)"
    )


def _normal_name(name: str) -> str:
    text = unicodedata.normalize("NFKC", name).casefold().replace("_", " ")
    return " ".join(text.split())


def assign_students(
    entries: list[Entry], roster: list[RosterStudent] | None, roster_name: str = "the roster"
) -> list[Entry]:
    """Give every entry its student id, through the roster when there is one.

    Without a roster the student id is the LMS's number (Canvas user id,
    Moodle participant id) or the folder name. With a roster: Canvas entries
    are matched on ``lms_id``, Moodle entries on the full name (Moodle's
    participant ids change from one assignment to the next; a group name
    that Moodle puts before it, ``<group>-<Full Name>``, is skipped), folders
    on ``student_id`` or ``lms_id``.

    Raises
    ------
    CRMError
        For an entry whose student is not in the roster, or a Moodle name that
        matches two roster students.
    """
    if roster is None:
        for entry in entries:
            entry.student = entry.key
        return entries
    by_id = {s.student_id: s for s in roster}
    by_lms = {s.lms_id: s for s in roster if s.lms_id}
    by_name: dict[str, list[RosterStudent]] = {}
    for student in roster:
        by_name.setdefault(_normal_name(student.full_name), []).append(student)
    for entry in entries:
        if entry.lms == "canvas":
            found = by_lms.get(entry.key)
            where = f"Canvas user {entry.key} ({entry.notebook})"
            how = "no student of {roster} has this lms_id"
        elif entry.lms == "moodle":
            # in group mode Moodle writes "<group>-<Full Name>"
            hyphens = entry.name.count("-")
            candidates = [entry.name.split("-", cut)[-1] for cut in range(hyphens + 1)]
            matches = next((by_name[n] for n in map(_normal_name, candidates) if n in by_name), [])
            where = f"Moodle participant {entry.key} ({entry.notebook})"
            if len(matches) > 1:
                raise CRMError(
                    f"{where}: {len(matches)} students of {roster_name} have this full name; "
                    "give them distinct names in the roster"
                )
            found = matches[0] if matches else None
            how = "no student of {roster} has this first and last name"
        else:
            found = by_id.get(entry.key) or by_lms.get(entry.key)
            where = f"{entry.path}"
            how = "the folder is neither a student_id nor an lms_id of {roster}"
        if found is None:
            raise CRMError(f"{where}: {how.format(roster=roster_name)}")
        entry.student = found.student_id
    return entries


def write_submissions_record(entries: list[Entry], path: Path) -> Path:
    """Write what the LMS said about each collected submission (one row per student)."""
    latest: dict[str, Entry] = {}
    for entry in entries:
        known = latest.get(entry.student)
        if known is None or (entry.submitted_at or dt.datetime.min) > (
            known.submitted_at or dt.datetime.min
        ):
            latest[entry.student] = entry
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=SUBMISSION_COLUMNS)
        writer.writeheader()
        for student, entry in sorted(latest.items()):
            writer.writerow(
                {
                    "student": student,
                    "lms": entry.lms,
                    "lms_user_id": entry.key if entry.lms == "canvas" else "",
                    "lms_file_id": entry.file_id,
                    "submitted_at": entry.submitted_at.isoformat(sep=" ")
                    if entry.submitted_at
                    else "",
                    "late": "" if entry.late is None else ("yes" if entry.late else "no"),
                }
            )
    return path


def _read_records(path: Path) -> dict[str, dict]:
    if not path.is_file():
        return {}
    with path.open(newline="", encoding="utf-8") as handle:
        return {row["student"]: row for row in csv.DictReader(handle)}


def submissions_record(course, assignment: str) -> Path:
    """Where the course keeps what the LMS said about an assignment's submissions."""
    return course.root / "lms" / f"{assignment}-submissions.csv"


def record_submissions(course, assignment: str, collected: Path, students: list[str]) -> None:
    """Keep the LMS record of the graded students in the course (replacing their old rows)."""
    source = Path(collected) / SUBMISSIONS_FILE
    if not source.is_file():
        return  # a plain folder of submissions: nothing new from an LMS
    new = _read_records(source)
    target = submissions_record(course, assignment)
    rows = _read_records(target)
    for student in students:
        rows.pop(student, None)
        if student in new:
            rows[student] = new[student]
    if not rows:
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=SUBMISSION_COLUMNS)
        writer.writeheader()
        for student in sorted(rows):
            writer.writerow({key: rows[student].get(key, "") for key in SUBMISSION_COLUMNS})


def zip_times(zip_file: Path) -> dict[str, dt.datetime]:
    """The time of every entry of a zip (as stored: local time without a zone)."""
    with zipfile.ZipFile(zip_file) as archive:
        return {info.filename: dt.datetime(*info.date_time) for info in archive.infolist()}


# --- rubric beside hand-graded answers -----------------------------------------------------


def _is_rubric(cell) -> bool:
    return bool(cell.get("metadata", {}).get("crm", {}).get("rubric"))


def _hand_graded(cell) -> bool:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return bool((meta.get("grade") and meta.get("solution")) or meta.get("task"))


def _rubric_cell(master_cell) -> nbformat.NotebookNode:
    source = master_cell.source
    if master_cell.cell_type == "code":
        source = f"```python\n{source}\n```"
    quoted = "\n".join(f"> {line}" if line else ">" for line in source.splitlines())
    cell = nbformat.v4.new_markdown_cell(f"**{RUBRIC_TITLE}**\n\n{quoted}")
    cell.metadata["crm"] = {"rubric": True}
    cell.metadata["tags"] = ["crm-rubric"]
    cell.metadata["editable"] = False
    return cell


def rubric_withheld(course) -> bool:
    """Whether nbgrader's own feedback route (``nbgrader generate_feedback``, formgrader's
    button) withholds the rubric: ``nbgrader_config.py`` lists :class:`WithholdRubric`
    in ``c.GenerateFeedback.preprocessors``. Only then does crm grade add rubric cells.
    """
    listed = course.config.GenerateFeedback.get("preprocessors", [])
    return any(p is WithholdRubric or p == "crmlib.grading.lms.WithholdRubric" for p in listed)


def add_rubric_cells(course, assignment: str, students: list[str]) -> int:
    """Put the master's model answer below each hand-graded answer of the autograded notebooks.

    Formgrader shows the autograded notebook, so the grader reads the rubric
    right below the student's answer. The cells carry ``metadata.crm.rubric``
    (no nbgrader metadata: they are not graded); :class:`WithholdRubric`
    removes them from feedback (crm feedback always runs it; nbgrader's own
    route runs it when :func:`rubric_withheld`). Running it again replaces them.

    Returns
    -------
    int
        The number of rubric cells written.
    """
    masters = {path.stem: nbformat.read(path, as_version=4) for path in course.masters(assignment)}
    written = 0
    for student in students:
        folder = course.folder("autograded") / student / assignment
        for stem, master in masters.items():
            path = folder / f"{stem}.ipynb"
            if not path.is_file():
                continue
            model = {
                c.metadata.get("nbgrader", {}).get("grade_id"): c
                for c in master.cells
                if _hand_graded(c)
            }
            nb = nbformat.read(path, as_version=4)
            cells = []
            for cell in nb.cells:
                if _is_rubric(cell):
                    continue
                cells.append(cell)
                grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
                if _hand_graded(cell) and grade_id in model:
                    cells.append(_rubric_cell(model[grade_id]))
                    written += 1
            nb.cells = cells
            nbformat.write(nb, path)
    return written


class WithholdRubric(Preprocessor):
    """Remove the rubric cells (:func:`add_rubric_cells`) from a notebook, for feedback.

    Enabled by default (nbconvert's preprocessors are not), so that listing it
    in ``GenerateFeedback.preprocessors`` is enough.
    """

    enabled = Bool(True).tag(config=True)

    def preprocess(self, nb, resources):
        nb.cells = [cell for cell in nb.cells if not _is_rubric(cell)]
        return nb, resources


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
    course : crmlib.grading.Course
    assignment : str
    roster : list of RosterStudent, optional
        The class. Without it, the gradebook's students (with the names,
        e-mails and LMS ids that :func:`apply_roster` stored).

    Returns
    -------
    questions : dict
        Question -> maximum points, in the notebook's order.
    grades : list of StudentGrade
        One per roster student (``missing`` when there is no graded
        submission), then graded students absent from the roster
        (``in_roster`` False).
    """
    from nbgrader.api import Gradebook

    from crmlib.grading import released_assignment

    if not course.gradebook.is_file():
        raise CRMError(f"no gradebook yet: release and grade {assignment} first")
    records = _read_records(submissions_record(course, assignment))
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


def _cell(value) -> str:
    """Text a spreadsheet would run as a formula is quoted (OWASP CSV injection)."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(("=", "+", "-", "@", "\t", "\r")) else text


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
            writer.writerow([_cell(value) for value in row])
    return path


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
    from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
    from nbgrader.converters import GenerateFeedback
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.preprocessors import GetGrades

    from crmlib import grading

    config = course.settings()
    configured = [
        p
        for p in course.config.GenerateFeedback.get("preprocessors", [])
        if p is not WithholdRubric and p != "crmlib.grading.lms.WithholdRubric"
    ]
    chosen = configured or [GetGrades, grading.HideHiddenTests, CSSHTMLHeaderPreprocessor]
    config.GenerateFeedback.preprocessors = [WithholdRubric, *chosen]
    with grading._course_lock(course):
        coursedir = CourseDirectory(config=config)
        coursedir.assignment_id = assignment
        app = GenerateFeedback(coursedir=coursedir, config=config)
        app.force = True
        return grading._run_converter(app)


def _page_text(text: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", text))


def hidden_test_lines(masters: list[Path]) -> list[str]:
    """Code lines of the masters that appear only inside hidden-test regions (over 15 characters)."""
    from crmlib import grading

    hidden, shown = [], set()
    for master in masters:
        inside = False
        for cell in nbformat.read(master, as_version=4).cells:
            for line in cell.source.splitlines():
                stripped = line.strip()
                if grading.HIDDEN_BEGIN in line:
                    inside = True
                elif grading.HIDDEN_END in line:
                    inside = False
                elif inside and len(stripped) > 15 and not stripped.startswith("#"):
                    hidden.append(stripped)
                else:
                    shown.add(stripped)
    return [line for line in hidden if line not in shown]


def check_feedback(path: Path, secrets: list[str]) -> str | None:
    """Why a feedback file must not go to the student, or None when it is clean."""
    from crmlib import grading

    raw = path.read_text(encoding="utf-8", errors="replace")
    text = _page_text(raw)
    for marker in (grading.HIDDEN_BEGIN, grading.HIDDEN_END):
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
    records = _read_records(submissions_record(course, assignment))
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
