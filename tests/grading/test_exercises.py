"""Every assignment in exercises/: a sound master, released and graded like students' work.

For each assignment folder (parametrized over the folders that hold a master):

- the master is well formed: at least five questions, every code answer with a
  cell of visible tests and at least one of hidden tests, a written answer
  graded by hand, data only through ``crmlib.data.datasets``, no hidden-test cell
  that changes what a later visible cell shows, a message on every hidden
  assert, and an answer key (the crmlib names answers must not use) that no
  cell of the master uses;
- it releases: :func:`crmlib.grading.release` validates it, runs it against
  its own solutions in an empty folder and writes the student version;
- graded in the sandbox by :func:`crmlib.grading.grade`, the master's
  solutions pasted into the student version earn every autograded point, and
  the student version as released earns none.

``grade`` takes one assignment at a time, so each assignment's two
submissions are graded together, one per job. The grading tests need
bubblewrap; outside CI they are skipped when bwrap is not installed (CI
installs it and must run them), as in ``tests/grading/test_grading.py``.
"""

from __future__ import annotations

import ast
import builtins
import os
import shutil
from pathlib import Path

import nbformat
import pytest

IN_CI = os.environ.get("CI") == "true"
if not IN_CI:
    pytest.importorskip("nbgrader", reason="nbgrader is not installed")

from nbgrader.api import Gradebook  # noqa: E402
from test_grading import hidden_lines  # noqa: E402
from test_grading import write_config as grading_course_config  # noqa: E402

from crmlib import grading  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
REPO_CELL_TIMEOUT = 30  # Execute.timeout in nbgrader_config.py
ASSIGNMENTS = grading.Course.load().assignments()
TIMEOUT = 30  # seconds per cell: the course's own limit (nbgrader_config.py)
# Ways of reading data that would break in the grading sandbox (another folder, no network).
FORBIDDEN_READS = ("read_csv", "read_parquet", "read_excel", "open(", "Path(", "http")

needs_bwrap = pytest.mark.skipif(
    shutil.which("bwrap") is None and not IN_CI,
    reason="bubblewrap (bwrap) is not installed here; CI installs it (apt-get install bubblewrap)",
)


def write_config(folder: Path) -> Path:
    """A course in ``folder/course`` with the repository's settings, masters and 30 s cells."""
    return grading_course_config(folder, timeout=REPO_CELL_TIMEOUT)


def masters(assignment: str) -> list[Path]:
    return grading.Course.load().masters(assignment)


def meta(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def points(assignment: str) -> tuple[float, float]:
    """(autograded points, points graded by hand) of an assignment's masters."""
    auto = manual = 0.0
    for path in masters(assignment):
        for cell in nbformat.read(path, as_version=4).cells:
            if meta(cell).get("grade"):
                if meta(cell).get("solution"):
                    manual += meta(cell)["points"]
                else:
                    auto += meta(cell)["points"]
    return auto, manual


def questions(nb) -> list[dict]:
    """Each answer cell with its kind and the visible and hidden test cells that follow it."""
    found = []
    for cell in nb.cells:
        if meta(cell).get("solution"):
            kind = "written" if cell.cell_type == "markdown" else "code"
            found.append({"id": meta(cell)["grade_id"], "kind": kind, "visible": 0, "hidden": 0})
        elif meta(cell).get("grade"):
            assert found, f"test cell {meta(cell)['grade_id']} comes before any answer"
            found[-1]["hidden" if grading.HIDDEN_BEGIN in cell.source else "visible"] += 1
    return found


class _TopLevelNames(ast.NodeVisitor):
    """Names a cell reads and assigns at its top level (function bodies run later)."""

    def __init__(self, source: str):
        self.reads: set[str] = set()
        self.assigns: set[str] = set()
        self.visit(ast.parse(source))

    def visit_FunctionDef(self, node):
        self.assigns.add(node.name)

    def visit_Lambda(self, node):
        pass

    visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = visit_Lambda

    def visit_Name(self, node):
        (self.assigns if isinstance(node.ctx, ast.Store) else self.reads).add(node.id)

    def visit_alias(self, node):
        self.assigns.add((node.asname or node.name).split(".")[0])


def hidden_names_read_later(nb) -> list[tuple[str, str, str]]:
    """(cell, name, hidden cell): a later cell reads a name last assigned by hidden tests.

    Hidden tests run only when grading; if they reassign a name that a later
    visible cell reads, the graded notebook shows other results than the
    student's own run.
    """
    assigned_by: dict[str, tuple[str, bool]] = {}
    found = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        names = _TopLevelNames(cell.source)
        for name in sorted(names.reads - names.assigns - set(dir(builtins))):
            where, hidden = assigned_by.get(name, ("", False))
            if hidden:
                found.append((meta(cell).get("grade_id"), name, where))
        for name in names.assigns:
            assigned_by[name] = (meta(cell).get("grade_id"), grading.HIDDEN_BEGIN in cell.source)
    return found


def solved(master: Path, release: Path, dest: Path) -> None:
    """Write the student version with the master's answers (code and written), markers removed."""
    markers = {f"### {grading.SOLUTION_BEGIN}", f"### {grading.SOLUTION_END}"}
    answers = {}
    for cell in nbformat.read(master, as_version=4).cells:
        if meta(cell).get("solution"):
            lines = cell.source.splitlines()
            answers[meta(cell)["grade_id"]] = "\n".join(
                line for line in lines if line.strip() not in markers
            )
    nb = nbformat.read(release, as_version=4)
    for cell in nb.cells:
        if meta(cell).get("grade_id") in answers:
            cell.source = answers[meta(cell)["grade_id"]]
    dest.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, dest)


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    return grading.Course.load(write_config(tmp_path_factory.mktemp("exercises")))


