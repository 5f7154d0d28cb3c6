"""Check a master and release its student version (``crm exercises release``).

Releasing (:func:`release`) first checks the master (:func:`check_master`):
nbgrader metadata, balanced markers, an answer key that neither the
solutions nor the tests use, and every cell passing on the master's own
solutions; then it runs nbgrader's ``generate_assignment`` and removes the
answer-key declaration from the student version.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbgrader.converters import GenerateAssignment
from nbgrader.coursedir import CourseDirectory
from traitlets.config import Config

from crmlib.errors import CRMError
from crmlib.grading.answer_key import (
    ANSWER_KEY_METADATA,
    answer_key_references,
    answer_key_rules,
    answer_key_uses,
)
from crmlib.grading.course import (
    HIDDEN_BEGIN,
    HIDDEN_END,
    SOLUTION_BEGIN,
    SOLUTION_END,
    Course,
    cell_label,
    course_lock,
    last_error,
    read_notebook,
    run_converter,
)


def _check_markers(nb, name: str) -> None:
    """Check the nbgrader metadata and the solution / hidden-test markers."""
    seen: set[str] = set()
    graded = 0
    for index, cell in enumerate(nb.cells):
        meta = cell.metadata.get("nbgrader", {})
        label = cell_label(cell, index)
        grade_id = meta.get("grade_id")
        if grade_id:
            if grade_id in seen:
                raise CRMError(f"{name}: two cells have the grade id {grade_id!r}")
            seen.add(grade_id)
        for begin, end in ((SOLUTION_BEGIN, SOLUTION_END), (HIDDEN_BEGIN, HIDDEN_END)):
            if cell.source.count(begin) != cell.source.count(end):
                raise CRMError(f"{name}: {label} has a '{begin}' without its '{end}'")
        if HIDDEN_BEGIN in cell.source and not meta.get("grade"):
            raise CRMError(f"{name}: {label} has hidden tests but is not a graded test cell")
        if cell.cell_type == "code" and meta.get("solution") and SOLUTION_BEGIN not in cell.source:
            raise CRMError(f"{name}: solution {label} has no '### {SOLUTION_BEGIN}' region")
        if meta.get("grade"):
            if not meta.get("points", 0) > 0:
                raise CRMError(f"{name}: graded {label} has no points")
            graded += 1
    if graded == 0:
        raise CRMError(f"{name}: no graded cell (mark test cells 'Autograder tests' with points)")


def _check_answer_key(nb, notebook: str, name: str) -> None:
    """Check a master's answer key: declared names exist, no solution or test uses them.

    Tests compare against fixed values or properties, never against the
    workbook's implementation of what the question asks.
    """
    rules = answer_key_rules(nb, notebook, name)
    uses = answer_key_uses(nb, rules)
    if uses:
        answer, found = next(iter(uses.items()))
        raise CRMError(
            f"{name}: {found[0][1]} uses {found[0][0]}, which the answer key of {answer!r} "
            "forbids; the master's own solution must not"
        )
    forbidden = sorted({n for rule in rules for n in rule.names})
    aliases: dict[str, str] = {}
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        hits = answer_key_references(cell.source, forbidden, aliases)
        if hits and cell.metadata.get("nbgrader", {}).get("grade"):
            raise CRMError(
                f"{name}: {cell_label(cell, index)} calls {hits[0]}, part of the answer key: "
                "test against fixed expected values or properties instead"
            )


def check_master(assignment: str, course: Course | None = None, timeout: int = 120) -> None:
    """Run a master's tests against its own solutions; CRMError naming a failing cell.

    Each master is validated (nbformat schema, nbgrader metadata, balanced
    ``### BEGIN/END SOLUTION`` and ``### BEGIN/END HIDDEN TESTS`` markers, an
    answer key whose names crmlib defines and which neither the solutions nor
    the tests use) and
    executed top to bottom in an empty temporary folder, as grading will run
    it: a relative data path fails here, not in front of the students.

    Parameters
    ----------
    assignment : str
        The assignment (a folder of the course's source directory).
    course : Course, optional
        Default: the repository's course.
    timeout : int, default 120
        Time limit per cell, in seconds.
    """
    course = course or Course.load()
    for path in course.masters(assignment):
        name = f"{assignment}/{path.name}"
        nb = read_notebook(path, name)
        _check_markers(nb, name)
        _check_answer_key(nb, path.stem, name)
        with tempfile.TemporaryDirectory(prefix="crm-master-") as scratch:
            config = Config()
            config.KernelManager.transport = "ipc"  # no TCP ports, no warning about them
            config.KernelManager.connection_file = str(Path(scratch) / "kernel.json")
            client = NotebookClient(
                nb,
                config=config,
                timeout=timeout,
                allow_errors=True,
                kernel_name=nb.metadata.get("kernelspec", {}).get("name", "python3"),
                resources={"metadata": {"path": scratch}},
            )
            try:
                client.execute()
            except CellTimeoutError:
                raise CRMError(f"{name}: a cell ran longer than {timeout} s") from None
            except DeadKernelError:
                raise CRMError(f"{name}: the kernel died while running the master") from None
        for index, cell in enumerate(nb.cells):
            for output in cell.get("outputs", []):
                if output.output_type == "error":
                    raise CRMError(
                        f"{name}: {cell_label(cell, index)} fails on the master's own "
                        f"solution ({output.ename}: {output.evalue}); fix the master "
                        "before releasing"
                    )


def _strip_answer_key(path: Path) -> None:
    """Remove the answer-key declaration from a student version (it would name the key)."""
    nb = nbformat.read(path, as_version=4)
    outer, inner = ANSWER_KEY_METADATA
    block = nb.metadata.get(outer)
    if isinstance(block, dict) and inner in block:
        del block[inner]
        if not block:
            del nb.metadata[outer]
        nbformat.write(nb, path)


def release(assignment: str, course: Course | None = None) -> Path:
    """Check a master, then generate the student version (nbgrader generate_assignment).

    The assignment and its grade cells are recorded in the gradebook, which
    grading needs.

    Returns
    -------
    Path
        The folder of the student version.
    """
    course = course or Course.load()
    check_master(assignment, course)
    with course_lock(course):
        config = course.settings()
        coursedir = CourseDirectory(config=config)
        coursedir.assignment_id = assignment
        app = GenerateAssignment(coursedir=coursedir, config=config)
        app.force = True
        app.create_assignment = True
        ok, log = run_converter(app)
        if not ok:
            raise CRMError(f"nbgrader could not generate {assignment}: {last_error(log)}")
    released = course.folder("release") / assignment
    for path in released.glob("*.ipynb"):
        _strip_answer_key(path)
        text = path.read_text(encoding="utf-8")
        for marker in (SOLUTION_BEGIN, HIDDEN_BEGIN):
            if marker in text:
                raise CRMError(f"the student version {path.name} still holds '{marker}'")
    return released
