"""Tests of the instructor's term after grading (roster, rubric, gradebook, feedback_return; crm grades, crm feedback).

Issue 21, problems 3-6: hand grading (roster names, the rubric beside the
answer, hand scores in the grades), feedback returned to the class as an LMS
upload, grades in the LMS's import layout, and LMS downloads read right. The
unit tests build small gradebooks with nbgrader's own API; the end-to-end test
releases the foundations exercise, grades three students from a Canvas
download in the sandbox (bubblewrap), sets a hand score through nbgrader's
Gradebook API and checks the Canvas grades and the feedback zip.
"""

from __future__ import annotations

import csv
import datetime as dt
import html
import os
import re
import sys
import warnings
import zipfile
from pathlib import Path

import nbformat
import pytest

pytest.importorskip("nbgrader", reason="nbgrader is not installed")

from nbconvert.exporters import HTMLExporter  # noqa: E402
from nbgrader.api import Gradebook  # noqa: E402
from nbgrader.converters import GenerateFeedback  # noqa: E402
from nbgrader.coursedir import CourseDirectory  # noqa: E402
from nbgrader.server_extensions.formgrader import handlers as formgrader  # noqa: E402
from sqlalchemy.exc import SAWarning  # noqa: E402
from test_grading import (  # noqa: E402
    MASTER,
    NOTEBOOK,
    TIMEOUT,
    hidden_lines,
    needs_bwrap,
    page_text,
    subs,
    write_config,
)

from crmlib import grading  # noqa: E402
from crmlib.cli import main  # noqa: E402
from crmlib.errors import CRMError, DataError  # noqa: E402
from crmlib.grading.course import run_converter  # noqa: E402

ROSTER = (
    "student_id,first_name,last_name,email,lms_id,section\n"
    "s-alice,Alice,Alpha,alice@example.org,101,A\n"
    "s-bob,Bob,Beta,bob@example.org,102,A\n"
    "s-carol,Carol,Gamma,carol@example.org,103,B\n"
    "s-dave,Dave,Delta,dave@example.org,104,B\n"
)
MODEL_ANSWER = "Revenue is concentrated (the top 20 % of"  # from the master's q5_written


@pytest.fixture
def alembic_on_path(monkeypatch):
    """nbgrader runs the `alembic` command of its environment when it creates a gradebook."""
    path = os.environ.get("PATH", "")
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{path}")


# A course whose feedback pipeline leaves WithholdRubric out: nbgrader's own feedback would
# then show the rubric, so crm grade must not add it.
RUBRIC_NOT_WITHHELD = """
c.GenerateFeedback.preprocessors = [
    p for p in c.GenerateFeedback.preprocessors if p != "crmlib.grading.rubric.WithholdRubric"
]
"""


def write_config_without_withholding(folder: Path) -> Path:
    """The course of the grading tests, with the rubric left in nbgrader's feedback."""
    path = write_config(folder)
    path.write_text(path.read_text(encoding="utf-8") + RUBRIC_NOT_WITHHELD, encoding="utf-8")
    return path


def write_roster(folder: Path, text: str = ROSTER) -> Path:
    path = folder / "roster.csv"
    path.write_text(text, encoding="utf-8")
    return path


def notebook_bytes(name: str = "x") -> bytes:
    return nbformat.writes(nbformat.v4.new_notebook(metadata={"crm": name})).encode()


