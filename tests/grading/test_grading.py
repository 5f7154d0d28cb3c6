"""Tests of the exercises and of sandboxed autograding (crmlib.grading, crm grade).

The grading tests release the real foundations master into a course in a
temporary folder and grade submissions written from it
(``tests/grading/grading_submissions/submissions.py``): right, wrong, blank and
hostile ones. They need bubblewrap; outside CI they are skipped when bwrap is
not installed (CI installs it and must run them).
"""

from __future__ import annotations

import html
import importlib.util
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest

IN_CI = os.environ.get("CI") == "true"
if not IN_CI:
    pytest.importorskip("nbgrader", reason="nbgrader is not installed")

from nbgrader.api import Gradebook  # noqa: E402

from crmlib import grading  # noqa: E402
from crmlib.cli import main  # noqa: E402
from crmlib.errors import CRMError  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
EXERCISES = REPO / "exercises"
MASTER = EXERCISES / "foundations" / "foundations.ipynb"
NOTEBOOK = "foundations.ipynb"
# Seconds per cell: the infinite loop costs this much; a normal cell needs under 2 s
# on a quiet machine, and the margin keeps the tests stable on a busy one.
TIMEOUT = 15

_spec = importlib.util.spec_from_file_location(
    "grading_submissions", Path(__file__).parent / "grading_submissions" / "submissions.py"
)
subs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(subs)

needs_bwrap = pytest.mark.skipif(
    shutil.which("bwrap") is None and not IN_CI,
    reason="bubblewrap (bwrap) is not installed here; CI installs it (apt-get install bubblewrap)",
)


def write_config(folder: Path, source: Path = EXERCISES, timeout: int = TIMEOUT) -> Path:
    """A course in ``folder/course`` with the repository's settings and ``source``'s masters."""
    root = folder / "course"
    path = folder / "nbgrader_config.py"
    path.write_text(
        "c = get_config()\n"
        f"load_subconfig({str(REPO / 'nbgrader_config.py')!r})\n"
        f"c.CourseDirectory.root = {str(root)!r}\n"
        f"c.CourseDirectory.source_directory = {str(source)!r}\n"
        f"c.CourseDirectory.db_url = {'sqlite:///' + str(root / 'gradebook.db')!r}\n"
        f"c.Execute.timeout = {timeout}\n",
        encoding="utf-8",
    )
    return path


def hidden_lines(master: Path) -> list[str]:
    """The substantial code lines that appear only inside the master's hidden-test regions."""
    hidden, shown, inside = [], set(), False
    for cell in nbformat.read(master, as_version=4).cells:
        for line in cell.source.splitlines():
            if grading.HIDDEN_BEGIN in line:
                inside = True
            elif grading.HIDDEN_END in line:
                inside = False
            elif inside and len(line.strip()) > 15 and not line.strip().startswith("#"):
                hidden.append(line.strip())
            else:
                shown.add(line.strip())
    return [line for line in hidden if line not in shown]


def page_text(path: Path) -> str:
    """The text of an HTML page, tags removed."""
    return html.unescape(re.sub(r"<[^>]+>", "", path.read_text(encoding="utf-8")))


def cell_by_id(path: Path, grade_id: str):
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            return cell
    raise AssertionError(f"no cell {grade_id} in {path}")


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """The foundations assignment released into a fresh course."""
    course = grading.Course.load(write_config(tmp_path_factory.mktemp("grading")))
    grading.release("foundations", course)
    return course


@pytest.fixture(scope="module")
def batch(course, tmp_path_factory):
    """Every submission of ``subs.EXPECTED`` graded in one run on 2 jobs."""
    folder = tmp_path_factory.mktemp("submissions")
    release = course.folder("release") / "foundations" / NOTEBOOK
    secrets = [
        str(MASTER),
        str(course.gradebook),
        str(folder / "correct" / NOTEBOOK),
        str(course.folder("autograded") / "master" / "foundations" / NOTEBOOK),
        str(course.config_file),
    ]
    subs.write_submissions(MASTER, release, folder, secrets)
    progress = []
    results = grading.grade(
        "foundations",
        grading.find_submissions(folder, "foundations"),
        course=course,
        jobs=2,
        limits=grading.Limits(timeout=TIMEOUT),
        on_result=lambda result, done, total: progress.append((result.student, done, total)),
    )
    return {r.student: r for r in results}, progress, folder


