"""The sandbox of a student's kernel: bubblewrap, limits and a hardened Execute.

Each student's kernel runs inside bubblewrap (``bwrap``, :func:`sandbox_command`):
a read-only view of the system, Python, ``crmlib`` and the bundled data sets,
a private ``/tmp``, no network and no other process in sight. Its working
folder is a copy of the autograded folder *without* notebooks
(:class:`GuardedExecute`): nbgrader executes a notebook into which it has
already written every hidden test, and the student's code must not read it.
The kernel cannot see the masters, the gradebook, the course folder or other
students' work. Memory (address space) and file size are limited
(:class:`SandboxedKernelManager`), each cell has a time limit, and a cell's
output is capped: a cell that floods its output is stopped. A kernel that
dies costs the cells it did not run, not the whole submission.

What the sandbox cannot do: the student's code runs in the same Python
process as the tests that follow it, so it can observe or tamper with them
(for example replace a function the tests call, or read the source of hidden
tests that already ran). The autograded notebook keeps a record of what ran;
review it when a score looks too good.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import nbformat
from jupyter_client.manager import AsyncKernelManager
from jupyter_core.utils import run_sync
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbgrader.preprocessors import Execute
from traitlets import Integer, List, Unicode

from crmlib.errors import CRMError

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


def matplotlib_cache() -> Path | None:
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
