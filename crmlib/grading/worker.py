"""Grade one submission in its scratch course, in a worker process of :mod:`crmlib.grading.batch`.

A worker (:func:`worker_main`) receives :class:`Task` objects on a socket,
runs nbgrader's ``autograde`` with the sandboxed kernel
(:mod:`crmlib.grading.sandbox`), voids the automatic credit of questions
whose answer uses the answer key (:mod:`crmlib.grading.answer_key`), writes
the feedback (:mod:`crmlib.grading.feedback`) and sends back the outcome.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import multiprocessing.connection
import traceback
import warnings
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbconvert.exporters import NotebookExporter
from nbconvert.preprocessors import ClearMetadataPreprocessor
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.converters import Autograde, GenerateFeedback
from nbgrader.coursedir import CourseDirectory
from nbgrader.preprocessors import (
    AssignLatePenalties,
    CheckCellMetadata,
    IgnorePattern,
    LimitOutput,
    SaveAutoGrades,
)
from sqlalchemy.exc import SAWarning
from traitlets.config import Config

from crmlib.grading.answer_key import AnswerKeyRule, answer_key_uses
from crmlib.grading.course import Course, last_error, run_converter
from crmlib.grading.feedback import FEEDBACK_PREPROCESSORS, FeedbackExporter
from crmlib.grading.sandbox import GuardedExecute, Limits, SandboxedKernelManager

# --- grading one submission (in a worker process) --------------------------------


@dataclass(frozen=True)
class Task:
    """One submission to grade in its scratch course."""

    index: int
    student: str
    assignment: str
    scratch: Path
    config_file: Path
    limits: Limits
    sandbox_args: tuple[str, ...]
    answer_key: tuple[AnswerKeyRule, ...] = ()


def _scratch_config(task: Task) -> Config:
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


def _grade_in_scratch(task: Task, converters: dict | None = None) -> dict:
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
    ok, log = run_converter(autograde)
    result = {"ok": ok, "log": log, "feedback": None, "flags": []}
    if ok:
        result["flags"] = _withhold_answer_key_credit(task)
        done, feedback_log = run_converter(feedback)
        result["feedback"] = None if done else last_error(feedback_log)
    return result


def worker_main(fd: int) -> None:
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


def _withhold_answer_key_credit(task: Task) -> list[str]:
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