# --- the course and the master -----------------------------------------------------


def test_repository_config_keeps_masters_in_exercises_and_the_rest_in_var():
    course = grading.Course.load()
    assert course.source == EXERCISES
    assert course.root == REPO / "var" / "course"
    assert course.gradebook == REPO / "var" / "course" / "gradebook.db"
    assert "foundations" in course.assignments()


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("c.Execute.timeout = = 3", "nbgrader_config.py, line 2 could not be read: SyntaxError"),
        ("c.Execute.timeout = undefined", "could not be read: NameError: name 'undefined'"),
    ],
)
def test_a_broken_course_config_is_a_user_error_naming_the_file(tmp_path, line, message):
    path = tmp_path / "nbgrader_config.py"
    path.write_text(f"c = get_config()\n{line}\n", encoding="utf-8")
    with pytest.raises(CRMError, match=re.escape(message)):
        grading.Course.load(path)


def test_foundations_master_has_five_questions_with_visible_and_hidden_tests():
    nb = nbformat.read(MASTER, as_version=4)
    kinds, points = [], 0
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        points += meta.get("points", 0) if meta.get("grade") else 0
        if meta.get("solution"):
            kinds.append("written" if meta.get("grade") else "code answer")
        elif meta.get("grade"):
            kinds.append("hidden tests" if grading.HIDDEN_BEGIN in cell.source else "tests")
    assert kinds.count("code answer") == 5 and kinds.count("written") == 1
    assert kinds.count("tests") == 5 and kinds.count("hidden tests") == 5
    assert points == 3 + 3 + 4 + 3 + 3 + 3
    # data comes from the package, never from a path relative to the notebook
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert "crmlib.data.datasets" in code and "read_csv" not in code and "open(" not in code


@pytest.mark.slow
def test_release_writes_a_student_version_without_solutions_or_hidden_tests(course):
    release = course.folder("release") / "foundations" / NOTEBOOK
    text = release.read_text(encoding="utf-8")
    assert grading.SOLUTION_BEGIN not in text and grading.HIDDEN_BEGIN not in text
    assert "vwxyz" not in text  # a hidden test's data
    for grade_id in ("q1_answer", "q2_answer", "q3_answer", "q4_answer"):
        assert "raise NotImplementedError()" in cell_by_id(release, grade_id).source
    assert "def revenue_concentration" in cell_by_id(release, "q1_answer").source
    assert "assert counts.tolist() == [2, 1]" in cell_by_id(release, "q2_visible").source
    with Gradebook(course.db_url, course.course_id) as gb:
        points = gb.find_assignment("foundations").max_score
    assert points == 19


@pytest.mark.slow
def test_release_refuses_a_master_whose_solution_fails_its_own_test(tmp_path):
    source = tmp_path / "exercises"
    (source / "foundations").mkdir(parents=True)
    nb = nbformat.read(MASTER, as_version=4)
    cell = next(
        c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "q1_answer"
    )
    body = subs.WRONG_Q1.strip().split("\n", 1)[1]  # floor instead of ceil
    cell.source = (
        "def revenue_concentration(transactions, top=0.2):\n"
        f"    ### BEGIN SOLUTION\n{body}\n    ### END SOLUTION"
    )
    nbformat.write(nb, source / "foundations" / NOTEBOOK)
    course = grading.Course.load(write_config(tmp_path, source=source))
    with pytest.raises(CRMError, match="'q1_hidden' fails on the master's own solution"):
        grading.release("foundations", course)
    assert not (course.folder("release") / "foundations").exists()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            "from crmlib.analytics.concentration import revenue_concentration as reference\n",
            "'q1_hidden' calls crmlib.analytics.concentration.revenue_concentration, part of the answer key",
        ),
        ("", "crmlib.models.foundations.no_such_function, which crmlib does not define"),
    ],
)
def test_check_master_refuses_tests_that_call_the_answer_key_or_a_key_that_is_not_there(
    change, message, tmp_path
):
    source = tmp_path / "exercises"
    (source / "foundations").mkdir(parents=True)
    nb = nbformat.read(MASTER, as_version=4)
    if change:
        hidden = next(c for c in nb.cells if c.metadata["nbgrader"]["grade_id"] == "q1_hidden")
        hidden.source = hidden.source.replace(
            "### BEGIN HIDDEN TESTS\n", "### BEGIN HIDDEN TESTS\n" + change
        )
    else:
        nb.metadata["crm"]["answer_key"]["q2_answer"] = ["crmlib.models.foundations.no_such_function"]
    nbformat.write(nb, source / "foundations" / NOTEBOOK)
    course = grading.Course.load(write_config(tmp_path, source=source))
    with pytest.raises(CRMError, match=re.escape(message)):
        grading.check_master("foundations", course)