def make_zip(path: Path, entries: dict[str, tuple[bytes, dt.datetime]]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, (data, when) in entries.items():
            archive.writestr(zipfile.ZipInfo(name, when.timetuple()[:6]), data)
    return path


def small_course(tmp_path: Path, duedate: str | None = "2026-12-01 12:00:00"):
    """A course with a gradebook of foundations: q1 (1 + 2 points), q5 written (3 points).

    alice: q1 full marks, q5 waiting for a hand score, on time.
    bob: the visible q1 test only, 1 day late. carol, dave: no submission.
    """
    course = grading.Course.load(write_config(tmp_path))
    course.root.mkdir(parents=True)
    with warnings.catch_warnings(), Gradebook(course.db_url, course.course_id) as gb:
        warnings.simplefilter("ignore", SAWarning)  # nbgrader's own session warnings
        gb.add_assignment("foundations", duedate=duedate)
        gb.add_notebook("foundations", "foundations")
        for name, points, kind in (
            ("q1_visible", 1, "code"),
            ("q1_hidden", 2, "code"),
            ("q5_written", 3, "markdown"),
        ):
            gb.add_grade_cell(name, "foundations", "foundations", max_score=points, cell_type=kind)
        gb.add_solution_cell("q5_written", "foundations", "foundations")
        scores = {"s-alice": (1, 2), "s-bob": (1, 0)}
        stamps = {"s-alice": "2026-11-30 09:00:00", "s-bob": "2026-12-02 12:00:00"}
        for student, (visible, hidden) in scores.items():
            gb.add_student(student)
            gb.add_submission("foundations", student, timestamp=stamps[student])
            for grade_id, score in (("q1_visible", visible), ("q1_hidden", hidden)):
                grade = gb.find_grade(grade_id, "foundations", "foundations", student)
                grade.auto_score, grade.needs_manual_grade = score, False
        gb.db.commit()
    return course


def set_hand_score(course, student: str, score: float) -> None:
    """What formgrader does when the grader types a score: manual score, no longer flagged."""
    with Gradebook(course.db_url, course.course_id) as gb:
        grade = gb.find_grade("q5_written", "foundations", "foundations", student)
        grade.manual_score, grade.needs_manual_grade = score, False
        gb.db.commit()


def read_csv(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


# --- 3. hand grading: roster ------------------------------------------------------------


def test_roster_is_read_with_its_documented_columns(tmp_path):
    roster = grading.read_roster(write_roster(tmp_path))
    assert [s.student_id for s in roster] == ["s-alice", "s-bob", "s-carol", "s-dave"]
    alice = roster[0]
    assert (alice.first_name, alice.last_name, alice.email, alice.lms_id, alice.section) == (
        "Alice",
        "Alpha",
        "alice@example.org",
        "101",
        "A",
    )
    assert alice.sortable_name == "Alpha, Alice" and alice.full_name == "Alice Alpha"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("student_id,first_name,email,lms_id\n", "row 1, column last_name: missing column(s) last_name"),
        (ROSTER + ",Eve,Epsilon,eve@example.org,105,A\n", "row 6, column student_id: empty"),
        (ROSTER + "s/eve,Eve,Epsilon,eve@example.org,105,A\n", "row 6, column student_id: not a"),
        (ROSTER + "s-eve,Eve,Epsilon,eve-at-example,105,A\n", "row 6, column email: not an e-mail"),
        (
            ROSTER + "s-eve,Eve,Epsilon,eve@example.org,101,A\n",
            "column lms_id: the same lms_id as row 2",
        ),
        (ROSTER + "s-bob,Eve,Epsilon,eve@example.org,105,A\n", "column student_id: the same"),
        (ROSTER + "s-eve,,,eve@example.org,105,A\n", "row 6, column last_name: empty"),
        (ROSTER + "s-eve,Eve\n", "row 6: 2 fields where the header has 6"),
    ],
)
def test_roster_problems_name_file_row_column_and_reason_without_personal_data(
    tmp_path, text, message
):
    with pytest.raises(DataError) as caught:
        grading.read_roster(write_roster(tmp_path, text))
    assert "roster.csv" in str(caught.value) and message in str(caught.value)
    for personal in ("Eve", "Epsilon", "eve-at-example", "eve@example.org"):
        assert personal not in str(caught.value)


def test_roster_error_exits_1_without_traceback(tmp_path, capsys):
    roster = write_roster(tmp_path, ROSTER + "s-eve,Eve,Epsilon,nope,105,A\n")
    empty = tmp_path / "subs"
    empty.mkdir()
    args = ["grade", "foundations", "--submissions", str(empty), "--roster", str(roster)]
    code = main([*args, "--config", str(write_config(tmp_path))])
    err = capsys.readouterr().err
    assert code == 1 and "roster.csv, row 6, column email" in err and "Traceback" not in err


def test_roster_names_the_students_in_the_gradebook_that_formgrader_shows(
    tmp_path, alembic_on_path
):
    course = small_course(tmp_path)
    with Gradebook(course.db_url, course.course_id) as gb:  # before: formgrader's "None, None"
        alice = gb.find_student("s-alice")
        assert (alice.last_name, alice.first_name) == (None, None)
    grading.apply_roster(course, grading.read_roster(write_roster(tmp_path)))
    with Gradebook(course.db_url, course.course_id) as gb:
        alice = gb.find_student("s-alice")
        assert (alice.last_name, alice.first_name, alice.email, alice.lms_user_id) == (
            "Alpha",
            "Alice",
            "alice@example.org",
            "101",
        )
        assert gb.find_student("s-dave").lms_user_id == "104"  # no submission, still listed


