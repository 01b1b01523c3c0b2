"""Mask whole folders of images on disk, with a manifest and resumable runs.

This is the engine behind ``fermask mask``; it is usable from Python too.

Inputs are files and folders (searched recursively for ``.jpg``, ``.jpeg``,
``.png``, ``.bmp`` and ``.webp`` files, any case). Masked images are written
under an output folder that mirrors the inputs' relative paths; inputs are
never overwritten. Every input gets one line in ``OUTDIR/manifest.jsonl``:

* ``{"type": "run", ...}`` starts each run: time, fermask version, the
  masker's configuration and its hash, the output format.
* ``{"type": "item", "input", "output", "status", "faces", "styles", ...}``
  per input; ``status`` is ``"masked"``, ``"no_face"`` or ``"error"`` and
  ``reason`` says why an input was not masked. ``output`` is relative to
  ``OUTDIR`` (``null`` when nothing was written); ``note`` flags an animated
  image, of which only the first frame was masked.
* ``{"type": "summary", ...}`` ends a run (``"interrupted": true`` when it
  was stopped).

The workers (processes, or any executor's) read, mask and encode the
images; this process writes the files and the manifest. Lines are appended
and flushed in small groups (every 64 images or half a second), and each
image is written to a temporary file first and renamed only after its line
is flushed, so a run that is killed never leaves a half-written image
counted as done, nor a file the manifest does not name. A line cut off by a crash is
skipped when read, and the next line written starts on a fresh line. File
names that are not valid UTF-8 are recorded with ``\\u`` escapes that read back
to the same name.

A run holds a lock on ``OUTDIR`` (``OUTDIR/.fermask.lock``) until it ends, so
a second run into the same folder is refused at once. Files in ``OUTDIR`` that
fermask did not write (no manifest line names them) are never replaced: the
output takes the next free name (``a-2.png``). A rerun with the same
configuration skips inputs that are done (``masked`` with the output still on
disk, or ``no_face``) and unchanged (same size and modification time); inputs
that failed are tried again. A rerun with a different configuration is
refused unless ``force=True``. Random choices are seeded by each input's
position among all the inputs, so a resumed run writes the same bytes as an
uninterrupted one, whatever ``workers`` or ``executor``.

Examples:
    >>> from fermask import Masker
    >>> from fermask.batch import mask_folder
    >>> summary = mask_folder(["photos/"], "masked/", Masker("surgical"))  # doctest: +SKIP
    >>> print(summary.line())  # doctest: +SKIP
    12 masked, 1 no face, 0 errors -> masked
"""

from __future__ import annotations

import datetime as _dt
import errno
import json
import os
import stat
import sys
import time
import warnings
from collections.abc import Iterable, Iterator
from contextlib import closing
from concurrent.futures import Executor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Literal, Protocol

from .._choices import OUTPUT_FORMATS, check_choice
from .._files import json_line, open_append, read_json_lines, sha256_hex
from .._image import IMAGE_SUFFIXES
from .._parallel import cpu_count, ordered_map
from .._version import __version__
from ..errors import FermaskError
from ..masker import MaskResult, warm_quietly
from ._encode import DEFAULT_PNG_LEVEL, PIL_FORMATS, RECORD_FIELDS, Encoded, Encoder, Task

__all__ = [
    "MANIFEST_NAME",
    "BatchSummary",
    "InputFile",
    "collect_inputs",
    "mask_folder",
    "read_manifest",
    "config_hash",
]

MANIFEST_NAME = "manifest.jsonl"
"""File name of the manifest inside the output folder."""

LOCK_NAME = ".fermask.lock"
"""File name of the lock a run holds inside the output folder (it records the run's pid)."""

OutputFormat = Literal["png", "same"]
"""The accepted ``output_format`` values (``fermask mask --format``)."""

class _MaskerLike(Protocol):
    def config(self) -> dict[str, Any]: ...

    def mask_many(
        self,
        images: Iterable[Any],
        *,
        workers: int | None = ...,
        executor: Executor | None = ...,
        chunksize: int = ...,
        progress: bool = ...,
        indices: Iterable[int] | None = ...,
    ) -> Iterator[MaskResult]: ...


@dataclass(frozen=True)
class InputFile:
    """One image file to mask.

    Attributes:
        path: The file as found (the input path, or inside an input folder).
        rel: Where its output goes, relative to the output folder, before
            the output suffix is applied.
    """

    path: Path
    rel: Path