def test_check_master_names_a_solution_region_left_open(tmp_path):
    source = tmp_path / "exercises"
    (source / "foundations").mkdir(parents=True)
    text = MASTER.read_text(encoding="utf-8").replace("### END SOLUTION", "", 1)
    (source / "foundations" / NOTEBOOK).write_text(text, encoding="utf-8")
    course = grading.Course.load(write_config(tmp_path, source=source))
    with pytest.raises(CRMError, match="'q1_answer' has a 'BEGIN SOLUTION' without its 'END"):
        grading.check_master("foundations", course)


# --- grading: statuses, scores, sandbox, feedback -----------------------------------


@needs_bwrap
@pytest.mark.slow
def test_every_submission_gets_its_status_and_score_and_the_batch_finishes(batch):
    results, progress, _ = batch
    assert sorted(results) == sorted(subs.EXPECTED)
    assert [done for _, done, _ in progress] == list(range(1, len(subs.EXPECTED) + 1))
    wrong = {}
    for student, (status, score, words) in subs.EXPECTED.items():
        result = results[student]
        if (result.status, result.score) != (status, score) or not all(
            word in result.reason for word in words
        ):
            wrong[student] = (result.status, result.score, result.reason)
        assert result.max_score == subs.MAX_SCORE
    assert wrong == {}


@needs_bwrap
@pytest.mark.slow
def test_student_code_cannot_read_the_masters_the_gradebook_or_other_work(batch, course):
    results, _, folder = batch
    assert results["snoop"].status == "graded"
    autograded = course.folder("autograded") / "snoop" / "foundations" / NOTEBOOK
    printed = "".join(o.get("text", "") for o in cell_by_id(autograded, "q1_answer").outputs)
    assert printed == "nothing leaked\n"
    assert not MASTER.read_bytes().endswith(b"tampered")
    assert not (folder / "correct" / NOTEBOOK).read_bytes().endswith(b"tampered")
    sqlite3.connect(course.gradebook).execute("PRAGMA integrity_check").fetchone()


@needs_bwrap
@pytest.mark.slow
def test_feedback_withholds_hidden_tests_and_their_tracebacks(batch, course):
    results, _, _ = batch
    assert results["wrong"].score == subs.EXPECTED["wrong"][1]
    feedback = course.folder("feedback") / "wrong" / "foundations" / "foundations.html"
    text = page_text(feedback)
    secret = hidden_lines(MASTER)
    assert len(secret) > 10
    assert [line for line in secret if line in text] == []
    assert "assert counts.tolist() == [2, 1]" in text  # visible tests are shown
    assert "a hidden test failed; its code is not shown" in text  # q1 and q4 fail hidden tests
    # the instructor's autograded copy keeps the hidden tests that ran
    autograded = course.folder("autograded") / "wrong" / "foundations" / NOTEBOOK
    assert "vwxyz" in cell_by_id(autograded, "q1_hidden").source


@needs_bwrap
@pytest.mark.slow
def test_gradebook_holds_the_scores_of_graded_submissions_only(batch, course):
    results, _, _ = batch
    with Gradebook(course.db_url, course.course_id) as gb:
        stored = {
            sub.student.id: sub.score for sub in gb.find_assignment("foundations").submissions
        }
    expected = {s: r.score for s, r in results.items() if r.status not in ("missing", "error")}
    assert stored == expected


