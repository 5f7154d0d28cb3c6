"""The nbgrader course: its configuration file, folders and lock, nbgrader's converters.

The course is an nbgrader course (Hamrick, J. B. (2016), "Creating and grading
IPython/Jupyter notebook assignments with NbGrader", Proc. SIGCSE '16, 242;
nbgrader 0.9 documentation) configured by ``nbgrader_config.py`` at the
repository root (:class:`Course`). This module also holds what every step of
the course shares: the solution and hidden-test markers, reading a notebook,
naming a cell in a message, running an nbgrader converter with its log, the
gradebook's record of a released assignment and spreadsheet-safe CSV text.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import logging
import os
import re
import sys
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook, MissingEntry
from traitlets.config import Config, PyFileConfigLoader

from crmlib.errors import CRMError

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CONFIG = REPO_ROOT / "nbgrader_config.py"

SOLUTION_BEGIN, SOLUTION_END = "BEGIN SOLUTION", "END SOLUTION"
HIDDEN_BEGIN, HIDDEN_END = "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"


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
        try:
            config = PyFileConfigLoader(path.name, path=str(path.parent)).load_config()
        except Exception as exc:  # the file is Python: any error of its code can surface
            line = getattr(exc, "lineno", None)
            where = f", line {line}" if line else ""
            raise CRMError(
                f"the nbgrader configuration {path.name}{where} could not be read: "
                f"{type(exc).__name__}: {getattr(exc, 'msg', None) or exc}"
            ) from None
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
def course_lock(course: Course) -> Iterator[None]:
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


def run_converter(app) -> tuple[bool, str]:
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


def last_error(log: str) -> str:
    """The most telling line of a failed nbgrader run's log."""
    lines = [line.strip() for line in log.splitlines() if line.strip()]
    for line in reversed(lines):  # the exception itself, not nbgrader's summary of it
        if re.match(r"^[A-Za-z_.]*(Error|Exception)\b.*:", line) and "NbGrader" not in line:
            return line
    errors = [line for line in lines if line.startswith("[ERROR]")]
    return (errors[0] if errors else lines[-1] if lines else "no log").removeprefix("[ERROR] ")


def read_notebook(path: Path, label: str | None = None) -> nbformat.NotebookNode:
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


def cell_label(cell, index: int) -> str:
    """How messages name a cell: its grade id, or its position in the notebook."""
    grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
    return repr(grade_id) if grade_id else f"cell {index + 1}"


# --- the gradebook and its exports --------------------------------------------


def released_assignment(gb: Gradebook, assignment: str):
    """The gradebook's record of ``assignment``; a :class:`CRMError` when it was never released."""
    try:
        return gb.find_assignment(assignment)
    except MissingEntry:
        raise CRMError(
            f"{assignment} has not been released: run crm exercises release {assignment}"
        ) from None


def spreadsheet_cell(value) -> str:
    """A value as CSV text that a spreadsheet shows and never runs as a formula.

    Text starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return
    gets a leading ``'`` (OWASP, "CSV Injection"); None is empty.
    """
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(("=", "+", "-", "@", "\t", "\r")) else text