@pytest.fixture(scope="module")
def released(course):
    """released(assignment) -> the student version's folder (released once per assignment)."""
    folders: dict[str, Path] = {}

    def release(assignment: str) -> Path:
        if assignment not in folders:
            folders[assignment] = grading.release(assignment, course)
        return folders[assignment]

    return release


@pytest.fixture(scope="module")
def graded(course, released, tmp_path_factory):
    """graded(assignment) -> {student: GradeResult} for "solutions" and "blank", graded once."""
    results: dict[str, dict] = {}

    def grade(assignment: str) -> dict:
        if assignment not in results:
            release = released(assignment)
            folder = tmp_path_factory.mktemp(f"submissions-{assignment}")
            for master in masters(assignment):
                solved(master, release / master.name, folder / "solutions" / master.name)
                (folder / "blank").mkdir(exist_ok=True)
                shutil.copy(release / master.name, folder / "blank" / master.name)
            graded = grading.grade(
                assignment,
                grading.find_submissions(folder, assignment),
                course=course,
                jobs=2,
                limits=grading.Limits(timeout=TIMEOUT),
            )
            results[assignment] = {result.student: result for result in graded}
        return results[assignment]

    return grade


# --- the masters ---------------------------------------------------------------------


def test_every_lesson_model_has_an_assignment():
    assert {"foundations", "idic", "qci", "value_chain", "payne_frow"} <= set(ASSIGNMENTS)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_master_has_five_questions_with_visible_and_hidden_tests(assignment):
    for path in masters(assignment):
        nb = nbformat.read(path, as_version=4)
        found = questions(nb)
        assert len(found) >= 5, f"{path.name}: {len(found)} questions"
        assert any(q["kind"] == "written" for q in found), "a written answer graded by hand"
        untested = [
            q["id"] for q in found if q["kind"] == "code" and not (q["visible"] and q["hidden"])
        ]
        assert untested == [], "code answers without both visible and hidden tests"
        code = "\n".join(cell.source for cell in nb.cells if cell.cell_type == "code")
        assert "crmlib.data.datasets" in code
        assert [word for word in FORBIDDEN_READS if word in code] == []


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_hidden_tests_leave_what_visible_cells_show_unchanged(assignment):
    for path in masters(assignment):
        assert hidden_names_read_later(nbformat.read(path, as_version=4)) == []


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_hidden_assert_tells_the_student_what_it_checked(assignment):
    for path in masters(assignment):
        silent = []
        for cell in nbformat.read(path, as_version=4).cells:
            if grading.HIDDEN_BEGIN in cell.source:
                for node in ast.walk(ast.parse(cell.source)):
                    if isinstance(node, ast.Assert) and node.msg is None:
                        silent.append(f"{meta(cell)['grade_id']}: {ast.unparse(node)[:60]}")
        assert silent == [], f"{path.name}: hidden asserts without a message"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_master_declares_an_answer_key_its_tests_never_call(assignment):
    for path in masters(assignment):
        nb = nbformat.read(path, as_version=4)
        rules = grading.answer_key_rules(nb, path.stem)  # CRMError for an unknown name
        assert len(rules) >= 4, "the questions crmlib answers declare their answer key"
        names = sorted({name for rule in rules for name in rule.names})
        aliases: dict[str, str] = {}
        used = []
        for cell in nb.cells:
            if cell.cell_type == "code":
                hits = grading.answer_key_references(cell.source, names, aliases)
                used += [(meta(cell).get("grade_id"), hit) for hit in hits]
        assert used == [], "tests compare with fixed values or properties, not crmlib's answer"


def test_the_check_for_hidden_names_finds_a_name_a_hidden_cell_reassigns():
    cells = [
        nbformat.v4.new_code_cell("profit = 1"),
        nbformat.v4.new_code_cell(
            f"### {grading.HIDDEN_BEGIN}\nprofit = 2\n### {grading.HIDDEN_END}"
        ),
        nbformat.v4.new_code_cell("def f():\n    return profit\n\nprint(profit)"),
    ]
    cells[1].metadata["nbgrader"] = {"grade": True, "grade_id": "hidden", "points": 1}
    cells[2].metadata["nbgrader"] = {"grade_id": "visible"}
    assert hidden_names_read_later(nbformat.v4.new_notebook(cells=cells)) == [
        ("visible", "profit", "hidden")
    ]


# --- release and grading ---------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_master_passes_its_own_tests_and_releases_without_solutions(assignment, released, course):
    folder = released(assignment)  # CRMError when a cell fails on the master's own solution
    for master in masters(assignment):
        text = (folder / master.name).read_text(encoding="utf-8")
        nb = nbformat.read(master, as_version=4)
        assert grading.SOLUTION_BEGIN not in text and grading.HIDDEN_BEGIN not in text
        assert [line for line in hidden_lines(master) if line in text] == []
        assert "answer_key" not in text  # the declaration would name the key
        stubs = text.count("raise NotImplementedError()")
        code_answers = [q for q in questions(nb) if q["kind"] == "code"]
        assert stubs >= len(code_answers)
    with Gradebook(course.db_url, course.course_id) as gb:
        assert gb.find_assignment(assignment).max_score == sum(points(assignment))


@needs_bwrap
@pytest.mark.slow
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_master_solutions_earn_every_autograded_point(assignment, graded):
    result = graded(assignment)["solutions"]
    auto, manual = points(assignment)
    assert (result.status, result.score, result.max_score) == ("graded", auto, auto + manual), (
        result.reason
    )
    assert f"{manual:g} points to grade by hand" in result.reason


@needs_bwrap
@pytest.mark.slow
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_the_released_student_version_earns_nothing(assignment, graded):
    result = graded(assignment)["blank"]
    assert (result.status, result.score) == ("graded", 0.0), result.reason
