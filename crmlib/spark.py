"""Spark sessions and jobs for the engines: settings, progress, and failures that end, never hang.

:func:`spark_session` starts this process's session (local mode, or a cluster given by
``spark_master`` / ``CRM_SPARK_MASTER``) with the memory settings of :func:`spark_memory`;
:func:`spark_job` runs Spark jobs that report their progress (:class:`SparkProgress`),
are cancelled when no task finishes for a stated time, and fail with one sentence
naming what happened and the setting to raise. :mod:`crmlib.engines` runs its SQL on
these sessions. Needs the optional extra ``crm-workbook[spark]`` and Java 17 or newer.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import re
import shutil
import sys
import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

from crmlib.data.scratch import scratch_dir
from crmlib.errors import CRMError

#: The Spark driver's heap in local mode unless ``CRM_SPARK_DRIVER_MEMORY`` says otherwise.
SPARK_DRIVER_MEMORY = "4g"
#: Spark SQL settings of every session :func:`spark_session` starts, over a cluster's own
#: defaults. Adaptive query execution (Spark's default since 3.2) sizes the shuffles of the
#: steps' queries after they run: the one-pass plans (a shuffle of the lines by customer,
#: then groupings without one) rely on it to merge the small partitions that follow.
SPARK_SQL_CONFIG = {
    "spark.sql.adaptive.enabled": "true",
}

_SPARK_LOCK = threading.Lock()
# id(SparkContext) -> (the session this process started, its scratch folder with spark.log)
_STARTED: dict[int, tuple] = {}

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
        work = scratch_dir("spark")
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
        _STARTED[id(session.sparkContext)] = (session, work)
        atexit.register(_stop_spark, session, work)
        return session


def stop_session() -> None:
    """Stop this process's Spark session, if one runs, and remove its scratch folder.

    On a cluster, a running application keeps the executors it was given (by default every
    free core of a standalone cluster), so another process's application waits for cores
    until it ends: a report at scale stops its own before the lessons' kernels start theirs.
    """
    with _SPARK_LOCK:
        started = list(_STARTED.values())
        _STARTED.clear()
    for session, work in started:
        _stop_spark(session, work)


def _stop_spark(session, work: Path | None) -> None:
    """Stop the session at exit and remove its scratch folder.

    A JVM already gone (a driver out of memory, after :func:`spark_job` said so) leaves
    nothing to stop: py4j's complaint, logged on the root logger with a traceback, would
    print after the error the user was given, so logging is off while stopping.
    """
    logging.disable(logging.CRITICAL)
    try:
        with contextlib.suppress(Exception), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            session.stop()
    finally:
        logging.disable(logging.NOTSET)
    if work is not None:
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
    _, work = _STARTED.get(id(session.sparkContext), (None, None))
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
