"""Scratch folders that a stopped process does not leave behind.

DuckDB spills to a folder past its memory limit, Spark keeps its shuffle files in one,
and the out-of-core validator its work tables. On a 100 M-line folder such a folder can
hold tens of gigabytes. A command that ends normally, fails, or is stopped with Ctrl-C or
``kill`` (``crm`` turns SIGTERM into the same interruption, :func:`crmlib.cli.main.main`)
removes its own. A process killed outright (SIGKILL, a machine out of memory) cannot, so
:func:`scratch_dir` names every folder after the process that made it and, before making
a new one, removes the folders of processes that no longer exist.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

#: Start of every scratch folder's name; then a kind (``duckdb-``, ``spark-``), the id of
#: the process that made it, and ``-`` with random characters.
PREFIX = "crm-"
_NAME = re.compile(rf"{PREFIX}[a-z]+-(\d+)-")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True


def sweep(folder: str | Path | None = None) -> list[Path]:
    """Remove the scratch folders of processes that have ended; return those removed.

    Only this user's folders whose name carries a process id (:data:`PREFIX`, a kind, the
    id) are looked at, and only those whose process is gone are removed.
    """
    folder = Path(folder or tempfile.gettempdir())
    removed = []
    uid = os.getuid()
    for path in folder.glob(f"{PREFIX}*-*-*"):
        found = _NAME.match(path.name)
        try:
            mine = path.is_dir() and not path.is_symlink() and path.stat().st_uid == uid
        except OSError:
            continue
        if found and mine and not _alive(int(found.group(1))):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def scratch_dir(kind: str, folder: str | Path | None = None) -> Path:
    """A new scratch folder ``crm-<kind>-<pid>-<random>``, after :func:`sweep`.

    Parameters
    ----------
    kind : str
        Lower-case letters saying what it is for (``duckdb``, ``spark``, ``validate``).
    folder : path, optional
        Where to make it; default the system's temporary folder.

    Returns
    -------
    Path
        The folder; the caller removes it when done (``shutil.rmtree``).
    """
    sweep(folder)
    return Path(tempfile.mkdtemp(prefix=f"{PREFIX}{kind}-{os.getpid()}-", dir=folder))