@needs_bwrap
@pytest.mark.slow
def test_regrading_gives_the_same_result_and_a_resubmission_replaces_the_score(
    batch, course, tmp_path
):
    _, _, folder = batch
    with Gradebook(course.db_url, course.course_id) as gb:  # a grader marks q5 of "wrong"
        gb.find_grade("q5_written", "foundations", "foundations", "wrong").manual_score = 2
        gb.db.commit()
    again = tmp_path / "again"
    shutil.copytree(folder / "wrong", again / "wrong")
    shutil.copytree(folder / "wrong", again / "correct")  # correct resubmits a worse notebook
    results = grading.grade(
        "foundations",
        grading.find_submissions(again, "foundations"),
        course=course,
        jobs=2,
        limits=grading.Limits(timeout=TIMEOUT),
    )
    by_student = {r.student: r for r in results}
    wrong_score = subs.EXPECTED["wrong"][1]
    assert by_student["wrong"].score == wrong_score + 2  # same automatic score, manual kept
    assert by_student["correct"].score == wrong_score  # was every autograded point
    with Gradebook(course.db_url, course.course_id) as gb:
        assert gb.find_submission("foundations", "correct").score == wrong_score
        assert len(gb.find_assignment("foundations").submissions) == len(
            [r for r in batch[0].values() if r.status not in ("missing", "error")]
        )


# --- the sandbox itself ------------------------------------------------------------------


def test_grading_refuses_without_bubblewrap_unless_unsafe(tmp_path, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert grading.sandbox_problem() == "bubblewrap (bwrap) is not installed"
    course = grading.Course.load(write_config(tmp_path))
    submission = grading.Submission("alice", tmp_path)
    with pytest.raises(CRMError, match="pass --unsafe"):
        grading.grade("foundations", [submission], course=course)


def test_sandbox_refuses_to_mount_a_folder_that_holds_a_hidden_one(tmp_path):
    if shutil.which("bwrap") is None:
        pytest.skip("bubblewrap (bwrap) is not installed")
    secret = Path(sys.prefix) / "course"
    with pytest.raises(CRMError, match="would expose"):
        grading.sandbox_command(tmp_path, tmp_path, grading.Limits(), hidden=(secret,))


def test_feedback_preprocessor_withholds_hidden_code_but_leaves_student_cells_alone():
    test_cell = nbformat.v4.new_code_cell(
        "# visible line\n### BEGIN HIDDEN TESTS\nassert secret_check()\n### END HIDDEN TESTS"
    )
    test_cell.metadata["nbgrader"] = {
        "grade": True,
        "solution": False,
        "grade_id": "t",
        "points": 1,
    }
    test_cell.outputs = [
        nbformat.v4.new_output(
            "error", ename="AssertionError", evalue="", traceback=["----> 3 assert secret_check()"]
        )
    ]
    student_cell = nbformat.v4.new_code_cell("print('### BEGIN HIDDEN TESTS')")
    student_cell.metadata["nbgrader"] = {"grade": False, "solution": True, "grade_id": "a"}
    nb = nbformat.v4.new_notebook(cells=[test_cell, student_cell])
    nb, _ = grading.HideHiddenTests().preprocess(nb, {})
    assert nb.cells[0].source == "# visible line"
    assert "secret_check" not in str(nb.cells[0].outputs)
    assert nb.cells[1].source == "print('### BEGIN HIDDEN TESTS')"


def test_submissions_folder_reads_both_layouts_and_skips_hidden_folders(tmp_path):
    (tmp_path / "alice").mkdir()
    (tmp_path / "bob" / "foundations").mkdir(parents=True)
    (tmp_path / "__MACOSX").mkdir()
    (tmp_path / ".git").mkdir()
    (tmp_path / "notes.txt").write_text("not a student", encoding="utf-8")
    found = grading.find_submissions(tmp_path, "foundations")
    assert [(s.student, s.folder) for s in found] == [
        ("alice", tmp_path / "alice"),
        ("bob", tmp_path / "bob" / "foundations"),
    ]


def test_grades_csv_quotes_text_a_spreadsheet_would_run_as_a_formula(tmp_path):
    rows = [
        grading.GradeResult("=cmd", "foundations", 3.0, 16.0, "graded", ""),
        grading.GradeResult("ann", "foundations", None, 16.0, "error", "@bad file"),
    ]
    lines = grading.write_grades_csv(rows, tmp_path / "grades.csv").read_text().splitlines()
    assert lines[1:] == [
        "'=cmd,foundations,3.0,16.0,graded,",
        "ann,foundations,,16.0,error,'@bad file",
    ]


# --- the command line --------------------------------------------------------------------


def run_cli(args, capsys) -> tuple[int, str]:
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.err


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("unknown assignment", "unknown assignment 'nosuch'"),
        ("empty submissions", "no submissions in"),
        ("bad zip", "is not a zip archive"),
        ("no submissions given", "--submissions DIR or --zip FILE"),
        ("zip of no notebooks", "holds no notebook"),
    ],
)
def test_user_errors_exit_1_with_a_message_and_no_traceback(case, message, tmp_path, capsys):
    config = str(write_config(tmp_path))
    empty = tmp_path / "empty"
    empty.mkdir()
    not_zip = tmp_path / "export.zip"
    not_zip.write_text("not a zip", encoding="utf-8")
    no_notebooks = tmp_path / "notes.zip"
    with zipfile.ZipFile(no_notebooks, "w") as archive:
        archive.writestr("alice/readme.txt", "hello")
    args = {
        "unknown assignment": ["grade", "nosuch", "--submissions", str(empty)],
        "empty submissions": ["grade", "foundations", "--submissions", str(empty)],
        "bad zip": ["grade", "foundations", "--zip", str(not_zip)],
        "no submissions given": ["grade", "foundations"],
        "zip of no notebooks": ["grade", "foundations", "--zip", str(no_notebooks)],
    }[case]
    code, err = run_cli([*args, "--config", config], capsys)
    assert code == 1
    assert err.startswith("error: ") and message in err
    assert "Traceback" not in err