# --- 3. hand grading: the rubric beside the answer ------------------------------------------


def formgrader_page(path: Path) -> str:
    """The page formgrader shows for an autograded notebook (its exporter and template)."""
    exporter = HTMLExporter(
        template_name="formgrade", extra_template_basedirs=[formgrader.template_path]
    )
    resources = {"assignment_id": "foundations", "notebook_id": "foundations", "index": 0,
                 "total": 1, "base_url": "", "student": "s", "last_name": "", "first_name": "",
                 "notebook_path": "", "submission_id": "x"}  # fmt: skip
    body, _ = exporter.from_filename(str(path), resources=resources)
    return page_text_of(body)


def page_text_of(body: str) -> str:
    """The text of an HTML page, tags removed."""
    return html.unescape(re.sub(r"<[^>]+>", "", body))


def test_the_grader_sees_the_masters_model_answer_below_the_students_answer(tmp_path):
    course = grading.Course.load(write_config(tmp_path))
    nb = nbformat.read(MASTER, as_version=4)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "q5_written":
            cell.source = subs.WRITTEN_ANSWER  # the student's answer, as autograded
    autograded = course.folder("autograded") / "s-alice" / "foundations" / NOTEBOOK
    autograded.parent.mkdir(parents=True)
    nbformat.write(nb, autograded)
    assert MODEL_ANSWER not in formgrader_page(autograded)  # before: no rubric in sight

    assert grading.add_rubric_cells(course, "foundations", ["s-alice"]) == 1
    assert grading.add_rubric_cells(course, "foundations", ["s-alice"]) == 1  # replaced, not added
    page = formgrader_page(autograded)
    answer = page.index("Student's answer")
    assert page.index(subs.WRITTEN_ANSWER[:40]) > answer
    assert page.index(grading.RUBRIC_TITLE) > page.index(subs.WRITTEN_ANSWER[:40])
    assert page.index(MODEL_ANSWER) > page.index(grading.RUBRIC_TITLE)
    assert page.count(grading.RUBRIC_TITLE) == 1
    # feedback never gets it
    kept, _ = grading.WithholdRubric().preprocess(nbformat.read(autograded, as_version=4), {})
    assert MODEL_ANSWER not in str(kept) and len(kept.cells) == len(nb.cells)


def test_crm_grade_adds_the_rubric_only_when_nbgrader_feedback_withholds_it(tmp_path):
    (tmp_path / "plain").mkdir()
    (tmp_path / "lms").mkdir()
    plain = write_config_without_withholding(tmp_path / "plain")
    assert not grading.rubric_withheld(grading.Course.load(plain))
    assert grading.rubric_withheld(grading.Course.load(write_config(tmp_path / "lms")))


# --- 3 and 5. grades from the gradebook, hand scores included, in the LMS layouts ---------------


def test_grades_reflect_a_hand_score_once_given(tmp_path, alembic_on_path):
    course = small_course(tmp_path)
    _, before = grading.class_report(course, "foundations")
    alice = next(g for g in before if g.student.student_id == "s-alice")
    assert (alice.score, alice.pending, alice.status) == (3, 3, "hand grading pending")
    set_hand_score(course, "s-alice", 2)
    questions, after = grading.class_report(course, "foundations")
    alice = next(g for g in after if g.student.student_id == "s-alice")
    assert (alice.score, alice.pending, alice.status) == (5, 0, "graded")
    assert questions == {"q1": 3, "q5": 3}
    assert alice.questions == {"q1": 3, "q5": 2}


