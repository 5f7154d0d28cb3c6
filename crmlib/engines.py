"""Where the transaction-level steps run: pandas in memory, DuckDB out of core, or Spark.

The steps that read raw transactions (the customer summary of
:mod:`crmlib.analytics.summary`, customer profitability of :mod:`crmlib.models.value_chain`,
the cohort tables of :mod:`crmlib.models.qci`) and duplicate detection of
:mod:`crmlib.models.idic` take ``engine=``:

``"pandas"``
    the tables in memory (a :class:`crmlib.data.io.ClientData` or DataFrames);
``"duckdb"``
    SQL in DuckDB (one process, out of core: it streams Parquet/CSV files and
    spills to a temporary folder past its memory limit, :data:`DUCKDB_MEMORY`);
``"spark"``
    the same SQL as Spark jobs (:func:`spark_session`: local mode, or a
    cluster given by ``spark_master`` / ``CRM_SPARK_MASTER``). Needs the
    optional extra ``crm-workbook[spark]`` and Java 17 or newer.

Each model module writes its SQL once, in DuckDB's dialect; for Spark it is
translated by sqlglot (:meth:`Engine.sql`), the SQL translator splink uses
for the same purpose. The engines give the same results on the same data:
equal counts, dates and ids, and sums equal up to the order of floating-point
addition (tests/test_engines.py checks this).

A step's source is either data already in memory (a ``ClientData``, a dict
of DataFrames, or one transactions DataFrame) or a client folder on disk
whose files use the workbook's column names (:mod:`crmlib.data.schema`):
``<table>.parquet``, a folder ``<table>/`` of Parquet parts, or
``<table>.csv`` (comma-separated, UTF-8, ISO dates). A folder read this way
is not loaded into memory, so it is not validated row by row as
:mod:`crmlib.data.io` does: :meth:`Engine.check_rows` refuses it when a required
value is empty or a value cannot be read as its column's kind, naming the
file, column, reason, count and first row; ``crm validate`` lists every
such row. A ``mapping.yml`` (renamed headers, other date formats) is only
applied when a folder is loaded into memory.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import shutil
import sys
import tempfile
import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from crmlib.data import schema as s
from crmlib.data.io import MISSING
from crmlib.data.outofcore import SQL_TYPES  # one type per column kind, as validated
from crmlib.errors import CRMError, DataError

ENGINES = ("pandas", "duckdb", "spark")
SQL_ENGINES = ("duckdb", "spark")
#: DuckDB's memory limit unless ``CRM_DUCKDB_MEMORY`` says otherwise; past it,
#: DuckDB spills to a temporary folder.
DUCKDB_MEMORY = "4GB"
#: The Spark driver's heap in local mode unless ``CRM_SPARK_DRIVER_MEMORY`` says otherwise.
SPARK_DRIVER_MEMORY = "4g"
#: Spark SQL settings of every session :func:`spark_session` starts, over a cluster's own
#: defaults. Adaptive query execution (Spark's default since 3.2) sizes the shuffles of the
#: steps' queries after they run: the one-pass plans (a shuffle of the lines by customer,
#: then groupings without one) rely on it to merge the small partitions that follow.
SPARK_SQL_CONFIG = {
    "spark.sql.adaptive.enabled": "true",
}
#: Tables the engines read; the others are one row per customer or small.
ENGINE_TABLES = ("transactions", "customers", "tickets", "interactions", "cost_rates")

#: The longest missing-value spelling, in bytes (``crmlib.data.io.MISSING``).
_MISSING_BYTES = max(len(m.encode()) for m in MISSING)


def duckdb_memory(limit: str | None = None) -> str:
    """DuckDB's memory limit: ``limit``, else ``CRM_DUCKDB_MEMORY``, else :data:`DUCKDB_MEMORY`."""
    return limit or os.environ.get("CRM_DUCKDB_MEMORY") or DUCKDB_MEMORY


def check_engine(engine: str, allowed=ENGINES) -> str:
    """Return ``engine`` if it is one of ``allowed``, else raise :class:`CRMError`."""
    if engine not in allowed:
        raise CRMError(f"engine must be one of {', '.join(map(repr, allowed))}, not {engine!r}")
    return engine


# --- Spark ---------------------------------------------------------------------------

_SPARK_LOCK = threading.Lock()
_SPARK_WORK: dict[int, Path] = {}  # id(SparkContext) -> its scratch folder (spark.log)