@pytest.mark.slow
def test_a_broken_notebook_file_is_reported_and_exits_1(course, tmp_path, capsys):
    (tmp_path / "subs" / "dora").mkdir(parents=True)
    (tmp_path / "subs" / "dora" / NOTEBOOK).write_text('{"cells": [', encoding="utf-8")
    out = tmp_path / "grades.csv"
    args = ["grade", "foundations", "--submissions", str(tmp_path / "subs"), "--unsafe"]
    code, err = run_cli([*args, "--out", str(out), "--config", str(course.config_file)], capsys)
    assert code == 1
    assert "dora: foundations.ipynb is not a valid notebook" in err and "Traceback" not in err
    assert f"dora,foundations,,{subs.MAX_SCORE:.1f},error," in out.read_text(encoding="utf-8")


@pytest.mark.slow
def test_grade_an_lms_zip_from_the_command_line(course, tmp_path, capsys):
    release = course.folder("release") / "foundations" / NOTEBOOK
    right = {**subs.master_solutions(MASTER), "q5_written": subs.WRITTEN_ANSWER}
    subs.write_notebook(release, right, tmp_path / "nb" / "alice.ipynb")
    archive_path = tmp_path / "lms-export.zip"
    with zipfile.ZipFile(archive_path, "w") as archive:
        archive.write(tmp_path / "nb" / "alice.ipynb", f"export/alice/{NOTEBOOK}")
        archive.write(release, f"export/bob/{NOTEBOOK}")
    out = tmp_path / "grades.csv"
    args = ["grade", "foundations", "--zip", str(archive_path), "--unsafe", "--jobs", "2"]
    code, err = run_cli([*args, "--out", str(out), "--config", str(course.config_file)], capsys)
    assert code == 0, err
    assert "WITHOUT a sandbox" in err and "[2/2]" in err
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "student,assignment,score,max_score,status,reason"
    top = f"{subs.AUTOGRADED:.1f},{subs.MAX_SCORE:.1f}"
    assert lines[1] == f"alice,foundations,{top},graded,3 points to grade by hand"
    assert lines[2] == f"bob,foundations,0.0,{subs.MAX_SCORE:.1f},graded,"


# --- a term's grading: nbgrader's own routes, the answer key, feedback that teaches ------
#
# A course of its own (the batch above regrades and hand-grades its students):
# three students graded by crm grade, then nbgrader's own commands run on it as
# an instructor would from formgrader.


def nbgrader_api(course: grading.Course):
    """nbgrader's API as formgrader's buttons call it, configured by the course's file."""
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config import PyFileConfigLoader

    path = course.config_file
    config = PyFileConfigLoader(path.name, path=str(path.parent)).load_config()
    return NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)