def test_canvas_gradebook_csv_has_every_roster_student_and_canvas_columns(
    tmp_path, alembic_on_path
):
    course = small_course(tmp_path)
    set_hand_score(course, "s-alice", 2)
    roster = grading.read_roster(write_roster(tmp_path))
    questions, rows = grading.class_report(course, "foundations", roster)
    out = grading.write_grades(questions, rows, tmp_path / "canvas.csv", "canvas", "foundations")
    table = read_csv(out)
    assert table[0] == [
        "Student", "ID", "SIS User ID", "SIS Login ID", "Section", "foundations",
        "foundations q1", "foundations q5", "foundations late",
    ]  # fmt: skip
    # Canvas's import skips the columns its "Points Possible" row marks read only
    assert table[1] == ["    Points Possible", "", "", "", "", "6", *["(read only)"] * 3]
    assert table[2] == ["Alpha, Alice", "101", "s-alice", "", "A", "5", "3", "2", "on time"]
    assert table[3] == ["Beta, Bob", "102", "s-bob", "", "A", "1", "1", "0", "late"]
    assert table[4] == ["Gamma, Carol", "103", "s-carol", "", "B", "", "", "", ""]
    assert table[5][:6] == ["Delta, Dave", "104", "s-dave", "", "B", ""]
    assert len(table) == 6


def test_moodle_worksheet_and_plain_csv_layouts(tmp_path, alembic_on_path):
    course = small_course(tmp_path, duedate=None)
    record = grading.submissions_record(course, "foundations")
    record.parent.mkdir(parents=True)
    record.write_text(
        ",".join(grading.SUBMISSION_COLUMNS) + "\ns-alice,moodle,,1234567,2026-11-30 09:00:00,\n",
        encoding="utf-8",
    )
    roster = grading.read_roster(write_roster(tmp_path))
    questions, rows = grading.class_report(course, "foundations", roster)
    moodle = read_csv(
        grading.write_grades(questions, rows, tmp_path / "m.csv", "moodle", "foundations")
    )
    assert moodle[0][:9] == [
        "Identifier", "Full name", "Email address", "Status", "Grade", "Maximum Grade",
        "Grade can be changed", "Last modified (submission)", "Last modified (grade)",
    ]  # fmt: skip
    assert moodle[1][:6] == ["Participant 1234567", "Alice Alpha", "alice@example.org",
                             "Submitted for grading - Not graded", "3", "6"]  # fmt: skip
    assert moodle[3][3:5] == ["No submission", ""]  # carol
    plain = read_csv(grading.write_grades(questions, rows, tmp_path / "g.csv", "csv", "foundations"))
    assert plain[0] == [
        "student_id", "last_name", "first_name", "email", "lms_id", "status", "score",
        "max_score", "q1", "q5", "pending_hand_points", "late", "submitted_at",
    ]  # fmt: skip
    assert plain[1][5:12] == ["hand grading pending", "3", "6", "3", "0", "3", ""]
    assert plain[4][5:7] == ["missing", ""]


# --- 6. LMS downloads ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("alicealpha_101_9001_foundations.ipynb", ("canvas", "101", NOTEBOOK, False, "9001")),
        ("bobbeta_LATE_102_9002_foundations-1.ipynb", ("canvas", "102", NOTEBOOK, True, "9002")),
        ("bobbeta_late_102_9002_foundations.ipynb", ("canvas", "102", NOTEBOOK, True, "9002")),
        (
            "Alice Full_1234567_assignsubmission_file_/foundations.ipynb",
            ("moodle", "1234567", NOTEBOOK, None, "1234567"),
        ),
        (
            "Alice Full_1234567_assignsubmission_file/sub/foundations.ipynb",
            ("moodle", "1234567", NOTEBOOK, None, "1234567"),
        ),
        ("export/alice/foundations.ipynb", ("folder", "alice", NOTEBOOK, None, "")),
        ("alicealpha_101_9001_report.pdf", None),
    ],
)
def test_lms_file_layouts_are_recognised(path, expected):
    entry = grading.identify_entry(path)
    got = (
        None if entry is None else (entry.lms, entry.key, entry.notebook, entry.late, entry.file_id)
    )
    assert got == expected