@dataclass
class BatchSummary:
    """What a :func:`mask_folder` run did.

    Attributes:
        outdir: The output folder.
        manifest: The manifest file.
        masked: Inputs masked in this run.
        no_face: Inputs in which no face was found in this run.
        errors: Inputs that could not be read or masked in this run.
        skipped: Inputs already done by an earlier run (not redone).
        ignored: Files inside input folders without an image suffix.
        seconds: Wall time of this run.
        interrupted: Whether the run was stopped before the end.
        error_inputs: The inputs that failed, with their reasons.
    """

    outdir: Path
    manifest: Path
    masked: int = 0
    no_face: int = 0
    errors: int = 0
    skipped: int = 0
    ignored: int = 0
    seconds: float = 0.0
    interrupted: bool = False
    error_inputs: list[tuple[str, str]] = field(default_factory=list)

    @property
    def processed(self) -> int:
        """Inputs handled in this run (not counting skipped ones)."""
        return self.masked + self.no_face + self.errors

    def line(self) -> str:
        """The one-line summary ``fermask mask`` prints."""
        text = f"{self.masked} masked, {self.no_face} no face, {self.errors} errors -> {self.outdir}"
        extra = []
        if self.skipped:
            extra.append(f"{self.skipped} already done, skipped")
        if self.ignored:
            extra.append(f"{self.ignored} non-image files ignored")
        if self.interrupted:
            extra.append("interrupted: rerun the same command to resume")
        return text + (f" ({'; '.join(extra)})" if extra else "")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (the manifest's summary line)."""
        return {
            "masked": self.masked,
            "no_face": self.no_face,
            "errors": self.errors,
            "skipped": self.skipped,
            "ignored": self.ignored,
            "seconds": round(self.seconds, 3),
            "interrupted": self.interrupted,
        }


# -- inputs ---------------------------------------------------------------
def _real(path: Path) -> Path:
    """The path with symlinks resolved, or its absolute form when it is a broken symlink (a loop, no target)."""
    try:
        real = path.resolve()
    except (RuntimeError, OSError):  # "Symlink loop" (RuntimeError before Python 3.13)
        return Path(os.path.abspath(path))
    if path.is_symlink() and not real.exists():
        return Path(os.path.abspath(path))
    return real


class _Resolver:
    """:func:`_real` for many files, remembering each folder's resolution.

    A file that is not a symlink resolves to its folder's resolution plus its
    name, so a file costs one ``lstat`` instead of one per path component.
    """

    def __init__(self) -> None:
        self._folders: dict[Path, Path] = {}

    def __call__(self, path: Path, link: bool | None = None) -> Path:
        """``path`` resolved; ``link`` says whether it is a symlink, when the caller already knows."""
        folder = path.parent
        real_folder = self._folders.get(folder)
        if real_folder is None:
            real_folder = self._folders[folder] = _real(folder)
        if link is None:
            try:
                link = stat.S_ISLNK(os.lstat(path).st_mode)
            except OSError:  # not there (yet): it lies in its folder's resolution
                return real_folder / path.name
        return _real(path) if link else real_folder / path.name


def _is_file(entry: os.DirEntry[str]) -> bool:
    """Whether ``entry`` is a file or leads to one (``False`` for a symlink loop, as ``Path.is_file`` says)."""
    try:
        return entry.is_file()
    except OSError:
        return False


def _walk(folder: Path) -> list[tuple[tuple[str, ...], os.DirEntry[str]]]:
    """Every entry under ``folder`` that is not a folder, with its path's parts below ``folder``, sorted as paths sort.

    Symlinks to folders are listed, not entered (as ``Path.rglob`` does). One
    ``scandir`` per folder tells files from folders without a ``stat`` per
    file. A folder that cannot be listed is left out with a warning.
    """
    found: list[tuple[tuple[str, ...], os.DirEntry[str]]] = []
    stack: list[tuple[str, tuple[str, ...]]] = [(os.fspath(folder), ())]
    while stack:
        path, rel = stack.pop()
        try:
            with os.scandir(path) as entries:
                for entry in entries:
                    parts = (*rel, entry.name)
                    if entry.is_dir(follow_symlinks=False):
                        stack.append((entry.path, parts))
                    else:
                        found.append((parts, entry))
        except OSError as exc:
            warnings.warn(f"{path!r} cannot be listed ({exc.strerror or exc}); the images in it are left out. "
                          "Fix its permissions and rerun to include them", stacklevel=4)
    if os.name == "nt":  # Windows paths sort without regard to case
        found.sort(key=lambda item: tuple(os.path.normcase(p) for p in item[0]))
    else:
        found.sort(key=lambda item: item[0])
    return found


def _broken_link(path: Path) -> str | None:
    """Why ``path`` cannot be read when it is a symlink loop or a dangling symlink, else ``None``."""
    if not path.is_symlink():
        return None
    try:
        path.stat()
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return (f"{str(path)!r} is a symbolic link loop (it leads back to itself); "
                    "fix or remove the link")
        return (f"{str(path)!r} is a symbolic link to {os.readlink(path)!r}, which does not exist; "
                "fix or remove the link")
    return None


def _is_within(path: Path, folder: Path) -> bool:
    try:
        path.relative_to(folder)
        return True
    except ValueError:
        return False


def collect_inputs(
    inputs: Iterable[str | os.PathLike[str]], *, exclude: str | os.PathLike[str] | None = None
) -> tuple[list[InputFile], int]:
    """List the image files named by ``inputs``.

    Folders are searched recursively (sorted, so the order is stable) for
    files whose suffix is an image suffix in any case. Files named directly
    are taken whatever their suffix (a bad one is reported when read).
    Duplicates (the same file reached twice) are kept once. Symbolic links
    that lead nowhere (a loop, a missing target) are listed too, so that the
    run reports them. Symbolic links to folders are not followed, and pipes,
    sockets and devices are not read: a warning names them.

    Args:
        inputs: Files and folders.
        exclude: A folder whose contents are never inputs (the output folder).

    Returns:
        The files, and the number of files inside the folders that were
        ignored because their suffix is not an image suffix.

    Raises:
        FermaskError: No inputs, or an input path does not exist.
    """
    chosen, ignored = _collect(inputs, exclude)
    return list(chosen.values()), ignored


def _collect(
    inputs: Iterable[str | os.PathLike[str]], exclude: str | os.PathLike[str] | None
) -> tuple[dict[Path, InputFile], int]:
    """:func:`collect_inputs`, each file under its path with symbolic links resolved (in the order found)."""
    items = [Path(p) for p in inputs]
    if not items:
        raise FermaskError("no inputs given; name at least one image file or folder")
    missing = [str(p) for p in items if not p.exists() and not p.is_symlink()]
    if missing:
        raise FermaskError(
            f"input not found: {', '.join(missing)}; check the path (folders are searched recursively)"
        )
    skip = Path(exclude).resolve() if exclude is not None else None
    real_of = _Resolver()
    chosen: dict[Path, InputFile] = {}
    ignored = 0
    left_out: list[str] = []
    for item in items:
        if item.is_dir():
            # leave the output folder out when it lies inside this input folder
            drop = skip if skip is not None and _is_within(skip, item.resolve()) else None
            ignored += _collect_folder(item, drop, real_of, chosen, left_out)
            continue
        chosen.setdefault(real_of(item), InputFile(item, Path(item.name)))
    if left_out:
        shown = "; ".join(left_out[:3]) + ("; ..." if len(left_out) > 3 else "")
        warnings.warn(f"left out {len(left_out)} entr{'y' if len(left_out) == 1 else 'ies'} of the input folders "
                      f"that are not files: {shown}", stacklevel=3)
    return chosen, ignored


def _collect_folder(
    folder: Path, drop: Path | None, real_of: _Resolver, chosen: dict[Path, InputFile], left_out: list[str]
) -> int:
    """Add the image files under ``folder`` to ``chosen`` (see :func:`_collect`); return how many were ignored.

    ``left_out`` gets a line for each entry that is neither a file nor a folder
    fermask enters (a symlink to a folder, a pipe, a socket, a device).
    """
    ignored = 0
    for parts, entry in _walk(folder):
        f = Path(entry.path)
        link = entry.is_symlink()
        if not _is_file(entry) and (not link or _broken_link(f) is None):
            if link:
                left_out.append(f"{str(f)!r} is a symbolic link to a folder, which fermask does not follow "
                                "(name that folder as an input to include it)")
            else:
                left_out.append(f"{str(f)!r} is a pipe, socket or device")
            continue
        real = real_of(f, link)
        if drop is not None and _is_within(real, drop):
            continue
        if os.path.splitext(entry.name)[1].lower() not in IMAGE_SUFFIXES:
            ignored += 1
            continue
        chosen.setdefault(real, InputFile(f, Path(*parts)))
    return ignored


# -- manifest -------------------------------------------------------------
def config_hash(config: dict[str, Any]) -> str:
    """A short, stable hash of a JSON-ready configuration (the first 16 hex digits of its sha256)."""
    blob = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return sha256_hex(blob)[:16]


def read_manifest(path: str | os.PathLike[str]) -> tuple[list[dict[str, Any]], int]:
    """Read a manifest, tolerating cut-off lines.

    A line cut off by a crash is skipped; a whole record that an older
    version appended right after it, on the same line, is kept.

    Args:
        path: The ``manifest.jsonl`` file.

    Returns:
        The records (dicts, in file order) and the number of lines that
        could not be parsed, whole or in part (a run killed mid-write leaves
        at most one).
    """
    values, bad = read_json_lines(path)
    records = [v for v in values if isinstance(v, dict)]
    return records, len(bad) + len(values) - len(records)


def _file_stamp(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns


def _written_by_fermask(records: list[dict[str, Any]], outdir: Path) -> set[Path]:
    """The files in ``outdir`` that some run recorded as its output (whatever its configuration)."""
    return {
        _real(outdir / rec["output"])
        for rec in records
        if rec.get("type") == "item" and isinstance(rec.get("output"), str)
    }


def _previous_state(records: list[dict[str, Any]]) -> tuple[str | None, dict[str, dict[str, Any]]]:
    """The hash of the last run and, per input, its latest item record under that hash."""
    last_hash: str | None = None
    run_hash: str | None = None
    items: dict[str, tuple[str | None, dict[str, Any]]] = {}
    for rec in records:
        kind = rec.get("type")
        if kind == "run":
            run_hash = rec.get("config_hash")
            last_hash = run_hash
        elif kind == "item" and isinstance(rec.get("input"), str):
            items[rec["input"]] = (run_hash, rec)
    latest = {k: rec for k, (h, rec) in items.items() if h == last_hash}
    return last_hash, latest


def _is_done(rec: dict[str, Any], src: Path, outdir: Path) -> bool:
    stamp = _file_stamp(src)
    if stamp is None or [rec.get("input_bytes"), rec.get("input_mtime_ns")] != list(stamp):
        return False
    status = rec.get("status")
    if status == "no_face":
        return True
    if status == "masked" and isinstance(rec.get("output"), str):
        return (outdir / rec["output"]).is_file()
    return False


# -- outputs --------------------------------------------------------------
class _Namer:
    """Output paths unique within the output folder, never an input, never a file fermask did not write.

    Args:
        outdir: The output folder.
        forbidden: Paths that are never outputs (the inputs, the manifest).
        ours: Files in ``outdir`` that fermask wrote (the manifest names
            them): the only existing files an output may replace.
    """

    def __init__(self, outdir: Path, forbidden: set[Path], ours: set[Path]) -> None:
        self.outdir = outdir
        self.real_of = _Resolver()
        self.used: set[Path] = set()
        self.forbidden = forbidden
        self.ours = ours

    def reserve(self, rel: str) -> None:
        self.used.add(self.real_of(self.outdir / rel))

    def _free(self, full: Path) -> bool:
        if full in self.used or full in self.forbidden:
            return False
        if full in self.ours:
            return True
        try:
            os.lstat(full)  # anything there, a dangling symlink included, is not ours to replace
        except (FileNotFoundError, NotADirectoryError):
            return True
        return False

    def __call__(self, rel: Path, suffix: str) -> Path:
        base = rel.with_suffix(suffix)
        k = 1
        cand = base
        while True:
            full = self.real_of(self.outdir / cand)
            if self._free(full):
                self.used.add(full)
                return cand
            k += 1
            cand = base.with_name(f"{base.stem}-{k}{base.suffix}")


@dataclass
class _Output:
    """A masked image saved under a temporary name, renamed to ``target`` once its manifest line is written.

    The line comes first, so a file fermask wrote is always one the manifest
    names (a run killed in between leaves a line whose output is missing:
    the input is redone under the same name).
    """

    tmp: Path
    target: Path
    committed: bool = False

    def commit(self) -> None:
        """Give the image its output name."""
        os.replace(self.tmp, self.target)
        self.committed = True

    def discard(self) -> None:
        """Remove the temporary file, if it is still there."""
        if not self.committed:
            try:
                self.tmp.unlink()
            except FileNotFoundError:
                pass


def _write_partial(data: bytes, target: Path, folders: set[Path]) -> _Output:
    """Write an encoded image under a temporary name next to ``target``.

    ``folders`` holds the folders already made in this run (each is made once).
    """
    if target.parent not in folders:
        target.parent.mkdir(parents=True, exist_ok=True)
        folders.add(target.parent)
    output = _Output(target.with_name(f".{target.name}.{os.getpid()}.partial"), target)
    try:
        with open(output.tmp, "wb") as f:
            f.write(data)
    except BaseException:
        output.discard()
        raise
    return output


class _Manifest:
    """The manifest, open for appending one flushed line per record."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:  # a cut-off last line gets its newline here (the plan warned about it)
            self._f, _ = open_append(path)
        except OSError as exc:
            raise _unwritable(path.parent, exc) from None

    def write(self, rec: dict[str, Any], *, flush: bool = True) -> None:
        self._f.write((json_line(rec, default=str) + "\n").encode("utf-8"))
        if flush:
            self._f.flush()

    def flush(self) -> None:
        self._f.flush()

    def close(self) -> None:
        self._f.close()


def _unwritable(folder: Path, exc: OSError) -> FermaskError:
    """The error for an output folder that cannot be created or written to."""
    why = exc.strerror or str(exc)
    return FermaskError(
        f"cannot write to the output folder {str(folder)!r} ({why}: {exc.filename or folder}); "
        "choose a folder you can write to with -o (outdir=), or fix its permissions"
    )


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


class _FolderLock:
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
            raise _unwritable(folder, exc) from None
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
                raise _unwritable(self.folder, exc) from None
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


def _remove_partials(out: Path, pid: int) -> None:
    """Remove the temporary images a run that died left in ``out`` (named ``.NAME.PID.partial``)."""
    for tmp in out.rglob(f".*.{pid}.partial"):
        try:
            if tmp.is_file() and not tmp.is_symlink():
                tmp.unlink()
        except OSError:  # pragma: no cover - a leftover that cannot go stays, clearly named
            pass


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


# -- the engine -----------------------------------------------------------
@dataclass
class _Todo:
    """One input to mask in this run."""

    file: InputFile
    key: str  # the resolved input path: the manifest's ``input``
    stamp: tuple[int, int] | None  # size and mtime when the run was planned
    index: int  # position among all the inputs: seeds the random choices
    broken: str | None = None  # why a symlink cannot be read (a loop, a missing target)


@dataclass
class _Plan:
    """What a run will do, decided before any image is masked."""

    out: Path
    manifest: Path
    output_format: OutputFormat
    png_level: int
    run_config: dict[str, Any]
    digest: str
    files: list[InputFile]
    ignored: int
    bad_lines: int
    todo: list[_Todo]
    skipped: int
    namer: _Namer
    earlier_output: dict[str, Path]
    folders: set[Path] = field(default_factory=set)  # output folders made in this run

    def run_record(self, inputs: list[str | os.PathLike[str]], lock: _FolderLock) -> dict[str, Any]:
        """The manifest line that starts the run."""
        return {
            "type": "run",
            "time": _now(),
            "fermask": __version__,
            "config_hash": self.digest,
            "config": self.run_config,
            "png_level": self.png_level,
            "inputs": [str(Path(p)) for p in inputs],
            "files": len(self.files),
            "to_do": len(self.todo),
            "skipped": self.skipped,
            "ignored": self.ignored,
            "unreadable_manifest_lines": self.bad_lines,
            "pid": os.getpid(),
            "lock_taken_over_from_pid": lock.taken_over,
            "python": sys.version.split()[0],
        }


def _check_arguments(
    inputs: list[str | os.PathLike[str]], out: Path, output_format: str, workers: int | None, png_level: int
) -> None:
    """Refuse bad options and an output folder that is an input or a file."""
    check_choice(output_format, OUTPUT_FORMATS, "output_format")
    if isinstance(png_level, bool) or not isinstance(png_level, int) or not 0 <= png_level <= 9:
        raise FermaskError(
            f"png_level must be a whole number from 0 (fastest, largest files) to 9 (slowest, smallest), "
            f"got {png_level!r}"
        )
    if workers is not None and int(workers) < 1:
        raise FermaskError(f"workers must be at least 1, got {workers}")
    out_real = _real(out)
    for item in inputs:
        p = Path(item)
        if p.exists() and p.resolve() == out_real:
            kind = "folder" if p.is_dir() else "file"
            raise FermaskError(
                f"the output folder {str(out)!r} is the input {kind} {str(p)!r}; fermask never writes "
                "among its inputs. Choose another output folder, e.g. -o masked/"
            )
    if out.exists() and not out.is_dir():
        raise FermaskError(f"the output path {str(out)!r} exists and is not a folder; choose another -o")


def _plan_run(
    chosen: dict[Path, InputFile],
    ignored: int,
    out: Path,
    masker: _MaskerLike,
    output_format: OutputFormat,
    force: bool,
    png_level: int = DEFAULT_PNG_LEVEL,
) -> _Plan:
    """Check the manifest's configuration and pick what is left to do (``out`` exists and is locked).

    ``chosen`` holds the inputs under their resolved paths (:func:`_collect`).
    An input done by an earlier run of the same configuration is skipped
    (unless ``force``) and keeps its earlier output name.
    """
    files = list(chosen.values())
    # what changes the pixels written; the PNG level changes only the files' size, so a run may resume with another
    run_config = {"masker": masker.config(), "output_format": output_format}
    digest = config_hash(run_config)
    manifest_path = out / MANIFEST_NAME
    records, bad_lines = read_manifest(manifest_path)
    if bad_lines:
        warnings.warn(
            f"{manifest_path}: skipped {bad_lines} cut-off line(s), left by a run that was killed or ran out of "
            "disk; an input whose line was lost is done again, and this run's lines start on a fresh line",
            stacklevel=3,
        )
    last_hash, previous = _previous_state(records)
    if last_hash is not None and last_hash != digest and not force:
        raise FermaskError(
            f"{str(out)!r} holds the results of a run with another configuration (hash {last_hash}, "
            f"now {digest}); a resumed run must use the same options. Use a new output folder, or "
            "pass --force (force=True) to redo every input into this one"
        )
    if force:
        previous = {}
    reals = list(chosen)
    forbidden = set(reals) | {_real(manifest_path), _real(out / LOCK_NAME)}
    namer = _Namer(out, forbidden, _written_by_fermask(records, out))
    earlier_output: dict[str, Path] = {}
    for key, rec in previous.items():
        if rec.get("status") == "masked" and isinstance(rec.get("output"), str):
            namer.reserve(rec["output"])
            earlier_output[key] = Path(rec["output"])
    todo: list[_Todo] = []
    skipped = 0
    for index, f in enumerate(files):
        key = str(reals[index])
        prev = previous.get(key)
        if prev is not None and _is_done(prev, f.path, out):
            skipped += 1
            continue
        todo.append(_Todo(f, key, _file_stamp(f.path), index, _broken_link(f.path)))
    return _Plan(
        out=out,
        manifest=manifest_path,
        output_format=output_format,
        png_level=png_level,
        run_config=run_config,
        digest=digest,
        files=files,
        ignored=ignored,
        bad_lines=bad_lines,
        todo=todo,
        skipped=skipped,
        namer=namer,
        earlier_output=earlier_output,
    )


def _output_format(plan: _Plan, item: _Todo) -> tuple[str, str]:
    """The output suffix of an input and the Pillow format it is written in."""
    suffix = ".png" if plan.output_format == "png" else item.file.path.suffix.lower()
    if suffix not in PIL_FORMATS:
        suffix = ".png"
    return suffix, PIL_FORMATS[suffix]


def _item_record(item: _Todo, fields: dict[str, Any]) -> dict[str, Any]:
    """The manifest line of one input, before its output is written."""
    stamp = item.stamp
    return {
        "type": "item",
        "input": item.key,
        "output": None,
        **{k: fields[k] for k in RECORD_FIELDS},
        "note": fields.get("note"),
        "index": item.index,
        "input_bytes": stamp[0] if stamp else None,
        "input_mtime_ns": stamp[1] if stamp else None,
    }


def _write_result(plan: _Plan, item: _Todo, done: Encoded) -> tuple[dict[str, Any], _Output | None]:
    """Write a masked image under a temporary name; return the input's manifest record and the output.

    A failed write turns the record into an error (with no output).
    """
    rec = _item_record(item, done.fields)
    if rec["status"] != "masked" or done.data is None:  # "masked" always has data
        return rec, None
    rel = plan.earlier_output.get(item.key) or plan.namer(item.file.rel, _output_format(plan, item)[0])
    try:
        output = _write_partial(done.data, plan.out / rel, plan.folders)
    except OSError as exc:
        rec.update(status="error", reason=f"could not write the output {str(plan.out / rel)!r}: {exc}")
        return rec, None
    rec["output"] = rel.as_posix()
    return rec, output


def _broken_result(item: _Todo) -> Encoded:
    """The outcome of an input that is a broken symlink (nothing to read)."""
    rec = MaskResult(image=None, index=item.index, reason=item.broken).to_record()
    return Encoded({**rec, "note": None}, None)


def _results(
    plan: _Plan, masker: _MaskerLike, *, workers: int | None, executor: Executor | None, chunksize: int
) -> Iterator[tuple[_Todo, Encoded]]:
    """Each input of the run with its manifest fields and encoded output, as each one is done.

    Broken symlinks come first (nothing to read); the other inputs are masked
    and encoded by the workers, in order, each seeded by its position among
    all the inputs. With one worker and no executor the masker's own
    ``mask_many`` streams the inputs through this process.
    """
    for item in plan.todo:
        if item.broken is not None:
            yield item, _broken_result(item)
    todo = [item for item in plan.todo if item.broken is None]
    tasks = [Task(item.index, str(item.file.path), _output_format(plan, item)[1]) for item in todo]
    encoder = Encoder(masker, plan.png_level)
    n_workers = cpu_count() if workers is None else int(workers)
    if executor is None and n_workers == 1:
        done = encoder.masked(tasks, workers=1, chunksize=chunksize)
    else:
        done = ordered_map(encoder, tasks, workers=n_workers, executor=executor, chunksize=chunksize,
                           before_fork=partial(warm_quietly, masker))
    with closing(done):  # closing: an abandoned run shuts the pool down at once
        yield from zip(todo, done, strict=True)


class _Committer:
    """Writes the manifest lines of finished inputs, then gives their images their output names.

    Lines are flushed in groups (every ``batch`` inputs, or ``seconds`` after
    the first one waiting), always before the renames of the group: a file
    fermask wrote is always one the manifest names, and a run killed in
    between leaves at most a group of lines whose outputs are missing (those
    inputs are redone under the same names).
    """

    def __init__(self, manifest: _Manifest, summary: BatchSummary, batch: int = 64, seconds: float = 0.5) -> None:
        self.manifest = manifest
        self.summary = summary
        self.batch = batch
        self.seconds = seconds
        self.pending: list[tuple[_Todo, dict[str, Any], _Output | None]] = []
        self.since = 0.0

    def add(self, item: _Todo, rec: dict[str, Any], output: _Output | None) -> None:
        """Write an input's line (unflushed); commit the group when it is full or old enough."""
        try:
            self.manifest.write(rec, flush=False)
        except BaseException:
            if output is not None:
                output.discard()
            raise
        if not self.pending:
            self.since = time.monotonic()
        self.pending.append((item, rec, output))
        if len(self.pending) >= self.batch or time.monotonic() - self.since >= self.seconds:
            self.commit()

    def commit(self) -> None:
        """Flush the waiting lines, rename their images, count them (a failed flush discards the images)."""
        pending, self.pending = self.pending, []
        try:
            self.manifest.flush()
        except BaseException:
            for _, _, output in pending:
                if output is not None:
                    output.discard()
            raise
        failed = False
        try:
            for item, rec, output in pending:
                if output is not None:
                    try:
                        output.commit()
                    except OSError as exc:  # the latest line of an input counts: record the failure
                        rec = {**rec, "output": None, "status": "error",
                               "reason": f"could not write the output {str(output.target)!r}: {exc}"}
                        self.manifest.write(rec, flush=False)
                        failed = True
                _count(self.summary, item, rec)
        finally:  # Ctrl-C midway too: no temporary file is left behind (its input is redone on resume)
            for _, _, output in pending:
                if output is not None:
                    output.discard()
        if failed:
            self.manifest.flush()


def _count(summary: BatchSummary, item: _Todo, rec: dict[str, Any]) -> None:
    """Add one input's outcome to the run's summary."""
    if rec["status"] == "masked":
        summary.masked += 1
    elif rec["status"] == "no_face":
        summary.no_face += 1
    else:
        summary.errors += 1
        summary.error_inputs.append((str(item.file.path), str(rec["reason"])))


def _keep_finished(committer: _Committer) -> None:
    """On the way out of a stopped run: commit the inputs whose lines were written, if the manifest still takes them."""
    try:
        committer.commit()
    except OSError:  # the lines may not be on disk: their images were discarded, they are redone on resume
        pass


def _run(
    plan: _Plan, inputs: list[str | os.PathLike[str]], masker: _MaskerLike, lock: _FolderLock, *,
    progress: bool, **options: Any,
) -> BatchSummary:
    """Mask what the plan says, one manifest line per input; the summary line ends the run, whatever happens."""
    from tqdm.auto import tqdm

    summary = BatchSummary(outdir=plan.out, manifest=plan.manifest, skipped=plan.skipped, ignored=plan.ignored)
    manifest = _Manifest(plan.manifest)
    committer = _Committer(manifest, summary)
    start = time.perf_counter()
    bar = tqdm(total=len(plan.todo), disable=not progress, unit="img", desc="masking", smoothing=0.1)
    try:
        manifest.write(plan.run_record(inputs, lock))
        for item, done in _results(plan, masker, **options):
            committer.add(item, *_write_result(plan, item, done))
            bar.update(1)
        committer.commit()
    except OSError as exc:  # the manifest cannot be written any more (disk full, ...)
        summary.interrupted = True
        _keep_finished(committer)
        raise FermaskError(
            f"the run stopped: writing {str(plan.manifest)!r} failed ({exc.strerror or exc}); the inputs "
            "recorded so far are kept. Free some space (or fix the folder), then rerun the same command to resume"
        ) from exc
    except BaseException:  # Ctrl-C, or a failure of the run itself: keep what is finished
        summary.interrupted = True
        _keep_finished(committer)
        raise
    finally:
        bar.close()
        summary.seconds = time.perf_counter() - start
        try:
            manifest.write({"type": "summary", "time": _now(), **summary.to_dict()})
        except OSError:  # e.g. disk full: the item lines already written still count
            pass
        manifest.close()
    return summary


def mask_folder(
    inputs: Iterable[str | os.PathLike[str]] | str | os.PathLike[str],
    outdir: str | os.PathLike[str],
    masker: _MaskerLike,
    *,
    workers: int | None = 1,
    executor: Executor | None = None,
    progress: bool = True,
    output_format: OutputFormat = "png",
    force: bool = False,
    chunksize: int = 32,
    png_level: int = DEFAULT_PNG_LEVEL,
) -> BatchSummary:
    """Mask every image in ``inputs`` and write the results under ``outdir``.

    Args:
        inputs: Image files and folders (folders are searched recursively).
        outdir: Output folder; created if needed. It may lie inside an input
            folder (it is then left out of the search) but may not be one.
        masker: A :class:`~fermask.Masker` (anything with ``config()`` and
            ``mask_many()``; the latter gets the images, read from their
            files as arrays, and ``indices=``, each input's position among
            all the inputs, to seed its random choices). A file that cannot
            be read is reported without reaching the masker.
        workers: Worker processes (``1``: this process; ``None``: every CPU).
        executor: A :class:`concurrent.futures.Executor` to use instead.
        progress: Show a progress bar.
        output_format: ``"png"`` (lossless, the default) or ``"same"`` (keep
            each input's suffix; JPEGs are saved at quality 95).
        force: Redo every input even if the manifest says it is done, and
            accept a configuration different from the earlier runs'.
        chunksize: Images sent to a worker at a time.
        png_level: zlib level of PNG outputs, from 0 (fastest, largest) to
            9 (slowest, smallest). The default, 1, encodes a 640x490 photo
            about 4x faster than Pillow's default of 6, for files about 11 %
            larger; the pixels are the same at every level.

    Returns:
        Counts of what this run did (see :class:`BatchSummary`).

    Raises:
        FermaskError: No inputs, a missing input, ``outdir`` equal to an input
            or an input folder, an unknown ``output_format``, a ``png_level``
            outside 0-9, an existing
            manifest written with another configuration (without ``force``),
            an ``outdir`` that cannot be created or written to, or another
            run writing to ``outdir`` now.
    """
    inputs = [inputs] if isinstance(inputs, (str, os.PathLike)) else list(inputs)
    out = Path(outdir)
    _check_arguments(inputs, out, output_format, workers, png_level)
    chosen, ignored = _collect(inputs, out)
    lock = _FolderLock(out)
    try:
        if lock.taken_over is not None:
            warnings.warn(
                f"{out}: took over the lock of process {lock.taken_over}, which ended without releasing it "
                "(killed?); this run resumes its work",
                stacklevel=2,
            )
            _remove_partials(out, lock.taken_over)
        plan = _plan_run(chosen, ignored, out, masker, output_format, force, png_level)
        return _run(plan, inputs, masker, lock, progress=progress, workers=workers, executor=executor,
                    chunksize=chunksize)
    finally:
        lock.release()
