"""One lesson of a report run: executed with papermill, scrubbed, written as notebook and HTML.

What runs is the lesson's batch form
(:func:`crmlib.report.lessons.batch_notebook`): its ``explorer`` cells
(ipywidgets) are left out, as a static page cannot use them, and executing
widget cells headless can stall nbclient for the whole cell timeout
(jupyter/nbclient issue 312; measured here: 600 s on a loaded machine).
Failures still name the cell by its number in the lesson file. A lesson that
stops early without an error (``sys.exit``) counts as failed.

**Privacy.** Parameters holding paths or secrets are replaced by
placeholders in the executed notebooks (papermill metadata, the injected
parameters cell and any output); see :mod:`crmlib.data.privacy` for
pseudonyms and small-cell suppression.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from crmlib import results
from crmlib.data import privacy
from crmlib.report.html import REPORT_VIEW, lesson_title, write_html
from crmlib.report.kernels import (
    KERNEL_ENV,
    Kernels,
    KernelStartError,
    cancel_leftover_tasks,
    start_and_run,
)
from crmlib.report.lessons import EXPLORER_TAG, batch_notebook
from crmlib.report.pages import Page, navigation
from crmlib.report.parameters import (
    HIDDEN_PATH,
    HIDDEN_REPORT,
    SET_BY_REPORT,
    lesson_name,
)

WAIT_TAG = "wait-for-results"  # the summary's cell that waits for them: no per-cell timeout


@dataclass
class LessonRun:
    """What happened to one lesson in a report run."""

    lesson: str
    notebook: str
    status: str = "pending"  # complete | failed | skipped
    reason: str = ""
    seconds: float = 0.0
    html: str = ""
    results: dict = field(default_factory=dict)
    title: str = ""
    parameters: dict = field(default_factory=dict)
    started: float = 0.0  # seconds after the run started
    startup_seconds: float = 0.0  # until the first cell ran: kernel start, parameters
    kernel_starts: int = 0  # attempts to start the kernel (more than 1: it was slow to start)
    compute_seconds: float = 0.0  # the cells' own run time, summed
    cells: int = 0  # code cells
    cells_run: int = 0


@dataclass
class Progress:
    """A progress event of one lesson, passed to ``run_report(progress=…)``."""

    lesson: str
    status: str  # running | complete | failed | skipped
    cell: int  # code cells finished
    cells: int  # code cells in the lesson
    seconds: float
    reason: str = ""


class _Tracker:
    """Follows papermill's hooks: the notebook being run, which cell runs, progress."""

    def __init__(self, lesson: str, cells: int, notify, start: float):
        self.lesson, self.cells, self.notify, self.start = lesson, cells, notify, start
        self.nb = None  # the executed notebook, in memory (papermill writes no file)
        self.current = None  # the cell running (or last run)
        self.done = 0
        self.first_cell_at: float | None = None

    def on_notebook_start(self, notebook, **_):
        self.nb = notebook

    def on_cell_execute(self, cell, cell_index, **_):
        if self.first_cell_at is None:
            self.first_cell_at = time.perf_counter()
        self.current = cell

    def on_cell_executed(self, cell, cell_index, **_):
        if "injected-parameters" in cell.metadata.get("tags", []):
            return
        self.done += 1
        if self.notify:
            elapsed = time.perf_counter() - self.start
            self.notify(Progress(self.lesson, "running", self.done, self.cells, elapsed))


