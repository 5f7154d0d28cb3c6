"""One run per report folder: a lock file beside it while a run writes it."""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

from crmlib.errors import CRMError

LOCK_SUFFIX = ".lock"  # .<out>.lock beside the report folder while a run writes it


class OutLock:
    """``.<out>.lock`` beside the report folder: one run at a time writes a report folder.

    The file holds the pid, host and start time of the run that writes
    ``out``, under an exclusive ``flock``. A second run into the same folder
    finds the lock held and is refused with a :class:`CRMError` naming that
    run. The operating system releases the lock when its process ends, however
    it ends, so a file left by a run that was killed (its pid gone) is stale:
    the next run takes it over. The file is removed when the run ends.
    """

    def __init__(self, out: Path):
        self.out = Path(out)
        self.path = self.out.with_name(f".{self.out.name}{LOCK_SUFFIX}")
        self._fd: int | None = None
        self._made: list[Path] = []

    def __enter__(self) -> OutLock:
        import fcntl

        missing = [p for p in (self.out.parent, *self.out.parent.parents) if not p.exists()]
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self._made = missing  # deepest first, removed again if left empty
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                holder = self._holder(fd)
                os.close(fd)
                self._remove_made()
                raise CRMError(
                    f"another crm report{holder} is writing {self.out.name} now; wait until it "
                    "ends, or choose another --out"
                ) from None
            try:  # the last holder may have removed the file meanwhile: lock the one in place
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        stamp = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps(stamp).encode("utf-8"))
        self._fd = fd
        return self

    def __exit__(self, *exc) -> None:
        if self._fd is None:
            return
        try:
            self.path.unlink(missing_ok=True)
        finally:
            os.close(self._fd)  # closing releases the lock
            self._fd = None
            self._remove_made()

    @staticmethod
    def _holder(fd: int) -> str:
        try:
            stamp = json.loads(os.pread(fd, 4096, 0).decode("utf-8"))
            return f" (process {int(stamp['pid'])}, started {stamp['started']})"
        except (OSError, ValueError, KeyError, TypeError):
            return ""  # it is still writing its stamp

    def _remove_made(self) -> None:
        for folder in self._made:
            try:
                folder.rmdir()
            except OSError:
                break
