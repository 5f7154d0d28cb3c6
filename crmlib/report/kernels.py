"""The kernels of a report run: started with the run's environment, retried, all stopped.

**Kernels slow to start.** On a loaded machine a kernel may take more than
jupyter's 60 s to answer, or die while starting. The run waits for it
within the per-cell timeout and starts it again if needed (nothing has run
in it yet); only a kernel that never starts fails its lesson
(:func:`start_and_run`). Every kernel the run starts is shut down, also
after a failure, a timeout or Ctrl-C (:class:`Kernels`).
"""

from __future__ import annotations

import math
import os
import signal
import subprocess
import threading
import time

KERNEL_ENV = {"PYTHONHASHSEED": "0"}  # fixed hash seed: same set/dict order on every run
KERNEL_START_MIN = 60  # seconds a kernel start is waited for at least (jupyter's default)
KERNEL_START_BUDGET = 600  # seconds for all attempts when cells have no timeout
KERNEL_STARTS = 3  # attempts to start a lesson's kernel


class Kernels:
    """Every kernel a report run starts, so that none outlives it.

    Gives papermill a kernel-manager class that starts each kernel with the
    run's environment (the results folder, a fixed hash seed), with CurveZMQ
    transport encryption when the kernel supports it, and records its process
    group. :meth:`kill_all` ends them all (the kernel and whatever it spawned)
    and refuses new ones: it runs on Ctrl-C, on any error and at the end.
    """

    def __init__(self, env: dict[str, str]):
        from jupyter_client.connect import LocalPortCache
        from jupyter_client.manager import AsyncKernelManager

        LocalPortCache.instance()  # made here, once: its first creation is not thread-safe
        self.env = env
        self.cancelled = False
        self._lock = threading.Lock()
        self._processes: list = []
        registry = self

        class RunKernelManager(AsyncKernelManager):
            async def start_kernel(self, **kw):
                if registry.cancelled:
                    # internal: stops a kernel start after Ctrl-C; the runner reports the stop
                    raise RuntimeError("the report run was stopped")
                kw["env"] = {**os.environ, **kw.get("env", {}), **registry.env}
                if _curve_available() and hasattr(self, "transport_encryption"):
                    self.transport_encryption = "auto"
                await super().start_kernel(**kw)
                registry._add(self.provisioner)

        self.manager_class = RunKernelManager

    def _add(self, provisioner) -> None:
        process = getattr(provisioner, "process", None)
        if process is None:
            return
        pgid = getattr(provisioner, "pgid", None)
        with self._lock:
            self._processes.append((process, pgid))
            late = self.cancelled
        if late:
            self._kill(process, pgid)

    @property
    def pids(self) -> list[int]:
        """Process ids of the kernels started so far (running or not)."""
        with self._lock:
            return [p.pid for p, _ in self._processes]

    def kill_all(self) -> None:
        """Stop every kernel still running and refuse to start more."""
        with self._lock:
            self.cancelled = True
            processes = list(self._processes)
        for process, pgid in processes:
            self._kill(process, pgid)

    @staticmethod
    def _kill(process, pgid) -> None:
        if process.poll() is not None:  # ended (and reaped): its pid may be someone else's now
            return
        try:
            if pgid and hasattr(os, "killpg"):
                os.killpg(pgid, signal.SIGKILL)
            else:
                process.kill()
        except (ProcessLookupError, PermissionError):
            pass
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass


def _curve_available() -> bool:
    try:
        import zmq

        return bool(zmq.has("curve"))
    except ImportError:
        return False


def start_and_run(execute, tracker, kernels: Kernels, timeout, run):
    """Run ``execute(start_timeout)``, starting the kernel again if it failed to start.

    On a loaded machine a kernel can take more than jupyter's 60 s to answer
    its first request ("Kernel didn't respond in 60 seconds"), or die while
    starting (e.g. a port taken by another process meanwhile). Nothing has
    run in it then, so the lesson is started again. All attempts share one
    budget: the per-cell timeout (at least :data:`KERNEL_START_MIN` s; with no
    per-cell timeout :data:`KERNEL_START_BUDGET` s). The first attempt waits
    up to half of it (at least :data:`KERNEL_START_MIN` s), later ones the
    rest, at most :data:`KERNEL_STARTS` attempts. A failure after the first
    cell started, or once the run was stopped, is not retried.

    ``tracker`` is the lesson's progress tracker (its ``first_cell_at`` says
    whether a cell ran; ``nb`` and ``current`` are reset before a new
    attempt); ``run`` the lesson's :class:`crmlib.report.execute.LessonRun`,
    whose ``kernel_starts`` counts the attempts.
    """
    budget = max(KERNEL_START_MIN, timeout or KERNEL_START_BUDGET)
    deadline = time.perf_counter() + budget
    for attempt in range(1, KERNEL_STARTS + 1):
        remaining = deadline - time.perf_counter()
        wait = min(remaining, max(KERNEL_START_MIN, budget / 2)) if attempt == 1 else remaining
        run.kernel_starts = attempt
        try:
            return execute(max(1, math.ceil(wait)))
        except Exception as exc:
            started = tracker.first_cell_at is not None
            left = deadline - time.perf_counter()
            if started or kernels.cancelled:
                raise
            if attempt == KERNEL_STARTS or left < 1:
                raise KernelStartError(attempt, budget, exc) from exc
            tracker.nb = tracker.current = None
            cancel_leftover_tasks()
    # the code's own invariant: every attempt above returns or raises
    raise AssertionError("unreachable")  # pragma: no cover


class KernelStartError(Exception):
    """The lesson's kernel did not start, after every attempt."""

    def __init__(self, attempts: int, budget: float, cause: Exception):
        first = str(cause).splitlines()[0] if str(cause) else ""
        what = f"{type(cause).__name__}: {first}".rstrip(": ")
        super().__init__(
            f"the kernel did not start ({attempts} attempt(s) within {budget:.0f} s; last: {what})"
        )


def cancel_leftover_tasks() -> None:
    """Cancel what nbclient left pending on this thread's event loop.

    After a kernel death or a timeout nbclient leaves its output-polling task
    behind; cancelled here, it does not end the process with "Task was
    destroyed but it is pending!".
    """
    import asyncio

    try:
        loop = asyncio.get_event_loop_policy().get_event_loop()
    except RuntimeError:
        return
    if loop.is_running() or loop.is_closed():
        return
    pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for task in pending:
        task.cancel()
    if pending:
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
