"""The class roster: read and check it, write it into nbgrader's gradebook.

A roster (:func:`read_roster`) is a CSV of the class, one student per row,
with the columns of :data:`ROSTER_COLUMNS` (and optionally
:data:`ROSTER_OPTIONAL`). :func:`apply_roster` writes the names, e-mails and
LMS ids into nbgrader's gradebook (``Student.first_name``, ``last_name``,
``email``, ``lms_user_id``), where formgrader shows them.
"""

from __future__ import annotations

import csv
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

from crmlib.errors import CRMError, DataError

ROSTER_COLUMNS = ("student_id", "first_name", "last_name", "email", "lms_id")
ROSTER_OPTIONAL = ("section", "login_id")
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
            f"missing column(s) {', '.join(missing)} "
            f"(a roster has the columns {', '.join(ROSTER_COLUMNS)})",
            file=path.name,
            row=1,
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
    if len(problems) == 1:
        line, column, reason = problems[0]
        raise DataError(reason, file=path.name, row=line, column=column or None)
    if problems:
        listed = [
            f"row {line}" + (f", column {column}" if column else "") + f": {reason}"
            for line, column, reason in problems[:_MAX_LISTED]
        ]
        more = len(problems) - _MAX_LISTED
        columns = {column for _, column, _ in problems}  # one column named only when all share it
        raise DataError(
            "the roster has problems:\n  "
            + "\n  ".join(listed)
            + (f"\n  … and {more} more" if more > 0 else ""),
            file=path.name,
            row=[line for line, _, _ in problems[:_MAX_LISTED]],
            column=(columns.pop() or None) if len(columns) == 1 else None,
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
