"""The lock a folder run holds on its output folder, so that two runs never write into one folder."""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from pathlib import Path

from ..errors import FermaskError
from ._outputs import refuse_link, unwritable

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


_PID_WIDTH = 12
"""A pid is written padded to this width (and a newline), so writing one always covers the last: no truncation."""


def _open_lock(folder: Path) -> int:
    """Open (creating) the lock file without following a link; refuse one that holds anything but a pid."""
    path = folder / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0), 0o644)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise refuse_link(path, "its lock") from None
        raise unwritable(folder, exc) from None
    try:
        st = os.fstat(fd)
        text = os.pread(fd, 65, 0) if stat.S_ISREG(st.st_mode) else b""
    except OSError as exc:
        os.close(fd)
        raise unwritable(folder, exc) from None
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise refuse_link(path, "its lock")
    if len(text) > 64 or not (text.strip() == b"" or text.strip().isdigit()):
        os.close(fd)
        raise FermaskError(
            f"{str(path)!r} is not a fermask lock (it holds other data, kept as it is); fermask uses that name "
            "for the lock of a run. Move the file away, or choose another output folder"
        )
    return fd


def _check_writable(folder: Path) -> None:
    """Create and remove a file in ``folder``: a folder that refuses it is refused before any work."""
    try:
        fd, name = tempfile.mkstemp(prefix=".fermask-write-test-", dir=folder)
        os.close(fd)
        os.unlink(name)
    except OSError as exc:
        raise unwritable(folder, exc) from None


class FolderLock:
    """An exclusive lock on an output folder, held for a whole run.

    ``flock`` on ``OUTDIR/.fermask.lock``: the kernel releases it when the
    process ends, even when it is killed, so a lock left by a dead run is
    simply taken over (:attr:`taken_over` then names that run's pid). Worker
    processes forked during the run close their copy of the file at once, so
    the lock ends with the run's own process, not with its last worker. Where
    ``fcntl`` is missing (Windows) no lock is taken.

    The lock file is opened without following a symbolic link and is never
    truncated: the pid is written over the last one at a fixed width. A file
    of that name that holds anything else is refused, never emptied. At the
    end of the run the file is removed, if it is still the one this run
    locked.

    Args:
        folder: The output folder; created if needed.

    Raises:
        FermaskError: The folder cannot be created or written to, its lock
            file is a link or holds other data, or another run holds its lock.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.taken_over: int | None = None
        self._locked = False
        self._fd: int | None = None
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise unwritable(folder, exc) from None
        _check_writable(folder)  # a folder that holds a run can be read-only: refused before its lock is touched
        for _ in range(10):  # the file was removed by the run that held it between our open and our flock: again
            self._fd = _open_lock(folder)
            try:
                if self._acquire():
                    break
            except BaseException:
                os.close(self._fd)  # the holder's pid stays in the file
                self._fd = None
                raise
            os.close(self._fd)
            self._fd = None
        if self._fd is None:  # pragma: no cover - ten runs in a row removed the lock under us
            raise FermaskError(f"could not lock the output folder {str(folder)!r}; another run keeps replacing it")

    def _holder(self) -> int | None:
        assert self._fd is not None
        text = os.pread(self._fd, 64, 0).decode("ascii", "replace").strip()
        return int(text) if text.isdigit() else None

    def _still_named(self) -> bool:
        """Whether ``OUTDIR/.fermask.lock`` is still the file this lock has open."""
        assert self._fd is not None
        try:
            named = os.lstat(self.folder / LOCK_NAME)
        except OSError:
            return False
        mine = os.fstat(self._fd)
        return (named.st_dev, named.st_ino) == (mine.st_dev, mine.st_ino)

    def _acquire(self) -> bool:
        """Take the lock; ``False`` when the file was removed meanwhile (the caller opens it again)."""
        assert self._fd is not None
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows
            return True
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
        if not self._still_named():
            return False
        previous = self._holder()  # a finished run removes its lock: a pid here is a run that died holding it
        if previous is not None and previous != os.getpid():
            self.taken_over = previous
        self._locked = True
        _HELD_LOCKS.add(self._fd)
        try:
            os.pwrite(self._fd, f"{os.getpid():<{_PID_WIDTH}}\n".encode("ascii"), 0)
        except OSError as exc:
            raise unwritable(self.folder, exc) from None
        return True

    def release(self) -> None:
        """Remove the lock file if it is still this run's, and release the lock (closing the file releases it)."""
        if self._fd is None:
            return
        if self._locked and self._still_named():
            try:  # removed while still locked: a run that opened it meanwhile sees it is gone and opens it again
                os.unlink(self.folder / LOCK_NAME)
            except OSError:
                pass
        _HELD_LOCKS.discard(self._fd)
        os.close(self._fd)
        self._fd = None
        self._locked = False