@pytest.fixture(scope="module")
def term(tmp_path_factory):
    """(course, results by student) after crm grade: one wrong, one wrapping the answer key.

    wrong fails hidden tests of q1, every test of q4, and q2 inside pandas;
    its q3 is the master's solution. wrapped answers q2 and q5c with the master's
    solution. (The masters' solutions earning every point: test_exercises.)
    """
    course = grading.Course.load(write_config(tmp_path_factory.mktemp("term")))
    grading.release("foundations", course)
    folder = tmp_path_factory.mktemp("term-submissions")
    release = course.folder("release") / "foundations" / NOTEBOOK
    right = {**subs.master_solutions(MASTER), "q5_written": subs.WRITTEN_ANSWER}
    wrong = {**right, "q1_answer": subs.WRONG_Q1, "q4_answer": subs.WRONG_Q4}
    subs.write_notebook(release, {**wrong, "q2_answer": subs.CRASH_Q2}, folder / "wrong" / NOTEBOOK)
    subs.write_notebook(release, {**right, **subs.WRAPPED}, folder / "wrapped" / NOTEBOOK)
    results = grading.grade(
        "foundations",
        grading.find_submissions(folder, "foundations"),
        course=course,
        jobs=2,
        limits=grading.Limits(timeout=TIMEOUT),
    )
    return course, {r.student: r for r in results}


def feedback_page(course: grading.Course, student: str) -> Path:
    return course.folder("feedback") / student / "foundations" / "foundations.html"


@needs_bwrap
def test_formgrader_generate_feedback_after_crm_grade_shows_no_hidden_test(term):
    course, results = term
    lost = subs.HIDDEN["q1"] + subs.POINTS["q2"] + subs.POINTS["q4"]
    assert results["wrong"].score == subs.AUTOGRADED - lost
    page = feedback_page(course, "wrong")
    page.unlink()
    done = nbgrader_api(course).generate_feedback("foundations", "wrong")
    assert done["success"], done["error"]
    raw = page.read_text(encoding="utf-8")
    text = page_text(page)
    secret = hidden_lines(MASTER)
    assert len(secret) > 10
    assert [line for line in secret if line in text] == []
    assert grading.HIDDEN_BEGIN not in raw and "vwxyz" not in raw
    # what the failing hidden test checked, in the instructor's words, without its code
    assert "ceil(1.5) = 2 customers" in text
    assert "assert counts.tolist() == [2, 1]" in text  # visible tests stay visible


def nbgrader_command(course, command: str, student: str) -> subprocess.CompletedProcess:
    """nbgrader's own command line on the foundations assignment, in the course's folder."""
    return subprocess.run(
        [str(Path(sys.executable).parent / "nbgrader"), command, "foundations"]
        + ["--student", student, "--force"],
        cwd=course.config_file.parent,
        capture_output=True,
        text=True,
        timeout=120,
    )


@needs_bwrap
def test_nbgrader_generate_feedback_command_shows_no_hidden_test(term):
    course, _ = term
    page = feedback_page(course, "wrong")
    page.unlink()
    done = nbgrader_command(course, "generate_feedback", "wrong")
    assert done.returncode == 0, done.stderr[-2000:]
    text = page_text(page)
    assert [line for line in hidden_lines(MASTER) if line in text] == []


@needs_bwrap
def test_formgrader_autograde_refuses_and_points_to_crm_grade(term):
    course, results = term
    autograded = course.folder("autograded") / "wrong" / "foundations" / NOTEBOOK
    before = autograded.read_bytes()
    done = nbgrader_api(course).autograde("foundations", "wrong")
    assert not done["success"]
    assert "crm grade" in done["error"] + done["log"]
    assert autograded.read_bytes() == before  # crm grade's work is left as it was
    with Gradebook(course.db_url, course.course_id) as gb:
        assert gb.find_submission("foundations", "wrong").score == results["wrong"].score
    done = nbgrader_command(course, "autograde", "wrong")
    assert done.returncode != 0 and "crm grade" in done.stderr
    assert autograded.read_bytes() == before


@needs_bwrap
def test_answers_that_wrap_the_answer_key_get_no_automatic_credit_and_a_reason(term):
    course, results = term
    assert results["wrong"].flags == []  # its own code, right or wrong, is not flagged
    wrapped = results["wrapped"]
    assert wrapped.status == "graded"
    # its own q2 and q5c earn their points, the wrapped ones nothing
    assert wrapped.score == subs.POINTS["q2"] + subs.POINTS["q5c"]
    assert len(wrapped.flags) == len(subs.WRAPPED_NAMES)
    for question, name in subs.WRAPPED_NAMES.items():
        assert [f for f in wrapped.flags if f"{question}_answer" in f and name in f], question
    assert all(flag in wrapped.reason for flag in wrapped.flags)  # grades.csv's reason column
    with Gradebook(course.db_url, course.course_id) as gb:
        grades = {
            g.name: g.score
            for g in gb.find_submission_notebook("foundations", "foundations", "wrapped").grades
        }
    assert grades["q1_visible"] == grades["q1_hidden"] == grades["q4_hidden"] == 0
    assert grades["q2_visible"] + grades["q2_hidden"] == subs.POINTS["q2"]
    # the student reads why in the feedback, next to the answer
    text = page_text(feedback_page(course, "wrapped"))
    assert "crmlib.models.idic.rfm_values" in text and "No automatic credit" in text


