"""The inputs of a folder run: the image files that files and folders name, each under its resolved path.

Folders are walked with one ``scandir`` per folder and sorted as paths sort,
so a run's order (which seeds each input's random choices) is stable.
Resolving symlinks is remembered per folder (:class:`Resolver`), so a file
costs one ``lstat``.
"""

from __future__ import annotations

import errno
import os
import stat
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from .._image import IMAGE_SUFFIXES
from ..errors import FermaskError

__all__ = ["InputFile", "Resolver", "broken_link", "collect_inputs", "collect_resolved", "real_path"]


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


def real_path(path: Path) -> Path:
    """The path with symlinks resolved, or its absolute form when it is a broken symlink (a loop, no target)."""
    try:
        real = path.resolve()
    except (RuntimeError, OSError):  # "Symlink loop" (RuntimeError before Python 3.13)
        return Path(os.path.abspath(path))
    if path.is_symlink() and not real.exists():
        return Path(os.path.abspath(path))
    return real


class Resolver:
    """:func:`real_path` for many files, remembering each folder's resolution.

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
            real_folder = self._folders[folder] = real_path(folder)
        if link is None:
            try:
                link = stat.S_ISLNK(os.lstat(path).st_mode)
            except OSError:  # not there (yet): it lies in its folder's resolution
                return real_folder / path.name
        return real_path(path) if link else real_folder / path.name


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


def broken_link(path: Path) -> str | None:
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
    chosen, ignored = collect_resolved(inputs, exclude)
    return list(chosen.values()), ignored


def collect_resolved(
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
    real_of = Resolver()
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
    folder: Path, drop: Path | None, real_of: Resolver, chosen: dict[Path, InputFile], left_out: list[str]
) -> int:
    """Add the image files under ``folder`` to ``chosen`` (see :func:`collect_resolved`); return how many were ignored.

    ``left_out`` gets a line for each entry that is neither a file nor a folder
    fermask enters (a symlink to a folder, a pipe, a socket, a device).
    """
    ignored = 0
    for parts, entry in _walk(folder):
        f = Path(entry.path)
        link = entry.is_symlink()
        if not _is_file(entry) and (not link or broken_link(f) is None):
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