def test_a_canvas_download_is_read_per_student_not_as_one_student_called_canvas(tmp_path):
    course = grading.Course.load(write_config(tmp_path))
    on_time, late = dt.datetime(2026, 11, 30, 9, 15), dt.datetime(2026, 12, 2, 8, 0)
    archive = make_zip(
        tmp_path / "canvas.zip",
        {
            "alicealpha_101_9001_foundations.ipynb": (notebook_bytes("alice"), on_time),
            "bobbeta_late_102_9002_foundations-1.ipynb": (notebook_bytes("bob"), late),
            "bobbeta_late_102_9002_notes.txt": (b"not a notebook", late),
        },
    )
    roster = grading.read_roster(write_roster(tmp_path))
    dest = grading.collect_zip(archive, tmp_path / "collected", course, roster=roster)
    found = grading.find_submissions(dest, "foundations")
    assert [s.student for s in found] == ["s-alice", "s-bob"]  # before: one student, "canvas"
    bob = nbformat.read(dest / "s-bob" / NOTEBOOK, as_version=4)
    assert bob.metadata["crm"] == "bob"
    assert (dest / "s-bob" / "timestamp.txt").read_text().startswith("2026-12-02 08:00:00")
    record = {row["student"]: row for row in csv.DictReader(open(dest / grading.SUBMISSIONS_FILE))}
    assert (record["s-alice"]["late"], record["s-bob"]["late"]) == ("no", "yes")
    assert (record["s-bob"]["lms_user_id"], record["s-bob"]["lms_file_id"]) == ("102", "9002")
    # without a roster the students are Canvas's user ids, never a name
    plain = grading.collect_zip(archive, tmp_path / "plain", course)
    assert [s.student for s in grading.find_submissions(plain, "foundations")] == ["101", "102"]


def test_a_moodle_download_gives_roster_ids_not_folder_names(tmp_path):
    course = grading.Course.load(write_config(tmp_path))
    when = dt.datetime(2026, 11, 30, 9, 0)
    archive = make_zip(
        tmp_path / "moodle.zip",
        {
            "Alice Alpha_1234567_assignsubmission_file_/foundations.ipynb": (
                notebook_bytes(),
                when,
            ),
            "Team-1-Bob Beta_7654321_assignsubmission_file_/foundations.ipynb": (
                notebook_bytes(),
                when,
            ),  # group mode
        },
    )
    roster = grading.read_roster(write_roster(tmp_path))
    dest = grading.collect_zip(archive, tmp_path / "collected", course, roster=roster)
    assert [s.student for s in grading.find_submissions(dest, "foundations")] == [
        "s-alice",
        "s-bob",
    ]  # before: "Alice Alpha_1234567_assignsubmission_file_"
    plain = grading.collect_zip(archive, tmp_path / "plain", course)
    assert [s.student for s in grading.find_submissions(plain, "foundations")] == [
        "1234567",
        "7654321",
    ]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("foundations.ipynb", "foundations.ipynb: not a layout crm grade knows"),
        ("zed_999_9009_foundations.ipynb", "Canvas user 999 (foundations.ipynb): no student of"),
    ],
)
def test_an_unknown_layout_or_student_is_an_error_naming_the_file(tmp_path, capsys, name, message):
    archive = make_zip(tmp_path / "canvas.zip", {name: (notebook_bytes(), dt.datetime(2026, 1, 1))})
    roster = write_roster(tmp_path)
    args = ["grade", "foundations", "--zip", str(archive), "--roster", str(roster)]
    code = main([*args, "--config", str(write_config(tmp_path))])
    err = capsys.readouterr().err
    assert code == 1 and message in err and "Traceback" not in err


# --- 4. feedback for the LMS -----------------------------------------------------------------------


def fake_feedback(course, records: str, pages: dict[str, str]) -> None:
    record = grading.submissions_record(course, "foundations")
    record.parent.mkdir(parents=True, exist_ok=True)
    record.write_text(",".join(grading.SUBMISSION_COLUMNS) + "\n" + records, encoding="utf-8")
    for student, text in pages.items():
        page = course.folder("feedback") / student / "foundations" / "foundations.html"
        page.parent.mkdir(parents=True, exist_ok=True)
        page.write_text(f"<html><body>{text}</body></html>", encoding="utf-8")


