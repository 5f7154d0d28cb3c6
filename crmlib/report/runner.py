"""Run the lessons as a client report: papermill → executed notebooks → HTML → index.

:func:`run_report` validates the client folder first (unusable data stops the
run with the validation message), checks every parameter against the
lessons' ``parameters`` cells, then executes the lessons in ``notebooks/``
with papermill against the validated data, several at once, and writes::

    DIR/index.html              the executive summary (lesson 05_client_summary)
    DIR/NN_<lesson>.ipynb       each lesson, executed
    DIR/NN_<lesson>.html        the same with its code hidden, for the client
    DIR/manifest.json           status, time and parameters per lesson, the data
                                fingerprint, package versions and seeds
    DIR/summary.pdf             with ``pdf=True``: the summary, then every section
                                (headless Chromium, :mod:`crmlib.report.pdf`)

**HTML.** Every lesson becomes a page that opens offline
(:mod:`crmlib.report.html`): the report view (code hidden, cells for
students left out) or, with ``view="lesson"``, the lesson view (code shown).
What runs is each lesson's batch form, without its interactive explorers
(:mod:`crmlib.report.execute`). Every page carries the report's navigation
(:mod:`crmlib.report.pages`): the pages are known before the lessons run,
their statuses only after, so the final top bar is written into every page
once the run is over.

**Validated once.** The folder is validated once, by the run: the result
is written as a data snapshot (:mod:`crmlib.data.snapshot`: Parquet per table and
a small manifest) in the work folder, and each lesson's ``data_path`` names
the snapshot, which :func:`crmlib.data.datasets.load` reads back as validated in a
fraction of the time. The snapshot holds personal data: it is deleted before
the report moves into place, complete or not. ``snapshot=False``
(``crm report --no-snapshot``) lets every lesson load the folder itself.

**At scale.** With ``engine="duckdb"`` or ``"spark"`` the folder is never
loaded whole: :func:`crmlib.pipeline.at_scale` validates it out of core,
computes the per-customer tables once on every accepted row (what ``crm
aggregate`` writes) and draws a seeded sample of customers with all their
rows. The lessons load the sample (it becomes the snapshot) and read the
per-customer tables through their ``aggregates_dir`` parameter, so that the
figures over all customers are computed on all of them; each lesson says which
of its figures come from the sample and how large it is. The manifest records
the whole folder's row counts and rejects, the steps and the sample
(``at_scale``).

**Linked once.** When the customers table can be linked, the run links its
records once (:func:`crmlib.analytics.linkage.identify`) and writes the fitted
links (record ids, match probabilities and weights; no names, e-mails or phones)
to ``identity/`` in the work folder; every lesson that declares ``identity_dir``
reads them instead of linking again, so that all lessons count the same persons.
The folder is deleted with the snapshot before the report moves into place.

**One run per report folder.** A run holds a lock file beside ``DIR``
(``.DIR.lock``: pid, host, start) while it writes; a second run into the
same ``DIR`` is refused with a message naming the first. The lock dies with
its process, so a run that was killed leaves no lock that blocks the next.

**Kernels slow to start** are waited for and started again
(:mod:`crmlib.report.kernels`).

**Fail-safe.** The report is built in a temporary folder beside ``DIR`` and
moved into place only when every lesson completed. A failed run leaves an
earlier complete report in ``DIR`` untouched and writes what it has to
``DIR.incomplete/``, whose index says INCOMPLETE and names the failed
section, cell and error. A lesson that stops early without an error
(``sys.exit``) counts as failed. Every kernel the run starts is shut down,
also after a failure, a timeout or Ctrl-C.

**Parallel.** The lessons run ``jobs`` at a time (default: the cores) from
threads of this one process, each in a kernel process of its own. This is
safe with papermill because nothing shared changes: the kernel's working
folder goes to nbclient instead of papermill's ``cwd=`` (which would
``os.chdir`` the whole process), input and output notebooks stay in memory,
each thread gets its own asyncio loop (jupyter_core), and jupyter_client's
port cache is created once before the threads start. The summary is queued
last: it starts when a slot frees after every lesson has started, loads its
data, and waits for their results.

**Privacy.** Parameters holding paths or secrets are replaced by
placeholders in the executed notebooks and in the manifest
(:mod:`crmlib.report.execute`, :mod:`crmlib.report.index`).

**Results.** Each lesson hands its headline figures to the report through
:mod:`crmlib.results`; the summary lesson reads them back, and
``manifest.json`` lists each lesson's results and what it could not assess.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import logging
import os
import shutil
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from crmlib import engines, pipeline, results
from crmlib.analytics import linkage
from crmlib.data import datasets, privacy, rowsample, snapshot
from crmlib.errors import CRMError
from crmlib.report.execute import LessonRun, Progress, run_lesson
from crmlib.report.html import REPORT_VIEW, VIEWS, lesson_title
from crmlib.report.index import MANIFEST, build_manifest, index_page
from crmlib.report.kernels import KERNEL_ENV, Kernels
from crmlib.report.lock import OutLock
from crmlib.report.pages import Page, navigation, set_navigation
from crmlib.report.parameters import (
    AGGREGATES_PARAMETER,
    COMMON_PARAMETERS,
    ENGINE_PARAMETER,
    HIDDEN_PATH,
    HIDDEN_REPORT,
    IDENTITY_PARAMETER,
    MATCH_PARAMETER,
    NOTEBOOKS_DIR,
    RESULTS_PARAMETER,
    SET_BY_REPORT,
    SPARK_PARAMETER,
    check_parameters,
    declared_parameters,
    lesson_name,
    lesson_notebooks,
    resolve_paths,
)
from crmlib.report.pdf import CHROMIUM_ENV, CHROMIUM_NAMES, PDF_NAME, find_chromium, print_report

INDEX = "index.html"
SNAPSHOT_DIR = "data-snapshot"  # in the work folder; removed before the report moves into place
IDENTITY_DIR = "identity"  # the record linkage, run once; removed with the snapshot
SCALE_DIR = "at-scale"  # a report at scale: per-customer tables and the sample; removed likewise


@dataclass
class ReportResult:
    """``out`` is the report folder written; ``complete`` only when every lesson completed."""

    out: Path
    complete: bool
    runs: list[LessonRun]
    pdf_error: str = ""


def _check_out(out: Path) -> None:
    """Refuse to replace a folder that is not a report."""
    if out.exists() and (
        not out.is_dir()
        or (any(out.iterdir()) and not (out / MANIFEST).exists() and not (out / INDEX).exists())
    ):
        raise CRMError(
            f"{out.name} exists and is not a crm report; choose another --out (a report "
            "folder is replaced when the new report is complete)"
        )


def run_report(
    data,
    client: str,
    out: Path,
    as_of: str | None = None,
    only: list[str] | None = None,
    params: dict | None = None,
    timeout: int | None = 600,
    progress=None,
    lessons_dir: Path = NOTEBOOKS_DIR,
    jobs: int | None = None,
    pdf: bool = False,
    chromium: str | None = None,
    engine: str = "pandas",
    spark_master: str | None = None,
    snapshot: bool = True,
    view: str = REPORT_VIEW,
    sample_customers: int = rowsample.SAMPLE_CUSTOMERS,
    sample_seed: int = rowsample.SAMPLE_SEED,
    link_records: int | None = None,
    memory_limit: str | None = None,
    spark_progress=None,
) -> ReportResult:
    """Validate the client folder, run the lessons on it and build the report.

    The model lessons run ``jobs`` at a time, each in its own kernel, from
    threads of this process; the summary lesson (``05_client_summary``, when
    present) runs last, reads their results and becomes ``index.html``.

    Parameters
    ----------
    data : str or Path
        A client folder, or ``"sample"`` / ``"cdnow"``.
    client : str
        The client's name, shown in the report.
    out : Path
        The report folder.
    as_of : str, optional
        Last day of the data (YYYY-MM-DD).
    only : list of str, optional
        Lessons to run (names without number); the others are listed as skipped.
        The summary always runs.
    params : dict, optional
        Lesson parameters; each must be declared by at least one lesson.
    timeout : int or None, default 600
        Seconds a single cell may run.
    progress : callable, optional
        Called with a :class:`Progress` per lesson event, from several threads
        (one at a time).
    lessons_dir : Path
        Where the lessons are.
    jobs : int, optional
        Lessons run at once; default the number of cores, and 1 at scale
        (``engine`` "duckdb" or "spark"), where a lesson may hold every customer's
        per-customer tables.
    pdf : bool, default False
        Also print the report (the summary, then every section) to
        ``summary.pdf`` with headless Chromium.
    chromium : str, optional
        The Chromium executable (default: ``$CRM_CHROMIUM`` or on PATH).
    engine : {"pandas", "duckdb", "spark"}
        Where the lessons run their transaction-level steps
        (:mod:`crmlib.engines`): passed to every lesson that takes an
        ``engine`` parameter, and recorded in the manifest.
    spark_master : str, optional
        For ``engine="spark"``: the cluster's master URL (default: Spark
        in local mode in each lesson's kernel).
    snapshot : bool, default True
        Hand the lessons the validated data as a snapshot
        (:mod:`crmlib.data.snapshot`), so that the folder is validated once. False:
        every lesson loads and validates the client folder itself (the way
        before the snapshot; slower, kept for comparison).
    view : {"report", "lesson"}
        ``report`` (default): the client's pages, code hidden and cells tagged
        ``lesson-only`` left out; ``lesson``: the lesson view for an instructor,
        code shown and cells tagged ``report-only`` left out
        (:func:`crmlib.report.html.write_html`).
    sample_customers, sample_seed : int
        At scale (``engine`` "duckdb" or "spark"): the size and seed of the
        customer sample the lessons load (:func:`crmlib.data.rowsample.customer_sample`).
    link_records : int, optional
        At scale: the most customer records linked into persons on every record before the
        per-customer tables (:func:`crmlib.pipeline.at_scale`; default
        :data:`crmlib.pipeline.LINK_RECORDS`); past it, within the sample.
    memory_limit : str, optional
        At scale: DuckDB's memory limit for validating and sampling (default
        :data:`crmlib.engines.DUCKDB_MEMORY`).
    spark_progress : callable, optional
        At scale with ``engine="spark"``: called with a :class:`crmlib.spark.SparkProgress`
        while the per-customer tables are computed (:func:`crmlib.spark.spark_job`).

    Returns
    -------
    ReportResult
        ``complete`` is True only when every lesson completed; the report is
        then in ``out``. Otherwise it is in ``<out>.incomplete``.

    Raises
    ------
    crmlib.errors.CRMError
        Unusable data (the validation message), an unknown lesson or
        parameter, no Chromium for ``pdf``, an ``out`` that is not a report,
        or another run writing ``out`` now (see :class:`crmlib.report.lock.OutLock`).
    KeyboardInterrupt
        After stopping every kernel and removing the temporary folder.
    """
    out = Path(out).resolve()
    with OutLock(out):
        run_start = time.perf_counter()
        engines.check_engine(engine)
        if view not in VIEWS:
            raise CRMError(f"unknown view {view!r}: choose {' or '.join(VIEWS)}")
        if spark_master and engine != "spark":
            raise CRMError("--spark-master is for --engine spark")
        if engine == "spark" and importlib.util.find_spec("pyspark") is None:
            raise CRMError("--engine spark needs pyspark: pip install 'crm-workbook[spark]'")
        chromium_path = None
        if pdf:
            chromium_path = find_chromium(chromium)
            if not chromium_path:
                raise CRMError(
                    "--pdf needs Chromium, and none was found (looked for "
                    f"{', '.join(CHROMIUM_NAMES)} on PATH and ${CHROMIUM_ENV}); install it, e.g. "
                    "`apt-get install chromium`, or run without --pdf"
                )
        if jobs is None and engine in engines.SQL_ENGINES:
            jobs = 1  # at scale each lesson may hold every customer's per-customer tables
        if jobs is None:
            jobs = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        jobs = max(1, jobs or 1)
        named = str(data) in datasets.NAMED
        data = str(data) if named else Path(data).resolve()
        at_scale = engine in engines.SQL_ENGINES
        if at_scale and named and data != "sample":
            raise CRMError(f"--engine {engine} reads a client folder; {data} is loaded in memory only")
        if at_scale and not snapshot:
            raise CRMError(
                f"--no-snapshot is for a report in memory: with --engine {engine} the lessons "
                "load the sample, which only the snapshot holds"
            )
        out = Path(out).resolve()
        _check_out(out)
        if not os.environ.get(privacy.KEY_ENV, "").strip():
            key_file = privacy.key_path().expanduser().resolve()
            if any(key_file.is_relative_to(d) for d in (out, out.with_name(out.name + ".incomplete"))):
                raise CRMError("the pseudonym key file must not be inside the report folder")
        privacy.load_key()  # made (or refused) before any lesson needs it
        # at scale the folder is validated out of core once the work folder exists
        validated = None if at_scale else datasets.load(data, as_of=as_of)

        every = lesson_notebooks(None, lessons_dir)
        if not every:
            raise CRMError(f"no lessons found in {Path(lessons_dir).name}/")
        selected = lesson_notebooks(only, lessons_dir)
        summary = next((nb for nb in every if lesson_name(nb) == results.SUMMARY), None)
        models = [nb for nb in selected if nb != summary]
        skipped = [nb for nb in every if nb not in selected and nb != summary]
        pages = _pages(every, summary, skipped)

        user = dict(params or {})
        for key in SET_BY_REPORT:
            if key in user:
                raise CRMError(f"{key} is set by crm report; do not pass it")
        parameters = {"data_path": str(data), "client_name": client, "as_of": as_of}
        parameters.update(resolve_paths(user))
        to_run = models + ([summary] if summary else [])
        declared = {nb: declared_parameters(nb) for nb in to_run}
        for nb in to_run:
            check_parameters(nb, {k: v for k, v in parameters.items() if k in COMMON_PARAMETERS})
        taken = {name for nb in to_run for name in declared[nb]}
        unused = sorted(set(parameters) - taken)
        if unused:
            raise CRMError(
                f"unknown parameter(s) {', '.join(unused)}: no lesson takes them; "
                f"the lessons take: "
                f"{', '.join(sorted(taken - set(SET_BY_REPORT)))}"
            )
        for key, value in ((ENGINE_PARAMETER, engine), (SPARK_PARAMETER, spark_master)):
            if key in user:
                raise CRMError(f"set {key} with --{key.replace('_', '-')}, not --param")
            parameters[key] = value  # for the lessons that declare it

        out.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
        hidden = {str(work): HIDDEN_REPORT}
        if not named:
            hidden[str(data)] = HIDDEN_PATH
        kernels = Kernels(dict(KERNEL_ENV, **{results.RESULTS_ENV: str(work)}))
        lock = threading.Lock()

        def notify(event: Progress) -> None:
            if progress:
                with lock:
                    progress(event)

        lesson_data = str(data)  # what the lessons load: the snapshot once it is written
        identity_dir = None  # the record linkage, once it is written
        aggregates_dir = None  # at scale: the per-customer tables of every row
        prepared = None  # at scale: what pipeline.at_scale prepared

        def own(nb: Path) -> dict:
            mine = {k: v for k, v in parameters.items() if k in declared[nb]}
            if "data_path" in mine:
                mine["data_path"] = lesson_data
            if RESULTS_PARAMETER in declared[nb]:
                mine[RESULTS_PARAMETER] = str(work)
            if IDENTITY_PARAMETER in declared[nb]:
                mine[IDENTITY_PARAMETER] = identity_dir
            if AGGREGATES_PARAMETER in declared[nb]:
                mine[AGGREGATES_PARAMETER] = aggregates_dir
            return mine

        def submit(pool, nb: Path, html_name: str | None = None):
            return pool.submit(
                run_lesson,
                nb,
                own(nb),
                work,
                timeout,
                kernels,
                notify,
                html_name,
                hidden,
                run_start,
                view,
                client,
                pages,
            )

        pool = ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="crm-lesson")
        try:
            if at_scale:
                prepared = pipeline.at_scale(
                    datasets.sample_path() if named else data,
                    work / SCALE_DIR,
                    engine=engine,
                    as_of=as_of,
                    spark_master=spark_master,
                    customers=sample_customers,
                    seed=sample_seed,
                    memory_limit=memory_limit,
                    spark_progress=spark_progress,
                    threshold=parameters.get(MATCH_PARAMETER, 0.9),
                    link_records=pipeline.LINK_RECORDS if link_records is None else link_records,
                    progress=lambda step, seconds, rows: notify(
                        Progress("data", step, 0, 0, seconds, f"{rows:,} rows")
                    ),
                )
                validated = prepared.sample
                aggregates_dir = str(prepared.aggregates)
                hidden[aggregates_dir] = HIDDEN_REPORT + "/" + SCALE_DIR
            if snapshot:
                lesson_data = _write_snapshot(validated, work / SNAPSHOT_DIR, as_of) or lesson_data
                hidden[str(work / SNAPSHOT_DIR)] = str(data) if named else HIDDEN_PATH
            if prepared is not None and prepared.identity is not None:  # every record linked
                identity_dir = str(prepared.identity)
            else:
                identity_dir = _link_once(
                    validated,
                    work / IDENTITY_DIR,
                    parameters.get(MATCH_PARAMETER, 0.9),
                    engine,
                    spark_master,
                )
            if identity_dir:
                hidden[identity_dir] = HIDDEN_REPORT + "/" + IDENTITY_DIR
            futures = {submit(pool, nb): nb for nb in models}
            # queued last, the summary starts when a slot frees after every lesson has started;
            # it loads its data meanwhile and waits (results.load) for sections.json
            (work / results.PENDING_FILE).touch()
            summary_future = submit(pool, summary, INDEX) if summary else None
            by_notebook = {}
            for future in as_completed(futures):
                by_notebook[futures[future]] = future.result()
            runs = [by_notebook[nb] for nb in models]
            for nb in skipped:
                runs.append(_skipped(nb))
                notify(Progress(lesson_name(nb), "skipped", 0, 0, 0.0, runs[-1].reason))
            runs.sort(key=lambda r: r.notebook)
            _write_sections(work, runs)
            (work / results.PENDING_FILE).unlink()
            if summary_future is not None:
                runs.append(summary_future.result())
        except BaseException:
            kernels.kill_all()  # first, so that the threads' lessons end now
            pool.shutdown(wait=True, cancel_futures=True)
            shutil.rmtree(work, ignore_errors=True)
            raise
        finally:
            kernels.kill_all()
        pool.shutdown(wait=True)

        summary_run = next((r for r in runs if r.lesson == results.SUMMARY), None)
        complete = all(r.status in ("complete", "skipped") for r in runs)
        whole = validated if prepared is None else _whole_folder(prepared, data, named)
        manifest = build_manifest(
            client, complete, whole, parameters, declared, runs, named, data, jobs, run_start
        )
        if prepared is not None:
            manifest.update(_at_scale_manifest(prepared, engine))
        if summary_run is None or summary_run.status != "complete" or not (work / INDEX).exists():
            if summary_run is not None and summary_run.html == INDEX:  # keep the failed summary
                summary_run.html = summary.with_suffix(".html").name
                (work / INDEX).rename(work / summary_run.html)
                for entry in manifest["lessons"]:
                    if entry[results.LESSON] == results.SUMMARY:
                        entry["html"] = summary_run.html
            (work / INDEX).write_text(index_page(client, manifest, whole), encoding="utf-8")
        if view != REPORT_VIEW:
            manifest["view"] = view
        written = _final_navigation(work, client, pages, runs)
        pdf_error = ""
        if pdf:
            try:
                print_report(written, work / PDF_NAME, chromium_path, client)
                manifest["pdf"] = PDF_NAME
            except CRMError as exc:
                pdf_error = str(exc)
                manifest["pdf"] = None
                manifest["pdf_error"] = pdf_error
        (work / MANIFEST).write_text(
            json.dumps(manifest, indent=2, default=results.jsonable), encoding="utf-8"
        )
        for f in [*work.glob(f"*{results.RESULTS_SUFFIX}"), work / results.SECTIONS_FILE]:
            f.unlink(missing_ok=True)

        target = _move_into_place(work, out, complete)
        return ReportResult(target, complete, runs, pdf_error)


def _pages(every: list[Path], summary: Path | None, skipped: list[Path]) -> list[Page]:
    """The report's sections in lesson order, as the top bar shows them before the run."""
    import nbformat

    return [
        Page(
            lesson=lesson_name(nb),
            title=lesson_title(nbformat.read(nb, as_version=4), lesson_name(nb)),
            html="" if nb in skipped else nb.with_suffix(".html").name,
            status="skipped" if nb in skipped else "pending",
        )
        for nb in every
        if nb != summary
    ]


