"""Release nbgrader exercises and autograde submissions, each in a sandboxed kernel.

The course is an nbgrader course (Hamrick, J. B. (2016), "Creating and grading
IPython/Jupyter notebook assignments with NbGrader", Proc. SIGCSE '16, 242;
nbgrader 0.9 documentation) configured by ``nbgrader_config.py`` at the
repository root: the masters live in ``exercises/<assignment>/``; the student
versions, submissions, autograded notebooks, feedback and the SQLite gradebook
live in ``var/course/``.

Releasing (:func:`release`) first executes the master and refuses when any
cell fails on the master's own solutions, then runs nbgrader's
``generate_assignment``.

Grading (:func:`grade`) runs nbgrader's ``autograde`` and ``generate_feedback``
for every submission in parallel, without ever letting two processes write
the gradebook:

1. The parent copies the course gradebook once (a snapshot) and grades
   every submission in a scratch course of its own: a copy of that
   snapshot, the submission, and empty nbgrader folders.
2. A pool of worker processes (``jobs``) grades the scratch courses, one at
   a time per worker. Each worker owns two scratch folders and alternates
   between them, so it starts on the next submission while the parent
   merges its last one. Nothing a worker writes is seen by another.
3. The parent alone merges each graded scratch course back into the course,
   as each one finishes: the automatic scores, the submitted and autograded
   notebooks and the feedback. Manual scores already in the gradebook are
   kept, as nbgrader does when it regrades, and a resubmission replaces the
   earlier automatic scores.

Each student's kernel runs inside bubblewrap (``bwrap``): a read-only view of
the system, Python, ``crmlib`` and the bundled data sets, a private ``/tmp``,
no network and no other process in sight. Its working folder is a copy of the
autograded folder *without* notebooks: nbgrader executes a notebook into which
it has already written every hidden test, and the student's code must not
read it. The kernel cannot see the masters, the gradebook, the course folder
or other students' work. Memory (address space) and file size are limited,
each cell has a time limit, and a cell's output is capped: a cell that floods
its output is stopped. A kernel that dies costs the cells it did not run, not
the whole submission.

The answer key. crmlib implements what most questions ask (``rfm_values``,
``customer_lifetime_value`` ...), and a student can import it. Each master
therefore declares, per question, the crmlib names its answer must not use,
in the notebook's metadata (edit it in JupyterLab's property inspector, or
with nbformat)::

    "metadata": {
      "crm": {
        "answer_key": {
          "q2_answer": ["crmlib.models.idic.rfm_values", "crmlib.analytics.summary.customer_summary"],
          "q4_answer": ["crmlib.models.idic.ChannelPropensity"]
        }
      }
    }

Keys are the grade ids of code answer cells; a question's tests are the
graded cells after its answer cell, up to the next answer cell. A name also
covers every other crmlib module that exposes the same object
(:func:`answer_key_aliases`). After autograding, :func:`answer_key_uses`
reads the student's code cells (answers and cells they added; a static scan
of imports, attribute access, module aliases, ``getattr`` and
``importlib.import_module``): a question whose answer key is reached scores 0
on its tests, its answer cell gets a comment saying why (the student sees it
in the feedback), and :attr:`GradeResult.flags` (and the reason in
``grades.csv``) names the question and the names used. A grader who
disagrees gives the points back by hand in formgrader (a manual score
overrides the automatic one). :func:`check_master` refuses a master whose
solutions or tests use a declared name: tests compare with fixed expected
values or properties. :func:`release` removes the declaration from the
student version.

Feedback. ``nbgrader_config.py`` gives every feedback route (``crm grade``,
``nbgrader generate_feedback`` and formgrader's button) the pipeline
:data:`FEEDBACK_PREPROCESSORS`: hidden tests removed and a failing one
reduced to its message (:class:`HideHiddenTests`), graded cells named by
their question (:class:`NameQuestions` and the ``crm_feedback.html.j2``
template, :class:`FeedbackExporter`), tracebacks without library frames or machine paths
(:class:`CleanTracebacks`). nbgrader's own autograde (the command and
formgrader's button) refuses to run (:class:`CrmGradeOnly`).

What the sandbox cannot do: the student's code runs in the same Python
process as the tests that follow it, so it can observe or tamper with them
(for example replace a function the tests call, or read the source of hidden
tests that already ran). The autograded notebook keeps a record of what ran;
review it when a score looks too good.
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import csv
import datetime
import fcntl
import functools
import io
import logging
import multiprocessing
import multiprocessing.connection
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import warnings
import zipfile
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat
from jupyter_client.manager import AsyncKernelManager
from jupyter_core.utils import run_sync
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbconvert.exporters import HTMLExporter, NotebookExporter
from nbconvert.preprocessors import ClearMetadataPreprocessor
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.converters import Autograde, GenerateAssignment, GenerateFeedback
from nbgrader.converters.base import NbGraderException
from nbgrader.coursedir import CourseDirectory
from nbgrader.plugins import ExtractorPlugin, FileNameCollectorPlugin
from nbgrader.preprocessors import (
    AssignLatePenalties,
    CheckCellMetadata,
    ClearHiddenTests,
    Execute,
    IgnorePattern,
    LimitOutput,
    SaveAutoGrades,
)
from nbgrader.preprocessors.base import NbGraderPreprocessor
from sqlalchemy.exc import SAWarning
from traitlets import Integer, List, Unicode
from traitlets.config import Config, PyFileConfigLoader

from crmlib.errors import CRMError

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CONFIG = REPO_ROOT / "nbgrader_config.py"

STATUSES = ("graded", "timeout", "crashed", "missing", "error")
CSV_COLUMNS = ("student", "assignment", "score", "max_score", "status", "reason")

SOLUTION_BEGIN, SOLUTION_END = "BEGIN SOLUTION", "END SOLUTION"
HIDDEN_BEGIN, HIDDEN_END = "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"

# Error names written into a cell's outputs by GuardedExecute; the status of a
# submission is read back from them (CellTimeoutError is nbgrader's own).
KERNEL_DIED, NOT_RUN, OUTPUT_LIMIT, TIMED_OUT = (
    "KernelDied",
    "NotRun",
    "OutputLimitExceeded",
    "CellTimeoutError",
)

# The few files of /etc a Python kernel needs (dynamic linker, time zone, users).
_ETC_FILES = (
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/localtime",
    "/etc/timezone",
    "/etc/nsswitch.conf",
    "/etc/passwd",
    "/etc/group",
    "/etc/hosts",
    "/etc/fonts",
    "/etc/mime.types",
)
_SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")


# --- the course --------------------------------------------------------------


@dataclass(frozen=True)
class Course:
    """The nbgrader course described by an ``nbgrader_config.py``.

    Parameters
    ----------
    config_file : Path
        The configuration file it was read from.
    config : traitlets.config.Config
        Its configuration.
    root : Path
        nbgrader's course root (release, submitted, autograded, feedback).
    source : Path
        The folder of masters, one sub-folder per assignment.
    db_url : str
        The gradebook's SQLAlchemy URL.
    course_id : str
        nbgrader's course id.
    """

    config_file: Path
    config: Config
    root: Path
    source: Path
    db_url: str
    course_id: str

    @classmethod
    def load(cls, config_file: str | Path | None = None) -> Course:
        """Read the course from ``nbgrader_config.py`` (default: the repository's)."""
        path = Path(config_file) if config_file is not None else DEFAULT_CONFIG
        if not path.is_file():
            raise CRMError(
                f"the nbgrader configuration {path.name} was not found in {path.parent}: "
                "run crm from a checkout of the workbook's repository"
            )
        config = PyFileConfigLoader(path.name, path=str(path.parent)).load_config()
        cd = config.CourseDirectory
        root = Path(cd.get("root", str(path.parent))).resolve()
        source = Path(cd.get("source_directory", "source"))
        source = source if source.is_absolute() else root / source
        db_url = cd.get("db_url", f"sqlite:///{root / 'gradebook.db'}")
        return cls(path, config, root, source.resolve(), db_url, cd.get("course_id", ""))

    @property
    def gradebook(self) -> Path:
        """The SQLite file of the gradebook (crm grade copies it per submission)."""
        if not self.db_url.startswith("sqlite:///"):
            raise CRMError(f"crm grade needs an SQLite gradebook, not {self.db_url.split(':')[0]}")
        return Path(self.db_url.removeprefix("sqlite:///"))

    def folder(self, step: str) -> Path:
        """A course folder: ``release``, ``submitted``, ``autograded`` or ``feedback``."""
        name = self.config.CourseDirectory.get(f"{step}_directory", step)
        return self.root / name

    def assignments(self) -> list[str]:
        """The assignments: folders of the source directory that hold a notebook."""
        if not self.source.is_dir():
            return []
        return sorted(
            p.name for p in self.source.iterdir() if p.is_dir() and any(p.glob("*.ipynb"))
        )

    def masters(self, assignment: str) -> list[Path]:
        """The master notebooks of an assignment (CRMError if there is none)."""
        known = self.assignments()
        if assignment not in known:
            raise CRMError(
                f"unknown assignment {assignment!r}: the exercises are "
                f"{', '.join(known) or 'none yet'} (one folder with a master notebook "
                f"per assignment in {self.source.name}/)"
            )
        return sorted((self.source / assignment).glob("*.ipynb"))

    def settings(self, **overrides) -> Config:
        """A copy of the configuration with the course folders made absolute."""
        config = Config()
        config.merge(self.config)
        config.CourseDirectory.root = str(self.root)
        config.CourseDirectory.source_directory = str(self.source)
        config.CourseDirectory.db_url = self.db_url
        config.CourseDirectory.course_id = self.course_id
        for key, value in overrides.items():
            config.CourseDirectory[key] = value
        return config


@contextlib.contextmanager
def _course_lock(course: Course) -> Iterator[None]:
    """Hold the course's lock file: one release or grading run at a time."""
    course.root.mkdir(parents=True, exist_ok=True)
    with open(course.root / ".crm-lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise CRMError(
                f"another crm grade or release is running on the course in {course.root}"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _run_converter(app) -> tuple[bool, str]:
    """Run an nbgrader converter and capture its log: (succeeded, log)."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(logging.Formatter("[%(levelname)s] %(message)s"))
    app.log.addHandler(handler)
    cwd, path = os.getcwd(), os.environ.get("PATH", "")
    # nbgrader changes directory to the course root, and runs the `alembic`
    # command of its environment when it creates a gradebook
    os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), path])
    try:
        app.start()
        ok = True
    except Exception:
        buffer.write(traceback.format_exc())
        ok = False
    finally:
        app.log.removeHandler(handler)
        os.chdir(cwd)
        os.environ["PATH"] = path
    return ok, buffer.getvalue()


def _last_error(log: str) -> str:
    """The most telling line of a failed nbgrader run's log."""
    lines = [line.strip() for line in log.splitlines() if line.strip()]
    for line in reversed(lines):  # the exception itself, not nbgrader's summary of it
        if re.match(r"^[A-Za-z_.]*(Error|Exception)\b.*:", line) and "NbGrader" not in line:
            return line
    errors = [line for line in lines if line.startswith("[ERROR]")]
    return (errors[0] if errors else lines[-1] if lines else "no log").removeprefix("[ERROR] ")


# --- releasing -----------------------------------------------------------------


def _read_notebook(path: Path, label: str | None = None) -> nbformat.NotebookNode:
    """Read and validate a notebook file; CRMError naming the file otherwise."""
    label = label or path.name
    try:
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
    except Exception as exc:  # nbformat raises several unrelated types
        lines = str(exc).strip().splitlines() or [type(exc).__name__]
        reason = lines[0].split(": '")[0][:160]  # without the file's text
        raise CRMError(f"{label} is not a valid notebook: {reason}") from None
    return nb


def _cell_label(cell, index: int) -> str:
    grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
    return repr(grade_id) if grade_id else f"cell {index + 1}"


def _check_markers(nb, name: str) -> None:
    """Check the nbgrader metadata and the solution / hidden-test markers."""
    seen: set[str] = set()
    graded = 0
    for index, cell in enumerate(nb.cells):
        meta = cell.metadata.get("nbgrader", {})
        label = _cell_label(cell, index)
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
                f"{name}: {_cell_label(cell, index)} calls {hits[0]}, part of the answer key: "
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
        nb = _read_notebook(path, name)
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
                        f"{name}: {_cell_label(cell, index)} fails on the master's own "
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
    with _course_lock(course):
        config = course.settings()
        coursedir = CourseDirectory(config=config)
        coursedir.assignment_id = assignment
        app = GenerateAssignment(coursedir=coursedir, config=config)
        app.force = True
        app.create_assignment = True
        ok, log = _run_converter(app)
        if not ok:
            raise CRMError(f"nbgrader could not generate {assignment}: {_last_error(log)}")
    released = course.folder("release") / assignment
    for path in released.glob("*.ipynb"):
        _strip_answer_key(path)
        text = path.read_text(encoding="utf-8")
        for marker in (SOLUTION_BEGIN, HIDDEN_BEGIN):
            if marker in text:
                raise CRMError(f"the student version {path.name} still holds '{marker}'")
    return released


# --- the answer key ------------------------------------------------------------------

#: Where a master declares its answer key: ``nb.metadata["crm"]["answer_key"]``.
ANSWER_KEY_METADATA = ("crm", "answer_key")


def declared_answer_key(nb) -> dict[str, list[str]]:
    """A master's answer key: code answer grade id -> crmlib names its answer must not use."""
    block = nb.metadata
    for key in ANSWER_KEY_METADATA:
        block = block.get(key, {}) if isinstance(block, dict) else {}
    return {str(k): [str(name) for name in v] for k, v in dict(block).items()}


@functools.cache
def _crmlib_names() -> dict[str, str]:
    """Every module-level name of crmlib, and the crmlib name it is bound to.

    Read from the source (no import): ``crmlib.models.qci.nps`` -> itself (defined
    there), ``crmlib.models.value_chain.nps`` -> ``crmlib.models.qci.nps`` (imported from
    it). Names imported from outside crmlib map to themselves.
    """
    package = Path(__file__).resolve().parents[1]
    bound: dict[str, str] = {}
    for path in sorted(package.rglob("*.py")):
        parts = path.relative_to(package.parent).with_suffix("").parts
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        package_name = ".".join(parts[:-1])
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (OSError, SyntaxError, ValueError):
            continue
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                bound[f"{module}.{node.name}"] = f"{module}.{node.name}"
            elif isinstance(node, (ast.Assign, ast.AnnAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    if isinstance(target, ast.Name):
                        bound[f"{module}.{target.id}"] = f"{module}.{target.id}"
            elif isinstance(node, ast.ImportFrom):
                source = node.module or ""
                if node.level:
                    base = package_name.split(".")[: len(package_name.split(".")) - node.level + 1]
                    source = ".".join([*base, source] if source else base)
                for alias in node.names:
                    if alias.name != "*":
                        name = f"{module}.{alias.asname or alias.name}"
                        bound[name] = f"{source}.{alias.name}"
    return bound


def _crmlib_origin(name: str) -> str:
    """Where a crmlib name is defined, following imports from module to module."""
    bound, seen = _crmlib_names(), set()
    while name in bound and bound[name] != name and name not in seen:
        seen.add(name)
        name = bound[name]
    return name


def answer_key_aliases(names: list[str]) -> list[str]:
    """Every crmlib name bound to the same object as one of ``names``.

    ``crmlib.analytics.summary.customer_summary`` is also ``crmlib.models.qci.customer_summary``
    (qci imports it): an answer that reaches it through either counts.
    CRMError for a name crmlib does not define.
    """
    bound = _crmlib_names()
    origins = set()
    for name in names:
        if name not in bound:
            raise CRMError(f"the answer key names {name}, which crmlib does not define")
        origins.add(_crmlib_origin(name))
    found = set(names) | {other for other in bound if _crmlib_origin(other) in origins}
    return sorted(found)


def _python_source(source: str) -> str:
    """A cell's source as Python (IPython's ``%magic`` and ``!shell`` lines translated)."""
    from IPython.core.inputtransformer2 import TransformerManager

    try:
        return TransformerManager().transform_cell(source)
    except Exception:  # IPython gives up on odd input; the parser then decides
        return source


class _AnswerKeyScan(ast.NodeVisitor):
    """Which forbidden names a cell reaches, following its imports and module aliases.

    ``aliases`` (local name -> dotted crmlib path) carries over from cell to
    cell, as the kernel's namespace does.
    """

    def __init__(self, forbidden: set[str], aliases: dict[str, str]):
        self.forbidden, self.aliases, self.hits = forbidden, aliases, set()

    def _hit(self, path: str | None) -> None:
        if path in self.forbidden:
            self.hits.add(path)

    def _resolve(self, node) -> str | None:
        if isinstance(node, ast.Name):
            return self.aliases.get(node.id)
        if isinstance(node, ast.Attribute):
            base = self._resolve(node.value)
            return f"{base}.{node.attr}" if base else None
        return None

    def visit_Import(self, node):
        for alias in node.names:
            if alias.asname:
                self.aliases[alias.asname] = alias.name
            else:
                top = alias.name.split(".")[0]
                self.aliases[top] = top
            self._hit(alias.name)

    def visit_ImportFrom(self, node):
        if node.level or not node.module:
            return
        for alias in node.names:
            if alias.name == "*":
                self.hits.update(n for n in self.forbidden if n.startswith(node.module + "."))
                continue
            path = f"{node.module}.{alias.name}"
            self.aliases[alias.asname or alias.name] = path
            self._hit(path)

    def visit_Name(self, node):
        self._hit(self.aliases.get(node.id))

    def visit_Attribute(self, node):
        self._hit(self._resolve(node))
        self.generic_visit(node)

    def visit_Assign(self, node):
        self.generic_visit(node)
        path = self._resolve(node.value)
        for target in node.targets:  # key = crmlib.models.idic: a module alias by assignment
            if path and isinstance(target, ast.Name):
                self.aliases[target.id] = path

    def visit_Call(self, node):
        self.generic_visit(node)
        strings = [a.value for a in node.args if isinstance(a, ast.Constant)]
        strings = [text for text in strings if isinstance(text, str)]
        name = (
            node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        )
        if name == "getattr" and len(node.args) >= 2 and len(strings) >= 1:
            base = self._resolve(node.args[0])
            self._hit(f"{base}.{strings[0]}" if base else None)
        elif name in ("import_module", "__import__") and strings:
            self.hits.update(n for n in self.forbidden if n.startswith(strings[0] + "."))


def answer_key_references(
    source: str, forbidden: list[str], aliases: dict[str, str] | None = None
) -> list[str]:
    """The forbidden names that code reaches (imports, attributes, aliases, getattr).

    A static scan: it reads the code, it does not run it, so code that
    builds a name at run time (``exec`` of a computed string) escapes it, as
    does code nested too deeply for Python's parser; the autograded notebook
    keeps what ran, for review.

    Parameters
    ----------
    source : str
        A cell's code.
    forbidden : list of str
        Fully qualified names (``crmlib.models.idic.rfm_values``), e.g. from
        :func:`answer_key_aliases`.
    aliases : dict, optional
        Names earlier cells bound to crmlib paths; updated in place.
    """
    aliases = {} if aliases is None else aliases
    scan = _AnswerKeyScan(set(forbidden), aliases)
    try:
        scan.visit(ast.parse(_python_source(source)))
    except (SyntaxError, ValueError, RecursionError):  # a cell the kernel could not run either
        return []
    return sorted(scan.hits)


def _is_student_code(cell) -> bool:
    """A code cell the student wrote: an answer cell or a cell they added."""
    meta = cell.metadata.get("nbgrader", {})
    return cell.cell_type == "code" and (meta.get("solution") or not meta.get("locked"))


@dataclass(frozen=True)
class AnswerKeyRule:
    """One question's answer key: the names its answer must not use, the tests it voids.

    Parameters
    ----------
    notebook : str
        The notebook's name, without ``.ipynb``.
    answer : str
        The grade id of the question's answer cell.
    declared : tuple of str
        The names the master declares.
    names : tuple of str
        Those names and every other crmlib name of the same objects.
    tests : tuple of str
        The grade ids of the question's test cells (the graded cells after the
        answer cell, up to the next answer cell).
    """

    notebook: str
    answer: str
    declared: tuple[str, ...]
    names: tuple[str, ...]
    tests: tuple[str, ...]


def answer_key_rules(nb, notebook: str, label: str | None = None) -> list[AnswerKeyRule]:
    """The answer-key rules a master declares; CRMError for a declaration that cannot hold."""
    label = label or notebook
    declared = declared_answer_key(nb)
    tests: dict[str, list[str]] = {}
    answers, current = set(), None
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution"):
            current = meta.get("grade_id") if cell.cell_type == "code" else None
            answers.add(current)
        elif meta.get("grade") and current:
            tests.setdefault(current, []).append(meta["grade_id"])
    rules = []
    for answer, names in declared.items():
        if answer not in answers or not tests.get(answer):
            raise CRMError(
                f"{label}: the answer key names {answer!r}, which is not a code answer "
                "followed by its test cells"
            )
        if not names:
            raise CRMError(f"{label}: the answer key of {answer!r} names nothing")
        aliases = answer_key_aliases(names)
        rules.append(
            AnswerKeyRule(notebook, answer, tuple(names), tuple(aliases), tuple(tests[answer]))
        )
    return rules


def answer_key_uses(nb, rules: list[AnswerKeyRule]) -> dict[str, list[tuple[str, str]]]:
    """Where the student's code reaches a question's answer key.

    Every code cell is read in order (the instructor's too, for the aliases
    they bind, as ``from crmlib.analytics import assessment`` in a setup cell); only
    the cells the student wrote count. A name reached in a question's answer
    cell counts against that question when its key holds the name (so that a
    later answer may reuse an earlier one), and otherwise against every
    question whose key holds it, as does a name reached in a cell the
    student added.

    Returns
    -------
    dict
        answer grade id -> [(name reached, cell label)], for the questions
        whose answer key is reached.
    """
    forbidden = sorted({name for rule in rules for name in rule.names})
    keys = {rule.answer: set(rule.names) for rule in rules}
    aliases: dict[str, str] = {}
    found: dict[str, list[tuple[str, str]]] = {}
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        hits = answer_key_references(cell.source, forbidden, aliases)
        if not _is_student_code(cell):
            continue
        answer = cell.metadata.get("nbgrader", {}).get("grade_id")
        for name in hits:
            if name in keys.get(answer, ()):
                charged = [answer]
            else:
                charged = [other for other, names in keys.items() if name in names]
            for other in charged:
                found.setdefault(other, []).append((name, _cell_label(cell, index)))
    return {rule.answer: found[rule.answer] for rule in rules if rule.answer in found}


def _withhold_answer_key_credit(task: _Task) -> list[str]:
    """Void the automatic scores of questions whose answer uses the answer key.

    Runs in the worker between autograde and feedback: the tests of such a
    question score 0 in the scratch gradebook, and the answer cell gets a
    comment that says why (the student reads it in the feedback).

    Returns
    -------
    list of str
        One sentence per question, for ``grades.csv``.
    """
    flags = []
    folder = task.scratch / "autograded" / task.student / task.assignment
    by_notebook: dict[str, list[AnswerKeyRule]] = {}
    for rule in task.answer_key:
        by_notebook.setdefault(rule.notebook, []).append(rule)
    for notebook, rules in sorted(by_notebook.items()):
        path = folder / f"{notebook}.ipynb"
        if not path.is_file():
            continue
        uses = answer_key_uses(nbformat.read(path, as_version=4), rules)
        if not uses:
            continue
        url = f"sqlite:///{task.scratch / 'gradebook.db'}"
        with warnings.catch_warnings(), Gradebook(url) as gb:
            warnings.simplefilter("ignore", SAWarning)
            for rule in rules:
                if rule.answer not in uses:
                    continue
                names = ", ".join(dict.fromkeys(name for name, _ in uses[rule.answer]))
                elsewhere = [w for _, w in uses[rule.answer] if w != repr(rule.answer)]
                cells = f" (in {', '.join(dict.fromkeys(elsewhere))})" if elsewhere else ""
                points = 0.0
                for test in rule.tests:
                    grade = gb.find_grade(test, notebook, task.assignment, task.student)
                    points += float(grade.max_score)
                    grade.auto_score = 0.0
                sentence = (
                    f"{rule.answer} uses {names}{cells}, the workbook's own answer to the "
                    f"question: no automatic credit for its tests ({points:g} points)"
                )
                with contextlib.suppress(MissingEntry):
                    comment = gb.find_comment(rule.answer, notebook, task.assignment, task.student)
                    comment.auto_comment = (
                        f"No automatic credit: this answer uses {names}, the workbook's own "
                        "answer to the question. Write the computation yourself."
                    )
                flags.append(sentence)
            gb.db.commit()
    return flags


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
    the layouts of :func:`crmlib.grading.lms.identify_entry`: Canvas's flat
    ``<name>[_late]_<user id>_<file id>_<notebook>.ipynb``, Moodle's
    ``<Full Name>_<participant id>_assignsubmission_file_/<notebook>.ipynb``
    or ``<student>/<notebook>.ipynb``, unless the course configuration sets
    ``c.FileNameCollectorPlugin.named_regexp`` (nbgrader's
    :class:`nbgrader.plugins.FileNameCollectorPlugin` then reads every path).
    A notebook whose path fits no layout is a CRMError naming it.

    Students are named by the roster when one is given
    (:func:`crmlib.grading.lms.assign_students`), by their LMS number otherwise.
    Each student's folder gets nbgrader's ``timestamp.txt`` (the zip entry's
    time, read as UTC), and ``dest`` gets :data:`crmlib.grading.lms.SUBMISSIONS_FILE`,
    which records the LMS, its ids, the time and Canvas's late mark.

    Returns
    -------
    Path
        ``dest``, ready for :func:`find_submissions`.
    """
    from crmlib.grading import lms

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
        times = lms.zip_times(zip_file)
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
                    lms.Entry(rel, "folder", info["student_id"], Path(info["file_id"]).name)
                    if info
                    else None
                )
            else:
                entry = lms.identify_entry(rel)
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
        lms.assign_students(entries, roster, roster_name)
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
    lms.write_submissions_record(entries, dest / lms.SUBMISSIONS_FILE)
    return dest


# --- the sandbox -----------------------------------------------------------------


@dataclass(frozen=True)
class Limits:
    """What one submission may use.

    Parameters
    ----------
    timeout : int, default 30
        Seconds per cell; a cell that runs longer is interrupted (nbgrader's
        ``Execute.timeout``).
    memory_mb : int, default 4096
        Address space of the kernel (``ulimit -v``): allocations beyond it
        raise ``MemoryError``.
    output_kb : int, default 1024
        Output a cell may print; beyond it the cell is stopped
        (``OutputLimitExceeded``).
    disk_mb : int, default 100
        Largest file the kernel may write (``ulimit -f``) and size of its
        private ``/tmp``.
    """

    timeout: int = 30
    memory_mb: int = 4096
    output_kb: int = 1024
    disk_mb: int = 100


def _python_dirs() -> list[Path]:
    """Folders the kernel needs: the Python installation, crmlib and the data sets."""
    import crmlib
    from crmlib.data import datasets

    dirs = [Path(sys.base_prefix), Path(sys.prefix), Path(crmlib.__file__).parent]
    with contextlib.suppress(CRMError):
        dirs.append(datasets.datasets_dir())
    return [d.resolve() for d in dirs]


def _matplotlib_cache() -> Path | None:
    """The matplotlib font cache folder, if there is one (to spare a 10 s rebuild)."""
    env = os.environ.get("MPLCONFIGDIR")
    cache = Path(env) if env else Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    cache = cache if env else cache / "matplotlib"
    return cache if any(cache.glob("fontlist*.json")) else None


#: The home folder of a sandboxed grading kernel (IPython shows paths under it as ``~/…``).
SANDBOX_HOME = "/tmp"


def sandbox_command(
    work: Path, runtime: Path, limits: Limits, hidden: tuple[Path, ...] = ()
) -> list[str]:
    """The bubblewrap command line that runs a kernel; the kernel's command follows ``--``.

    Parameters
    ----------
    work : Path
        The kernel's working folder (read-write).
    runtime : Path
        The folder of the connection file and IPC sockets (read-write).
    limits : Limits
        Size of the private ``/tmp``.
    hidden : tuple of Path
        Folders that must stay invisible; CRMError if a read-only mount
        would expose one of them.
    """
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        raise CRMError("bubblewrap (bwrap) is not installed")
    # --cap-drop ALL: run as root, bwrap would keep root's capabilities (mknod, mount …)
    args = [bwrap, "--unshare-all", "--cap-drop", "ALL", "--die-with-parent", "--new-session"]
    args += ["--clearenv"]
    args += ["--proc", "/proc", "--dev", "/dev"]
    args += ["--size", str(limits.disk_mb * 2**20), "--tmpfs", "/tmp"]
    bound: list[Path] = []
    for name in _SYSTEM_DIRS:
        path = Path(name)
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), name]
        elif path.is_dir():
            args += ["--ro-bind", name, name]
            bound.append(path)
    args += [arg for name in _ETC_FILES if Path(name).exists() for arg in ("--ro-bind", name, name)]
    for path in _python_dirs():
        if not any(path.is_relative_to(b) for b in bound):
            args += ["--ro-bind", str(path), str(path)]
            bound.append(path)
    for secret in hidden:
        for path in bound:
            if secret.resolve().is_relative_to(path):
                raise CRMError(f"the sandbox would expose {secret} through {path}")
    args += ["--bind", str(work), str(work), "--bind", str(runtime), str(runtime)]
    args += ["--chdir", str(work)]
    env = {
        "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
        "HOME": SANDBOX_HOME,
        "LANG": "C.UTF-8",
        "PYTHONHASHSEED": "0",
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "NBGRADER_EXECUTION": "autograde",
    }
    if "CRM_DATASETS" in os.environ:
        env["CRM_DATASETS"] = os.environ["CRM_DATASETS"]
    mpl = runtime.parent / "matplotlib"
    if mpl.is_dir():
        args += ["--bind", str(mpl), str(mpl)]
        env["MPLCONFIGDIR"] = str(mpl)
    for key, value in env.items():
        args += ["--setenv", key, value]
    return args


def sandbox_problem() -> str | None:
    """Why kernels cannot be sandboxed here, or None when bubblewrap works.

    The probe starts the grading Python inside the sandbox, imports crmlib
    and checks that the network is gone.
    """
    if shutil.which("bwrap") is None:
        return "bubblewrap (bwrap) is not installed"
    probe = (
        "import socket, crmlib\n"
        "try:\n"
        "    socket.create_connection(('1.1.1.1', 53), timeout=1)\n"
        "except OSError:\n"
        "    pass\n"
        "else:\n"
        "    raise SystemExit('the network is reachable')\n"
    )
    with tempfile.TemporaryDirectory(prefix="crm-probe-") as scratch:
        work, runtime = Path(scratch) / "work", Path(scratch) / "runtime"
        work.mkdir()
        runtime.mkdir()
        try:
            command = sandbox_command(work, runtime, Limits())
            done = subprocess.run(
                [*command, "--", sys.executable, "-c", probe],
                capture_output=True,
                text=True,
                timeout=60,
            )
        except CRMError as exc:
            return str(exc)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"bubblewrap could not start ({exc})"
    if done.returncode != 0:
        detail = (done.stderr.strip().splitlines() or ["no message"])[-1]
        return f"bubblewrap failed its probe ({detail})"
    return None


class SandboxedKernelManager(AsyncKernelManager):
    """A kernel manager that starts the kernel under limits, inside bubblewrap.

    The kernel command becomes ``<sandbox_args> -- sh -c 'ulimit -v …; ulimit
    -f …; exec kernel'``. Interrupts are sent as messages: a signal to the
    bwrap process would not reach the kernel.
    """

    sandbox_args = List(Unicode(), help="bwrap arguments; empty: no sandbox").tag(config=True)
    memory_mb = Integer(4096, help="address space limit of the kernel, MB").tag(config=True)
    disk_mb = Integer(100, help="largest file the kernel may write, MB").tag(config=True)

    @property
    def kernel_spec(self):
        spec = super().kernel_spec
        if spec is not None:
            spec.interrupt_mode = "message"
        return spec

    def format_kernel_cmd(self, extra_arguments=None):
        command = super().format_kernel_cmd(extra_arguments)
        limit = f'ulimit -v {self.memory_mb * 1024} && ulimit -f {self.disk_mb * 1024} && exec "$@"'
        limited = ["/bin/sh", "-c", limit, "sh", *command]
        return [*self.sandbox_args, "--", *limited] if self.sandbox_args else limited


# Run in the kernel at start-up (IPKernelApp.exec_lines): before each cell,
# wrap the streams' write so that a cell printing more than the limit raises
# OutputLimitExceeded in the student's code. IPython 9 also keeps every
# printed byte in the kernel's history, so without this a print loop runs the
# kernel out of memory before the grader can stop it. The wrapper is set up
# per cell because IPython re-wraps the streams for every cell.
_OUTPUT_CAP_CODE = """
def _crm_cap_output(limit):
    import sys
    from IPython import get_ipython

    class OutputLimitExceeded(Exception):
        pass

    used = [0]

    def arm(*args):
        used[0] = 0
        for stream in (sys.stdout, sys.stderr):
            write = getattr(stream.write, "_crm_inner", stream.write)

            def capped(text, *rest, write=write, **options):
                used[0] += len(text)
                if used[0] > limit:
                    raise OutputLimitExceeded(f"the cell printed more than {limit // 1024} kB")
                return write(text, *rest, **options)

            capped._crm_inner = write
            stream.write = capped

    get_ipython().events.register("pre_run_cell", arm)


_crm_cap_output(%d)
del _crm_cap_output
"""


def _error_output(ename: str, evalue: str) -> nbformat.NotebookNode:
    return nbformat.v4.new_output(
        "error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"]
    )


class GuardedExecute(Execute):
    """nbgrader's Execute preprocessor, hardened for untrusted notebooks.

    - The kernel runs in ``work_dir``: a copy of the autograded folder
      without its notebooks (nbgrader has already put the hidden tests in
      them).
    - Output: a cell that prints more than ``max_output_bytes`` raises
      ``OutputLimitExceeded`` inside the kernel; should the student's code
      get around that, the grader keeps at most twice as much, interrupts
      the cell and marks it ``OutputLimitExceeded`` itself.
    - When the kernel dies, the cell is marked ``KernelDied`` and the cells
      after it ``NotRun`` (all score 0), instead of the whole submission
      failing; a cell that cannot be interrupted after its timeout has its
      kernel killed the same way.
    """

    work_dir = Unicode("", help="the kernel's working folder; empty: nbgrader's").tag(config=True)
    max_output_bytes = Integer(2**20, help="output a cell may print").tag(config=True)

    def preprocess(self, nb, resources=None, km=None):
        self._dead = False
        cap = f"--IPKernelApp.exec_lines={_OUTPUT_CAP_CODE % self.max_output_bytes}"
        others = [a for a in self.extra_arguments if not a.startswith("--IPKernelApp.exec_lines")]
        self.extra_arguments = [*others, cap]
        if self.work_dir:
            work = Path(self.work_dir)
            shutil.rmtree(work, ignore_errors=True)
            shutil.copytree(
                resources["metadata"]["path"], work, ignore=shutil.ignore_patterns("*.ipynb")
            )
        return super().preprocess(nb, resources, km)

    async def async_start_new_kernel(self, **kwargs):
        if self.work_dir:
            kwargs["cwd"] = self.work_dir
        await super().async_start_new_kernel(**kwargs)

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code" or not cell.source.strip():
            return cell, resources
        if self._dead:
            cell.outputs = [_error_output(NOT_RUN, "not run: the kernel had stopped")]
            return cell, resources
        self._output_bytes, self._flooded, self._interrupt = 0, False, None
        try:
            cell, resources = super().preprocess_cell(cell, resources, index)
        except DeadKernelError:
            self._dead = True
            cell.outputs.append(
                _error_output(
                    KERNEL_DIED,
                    "the kernel died while running this cell (killed, exited, or out of memory)",
                )
            )
            return cell, resources
        except CellTimeoutError:
            self._dead = True
            with contextlib.suppress(Exception):
                run_sync(self.km.shutdown_kernel)(now=True)
            cell.outputs.append(
                _error_output(
                    TIMED_OUT, f"the cell ran over {self.timeout} s and ignored the interrupt"
                )
            )
            return cell, resources
        if self._flooded:
            kb = self.max_output_bytes // 1024
            cell.outputs.append(
                _error_output(OUTPUT_LIMIT, f"the cell printed more than {kb} kB; it was stopped")
            )
        return cell, resources

    def output(self, outs, msg, display_id, cell_index):
        content = msg.get("content", {})
        size = len(content.get("text", "")) + sum(
            len(str(value)) for value in content.get("data", {}).values()
        )
        room = 2 * self.max_output_bytes - self._output_bytes
        self._output_bytes += size
        if size <= room:
            return super().output(outs, msg, display_id, cell_index)
        if not self._flooded:
            self._flooded = True
            # output() runs inside the client's event loop: schedule the interrupt there
            self._interrupt = asyncio.ensure_future(self.km.interrupt_kernel())
            if msg.get("msg_type") == "stream" and room > 0:
                kept = {**msg, "content": {**content, "text": content["text"][:room]}}
                return super().output(outs, kept, display_id, cell_index)
        return None


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
#: (``nbgrader_config.py`` sets it; :func:`_scratch_config` enforces it).
FEEDBACK_PREPROCESSORS = [
    "crmlib.grading.lms.WithholdRubric",  # the rubric crm grade puts beside hand-graded answers
    "nbgrader.preprocessors.GetGrades",
    "crmlib.grading.NameQuestions",
    "crmlib.grading.HideHiddenTests",
    "crmlib.grading.CleanTracebacks",
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


# --- grading one submission (in a worker process) --------------------------------


@dataclass(frozen=True)
class _Task:
    """One submission to grade in its scratch course."""

    index: int
    student: str
    assignment: str
    scratch: Path
    config_file: Path
    limits: Limits
    sandbox_args: tuple[str, ...]
    answer_key: tuple[AnswerKeyRule, ...] = ()


def _scratch_config(task: _Task) -> Config:
    course = Course.load(task.config_file)
    scratch = task.scratch
    config = course.settings(
        root=str(scratch),
        db_url=f"sqlite:///{scratch / 'gradebook.db'}",
        submitted_directory="submitted",
        autograded_directory="autograded",
        feedback_directory="feedback",
    )
    config.Execute.timeout = task.limits.timeout
    config.GuardedExecute.shutdown_kernel = "immediate"  # the kernel is disposable
    config.GuardedExecute.work_dir = str(scratch / "work")
    config.GuardedExecute.max_output_bytes = task.limits.output_kb * 1024
    config.GuardedExecute.kernel_manager_class = SandboxedKernelManager
    config.SandboxedKernelManager.transport = "ipc"
    config.SandboxedKernelManager.connection_file = str(scratch / "runtime" / "kernel.json")
    config.SandboxedKernelManager.sandbox_args = list(task.sandbox_args)
    config.SandboxedKernelManager.memory_mb = task.limits.memory_mb
    config.SandboxedKernelManager.disk_mb = task.limits.disk_mb
    config.Autograde.autograde_preprocessors = [
        GuardedExecute,
        IgnorePattern,
        ClearMetadataPreprocessor,
        LimitOutput,
        SaveAutoGrades,
        AssignLatePenalties,
        CheckCellMetadata,
    ]
    config.Autograde.exporter_class = NotebookExporter  # the course's own refuses (CrmGradeOnly)
    config.GenerateFeedback.preprocessors = list(FEEDBACK_PREPROCESSORS)
    config.GenerateFeedback.exporter_class = FeedbackExporter
    return config


def _grade_in_scratch(task: _Task, converters: dict | None = None) -> dict:
    """Autograde and write feedback in the task's scratch course.

    ``converters`` keeps a worker's nbgrader converters between tasks that
    share a scratch folder and settings, as ``nbgrader autograde`` keeps one
    converter for all students (it saves a few tenths of a second each).

    Returns ``{"ok": autograde succeeded, "log": its log, "feedback": None or
    why the feedback could not be written}``.
    """
    converters = {} if converters is None else converters
    key = (task.scratch, task.assignment, task.config_file, task.limits, task.sandbox_args)
    if key not in converters:
        config = _scratch_config(task)
        apps = []
        for converter in (Autograde, GenerateFeedback):
            coursedir = CourseDirectory(config=config)
            coursedir.assignment_id = task.assignment
            app = converter(coursedir=coursedir, config=config)
            app.force = True
            apps.append(app)
        converters[key] = apps
    autograde, feedback = converters[key]
    autograde.coursedir.student_id = feedback.coursedir.student_id = task.student
    ok, log = _run_converter(autograde)
    result = {"ok": ok, "log": log, "feedback": None, "flags": []}
    if ok:
        result["flags"] = _withhold_answer_key_credit(task)
        done, feedback_log = _run_converter(feedback)
        result["feedback"] = None if done else _last_error(feedback_log)
    return result


def _worker_main(fd: int) -> None:
    """A grading worker: receive tasks on a socket, grade them, send results back.

    Started as ``python -c`` (see :meth:`_Worker.start`) rather than through
    multiprocessing, which would re-run the caller's main script.
    """
    conn = multiprocessing.connection.Connection(fd)
    converters: dict = {}
    while True:
        try:
            task = conn.recv()
        except EOFError:
            return
        if task is None:
            return
        try:
            result = _grade_in_scratch(task, converters)
        except Exception:
            converters.clear()
            result = {"ok": False, "log": traceback.format_exc(), "feedback": None}
        conn.send(result)


# --- grading a batch (in the parent) ---------------------------------------------


@dataclass
class GradeResult:
    """One row of ``grades.csv``.

    ``score`` is the submission's total in the gradebook (automatic scores,
    and manual ones where a grader gave them); it is None when the
    submission could not be graded (status ``error``). ``flags`` holds one
    sentence per question whose answer used the workbook's own answer to it
    (the master's answer key) and so got no automatic credit; ``reason``
    repeats them, so that ``grades.csv`` shows them.
    """

    student: str
    assignment: str
    score: float | None
    max_score: float
    status: str
    reason: str = ""
    flags: list[str] = field(default_factory=list)

    def row(self) -> dict:
        """The CSV row; text that a spreadsheet would run as a formula is quoted (OWASP)."""
        values = asdict(self)
        values.pop("flags")  # already in the reason
        row = {key: _csv_text(value) for key, value in values.items()}
        row["score"] = "" if self.score is None else round(self.score, 2)
        row["max_score"] = round(self.max_score, 2)
        return row


def _csv_text(value) -> str:
    text = str(value)
    return "'" + text if text.startswith(("=", "+", "-", "@", "\t", "\r")) else text


def released_assignment(gb: Gradebook, assignment: str):
    """The gradebook's record of ``assignment``; a :class:`CRMError` when it was never released."""
    try:
        return gb.find_assignment(assignment)
    except MissingEntry:
        raise CRMError(
            f"{assignment} has not been released: run crm exercises release {assignment}"
        ) from None


def _released_notebooks(course: Course, assignment: str) -> tuple[list[str], float, int]:
    """Notebook names, maximum score and number of code cells of a released assignment."""
    if not course.gradebook.is_file():
        raise CRMError(
            f"no gradebook yet: release the assignment first (crm exercises release {assignment})"
        )
    with Gradebook(course.db_url, course.course_id) as gb:
        record = released_assignment(gb, assignment)
        names = sorted(nb.name for nb in record.notebooks)
        max_score = float(record.max_score)
    code_cells = sum(
        sum(cell.cell_type == "code" for cell in _read_notebook(path).cells)
        for path in course.masters(assignment)
    )
    return names, max_score, code_cells


def _precheck(submission: Submission, notebooks: list[str]) -> tuple[str, str] | None:
    """(status, reason) when a submission cannot be graded at all, else None."""
    present = [name for name in notebooks if (submission.folder / f"{name}.ipynb").is_file()]
    if not present:
        found = sorted(p.name for p in submission.folder.glob("*.ipynb"))
        expected = ", ".join(f"{name}.ipynb" for name in notebooks)
        other = f" (found: {', '.join(found)})" if found else ""
        return "missing", f"no {expected} in the submission{other}"
    for name in present:
        try:
            _read_notebook(submission.folder / f"{name}.ipynb")
        except CRMError as exc:
            return "error", str(exc)
    return None


def _status_from_notebooks(folder: Path, limits: Limits) -> tuple[str, list[str]]:
    """Read how grading went from the autograded notebooks' error outputs."""
    status, notes = "graded", []
    for path in sorted(folder.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        stopped = False
        for index, cell in enumerate(nb.cells):
            label = f"{_cell_label(cell, index)} of {path.name}"
            names = {o.ename for o in cell.get("outputs", []) if o.output_type == "error"}
            if KERNEL_DIED in names:
                status = "crashed"
                notes.append(f"the kernel died in {label}")
            elif TIMED_OUT in names:
                status = "timeout" if status == "graded" else status
                notes.append(f"{label} ran over the time limit of {limits.timeout} s")
            if NOT_RUN in names and not stopped:
                stopped = True
                notes.append("the cells after it were not run")
            if OUTPUT_LIMIT in names:
                notes.append(f"{label} printed more than {limits.output_kb} kB and was stopped")
            if any("MemoryError" in name for name in names):  # numpy's too
                notes.append(f"{label} ran out of memory (limit {limits.memory_mb} MB)")
    return status, notes


def _merge(course: Course, task: _Task) -> tuple[float, list[str]]:
    """Copy a graded scratch course into the course; (score, notes on manual grading)."""
    scratch_url = f"sqlite:///{task.scratch / 'gradebook.db'}"
    assignment, student = task.assignment, task.student
    with (
        warnings.catch_warnings(),  # nbgrader's own SQLAlchemy session warnings
        Gradebook(scratch_url, course.course_id) as src,
        Gradebook(course.db_url, course.course_id) as dst,
    ):
        graded = src.find_submission(assignment, student)
        warnings.simplefilter("ignore", SAWarning)
        dst.update_or_create_student(student)
        dst.update_or_create_submission(assignment, student, timestamp=graded.timestamp)
        for notebook in graded.notebooks:
            target = dst.find_submission_notebook(notebook.name, assignment, student)
            target.late_submission_penalty = notebook.late_submission_penalty
            for grade in notebook.grades:
                mine = dst.find_grade(grade.name, notebook.name, assignment, student)
                mine.auto_score = grade.auto_score
                mine.needs_manual_grade = grade.needs_manual_grade
            for comment in notebook.comments:
                mine = dst.find_comment(comment.name, notebook.name, assignment, student)
                mine.auto_comment = comment.auto_comment
        dst.db.commit()
        dst.db.expire_all()
        merged = dst.find_submission(assignment, student)
        score = float(merged.score)
        pending = sum(
            float(grade.max_score)
            for notebook in merged.notebooks
            for grade in notebook.grades
            if grade.needs_manual_grade
        )
    notes = [f"{pending:g} points to grade by hand"] if pending else []
    for step in ("submitted", "autograded", "feedback"):
        source = task.scratch / step / student / assignment
        target = course.folder(step) / student / assignment
        shutil.rmtree(target, ignore_errors=True)  # nothing stale from an earlier grading
        if source.is_dir():
            shutil.copytree(source, target)
    return score, notes


def _finish(
    course: Course, task: _Task, outcome: dict, notebooks: list[str], max_score: float
) -> GradeResult:
    """Turn a worker's outcome into a result, merging a graded scratch course."""
    student, assignment = task.student, task.assignment
    if outcome.get("overdue"):
        reason = f"grading took over {outcome['overdue']:.0f} s and was stopped"
        return GradeResult(student, assignment, None, max_score, "timeout", reason)
    if not outcome["ok"]:
        reason = f"nbgrader autograde failed: {_last_error(outcome['log'])}"
        return GradeResult(student, assignment, None, max_score, "error", reason)
    autograded = task.scratch / "autograded" / student / assignment
    status, notes = _status_from_notebooks(autograded, task.limits)
    score, manual = _merge(course, task)
    submitted = task.scratch / "submitted" / student / assignment
    missing = [f"{n}.ipynb" for n in notebooks if not (submitted / f"{n}.ipynb").is_file()]
    if missing:
        notes.append(f"missing {', '.join(missing)} (scored 0)")
    if outcome["feedback"]:
        notes.append(f"no feedback: {outcome['feedback']}")
    flags = list(outcome.get("flags", []))
    reason = "; ".join(notes + flags + manual)
    return GradeResult(student, assignment, score, max_score, status, reason, flags)


@dataclass
class _Worker:
    """A worker process, the socket to it, its scratch folders and its current task.

    A worker alternates between two scratch folders, so that it can grade
    the next submission while the parent merges the last one.
    """

    process: subprocess.Popen
    conn: multiprocessing.connection.Connection
    scratches: tuple[tuple[Path, tuple[str, ...]], ...] = ()
    task: _Task | None = None
    deadline: float = 0.0
    turn: int = 0

    @classmethod
    def start(cls) -> _Worker:
        parent, child = socket.socketpair()
        code = "import sys; from crmlib.grading import _worker_main; _worker_main(int(sys.argv[1]))"
        # Kernels inherit the worker's stdout and stderr: keep their noise off the terminal.
        process = subprocess.Popen(
            [sys.executable, "-c", code, str(child.fileno())],
            pass_fds=(child.fileno(),),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        child.close()
        return cls(process, multiprocessing.connection.Connection(parent.detach()))

    def upcoming(self) -> tuple[Path, tuple[str, ...]]:
        """The scratch folder of the next task, and the sandbox arguments that bind it."""
        return self.scratches[(self.turn + 1) % len(self.scratches)]

    def ask_to_exit(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.conn.send(None)

    def stop(self, wait: float = 0) -> None:
        """Give the worker ``wait`` seconds to exit, then kill it."""
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(wait)
        if self.process.poll() is None:
            self.process.kill()  # its sandboxed kernel dies with it (bwrap --die-with-parent)
            self.process.wait(5)
        self.conn.close()


class _Pool:
    """Worker processes, each grading one scratch course at a time.

    :meth:`collect` yields ``(task, outcome)`` as tasks finish; a worker that
    dies or overruns its deadline is killed and replaced, and its task gets
    an outcome that says so.
    """

    def __init__(self, size: int, scratch: Path, sandbox: Callable[[Path], tuple[str, ...]]):
        self.scratch, self.sandbox, self.started = scratch, sandbox, 0
        # all processes first: they import nbgrader while the parent carries on
        self.workers = [_Worker.start() for _ in range(size)]
        try:
            for worker in self.workers:
                self._give_scratch(worker)
        except BaseException:
            self.close()
            raise

    def _give_scratch(self, worker: _Worker) -> _Worker:
        self.started += 1
        folders = [self.scratch / f"worker{self.started}{half}" for half in "ab"]
        worker.scratches = tuple((folder, self.sandbox(folder)) for folder in folders)
        return worker

    def idle(self) -> list[_Worker]:
        return [w for w in self.workers if w.task is None]

    def busy(self) -> bool:
        return any(w.task is not None for w in self.workers)

    def submit(self, worker: _Worker, task: _Task, budget: float) -> None:
        worker.conn.send(task)
        worker.task, worker.deadline = task, time.monotonic() + budget
        worker.turn += 1

    def collect(self, budget: float, timeout: float = 1.0) -> list[tuple[_Task, dict]]:
        finished = []
        busy = {w.conn: w for w in self.workers if w.task is not None}
        for conn in multiprocessing.connection.wait(list(busy), timeout=timeout):
            worker = busy[conn]
            task, worker.task = worker.task, None
            try:
                outcome = conn.recv()
            except (EOFError, OSError):
                outcome = {"ok": False, "log": "the grading worker died", "feedback": None}
                self._replace(worker)
            finished.append((task, outcome))
        for worker in list(self.workers):
            if worker.task is not None and time.monotonic() > worker.deadline:
                task = worker.task
                self._replace(worker)
                finished.append((task, {"overdue": budget}))
        return finished

    def _replace(self, worker: _Worker) -> None:
        worker.stop()
        self.workers[self.workers.index(worker)] = self._give_scratch(_Worker.start())

    def close(self) -> None:
        """Stop the workers: those done are asked to exit (all at once), the others killed."""
        done = [w for w in self.workers if w.task is None and w.turn]
        for worker in done:
            worker.ask_to_exit()
        for worker in self.workers:
            worker.stop(wait=5 if worker in done else 0)


def _prepare(task: _Task, submission: Submission, snapshot: Path) -> None:
    """Lay out a scratch course: gradebook copy, the submission, runtime folders."""
    shutil.rmtree(task.scratch, ignore_errors=True)
    task.scratch.mkdir(parents=True)
    shutil.copy(snapshot, task.scratch / "gradebook.db")
    shutil.copytree(submission.folder, task.scratch / "submitted" / task.student / task.assignment)
    (task.scratch / "runtime").mkdir()
    (task.scratch / "work").mkdir()
    mpl = _matplotlib_cache()
    if mpl is not None:
        (task.scratch / "matplotlib").mkdir()
        for font_list in mpl.glob("fontlist*.json"):
            shutil.copy(font_list, task.scratch / "matplotlib")


def _refuse_unsandboxed(problem: str) -> None:
    raise CRMError(
        f"cannot sandbox student code: {problem}. Install bubblewrap "
        "(apt-get install bubblewrap) or pass --unsafe to grade without a sandbox "
        "(student code then runs as you and can read the exercises and the gradebook)"
    )


def default_jobs() -> int:
    """The number of cores this process may use."""
    return len(os.sched_getaffinity(0))


def grade(
    assignment: str,
    submissions: list[Submission],
    *,
    course: Course | None = None,
    jobs: int | None = None,
    limits: Limits | None = None,
    unsafe: bool = False,
    on_result: Callable[[GradeResult, int, int], None] | None = None,
) -> list[GradeResult]:
    """Autograde submissions in parallel, each in a sandboxed kernel, and merge the grades.

    Parameters
    ----------
    assignment : str
        A released assignment.
    submissions : list of Submission
        From :func:`find_submissions` (student ids must be unique).
    course : Course, optional
        Default: the repository's course.
    jobs : int, optional
        Worker processes (default: the number of cores).
    limits : Limits, optional
        Time, memory, output and disk limits (default timeout: the course's
        ``Execute.timeout``).
    unsafe : bool, default False
        Grade without the sandbox when bubblewrap cannot run (student code
        then runs as you and can read the course). Without it, grading
        refuses.
    on_result : callable, optional
        Called as ``on_result(result, done, total)`` after each submission.

    Returns
    -------
    list of GradeResult
        One per submission, in the order given. Statuses: ``graded``,
        ``timeout`` (a cell ran over its limit), ``crashed`` (the kernel
        died), ``missing`` (no notebook), ``error`` (not gradable: a broken
        notebook file or an nbgrader failure; score None).
    """
    course = course or Course.load()
    course.masters(assignment)
    students = [s.student for s in submissions]
    duplicated = sorted({s for s in students if students.count(s) > 1})
    if duplicated:
        raise CRMError(f"more than one submission for {', '.join(duplicated)}")
    if limits is None:
        limits = Limits(timeout=int(course.config.Execute.get("timeout", 30)))
    jobs = max(1, jobs or default_jobs())
    results: dict[int, GradeResult] = {}

    def record(index: int, result: GradeResult) -> None:
        results[index] = result
        if on_result is not None:
            on_result(result, len(results), len(submissions))

    if not unsafe and shutil.which("bwrap") is None:
        _refuse_unsandboxed("bubblewrap (bwrap) is not installed")
    with _course_lock(course), tempfile.TemporaryDirectory(prefix="crm-grade-") as tmp:
        tmp = Path(tmp)
        hidden = (course.root, course.source, tmp)

        def sandbox(scratch: Path) -> tuple[str, ...]:
            if unsafe:
                return ()
            return tuple(sandbox_command(scratch / "work", scratch / "runtime", limits, hidden))

        # The workers import nbgrader while the parent probes the sandbox and
        # reads the submissions.
        pool = _Pool(min(jobs, len(submissions)), tmp, sandbox)
        try:
            problem = None if unsafe else sandbox_problem()
            if problem:
                _refuse_unsandboxed(problem)
            notebooks, max_score, code_cells = _released_notebooks(course, assignment)
            answer_key = tuple(
                rule
                for path in course.masters(assignment)
                for rule in answer_key_rules(_read_notebook(path), path.stem)
            )
            snapshot = tmp / "gradebook-snapshot.db"
            shutil.copy(course.gradebook, snapshot)
            pending: deque[tuple[int, Submission]] = deque()
            for index, submission in enumerate(submissions):
                problem = _precheck(submission, notebooks)
                if problem is None:
                    pending.append((index, submission))
                    continue
                status, reason = problem
                score = 0.0 if status == "missing" else None
                result = GradeResult(
                    submission.student, assignment, score, max_score, status, reason
                )
                record(index, result)

            def start(worker: _Worker, index: int, submission: Submission) -> _Task:
                scratch, args = worker.upcoming()
                task = _Task(
                    index,
                    submission.student,
                    assignment,
                    scratch,
                    course.config_file,
                    limits,
                    args,
                    answer_key,
                )
                _prepare(task, submission, snapshot)
                return task

            def finish(task: _Task, outcome: dict) -> None:
                record(task.index, _finish(course, task, outcome, notebooks, max_score))

            budget = limits.timeout * (code_cells + 3) + 120
            _drain(pool, pending, start, finish, budget)
        finally:
            pool.close()
    return [results[index] for index in range(len(submissions))]


def _drain(
    pool: _Pool,
    pending: deque,
    start: Callable[..., _Task],
    finish: Callable[[_Task, dict], None],
    budget: float,
) -> None:
    """Grade every pending submission, keeping every worker busy.

    The parent merges finished submissions one at a time and hands out new
    ones between two merges, so that a worker never waits for a merge, and
    never gets a scratch folder whose last submission is not merged yet.
    """
    finished: deque[tuple[_Task, dict]] = deque()
    unmerged: set[Path] = set()

    def dispatch() -> None:
        for worker in pool.idle():
            if pending and worker.upcoming()[0] not in unmerged:
                pool.submit(worker, start(worker, *pending.popleft()), budget)

    while pending or pool.busy() or finished:
        dispatch()
        for task, outcome in pool.collect(budget, timeout=0 if finished else 1.0):
            finished.append((task, outcome))
            unmerged.add(task.scratch)
        dispatch()
        if finished:
            task, outcome = finished.popleft()
            finish(task, outcome)
            unmerged.discard(task.scratch)


def write_grades_csv(results: list[GradeResult], path: str | Path) -> Path:
    """Write ``grades.csv``: student, assignment, score, max_score, status, reason."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        for result in sorted(results, key=lambda r: r.student):
            writer.writerow(result.row())
    return path
