"""A folder run's outputs: free names in the output folder, and images written under a temporary name first.

An image is written to ``.NAME.PID.partial`` next to its output and renamed
only after its manifest line is flushed; :func:`remove_partials` clears the
temporary files of a run that died.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import FermaskError
from ._inputs import Resolver

__all__ = ["Namer", "Output", "refuse_link", "remove_partials", "unwritable", "write_partial"]


class Namer:
    """Output paths unique within the output folder, never an input, never a file fermask did not write.

    Args:
        outdir: The output folder.
        forbidden: Paths that are never outputs (the inputs, the manifest).
        ours: Files in ``outdir`` that fermask wrote (the manifest names
            them): the only existing files an output may replace.
    """

    def __init__(self, outdir: Path, forbidden: set[Path], ours: set[Path]) -> None:
        self.outdir = outdir
        self.real_of = Resolver()
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
class Output:
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


def _make_folders(outdir: Path, folder: Path) -> None:
    """Make ``folder`` inside ``outdir``, refusing a symbolic link (or a file) on the way: outputs stay inside."""
    current = outdir
    for part in folder.relative_to(outdir).parts:
        current = current / part
        if current.is_symlink():
            raise refuse_link(current, "outputs")
        try:
            current.mkdir()
        except FileExistsError:
            if not current.is_dir():
                raise


def write_partial(data: bytes, target: Path, folders: set[Path], outdir: Path | None = None) -> Output:
    """Write an encoded image under a temporary name next to ``target``.

    ``folders`` holds the folders already made in this run (each is made
    once). The folders between ``outdir`` and ``target`` are made without
    following a symbolic link, and the file is created new, never through one.

    Raises:
        OSError: The file cannot be written.
        FermaskError: A folder on its way is a symbolic link.
    """
    if target.parent not in folders:
        if outdir is not None and target.parent != outdir:
            _make_folders(outdir, target.parent)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
        folders.add(target.parent)
    output = Output(target.with_name(f".{target.name}.{os.getpid()}.partial"), target)
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0)
    try:
        with os.fdopen(os.open(output.tmp, flags, 0o644), "wb") as f:
            f.write(data)
    except BaseException:
        output.discard()
        raise
    return output


def remove_partials(out: Path, pid: int) -> None:
    """Remove the temporary images a run that died left in ``out`` (named ``.NAME.PID.partial``)."""
    for tmp in out.rglob(f".*.{pid}.partial"):
        try:
            if tmp.is_file() and not tmp.is_symlink():
                tmp.unlink()
        except OSError:  # pragma: no cover - a leftover that cannot go stays, clearly named
            pass


def refuse_link(path: Path, what: str) -> FermaskError:
    """The error for a symbolic link (or a special file) where fermask writes ``what`` in the output folder."""
    return FermaskError(
        f"{str(path)!r} is a symbolic link or not a regular file; fermask does not write {what} through links "
        "or into special files. Remove it (fermask did not make it), or choose another output folder"
    )


def unwritable(folder: Path, exc: OSError) -> FermaskError:
    """The error for an output folder that cannot be created or written to."""
    why = exc.strerror or str(exc)
    return FermaskError(
        f"cannot write to the output folder {str(folder)!r} ({why}: {exc.filename or folder}); "
        "choose a folder you can write to with -o (outdir=), or fix its permissions"
    )