def _final_navigation(work: Path, client: str, pages: list[Page], runs: list[LessonRun]):
    """Write the top bar with every section's final status into every page; return the pages.

    Returns the pages in print order: the summary (``index.html``), then the
    sections that have a page, in lesson order.
    """
    by_lesson = {r.lesson: r for r in runs}
    final = []
    for page in pages:
        run = by_lesson.get(page.lesson)
        written = run is not None and run.html and (work / run.html).exists()
        status = run.status if run is not None else page.status
        final.append(Page(page.lesson, page.title, run.html if written else "", status))
    summary_run = by_lesson.get(results.SUMMARY)
    extra = [
        summary_run.html
        for _ in [0]
        if summary_run and summary_run.html not in ("", INDEX) and (work / summary_run.html).exists()
    ]
    order = [INDEX] + [p.html for p in final if p.html] + extra
    for name in order:
        set_navigation(work / name, navigation(client, final, name))
    return [work / name for name in order]


def _skipped(nb: Path) -> LessonRun:
    return LessonRun(
        lesson=lesson_name(nb),
        notebook=nb.name,
        status="skipped",
        reason="not in --only",
        title=lesson_name(nb),
    )


def _write_sections(work: Path, runs: list[LessonRun]) -> None:
    sections = [
        {
            results.LESSON: r.lesson,
            "notebook": r.notebook,
            "title": r.title,
            "status": r.status,
            "reason": r.reason,
            "seconds": r.seconds,
            "html": r.html,
        }
        for r in runs
    ]
    tmp = work / (results.SECTIONS_FILE + ".tmp")
    tmp.write_text(json.dumps(sections, indent=2), encoding="utf-8")
    os.replace(tmp, work / results.SECTIONS_FILE)  # whole, for the summary that waits for it


