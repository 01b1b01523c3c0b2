"""The lock a folder run holds on its output folder, so that two runs never write into one folder."""

from __future__ import annotations

import errno
import os
from pathlib import Path

from ..errors import FermaskError
from ._outputs import unwritable

__all__ = ["LOCK_NAME", "FolderLock"]

LOCK_NAME = ".fermask.lock"
"""File name of the lock a run holds inside the output folder (it records the run's pid)."""


_HELD_LOCKS: set[int] = set()
"""File descriptors of the folder locks this process holds."""


def _close_inherited_locks() -> None:
    """In a forked child (a pool worker): close its copies of the parent's folder locks.

    A ``flock`` lasts while any process has its file open, so a worker that
    kept the copy ``fork`` gave it would hold the folder after its run died.
    """
    for fd in _HELD_LOCKS:
        try:
            os.close(fd)
        except OSError:
            pass
    _HELD_LOCKS.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_close_inherited_locks)


class FolderLock:
    """An exclusive lock on an output folder, held for a whole run.

    ``flock`` on ``OUTDIR/.fermask.lock``: the kernel releases it when the
    process ends, even when it is killed, so a lock left by a dead run is
    simply taken over (:attr:`taken_over` then names that run's pid). Worker
    processes forked during the run close their copy of the file at once, so
    the lock ends with the run's own process, not with its last worker. Where
    ``fcntl`` is missing (Windows) no lock is taken.

    Args:
        folder: The output folder; created if needed.

    Raises:
        FermaskError: The folder cannot be created or written to, or another
            run holds its lock.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.taken_over: int | None = None
        self._locked = False
        try:
            folder.mkdir(parents=True, exist_ok=True)
            self._fd: int | None = os.open(folder / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise unwritable(folder, exc) from None
        try:
            self._acquire()
        except BaseException:
            os.close(self._fd)  # the holder's pid stays in the file
            self._fd = None
            raise

    def _holder(self) -> int | None:
        assert self._fd is not None
        text = os.pread(self._fd, 64, 0).decode("ascii", "replace").strip()
        return int(text) if text.isdigit() else None

    def _acquire(self) -> None:
        assert self._fd is not None
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows
            return
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise unwritable(self.folder, exc) from None
            holder = self._holder()
            who = f"process {holder}" if holder is not None else "another process"
            raise FermaskError(
                f"another fermask run ({who}) is writing to the output folder {str(self.folder)!r}; two runs "
                "into one folder would mix their outputs. Wait for it to finish (then rerun to resume), or "
                "choose another output folder"
            ) from None
        previous = self._holder()  # a released lock is empty: a pid here is a run that died holding it
        if previous is not None and previous != os.getpid():
            self.taken_over = previous
        self._locked = True
        _HELD_LOCKS.add(self._fd)
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, f"{os.getpid()}\n".encode("ascii"), 0)

    def release(self) -> None:
        """Clear the pid and release the lock (closing the file releases it)."""
        if self._fd is None:
            return
        if self._locked:
            try:
                os.ftruncate(self._fd, 0)
            except OSError:
                pass
        _HELD_LOCKS.discard(self._fd)
        os.close(self._fd)
        self._fd = None
        self._locked = False