def test_feedback_zip_is_laid_out_for_canvas_and_moodle_bulk_upload(tmp_path):
    course = grading.Course.load(write_config(tmp_path))
    fake_feedback(
        course,
        "s-alice,canvas,101,9001,2026-11-30 09:00:00,no\n"
        "s-bob,moodle,,7654321,2026-11-30 09:00:00,\n",
        {"s-alice": "alice's feedback", "s-bob": "bob's feedback", "s-carol": "carol's"},
    )
    canvas = grading.package_feedback(course, "foundations", tmp_path / "c.zip", "canvas")
    with zipfile.ZipFile(canvas.path) as archive:
        assert archive.namelist() == ["feedback_101_9001_foundations.html"]
        assert "alice's feedback" in archive.read(archive.namelist()[0]).decode()
    assert canvas.skipped == {
        "s-bob": "no Canvas submission recorded",
        "s-carol": "no Canvas submission recorded",
    }
    moodle = grading.package_feedback(course, "foundations", tmp_path / "m.zip", "moodle")
    with zipfile.ZipFile(moodle.path) as archive:
        assert archive.namelist() == ["feedback_7654321_assignfeedback_file/foundations.html"]
    folders = grading.package_feedback(course, "foundations", tmp_path / "f.zip")
    with zipfile.ZipFile(folders.path) as archive:
        assert sorted(archive.namelist()) == [
            "s-alice/foundations.html",
            "s-bob/foundations.html",
            "s-carol/foundations.html",
        ]


@pytest.mark.parametrize(
    "leak",
    [
        "### BEGIN HIDDEN TESTS",
        hidden_lines(MASTER)[0],
        f"<b>{grading.RUBRIC_TITLE}</b>",
    ],
)
def test_feedback_with_hidden_tests_or_the_rubric_is_never_packed(tmp_path, capsys, leak):
    config = write_config(tmp_path)
    course = grading.Course.load(config)
    fake_feedback(course, "", {"s-alice": "fine", "s-bob": f"<pre>{leak}</pre>"})
    package = grading.package_feedback(course, "foundations", tmp_path / "f.zip")
    assert list(package.unsafe) == ["s-bob"] and package.students == ["s-alice"]
    with zipfile.ZipFile(package.path) as archive:
        assert archive.namelist() == ["s-alice/foundations.html"]
    args = ["feedback", "foundations", "--zip", str(tmp_path / "g.zip"), "--no-regenerate"]
    assert main([*args, "--config", str(config)]) == 1
    err = capsys.readouterr().err
    assert "1 student(s) left out of g.zip" in err and "s-bob: foundations.html" in err
    fake_feedback(course, "", {"s-alice": f"<pre>{leak}</pre>"})
    with pytest.raises(CRMError, match="no feedback of foundations is safe to send"):
        grading.package_feedback(course, "foundations", tmp_path / "h.zip")
    assert not (tmp_path / "h.zip").exists()


# --- the whole term, end to end ----------------------------------------------------------------------