def _write_snapshot(validated, folder: Path, as_of) -> str | None:
    """Write the validated data for the lessons; None (and a logged warning) if it cannot be."""
    try:
        return str(snapshot.write(validated, folder, as_of=as_of))
    except Exception as exc:  # the lessons then load the client folder themselves
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        logging.getLogger(__name__).warning(
            "the validated data could not be stored for the lessons (%s); each lesson "
            "validates the client folder itself",
            first,
        )
        return None


def _link_once(validated, folder: Path, threshold, engine: str, spark_master) -> str | None:
    """Link the customer records once for every lesson; None when there is nothing to link."""
    _, identity = linkage.identify(
        validated, threshold=threshold, engine=engine, spark_master=spark_master
    )
    if identity.finder is None:
        return None
    return str(linkage.write_finder(identity.finder, folder))


def _whole_folder(prepared, data, named: bool):
    """The sample's data with the whole folder's source, row counts and warnings: what the
    manifest and a failed run's index say about the client's data."""
    return dataclasses.replace(
        prepared.sample,
        source=datasets.sample_path() if named else Path(data),
        reports=dict(prepared.checked.reports),
        warnings=list(prepared.checked.warnings),
    )


def _at_scale_manifest(prepared, engine: str) -> dict:
    """The manifest's entries of a report at scale: its rejects and how it was computed."""
    checked, drawn = prepared.checked, prepared.drawn
    return {
        "rejected_values": int(checked.rejected_values),
        "rejected_top_reasons": checked.top_reasons(10).to_dict(orient="records"),
        "at_scale": {
            "engine": engine,
            "per_customer_steps": {
                step: {"rows": int(info["rows"]), "seconds": round(info["seconds"], 2)}
                for step, info in prepared.steps.items()
            },
            "customers": drawn.customers,
            "sampled_customers": drawn.sampled,
            "sample_seed": drawn.seed,
            "sample": drawn.sentence(),
        },
    }


def _move_into_place(work: Path, out: Path, complete: bool) -> Path:
    """Rename the finished work folder to ``out`` (complete) or ``out.incomplete``.

    The data snapshot (:data:`SNAPSHOT_DIR`, personal data) and the record linkage
    (:data:`IDENTITY_DIR`, customer ids) are deleted first: they are never part of a
    report, complete or not.
    """
    for folder in (SNAPSHOT_DIR, IDENTITY_DIR, SCALE_DIR):
        if (work / folder).exists():
            shutil.rmtree(work / folder)
    incomplete = out.with_name(out.name + ".incomplete")
    target = out if complete else incomplete
    if target.exists():
        old = target.with_name(f".{target.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        target.rename(old)
        work.rename(target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        work.rename(target)
    if complete:
        shutil.rmtree(incomplete, ignore_errors=True)
    return target