#: Seconds a Spark job may go without finishing a task before :func:`spark_job` cancels it,
#: unless ``CRM_SPARK_STALL_SECONDS`` says otherwise.
SPARK_STALL_SECONDS = 300
#: Seconds a cancelled job has to end before :func:`spark_job` stops the driver's JVM.
SPARK_CANCEL_GRACE = 30
#: How often :func:`spark_job` reads the jobs' status, in seconds.
SPARK_POLL_SECONDS = 0.5
_EXIT_ON_OOM = "-XX:+ExitOnOutOfMemoryError"  # a JVM out of memory stops instead of limping on


@contextlib.contextmanager
def _output_to(path: Path):
    """Point file descriptors 1 and 2 at ``path`` while starting the JVM (it inherits them)."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    saved = [os.dup(1), os.dup(2)]
    with open(path, "ab") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
    try:
        yield
    finally:
        for fd, copy in zip((1, 2), saved, strict=True):
            os.dup2(copy, fd)
            os.close(copy)


def spark_memory() -> tuple[str, str | None]:
    """The driver's and the executors' memory asked of Spark (``None``: Spark's default).

    ``CRM_SPARK_DRIVER_MEMORY`` (default :data:`SPARK_DRIVER_MEMORY`) and
    ``CRM_SPARK_EXECUTOR_MEMORY`` (default: Spark's, 1g), in Spark's notation
    (``512m``, ``4g``); ``crm aggregate`` and ``crm report`` set them from
    ``--driver-memory`` and ``--executor-memory``.
    """
    driver = os.environ.get("CRM_SPARK_DRIVER_MEMORY", "").strip() or SPARK_DRIVER_MEMORY
    executor = os.environ.get("CRM_SPARK_EXECUTOR_MEMORY", "").strip() or None
    for name, value in (("driver", driver), ("executor", executor)):
        if value is not None and not re.fullmatch(r"\d+[kmgt]?", value.lower()):
            raise CRMError(
                f"Spark {name} memory {value!r} is not a size such as 512m or 4g "
                f"(--{name}-memory, CRM_SPARK_{name.upper()}_MEMORY)"
            )
    return driver, executor


def spark_session(master: str | None = None):
    """The Spark session of this process, started on first use.

    Parameters
    ----------
    master : str, optional
        Spark master URL (``spark://host:7077``, ``yarn``, ``local[4]``);
        default ``CRM_SPARK_MASTER`` or ``local[*]``. Only the first call of a
        process starts a session; later calls return it.

    Returns
    -------
    pyspark.sql.SparkSession
        With splink's similarity functions on its class path (duplicate
        detection), a checkpoint folder (splink needs one), the session time
        zone UTC (dates compare alike in every engine) and Arrow transfer to
        and from pandas. The driver's and executors' memory are
        :func:`spark_memory`'s, in local mode and on a cluster; a JVM that
        runs out of memory exits (``-XX:+ExitOnOutOfMemoryError``) rather than
        hanging, which :func:`spark_job` reports. The JVM's own messages go to
        ``spark.log`` in the checkpoint folder's parent, not to the notebook.

    Raises
    ------
    CRMError
        pyspark is not installed (``pip install 'crm-workbook[spark]'``), Java
        cannot be started, or a memory setting is not a size.
    """
    with _SPARK_LOCK:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)  # pyspark on pandas 3
                from pyspark.sql import SparkSession
        except ImportError:
            raise CRMError(
                "engine='spark' needs pyspark: pip install 'crm-workbook[spark]' "
                "(and Java 17 or newer)"
            ) from None
        active = SparkSession.getActiveSession()
        if active is not None:
            return active
        from splink.backends.spark import similarity_jar_location

        master = master or os.environ.get("CRM_SPARK_MASTER") or "local[*]"
        driver_memory, executor_memory = spark_memory()
        work = Path(tempfile.mkdtemp(prefix="crm-spark-"))
        builder = (
            SparkSession.builder.master(master)
            .appName("crm-workbook")
            .config("spark.jars", similarity_jar_location())
            .config("spark.ui.enabled", "false")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.sql.execution.arrow.pyspark.enabled", "true")
            .config("spark.driver.extraJavaOptions", f"-Duser.timezone=UTC {_EXIT_ON_OOM}")
            .config("spark.executor.extraJavaOptions", f"-Duser.timezone=UTC {_EXIT_ON_OOM}")
            .config("spark.local.dir", str(work / "local"))
            .config("spark.sql.warehouse.dir", str(work / "warehouse"))
            # the driver's heap, also on a cluster (Spark's default there is 1g); only small
            # results come back to it (counts, parameters), never rows per customer
            .config("spark.driver.memory", driver_memory)
            .config("spark.driver.maxResultSize", driver_memory)
        )
        if executor_memory is not None:
            builder = builder.config("spark.executor.memory", executor_memory)
        if master.startswith("local"):
            os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
            builder = builder.config("spark.sql.shuffle.partitions", str(os.cpu_count() or 2))
        for key, value in SPARK_SQL_CONFIG.items():
            builder = builder.config(key, value)
        try:
            with _output_to(work / "spark.log"):
                session = builder.getOrCreate()
        except Exception as exc:  # the JVM did not start: no Java, a bad master URL
            if "must be at least" in str(exc):  # Spark needs a heap of 450 MiB at least
                raise CRMError(
                    f"the Spark driver's memory {driver_memory} is below what Spark needs to "
                    "start: raise --driver-memory (CRM_SPARK_DRIVER_MEMORY), e.g. to 1g"
                ) from None
            raise CRMError(
                f"Spark could not start at {master!r} ({type(exc).__name__}: "
                f"{str(exc).splitlines()[0] if str(exc) else 'no message'}); "
                "Spark needs Java 17 or newer (JAVA_HOME) and a reachable master"
            ) from None
        session.sparkContext.setLogLevel("ERROR")
        session.sparkContext.setCheckpointDir(str(work / "checkpoints"))
        _SPARK_WORK[id(session.sparkContext)] = work
        atexit.register(_stop_spark, session, work)
        return session


def _stop_spark(session, work: Path) -> None:
    """Stop the session at exit and remove its scratch folder."""
    with contextlib.suppress(Exception), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a JVM already gone: nothing left to stop
        session.stop()
    shutil.rmtree(work, ignore_errors=True)


@dataclass(frozen=True)
class SparkProgress:
    """What the Spark jobs of :func:`spark_job` are doing, read every poll.

    ``stage`` is the running stage furthest along (its id and name), ``done``
    / ``total`` its tasks; ``stages`` how many stages run at once; ``idle``
    the seconds since a task last finished.
    """

    stage: int
    name: str
    done: int
    total: int
    stages: int
    idle: float

    def __str__(self) -> str:
        more = f" (+{self.stages - 1} stage(s))" if self.stages > 1 else ""
        return f"Spark stage {self.stage}: {self.done}/{self.total} tasks{more}"


class _SparkWatch(threading.Thread):
    """Polls the status tracker: reports progress, cancels a job that no longer moves."""

    def __init__(self, session, progress, stall: float):
        super().__init__(name="crm-spark-watch", daemon=True)
        self.context = session.sparkContext
        self.local = self.context.master.startswith("local")
        self.progress = progress
        self.stall = stall
        self.reason: str | None = None
        self.stopping = threading.Event()

    def _status(self):
        tracker = self.context.statusTracker()
        stages = [tracker.getStageInfo(i) for i in tracker.getActiveStageIds()]
        stages = [st for st in stages if st is not None]
        executors = self.context._jsc.sc().getExecutorMemoryStatus().size()  # driver included
        return stages, executors - (0 if self.local else 1)

    def run(self) -> None:
        from concurrent.futures import ThreadPoolExecutor
        from concurrent.futures import TimeoutError as Late

        moved, seen = time.monotonic(), None
        with ThreadPoolExecutor(1, thread_name_prefix="crm-spark-status") as pool:
            while not self.stopping.wait(SPARK_POLL_SECONDS):
                try:  # a JVM that no longer answers is as stalled as a job that no longer moves
                    stages, executors = pool.submit(self._status).result(timeout=self.stall)
                except Late:
                    self._give_up("the Spark driver stopped answering", kill=True)
                    return
                except Exception:  # the driver's JVM is gone: the step's own call fails now
                    return
                now = time.monotonic()
                state = frozenset(
                    (st.stageId, st.currentAttemptId, st.numCompletedTasks) for st in stages
                )
                if not stages or state != seen:
                    moved, seen = now, state
                if stages and self.progress is not None:
                    top = max(
                        stages,
                        key=lambda st: (st.numCompletedTasks / max(st.numTasks, 1), st.stageId),
                    )
                    with contextlib.suppress(Exception):
                        self.progress(
                            SparkProgress(
                                top.stageId,
                                top.name,
                                top.numCompletedTasks,
                                top.numTasks,
                                len(stages),
                                now - moved,
                            )
                        )
                if stages and now - moved > self.stall:
                    if executors <= 0:
                        what = (
                            f"no Spark executor ran for {self.stall:.0f} s (a worker was lost, or none "
                            "has the memory asked: check the workers or lower --executor-memory)"
                        )
                    else:
                        what = (
                            f"no Spark task finished for {self.stall:.0f} s (raise --executor-memory, "
                            "or CRM_SPARK_STALL_SECONDS for tasks that are slow but sound)"
                        )
                    self._give_up(what, kill=False)
                    if self.stopping.wait(SPARK_CANCEL_GRACE):
                        return
                    self._give_up(what, kill=True)  # the cancelled job did not end
                    return

    def _give_up(self, reason: str, kill: bool) -> None:
        """Cancel every job; with ``kill``, stop the driver's JVM so that the step's call returns."""
        self.reason = reason
        if not kill:
            with contextlib.suppress(Exception):
                self.context.cancelAllJobs()
            return
        proc = getattr(self.context._gateway, "proc", None)
        if proc is not None:
            with contextlib.suppress(Exception):
                proc.kill()


def _spark_failure(exc: BaseException, work: Path | None, exit_code: int | None) -> str | None:
    """One sentence for a failed Spark job or a lost driver, or None for another error.

    ``exit_code``: the driver's JVM's, once it is no longer running, whatever error the
    call saw (py4j's, or Arrow's on a stream cut short); 3 is the JVM's exit on
    ``-XX:+ExitOnOutOfMemoryError``.
    """
    exited = exit_code is not None
    try:
        from py4j.protocol import Py4JError
    except ImportError:  # pragma: no cover - pyspark brings py4j
        return None
    try:
        from pyspark.errors import PySparkException
    except ImportError:  # pragma: no cover
        PySparkException = Py4JError  # noqa: N806
    if not exited and not isinstance(exc, (Py4JError, PySparkException, ConnectionError)):
        return None
    text = str(exc)
    log = ""
    if work is not None:
        with contextlib.suppress(OSError):
            log = (work / "spark.log").read_text(errors="replace")[-20000:]
    driver_gone = (
        exited
        or isinstance(exc, ConnectionError)
        or any(
            words in text
            for words in (
                "Answer from Java side is empty",
                "Error while sending or receiving",
                "Error while receiving",
                "Connection refused",
                "SparkContext was shut down",
                "stopped SparkContext",
            )
        )
    )
    out_of_memory = exit_code == 3 or "OutOfMemoryError" in log or "OutOfMemoryError" in text
    if driver_gone and out_of_memory:
        return (
            "the Spark driver ran out of memory and stopped: raise --driver-memory "
            f"(CRM_SPARK_DRIVER_MEMORY, now {spark_memory()[0]})"
        )
    if driver_gone:
        return (
            "the Spark driver stopped during the job, so nothing more was computed "
            "(if it ran short of memory, raise --driver-memory, CRM_SPARK_DRIVER_MEMORY)"
        )
    lost = (
        "OutOfMemoryError",
        "ExecutorLostFailure",
        "exited caused by",
        "Executor heartbeat timed out",
    )
    if any(words in text for words in lost):
        return (
            "a Spark executor ran out of memory or was lost and the job failed: raise "
            "--executor-memory (CRM_SPARK_EXECUTOR_MEMORY) or check the cluster's workers"
        )
    if "Master removed our application" in text or "application has been killed" in text:
        return "the Spark master removed this application (its executors kept failing): check the workers"
    return None


@contextlib.contextmanager
def spark_job(master: str | None = None, progress=None, stall_seconds: float | None = None):
    """Run Spark jobs that report progress, cannot hang, and fail with one clear sentence.

    Inside the ``with`` block (started with the session of :func:`spark_session`):

    - every :data:`SPARK_POLL_SECONDS` s, ``progress`` (if given) is called with a
      :class:`SparkProgress` (stage, tasks done/total);
    - a job in which no task finishes for ``stall_seconds`` (default
      ``CRM_SPARK_STALL_SECONDS`` or :data:`SPARK_STALL_SECONDS`) — a lost worker,
      no executor that can start, an executor stuck in garbage collection — is
      cancelled; if it has not ended :data:`SPARK_CANCEL_GRACE` s later, or the
      driver stops answering, the driver's JVM is stopped;
    - a job that fails because an executor ran out of memory or was lost, a
      driver that ran out of memory (its JVM exits, ``-XX:+ExitOnOutOfMemoryError``)
      or stopped, and a job cancelled as above end the block with a
      :class:`CRMError` naming what happened and which setting to raise.

    So a Spark step ends, at the latest, ``stall_seconds`` + :data:`SPARK_CANCEL_GRACE`
    s after its last task finished.

    Parameters
    ----------
    master : str, optional
        As for :func:`spark_session`.
    progress : callable, optional
        Called from a background thread with a :class:`SparkProgress`.
    stall_seconds : float, optional

    Raises
    ------
    CRMError
    """
    if stall_seconds is None:
        raw = os.environ.get("CRM_SPARK_STALL_SECONDS", "").strip()
        try:
            stall_seconds = float(raw) if raw else SPARK_STALL_SECONDS
        except ValueError:
            raise CRMError(
                f"CRM_SPARK_STALL_SECONDS must be a number of seconds, not {raw!r}"
            ) from None
    session = spark_session(master)
    work = _SPARK_WORK.get(id(session.sparkContext))
    watch = _SparkWatch(session, progress, stall_seconds)
    watch.start()
    try:
        yield session
    except CRMError:
        raise
    except Exception as exc:
        proc = getattr(session.sparkContext._gateway, "proc", None)
        exit_code = None
        if proc is not None:  # a JVM on its way out: its socket closes before it exits
            with contextlib.suppress(Exception):
                exit_code = proc.wait(timeout=3)
        reason = watch.reason or _spark_failure(exc, work, exit_code)
        if reason is None:
            raise
        raise CRMError(reason) from None
    finally:
        watch.stopping.set()


# --- one engine, its tables, its SQL -------------------------------------------------


def _files(folder: Path, table: str) -> tuple[str, str] | None:
    """(reader, path) of a table in a folder on disk, or None when it is absent."""
    parts = folder / table
    if parts.is_dir() and any(parts.glob("*.parquet")):
        return "parquet", str(parts / "*.parquet")
    for suffix, reader in ((".parquet", "parquet"), (".csv", "csv")):
        path = folder / f"{table}{suffix}"
        if path.is_file():
            return reader, str(path)
    return None


def _in_memory(source) -> dict[str, pd.DataFrame] | None:
    """The tables of a source held in memory, or None for a folder on disk."""
    if isinstance(source, pd.DataFrame):
        return {"transactions": source}
    if isinstance(source, dict):
        return {k: v for k, v in source.items() if isinstance(v, pd.DataFrame)}
    if hasattr(source, "tables"):  # crmlib.data.io.ClientData
        return {k: v for k, v in source.tables.items() if len(v)}
    return None


@dataclass(frozen=True)
class RowChecks:
    """The row checks of one table (:meth:`Engine.row_checks`), as SQL a query counts.

    A step that scans the table anyway counts the failing rows in its own query:
    :attr:`flags` per row, :attr:`sums` per group, then :meth:`Engine.refuse_rows`
    on a row summing those; :meth:`Engine.check_rows` counts them in a scan of its own
    (:attr:`totals`).
    """

    table: str
    checks: tuple  # (column, condition, reason)

    @property
    def flags(self) -> str:
        """``, CAST(<condition> AS INTEGER) AS check<i>``: 1 on a row failing check i."""
        return "".join(
            f", CAST({cond} AS INTEGER) AS check{i}" for i, (_, cond, _) in enumerate(self.checks)
        )

    @property
    def sums(self) -> str:
        """``, SUM(check<i>) AS check<i>``: the flags of :attr:`flags` counted."""
        return "".join(f", SUM(check{i}) AS check{i}" for i in range(len(self.checks)))

    @property
    def totals(self) -> str:
        """``SUM(CAST(<condition> AS INTEGER)) AS check<i>, …``: the checks counted in one scan."""
        return ", ".join(
            f"SUM(CAST({cond} AS INTEGER)) AS check{i}"
            for i, (_, cond, _) in enumerate(self.checks)
        )


class Engine:
    """A DuckDB connection or the Spark session, with a client's tables as SQL views.

    Use as a context manager; inside it, :meth:`sql` runs a query written in
    DuckDB's SQL against views named after the tables (``transactions``,
    ``customers`` ...), each with the workbook's columns cast to their kind
    (:data:`crmlib.data.schema.TABLES`).

    Parameters
    ----------
    name : {"duckdb", "spark"}
    source : ClientData, dict of DataFrame, DataFrame or path
        The tables (see the module docstring). A path is a client folder, or
        one transactions file.
    spark_master : str, optional
        For ``"spark"``: see :func:`spark_session`.
    memory_limit : str, optional
        For ``"duckdb"``: e.g. ``"4GB"``; default ``CRM_DUCKDB_MEMORY`` or
        :data:`DUCKDB_MEMORY`.
    """

    def __init__(self, name: str, source, spark_master: str | None = None, memory_limit=None):
        self.name = check_engine(name, SQL_ENGINES)
        self.source = source
        self.spark_master = spark_master
        self.memory_limit = duckdb_memory(memory_limit)
        self.tables: dict[str, str] = {}  # table -> file name for messages
        self.columns: dict[str, set[str]] = {}
        self._raw_text: dict[str, set[str]] = {}
        self._con = None
        self._spark = None
        self._views: list[str] = []
        self._spill: Path | None = None

    # -- lifecycle --
    def __enter__(self) -> Engine:
        if self.name == "duckdb":
            import duckdb

            self._spill = Path(tempfile.mkdtemp(prefix="crm-duckdb-"))
            self._con = duckdb.connect()
            self._con.execute(f"SET memory_limit = '{self.memory_limit}'")
            self._con.execute(f"SET temp_directory = '{self._spill}'")
            self._con.execute("SET preserve_insertion_order = false")
        else:  # a session of its own: its temporary views are not another Engine's
            self._spark = spark_session(self.spark_master).newSession()
        try:
            self._register_all()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None
        if self._spark is not None:
            for view in self._views:
                self._spark.catalog.dropTempView(view)
            self._views = []
        if self._spill is not None:
            shutil.rmtree(self._spill, ignore_errors=True)

    # -- tables --
    def _register_all(self) -> None:
        frames = _in_memory(self.source)
        if frames is not None:
            for table, frame in frames.items():
                if table in ENGINE_TABLES:
                    self._register(table, frame, table)
            return
        path = Path(self.source)
        if path.is_file():
            if path.suffix not in (".parquet", ".csv"):
                raise DataError(f"{path.name}: not a CSV or Parquet file", file=path.name)
            reader = "parquet" if path.suffix == ".parquet" else "csv"
            self._register("transactions", (reader, str(path)), path.name)
            return
        if not path.is_dir():
            raise DataError(f"{path.name}: no such folder or file", file=path.name)
        if (path / "mapping.yml").exists():
            raise DataError(
                f"{path.name}/mapping.yml: a column mapping is applied only when the folder is "
                "loaded into memory (engine='pandas'); for engine='duckdb' or 'spark', write the "
                "tables with the workbook's column names (datasets/README.md)",
                file="mapping.yml",
            )
        for table in ENGINE_TABLES:
            found = _files(path, table)
            if found is not None:
                self._register(table, found, Path(found[1]).name)
        if "transactions" not in self.tables:
            raise DataError(
                f"{path.name}: no transactions.parquet, transactions/ or transactions.csv",
                file="transactions",
            )

    def _register(self, table: str, data, file: str) -> None:
        raw = f"raw_{table}"
        if self.name == "duckdb":
            if isinstance(data, pd.DataFrame):
                self._con.register(raw, data)
            else:
                reader, path = data
                literal = path.replace("'", "''")
                call = (
                    f"read_parquet('{literal}')"
                    if reader == "parquet"
                    else f"read_csv('{literal}', header = true, all_varchar = true)"
                )
                self._con.execute(f"CREATE VIEW {raw} AS SELECT * FROM {call}")
            described = self._con.execute(f"DESCRIBE {raw}").fetchall()
            types = {name: kind for name, kind, *_ in described}
            text = {c for c, kind in types.items() if kind == "VARCHAR"}
        else:
            if isinstance(data, pd.DataFrame):
                frame = self._spark.createDataFrame(_for_spark(data))
            else:
                reader, path = data
                read = self._spark.read
                frame = (
                    read.parquet(path)
                    if reader == "parquet"
                    else read.option("header", True).option("encoding", "UTF-8").csv(path)
                )
            frame.createOrReplaceTempView(raw)
            self._views.append(raw)
            types = dict(frame.dtypes)
            text = {c for c, kind in types.items() if kind == "string"}
        self.tables[table] = file
        self.columns[table] = set(types)
        self._raw_text[table] = text
        self._typed_view(table)

    def _value(self, table: str, column: str) -> str:
        """SQL for a raw column with missing-value spellings as NULL (text columns)."""
        if column not in self._raw_text[table]:
            return column
        spellings = ", ".join(f"'{m}'" for m in sorted(MISSING))  # as when loading
        missing = f"lower(trim({column})) IN ({spellings})"
        # the same test, skipped for most values: a spelling is at most _MISSING_BYTES
        # bytes once trimmed of spaces (strlen / octet_length: the stored length, not a scan)
        length = "strlen" if self.name == "duckdb" else "octet_length"
        missing = (
            f"({length}({column}) <= {_MISSING_BYTES} OR starts_with({column}, ' ') "
            f"OR ends_with({column}, ' ')) AND {missing}"
        )
        return f"CASE WHEN {missing} THEN NULL ELSE {column} END"

    def _typed_view(self, table: str) -> None:
        spec = s.TABLES[table]
        parts = []
        for col in spec.columns:
            if col.name in self.columns[table]:
                sql_type = SQL_TYPES[col.kind]
                parts.append(
                    f'TRY_CAST({self._value(table, col.name)} AS {sql_type}) AS "{col.name}"'
                )
        self.sql_no_result(
            f"CREATE OR REPLACE TEMPORARY VIEW {table} AS SELECT {', '.join(parts)} FROM raw_{table}"
        )
        if self.name == "spark":
            self._views.append(table)

    def has(self, table: str, column: str | None = None) -> bool:
        """True when the source holds the table (and the column)."""
        if table not in self.tables:
            return False
        return column is None or column in self.columns[table]

    def need(self, table: str, columns, purpose: str) -> None:
        """Raise :class:`DataError` naming the file and the first missing column."""
        missing = [c for c in columns if not self.has(table, c)]
        if table not in self.tables or missing:
            file = self.tables.get(table, table)
            raise DataError(
                f"{file}: the column(s) {', '.join(missing or columns)} are needed {purpose} "
                "and are missing",
                file=file,
                column=(missing or list(columns))[0],
            )

    def typed(self, table: str, column: str) -> str:
        """SQL for a column of ``raw_<table>`` read as its kind, as the typed view reads it."""
        sql_type = SQL_TYPES[s.TABLES[table].column(column).kind]
        return f"TRY_CAST({self._value(table, column)} AS {sql_type})"

    def row_checks(self, table: str, columns) -> RowChecks:
        """The row checks of :meth:`check_rows` as SQL conditions on ``raw_<table>``.

        Returns
        -------
        RowChecks
            One (column, condition, reason) per check: a row fails a check when
            its condition is true (a required value is empty, or a text value
            cannot be read as its column's kind).
        """
        spec = s.TABLES[table]
        checks = []
        for name in columns:
            if not self.has(table, name):
                continue
            col = spec.column(name)
            raw = self._value(table, name)
            if not col.nullable:
                checks.append((name, f"{raw} IS NULL", "is empty"))
            if name in self._raw_text[table] and SQL_TYPES[col.kind] != "VARCHAR":
                checks.append(
                    (
                        name,
                        f"{raw} IS NOT NULL AND TRY_CAST({raw} AS {SQL_TYPES[col.kind]}) IS NULL",
                        f"cannot be read as a {col.kind} (ISO dates, '.' decimals)",
                    )
                )
        return RowChecks(table, tuple(checks))

    def refuse_rows(self, checks: RowChecks, found) -> None:
        """Raise the :class:`DataError` of the first check that rows failed.

        Parameters
        ----------
        checks : RowChecks
            From :meth:`row_checks`.
        found : mapping
            A result row holding ``check<i>``, how many rows failed check ``i``
            (:attr:`RowChecks.totals`, or :attr:`RowChecks.sums` in a step's own query).
        """
        for i, (name, _, reason) in enumerate(checks.checks):
            n = int(found[f"check{i}"] or 0)
            if n:
                file = self.tables[checks.table]
                raise DataError(
                    f"{file}: column {name}: {n:,} row(s) where the value {reason}; "
                    "run `crm validate` on the folder to list them",
                    file=file,
                    column=name,
                )

    def check_rows(self, table: str, columns) -> None:
        """Refuse the table when a needed value is empty or cannot be read as its kind.

        One scan of the table. The DuckDB customer summary and profitability
        count the same checks inside their own query instead
        (:meth:`row_checks`, :meth:`refuse_rows`).

        Parameters
        ----------
        table : str
        columns : iterable of str
            The columns the step reads; required ones must not be empty.

        Raises
        ------
        DataError
            Naming the file, the column, the reason, how many rows and the
            ``crm validate`` lists the rows; never the value itself.
        """
        checks = self.row_checks(table, columns)
        if not checks.checks:
            return
        self.refuse_rows(checks, self.sql(f"SELECT {checks.totals} FROM raw_{table}").iloc[0])

    def no_order_lines(self) -> DataError:
        """The error for transactions without a dated order line."""
        return DataError(
            f"{self.tables['transactions']}: there are no order lines", file="transactions"
        )

    # -- SQL --
    def _spark_sql(self, query: str):
        """A DuckDB-dialect query translated by sqlglot and run by Spark (a DataFrame).

        Two statements are Spark's own. ``CREATE [OR REPLACE] TEMPORARY TABLE name AS
        query`` (a step's small per-customer table, read by the queries after it) is
        computed once, now, and kept in the session's memory (spilling to disk) as a
        checkpoint the view ``name`` reads (``DataFrame.localCheckpoint``). A comment
        ``/*+ HINT(...) */`` before a SELECT, which DuckDB ignores, becomes Spark's hint
        on that SELECT (e.g. ``REPARTITION(cid)``: one shuffle of the lines by customer,
        after which every grouping by customer and more needs no other).
        """
        import sqlglot
        from sqlglot import expressions as exp

        tree = sqlglot.parse_one(query, read="duckdb")
        temporary = isinstance(tree, exp.Create) and tree.kind == "TABLE"
        temporary = temporary and tree.find(exp.TemporaryProperty) is not None
        if temporary:
            # computed now and kept (memory, spilling to disk) without its plan: a cached
            # view (CACHE TABLE) is not used by a later query that reads it in a WITH clause
            frame = self._spark.sql(_spark_text(tree.expression)).localCheckpoint(eager=True)
            frame.createOrReplaceTempView(tree.this.name)
            self._views.append(tree.this.name)
            return frame
        return self._spark.sql(_spark_text(tree))

    def sql(self, query: str) -> pd.DataFrame:
        """Run a DuckDB-dialect query and return its result as a pandas DataFrame."""
        if self.name == "duckdb":
            return self._con.execute(query).df()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            warnings.simplefilter("ignore", UserWarning)
            return self._spark_sql(query).toPandas()

    def sql_no_result(self, query: str) -> None:
        """Run a statement that returns nothing (CREATE VIEW ...)."""
        if self.name == "duckdb":
            self._con.execute(query)
        else:
            self._spark_sql(query)

    def write(self, query: str, path: Path) -> int:
        """Write a query's result to Parquet without passing it through pandas.

        DuckDB writes one file; Spark writes a folder of part files (both read
        back with ``pandas.read_parquet``). Returns the number of rows written.
        """
        import pyarrow.dataset as ds

        path = Path(path)
        if self.name == "duckdb":
            literal = str(path).replace("'", "''")
            self._con.execute(f"COPY ({query}) TO '{literal}' (FORMAT parquet)")
        else:
            self._spark_sql(query).write.mode("overwrite").parquet(str(path))
        return ds.dataset(str(path), format="parquet").count_rows()

    def scalar(self, query: str):
        """The single value of a one-row, one-column query."""
        value = self.sql(query).iloc[0, 0]
        return None if pd.isna(value) else value

    def last_order_date(self):
        """The last order date of the transactions (the default as-of date)."""
        last = self.scalar(f"SELECT MAX(CAST({s.ORDER_DATE} AS DATE)) FROM transactions")
        if last is None:
            raise self.no_order_lines()
        return last


def _spark_text(tree) -> str:
    """Spark SQL for a parsed DuckDB statement, with ``/* + HINT */ SELECT`` as a hint."""
    text = tree.sql(dialect="spark")
    return re.sub(r"/\* \+ ([A-Z_]+\([^*]*\)) \*/ SELECT ", r"SELECT /*+ \1 */ ", text)


def _for_spark(frame: pd.DataFrame) -> pd.DataFrame:
    """A frame Spark's Arrow conversion reads: text as object, no pandas-only dtypes."""
    out = frame.copy()
    for col in out.columns:
        dtype = out[col].dtype
        if pd.api.types.is_object_dtype(dtype) or isinstance(
            dtype, (pd.StringDtype, pd.CategoricalDtype)
        ):
            out[col] = out[col].astype(object).where(out[col].notna(), None)
        elif pd.api.types.is_bool_dtype(dtype):
            out[col] = out[col].astype(bool)
    return out


def describe(engine: str, spark_master: str | None = None) -> str:
    """One line naming the engine that runs the transaction-level steps."""
    check_engine(engine)
    if engine == "pandas":
        return f"pandas {pd.__version__} (in memory)"
    if engine == "duckdb":
        import duckdb

        memory = duckdb_memory()
        return f"DuckDB {duckdb.__version__} (out of core, memory limit {memory})"
    spark = spark_session(spark_master)
    return f"Spark {spark.version} at {spark.sparkContext.master}"


def as_of_sql(when) -> str:
    """A date literal for the engines' SQL."""
    return f"DATE '{pd.Timestamp(when).date().isoformat()}'"


# --- the transaction-level steps on a folder, one command ---------------------------------