def run_lesson(
    notebook: Path,
    parameters: dict,
    workdir: Path,
    timeout: int | None,
    kernels: Kernels | None = None,
    progress=None,
    html_name: str | None = None,
    hidden: dict[str, str] | None = None,
    run_start: float | None = None,
    view: str = REPORT_VIEW,
    client: str = "",
    pages: list[Page] | None = None,
) -> LessonRun:
    """Execute one lesson with papermill in ``workdir``; never raises for a lesson failure.

    What runs is the lesson's batch form (:func:`crmlib.report.lessons.batch_notebook`:
    without its ``explorer`` cells, which need a person at JupyterLab). The
    kernel starts in ``workdir`` without changing this process's working
    directory (papermill's ``cwd=`` would ``os.chdir``, which threads share),
    and papermill writes no file: the executed notebook is written once,
    scrubbed, as ``workdir/<notebook>``, with its HTML copy.

    Parameters
    ----------
    notebook : Path
        The lesson.
    parameters : dict
        Values for its parameters cell.
    workdir : Path
        Where the executed notebook, its HTML and its results file go.
    timeout : int or None
        Seconds a single cell may run.
    kernels : optional
        The run's kernel registry; default a private one, emptied at the end.
    progress : callable, optional
        Called with a :class:`Progress` after each cell.
    html_name : str, optional
        The HTML file name; default ``<notebook>.html``.
    hidden : dict, optional
        Clear text to replace in the executed notebook (value → placeholder).
    run_start : float, optional
        ``time.perf_counter()`` at the start of the run, for ``LessonRun.started``.
    view : {"report", "lesson"}
        Which view of the lesson the HTML page shows (:func:`crmlib.report.html.write_html`).
    client : str
        The client's name, for the page's top bar and print header.
    pages : list of Page, optional
        The report's sections, for the page's top bar (none: no top bar).
    """
    import copy

    import nbformat
    import papermill
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from papermill.exceptions import PapermillExecutionError

    own_kernels = kernels is None
    kernels = kernels or Kernels(dict(KERNEL_ENV, **{results.RESULTS_ENV: str(workdir)}))
    name = lesson_name(notebook)
    lesson_nb = nbformat.read(notebook, as_version=4)
    batch = batch_notebook(notebook)
    cells = sum(c.cell_type == "code" for c in batch.cells)
    run = LessonRun(
        lesson=name, notebook=notebook.name, title=lesson_title(lesson_nb, name), cells=cells
    )
    start = time.perf_counter()
    run.started = round(start - (run_start or start), 2)
    tracker = _Tracker(name, cells, progress, start)
    if progress:
        progress(Progress(name, "running", 0, cells, 0.0))
    nb = None

    def execute(start_timeout: int):
        return papermill.execute_notebook(
            copy.deepcopy(batch),
            None,
            parameters=parameters,
            execution_timeout=timeout,
            timeout_func=lambda cell: (
                None if WAIT_TAG in cell.metadata.get("tags", []) else timeout
            ),
            progress_bar=False,
            log_output=False,
            start_timeout=start_timeout,
            resources={"metadata": {"path": str(workdir)}},
            kernel_manager_class=kernels.manager_class,
            shutdown_kernel="immediate",
            on_notebook_start=tracker.on_notebook_start,
            on_cell_execute=tracker.on_cell_execute,
            on_cell_executed=tracker.on_cell_executed,
        )

    try:
        nb = start_and_run(execute, tracker, kernels, timeout, run)
        run.status = "complete"
    except PapermillExecutionError as exc:
        run.status, run.reason = "failed", f"{exc.ename}: {exc.evalue}"
    except CellTimeoutError:
        run.status, run.reason = "failed", f"timed out after {timeout} s (the per-cell timeout)"
    except DeadKernelError:
        run.status, run.reason = "failed", "the kernel died (it crashed or was killed)"
    except KernelStartError as exc:
        run.status, run.reason = "failed", str(exc)
    except Exception as exc:  # any other failure fails the lesson; the report goes on
        first = str(exc).splitlines()[0] if str(exc) else ""
        run.status, run.reason = "failed", f"{type(exc).__name__}: {first}".rstrip(": ")
    finally:
        if own_kernels:
            kernels.kill_all()
        cancel_leftover_tasks()
    run.seconds = round(time.perf_counter() - start, 2)
    if tracker.first_cell_at is not None:
        run.startup_seconds = round(tracker.first_cell_at - start, 2)
    nb = nb if nb is not None else tracker.nb
    if run.status == "failed" and tracker.current is not None:
        run.reason = f"{_cell_label(lesson_nb, nb, tracker.current)}: {run.reason}"
    if nb is not None:
        try:
            if run.status == "complete":
                never = _first_unrun(nb)
                if never is not None:
                    label = _cell_label(lesson_nb, nb, never)
                    run.status, run.reason = (
                        "failed",
                        f"{label} never ran: the lesson stopped early",
                    )
            run.compute_seconds = round(_compute_seconds(nb), 2)
            run.cells_run = sum(
                c.cell_type == "code"
                and c.get("execution_count") is not None
                and "injected-parameters" not in c.metadata.get("tags", [])
                for c in nb.cells
            )
            nb = _scrub(nb, notebook.name, parameters, hidden or {})
            nbformat.write(nb, workdir / notebook.name)
            html_path = workdir / (html_name or Path(notebook.name).with_suffix(".html").name)
            nav = navigation(client, pages, html_path.name) if pages is not None else ""
            write_html(nb, html_path, run.title, view=view, client=client, nav=nav)
            run.html = html_path.name
        except Exception as exc:  # a broken page fails the lesson, not the run
            run.status = "failed"
            run.reason = f"the report page could not be written: {exc}"
    results_file = workdir / f"{name}{results.RESULTS_SUFFIX}"
    if results_file.exists():
        run.results = json.loads(results_file.read_text(encoding="utf-8"))
    if progress:
        progress(Progress(name, run.status, run.cells_run, cells, run.seconds, run.reason))
    return run