@needs_bwrap
def test_feedback_names_questions_and_shows_no_library_internals_or_paths(term):
    course, _ = term
    raw = feedback_page(course, "wrong").read_text(encoding="utf-8")
    summary = raw[raw.index('<div id="toc">') : raw.index("</ol>")]
    assert "Test cell" not in summary
    assert "Question 1: revenue concentration: hidden tests" in summary
    assert "Question 4: RFM recency is not BTYD recency: tests" in summary
    text = page_text(feedback_page(course, "wrong"))
    assert "KeyError" in text and "first_order_date" in text  # q2's own error, from pandas
    assert re.search(r"frames? inside pandas", text)
    for path in (str(REPO), sys.prefix, sys.base_prefix, str(Path.home()), "site-packages"):
        assert path not in raw, path


def test_answer_key_scan_finds_every_way_of_reaching_a_name():
    forbidden = ["crmlib.models.idic.rfm_values", "crmlib.analytics.concentration.revenue_concentration"]
    reached = {
        "from crmlib.models.idic import rfm_values": True,
        "from crmlib.models.idic import rfm_values as r": True,
        "from crmlib.models.idic import *": True,
        "from crmlib.models import idic\nidic.rfm_values(t)": True,
        "from crmlib.models import idic as key\nx = key.rfm_values": True,
        "import crmlib.models.idic\ncrmlib.models.idic.rfm_values(t)": True,
        "import crmlib.analytics.concentration as f\nf.revenue_concentration(t)": True,
        "import crmlib\ngetattr(crmlib.models.idic, 'rfm_values')": True,
        "import importlib\nm = importlib.import_module('crmlib.models.idic')": True,
        "from crmlib.models import idic\nidic.contact_outcomes(i)": False,
        "def rfm_values(t, as_of):\n    return t  # not crmlib.models.idic.rfm_values": False,
        "from crmlib.data.datasets import load_sample": False,
    }
    found = {source: bool(grading.answer_key_references(source, forbidden)) for source in reached}
    assert found == reached


def test_answer_key_scan_follows_a_name_to_every_module_that_exposes_it():
    # qci's retention step imports customer_summary; the value chain's proposition step nps
    names = grading.answer_key_aliases(
        ["crmlib.analytics.summary.customer_summary", "crmlib.analytics.experience.nps"]
    )
    assert {
        "crmlib.models.qci.retention.customer_summary",
        "crmlib.models.value_chain.proposition.nps",
    } <= set(names)
    source = (
        "from crmlib.models.qci.retention import customer_summary\n"
        "import crmlib.models.value_chain.proposition as vc\nvc.nps(s)"
    )
    assert grading.answer_key_references(source, names) == [
        "crmlib.models.qci.retention.customer_summary",
        "crmlib.models.value_chain.proposition.nps",
    ]
    with pytest.raises(CRMError, match="crmlib.models.idic.no_such_function"):
        grading.answer_key_aliases(["crmlib.models.idic.no_such_function"])


