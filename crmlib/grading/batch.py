"""Grade a batch of submissions in parallel and merge the grades (``crm grade``).

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

Each student's kernel runs in the sandbox of :mod:`crmlib.grading.sandbox`;
a worker's side of the work is :mod:`crmlib.grading.worker`.
"""

from __future__ import annotations

import contextlib
import csv
import multiprocessing
import multiprocessing.connection
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook
from sqlalchemy.exc import SAWarning

from crmlib.errors import CRMError
from crmlib.grading.answer_key import answer_key_rules
from crmlib.grading.course import (
    Course,
    cell_label,
    course_lock,
    last_error,
    read_notebook,
    released_assignment,
    spreadsheet_cell,
)
from crmlib.grading.sandbox import (
    KERNEL_DIED,
    NOT_RUN,
    OUTPUT_LIMIT,
    TIMED_OUT,
    Limits,
    matplotlib_cache,
    sandbox_command,
    sandbox_problem,
)
from crmlib.grading.submissions import Submission
from crmlib.grading.worker import Task

STATUSES = ("graded", "timeout", "crashed", "missing", "error")
CSV_COLUMNS = ("student", "assignment", "score", "max_score", "status", "reason")


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
        row = {key: spreadsheet_cell(value) for key, value in values.items()}
        row["score"] = "" if self.score is None else round(self.score, 2)
        row["max_score"] = round(self.max_score, 2)
        return row


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
        sum(cell.cell_type == "code" for cell in read_notebook(path).cells)
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
            read_notebook(submission.folder / f"{name}.ipynb")
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
            label = f"{cell_label(cell, index)} of {path.name}"
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


def _merge(course: Course, task: Task) -> tuple[float, list[str]]:
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
    course: Course, task: Task, outcome: dict, notebooks: list[str], max_score: float
) -> GradeResult:
    """Turn a worker's outcome into a result, merging a graded scratch course."""
    student, assignment = task.student, task.assignment
    if outcome.get("overdue"):
        reason = f"grading took over {outcome['overdue']:.0f} s and was stopped"
        return GradeResult(student, assignment, None, max_score, "timeout", reason)
    if not outcome["ok"]:
        reason = f"nbgrader autograde failed: {last_error(outcome['log'])}"
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
    task: Task | None = None
    deadline: float = 0.0
    turn: int = 0

    @classmethod
    def start(cls) -> _Worker:
        parent, child = socket.socketpair()
        code = "import sys; from crmlib.grading.worker import worker_main; worker_main(int(sys.argv[1]))"
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

    def submit(self, worker: _Worker, task: Task, budget: float) -> None:
        worker.conn.send(task)
        worker.task, worker.deadline = task, time.monotonic() + budget
        worker.turn += 1

    def collect(self, budget: float, timeout: float = 1.0) -> list[tuple[Task, dict]]:
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


def _prepare(task: Task, submission: Submission, snapshot: Path) -> None:
    """Lay out a scratch course: gradebook copy, the submission, runtime folders."""
    shutil.rmtree(task.scratch, ignore_errors=True)
    task.scratch.mkdir(parents=True)
    shutil.copy(snapshot, task.scratch / "gradebook.db")
    shutil.copytree(submission.folder, task.scratch / "submitted" / task.student / task.assignment)
    (task.scratch / "runtime").mkdir()
    (task.scratch / "work").mkdir()
    mpl = matplotlib_cache()
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
        From :func:`~crmlib.grading.submissions.find_submissions` (student ids must be unique).
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
    with course_lock(course), tempfile.TemporaryDirectory(prefix="crm-grade-") as tmp:
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
                for rule in answer_key_rules(read_notebook(path), path.stem)
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

            def start(worker: _Worker, index: int, submission: Submission) -> Task:
                scratch, args = worker.upcoming()
                task = Task(
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

            def finish(task: Task, outcome: dict) -> None:
                record(task.index, _finish(course, task, outcome, notebooks, max_score))

            budget = limits.timeout * (code_cells + 3) + 120
            _drain(pool, pending, start, finish, budget)
        finally:
            pool.close()
    return [results[index] for index in range(len(submissions))]


def _drain(
    pool: _Pool,
    pending: deque,
    start: Callable[..., Task],
    finish: Callable[[Task, dict], None],
    budget: float,
) -> None:
    """Grade every pending submission, keeping every worker busy.

    The parent merges finished submissions one at a time and hands out new
    ones between two merges, so that a worker never waits for a merge, and
    never gets a scratch folder whose last submission is not merged yet.
    """
    finished: deque[tuple[Task, dict]] = deque()
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