def _cell_label(lesson_nb, executed, cell) -> str:
    """'cell N (first line)' for a cell of the executed notebook, N counted in the lesson.

    The executed notebook is the lesson without its explorer cells, plus
    papermill's injected-parameters cell (and, after an error, its banner
    cells): N is the cell's position in the lesson file, from 1.
    """
    own = [
        c
        for c in executed.cells
        if not {"injected-parameters", "papermill-error-cell-tag"} & set(c.metadata.get("tags", []))
    ]
    kept = [
        i for i, c in enumerate(lesson_nb.cells) if EXPLORER_TAG not in c.metadata.get("tags", [])
    ]
    position = next((i for i, c in enumerate(own) if c is cell), None)
    if position is None or position >= len(kept):  # the injected cell itself
        return "the injected parameters cell"
    lines = cell.source.strip().splitlines()
    first = lines[0][:60] if lines else ""
    return f"cell {kept[position] + 1} ({first})"


def _first_unrun(nb):
    """The first code cell that never ran (e.g. after sys.exit), or None."""
    for cell in nb.cells:
        if cell.cell_type == "code" and cell.source.strip() and cell.get("execution_count") is None:
            return cell
    return None


def _compute_seconds(nb) -> float:
    return sum(
        float(c.metadata.get("papermill", {}).get("duration") or 0.0)
        for c in nb.cells
        if c.cell_type == "code"
    )


def _scrub(nb, name: str, parameters: dict, hidden: dict[str, str]):
    """Keep paths and secrets out of an executed notebook, wherever papermill put them.

    The papermill metadata keeps only the notebook's name and redacted
    parameters; then every clear value in ``hidden`` (and every parameter
    :func:`crmlib.data.privacy.redact_parameters` hides) is replaced in the whole
    notebook: the injected-parameters cell, outputs, tracebacks.
    """
    import nbformat

    redacted = privacy.redact_parameters(
        parameters,
        {"data_path": HIDDEN_PATH, **dict.fromkeys(SET_BY_REPORT, HIDDEN_REPORT)},
    )
    for key, value in parameters.items():  # e.g. the data snapshot: shown as the data it holds
        if isinstance(value, (str, os.PathLike)) and str(value) in hidden:
            redacted[key] = hidden[str(value)]
    clear = dict(hidden)
    for key, value in parameters.items():
        if redacted.get(key) != value and isinstance(value, (str, os.PathLike)):
            clear.setdefault(str(value), str(redacted[key]))
    meta = nb.metadata.setdefault("papermill", {})
    meta["input_path"] = meta["output_path"] = name
    meta.pop("cwd", None)
    meta["parameters"] = redacted
    meta["environment_variables"] = {}
    text = json.dumps(nb)
    for value in sorted(clear, key=len, reverse=True):
        if value:
            text = text.replace(json.dumps(value)[1:-1], json.dumps(clear[value])[1:-1])
    return nbformat.from_dict(json.loads(text))
