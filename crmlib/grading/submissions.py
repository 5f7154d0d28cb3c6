"""Find the submissions: a folder of students' notebooks, or an LMS's download zip.

:func:`find_submissions` reads ``<student>/<notebook>.ipynb`` folders;
:func:`collect_zip` unpacks a learning management system's (LMS) download
into that layout (:func:`identify_entry`, :func:`assign_students`) and
records each submission's time, LMS ids and Canvas's late mark
(:data:`SUBMISSIONS_FILE`, :func:`record_submissions`), which the gradebook
export and the feedback package read back.

Layouts, as the LMS source code reads them:

- Canvas "Download Submissions" zip: flat files named
  ``<name>[_late]_<user id>_<attachment id>_<file name>`` (the file name gets
  ``-1``, ``-2`` … when a student uploaded it again).
- Moodle "Download all submissions": one folder per participant,
  ``<Full Name>_<participant id>_assignsubmission_file[_]/<file>``; the
  participant id is Moodle's per-assignment number (``get_uniqueid_for_user``).
"""

from __future__ import annotations

import csv
import datetime
import datetime as dt
import re
import shutil
import tempfile
import unicodedata
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from nbgrader.plugins import ExtractorPlugin, FileNameCollectorPlugin

from crmlib.errors import CRMError
from crmlib.grading.course import Course
from crmlib.grading.roster import RosterStudent

# The submissions record that collect_zip writes beside the collected folders,
# and the per-assignment record that crm grade keeps in the course.
SUBMISSIONS_FILE = ".crm-submissions.csv"
SUBMISSION_COLUMNS = ("student", "lms", "lms_user_id", "lms_file_id", "submitted_at", "late")


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


def read_records(path: Path) -> dict[str, dict]:
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
    new = read_records(source)
    target = submissions_record(course, assignment)
    rows = read_records(target)
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


# --- submissions ---------------------------------------------------------------


@dataclass(frozen=True)
class Submission:
    """One student's submission: the folder holding their notebook(s)."""

    student: str
    folder: Path


def find_submissions(folder: str | Path, assignment: str) -> list[Submission]:
    """The submissions in a folder of ``<student>/<notebook>.ipynb``.

    ``<student>/<assignment>/<notebook>.ipynb`` (nbgrader's ``submitted``
    layout) is read too. Hidden folders and ``__MACOSX`` are skipped.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise CRMError(f"the submissions folder {folder} does not exist")
    found = []
    for child in sorted(folder.iterdir()):
        if not child.is_dir() or child.name.startswith((".", "__")):
            continue
        nested = child / assignment
        found.append(Submission(child.name, nested if nested.is_dir() else child))
    if not found:
        raise CRMError(
            f"no submissions in {folder}: expected one folder per student, "
            "each holding the student's notebook (<student>/<notebook>.ipynb)"
        )
    return found


def collect_zip(
    zip_file: str | Path,
    dest: str | Path,
    course: Course | None = None,
    roster: list | None = None,
    roster_name: str = "the roster",
) -> Path:
    """Collect an LMS download (a zip of notebooks) into ``dest/<student>/<notebook>.ipynb``.

    nbgrader's :class:`nbgrader.plugins.ExtractorPlugin` unpacks the archive
    (and archives inside it). Each notebook's path is then read as one of
    the layouts of :func:`identify_entry`: Canvas's flat
    ``<name>[_late]_<user id>_<file id>_<notebook>.ipynb``, Moodle's
    ``<Full Name>_<participant id>_assignsubmission_file_/<notebook>.ipynb``
    or ``<student>/<notebook>.ipynb``, unless the course configuration sets
    ``c.FileNameCollectorPlugin.named_regexp`` (nbgrader's
    :class:`nbgrader.plugins.FileNameCollectorPlugin` then reads every path).
    A notebook whose path fits no layout is a CRMError naming it.

    Students are named by the roster when one is given
    (:func:`assign_students`), by their LMS number otherwise.
    Each student's folder gets nbgrader's ``timestamp.txt`` (the zip entry's
    time, read as UTC), and ``dest`` gets :data:`SUBMISSIONS_FILE`,
    which records the LMS, its ids, the time and Canvas's late mark.

    Returns
    -------
    Path
        ``dest``, ready for :func:`find_submissions`.
    """
    course = course or Course.load()
    zip_file, dest = Path(zip_file), Path(dest)
    if not zip_file.is_file():
        raise CRMError(f"the zip file {zip_file} does not exist")
    if not zipfile.is_zipfile(zip_file):
        raise CRMError(f"{zip_file.name} is not a zip archive")
    try:
        with zipfile.ZipFile(zip_file) as archive:
            broken = archive.testzip()
            names = archive.namelist()
        times = zip_times(zip_file)
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise CRMError(f"{zip_file.name} is not a readable zip archive ({exc})") from None
    if broken is not None:
        raise CRMError(f"{zip_file.name} is damaged: {broken} cannot be read")
    for name in names:
        if name.startswith("/") or ".." in Path(name).parts:
            raise CRMError(f"{zip_file.name} holds an unsafe path: {name}")
    configured = course.config.FileNameCollectorPlugin.get("named_regexp")
    entries: list = []
    with tempfile.TemporaryDirectory(prefix="crm-zip-") as scratch:
        archive_dir, extracted = Path(scratch) / "archive", Path(scratch) / "extracted"
        archive_dir.mkdir()
        extracted.mkdir()
        shutil.copy(zip_file, archive_dir / "download.zip")
        ExtractorPlugin(config=course.config).extract(str(archive_dir), str(extracted))
        top = extracted / "download"  # the plugin unpacks each archive into a folder of its name
        collector = FileNameCollectorPlugin(config=course.config) if configured else None
        files: dict[str, Path] = {}
        for path in sorted(top.rglob("*")):
            rel = path.relative_to(top).as_posix()
            if not path.is_file() or "__MACOSX" in path.parts or path.name.startswith("."):
                continue
            if collector is not None:
                info = collector.collect(str(path))
                entry = (
                    Entry(rel, "folder", info["student_id"], Path(info["file_id"]).name)
                    if info
                    else None
                )
            else:
                entry = identify_entry(rel)
            if entry is None:
                continue
            entry.submitted_at = times.get(rel)
            entries.append(entry)
            files[rel] = path
        if not entries:
            raise CRMError(
                f"{zip_file.name} holds no notebook laid out as <student>/<notebook>.ipynb, "
                "as Canvas or as Moodle lay out their downloads (set "
                "c.FileNameCollectorPlugin.named_regexp in nbgrader_config.py for other "
                "file names)"
            )
        assign_students(entries, roster, roster_name)
        # the latest file when a student has two of the same notebook
        entries.sort(key=lambda e: (e.submitted_at or datetime.datetime.min, e.path))
        latest: dict[str, datetime.datetime] = {}
        for entry in entries:
            target = dest / entry.student / entry.notebook
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(files[entry.path], target)
            if entry.submitted_at is not None:
                latest[entry.student] = max(
                    latest.get(entry.student, entry.submitted_at), entry.submitted_at
                )
    for student, when in latest.items():
        (dest / student / "timestamp.txt").write_text(
            when.strftime("%Y-%m-%d %H:%M:%S.%f UTC"), encoding="utf-8"
        )
    write_submissions_record(entries, dest / SUBMISSIONS_FILE)
    return dest