def test_feedback_tracebacks_keep_the_students_frames_and_drop_the_library_and_paths():
    site = str(Path(sys.prefix) / "lib" / "python3.11" / "site-packages")
    cell = nbformat.v4.new_code_cell("acquired_per_month(example)")
    cell.outputs = [
        nbformat.v4.new_output(
            "error",
            ename="KeyError",
            evalue=f"'first_order_date' (see {REPO}/crmlib/analytics/summary.py)",
            traceback=[
                "\x1b[0;31m----\x1b[0m\n\x1b[0;31mKeyError\x1b[0m  Traceback (most recent call last)",
                "Cell \x1b[0;32mIn[8], line 8\x1b[0m\n\x1b[1;32m----> 8\x1b[0m counts = f(x)",
                f"File \x1b[0;32m{site}/pandas/core/frame.py:4113\x1b[0m, in \x1b[0;36mget\x1b[0m",
                f"File \x1b[0;32m{site}/pandas/core/indexes/base.py:3819\x1b[0m, in \x1b[0;36mx",
                "\x1b[0;31mKeyError\x1b[0m: 'first_order_date'",
            ],
        ),
        nbformat.v4.new_output("stream", name="stderr", text=f"{site}/numpy/x.py:3: Warning"),
    ]
    nb, _ = grading.CleanTracebacks().preprocess(nbformat.v4.new_notebook(cells=[cell]), {})
    error, stream = nb.cells[0].outputs
    shown = "\n".join(error.traceback) + error.evalue + stream.text
    assert "In[8], line 8" in shown and "KeyError" in shown
    assert "(2 frames inside pandas not shown)" in shown
    assert "frame.py" not in shown
    assert "crmlib/analytics/summary.py" in shown and "numpy/x.py" in shown
    for path in (str(REPO), sys.prefix, "site-packages"):
        assert path not in shown


def test_answer_key_use_counts_against_the_question_whose_answer_uses_it():
    def cell(source, grade_id=None, locked=False, solution=False):
        made = nbformat.v4.new_code_cell(source)
        if grade_id:
            made.metadata["nbgrader"] = {
                "grade_id": grade_id,
                "locked": locked,
                "solution": solution,
                "grade": False,
            }
        return made

    q3 = grading.AnswerKeyRule(
        "nb", "q3_answer", (), ("crmlib.analytics.summary.customer_summary",), ("q3_tests",)
    )
    q4 = grading.AnswerKeyRule(
        "nb",
        "q4_answer",
        (),
        ("crmlib.analytics.summary.customer_summary", "crmlib.models.idic.rfm_values"),
        ("q4_tests",),
    )
    setup = cell("from crmlib.models import idic", "setup", locked=True)  # the instructor's alias
    own_q3 = cell(
        "import crmlib.analytics.summary as cs\ndef f(t):\n    return cs.customer_summary(t)",
        "q3_answer",
        solution=True,
    )
    reuse = cell("def g(t):\n    return f(t)", "q4_answer", solution=True)
    key = cell("def g(t):\n    return idic.rfm_values(t)", "q4_answer", solution=True)
    added = cell("from crmlib.analytics.summary import customer_summary")
    uses = grading.answer_key_uses
    assert list(uses(nbformat.v4.new_notebook(cells=[setup, own_q3, reuse]), [q3, q4])) == [
        "q3_answer"
    ]
    assert uses(nbformat.v4.new_notebook(cells=[setup, key]), [q3, q4]) == {
        "q4_answer": [("crmlib.models.idic.rfm_values", "'q4_answer'")]
    }
    assert list(uses(nbformat.v4.new_notebook(cells=[setup, added]), [q3, q4])) == [
        "q3_answer",
        "q4_answer",
    ]
    assert uses(nbformat.v4.new_notebook(cells=[setup]), [q3, q4]) == {}


def test_course_config_leaves_formgraders_own_pages_to_nbgrader():
    # formgrader renders submissions for grading with an HTMLExporter built from the
    # same configuration: the feedback template must be set on feedback's exporter only
    config = grading.Course.load().config
    assert "template_file" not in config.HTMLExporter
    assert "extra_template_basedirs" not in config.HTMLExporter
    assert config.GenerateFeedback.exporter_class == "crmlib.grading.feedback.FeedbackExporter"
    assert config.Autograde.exporter_class == "crmlib.grading.feedback.CrmGradeOnly"


def test_library_frames_are_hidden_also_when_ipython_shortens_their_path_to_home():
    # In the sandbox HOME is SANDBOX_HOME: a repository or venv below it shows as "~/...".
    frames = [
        "Cell In[5], line 2, in acquired_per_month(transactions)",
        "File ~/w/.venv/lib/python3.11/site-packages/pandas/core/frame.py:13788, in groupby()",
        "File /usr/lib/python3.11/site-packages/pandas/core/groupby/grouper.py:925, in f()",
        "KeyError: 'first_order_date'",
    ]
    kept = grading.CleanTracebacks._frames(frames)
    assert kept == [frames[0], "... (2 frames inside pandas not shown)", frames[-1]]