@needs_bwrap
def test_release_grade_hand_grade_then_canvas_grades_and_feedback(tmp_path, capsys):
    """Release -> three Canvas submissions -> crm grade -> a hand score -> crm grades, crm feedback."""
    config = write_config(tmp_path)
    course = grading.Course.load(config)
    grading.release("foundations", course)
    release = course.folder("release") / "foundations" / NOTEBOOK
    right = {**subs.master_solutions(MASTER), "q5_written": subs.WRITTEN_ANSWER}
    wrong = {**right, "q1_answer": subs.WRONG_Q1, "q4_answer": subs.WRONG_Q4}
    due = dt.datetime(2026, 12, 1, 12, 0)
    files = {}
    for canvas_name, answers, when in (
        ("alicealpha_101_9001_foundations.ipynb", right, due - dt.timedelta(days=1)),
        ("bobbeta_late_102_9002_foundations-1.ipynb", wrong, due + dt.timedelta(hours=3)),
        ("carolgamma_103_9003_foundations.ipynb", {}, due - dt.timedelta(hours=1)),
    ):
        path = subs.write_notebook(release, answers, tmp_path / "nb" / canvas_name)
        files[canvas_name] = (path.read_bytes(), when)
    archive = make_zip(tmp_path / "submissions.zip", files)
    roster = write_roster(tmp_path)
    common = ["--config", str(config)]

    args = ["grade", "foundations", "--zip", str(archive), "--roster", str(roster), "--jobs", "2"]
    code = main([*args, "--timeout", str(TIMEOUT), "--out", str(tmp_path / "grades.csv"), *common])
    assert code == 0, capsys.readouterr().err
    graded = read_csv(tmp_path / "grades.csv")
    assert graded[1] == [
        "s-alice",
        "foundations",
        f"{subs.AUTOGRADED:.1f}",
        f"{subs.MAX_SCORE:.1f}",
        "graded",
        "3 points to grade by hand",
    ]
    bob = subs.AUTOGRADED - subs.HIDDEN["q1"] - subs.POINTS["q4"]  # q1's hidden test, q4
    assert graded[2][:3] == ["s-bob", "foundations", f"{bob:.1f}"]

    # formgrader: names from the roster, and the rubric below alice's written answer
    autograded = course.folder("autograded") / "s-alice" / "foundations" / NOTEBOOK
    cells = nbformat.read(autograded, as_version=4).cells
    ids = [c.metadata.get("nbgrader", {}).get("grade_id") for c in cells]
    rubric = cells[ids.index("q5_written") + 1]
    assert grading.RUBRIC_TITLE in rubric.source and MODEL_ANSWER in rubric.source
    with Gradebook(course.db_url, course.course_id) as gb:
        alice = gb.find_student("s-alice")
        assert (alice.first_name, alice.last_name, alice.lms_user_id) == ("Alice", "Alpha", "101")
    set_hand_score(course, "s-alice", 2)  # the grader, in formgrader

    out = tmp_path / "canvas.csv"
    args = ["grades", "foundations", "--format", "canvas", "--roster", str(roster)]
    assert main([*args, "--out", str(out), *common]) == 0
    table = read_csv(out)
    assert table[0][:6] == [
        "Student",
        "ID",
        "SIS User ID",
        "SIS Login ID",
        "Section",
        "foundations",
    ]
    rows = {row[2]: row for row in table[2:]}
    assert rows["s-alice"][:6] == [
        "Alpha, Alice",
        "101",
        "s-alice",
        "",
        "A",
        str(subs.AUTOGRADED + 2),
    ]  # autograded + 2 by hand
    assert rows["s-alice"][-2:] == ["2", "on time"]  # q5, late
    assert rows["s-bob"][5] == str(bob) and rows["s-bob"][-1] == "late"
    assert rows["s-carol"][5] == "0"
    assert rows["s-dave"][:6] == ["Delta, Dave", "104", "s-dave", "", "B", ""]  # no submission

    feedback = tmp_path / "feedback.zip"
    args = ["feedback", "foundations", "--zip", str(feedback), "--format", "canvas"]
    assert main([*args, *common]) == 0
    secret = hidden_lines(MASTER)
    with zipfile.ZipFile(feedback) as packed:
        assert sorted(packed.namelist()) == [
            "feedback_101_9001_foundations.html",
            "feedback_102_9002_foundations.html",
            "feedback_103_9003_foundations.html",
        ]
        for name in packed.namelist():
            raw = packed.read(name).decode("utf-8")
            scratch = tmp_path / "page.html"
            scratch.write_text(raw, encoding="utf-8")
            text = page_text(scratch)
            assert grading.HIDDEN_BEGIN not in raw and grading.HIDDEN_END not in raw
            assert [line for line in secret if line in text] == [], name
            assert grading.RUBRIC_TITLE not in text and MODEL_ANSWER not in text
        alice = packed.read("feedback_101_9001_foundations.html").decode("utf-8")
    assert f"{subs.AUTOGRADED + 2:.1f} / {subs.MAX_SCORE:.1f}" in page_text_of(alice)  # the hand score reached the student

    # nbgrader's own route (formgrader's "Generate Feedback") withholds the rubric too
    settings = course.settings()
    coursedir = CourseDirectory(config=settings)
    coursedir.assignment_id = "foundations"
    app = GenerateFeedback(coursedir=coursedir, config=settings)
    app.force = True
    assert run_converter(app)[0]
    pages = sorted(course.folder("feedback").glob("*/foundations/foundations.html"))
    assert len(pages) == 3
    assert [p.parent.parent.name for p in pages if grading.RUBRIC_TITLE in p.read_text()] == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["grades", "nosuch", "--out", "g.csv"], "unknown assignment 'nosuch'"),
        (["grades", "foundations", "--out", "g.csv"], "no gradebook yet"),
        (["feedback", "foundations", "--zip", "f.zip", "--no-regenerate"], "no feedback to pack"),
    ],
)
def test_grades_and_feedback_user_errors_exit_1_without_traceback(
    tmp_path, capsys, monkeypatch, args, message
):
    monkeypatch.chdir(tmp_path)
    code = main([*args, "--config", str(write_config(tmp_path))])
    err = capsys.readouterr().err
    assert code == 1 and message in err and "Traceback" not in err
