"""What a folder run will do, decided before any image is masked: the checked arguments, the inputs left to do.

The plan reads the manifest that earlier runs wrote: a rerun with the same
configuration skips what is done, a different configuration is refused
unless forced, and an input keeps its earlier output name.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Iterable, Iterator
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from .._choices import OUTPUT_FORMATS, OutputFormat, check_choice
from .._parallel import check_workers
from .._version import __version__
from ..errors import FermaskError
from ._encode import DEFAULT_PNG_LEVEL
from ._inputs import InputFile, broken_link, real_path
from ._lock import LOCK_NAME
from ._manifest import (
    MANIFEST_NAME,
    config_hash,
    file_stamp,
    is_done,
    previous_state,
    read_manifest,
    utc_now,
    written_by_fermask,
)
from ._outputs import Namer, refuse_link

if TYPE_CHECKING:
    from ..masker import MaskResult
    from ._lock import FolderLock

__all__ = ["MaskerLike", "Plan", "Todo", "check_arguments", "plan_run"]


class MaskerLike(Protocol):
    """What a folder run needs of a masker: its configuration (for the manifest) and ``mask_many``."""

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


@dataclass
class Todo:
    """One input to mask in this run."""

    file: InputFile
    key: str  # the resolved input path: the manifest's ``input``
    stamp: tuple[int, int] | None  # size and mtime when the run was planned
    index: int  # position among all the inputs: seeds the random choices
    broken: str | None = None  # why a symlink cannot be read (a loop, a missing target)


@dataclass
class Plan:
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
    todo: list[Todo]
    skipped: int
    namer: Namer
    earlier_output: dict[str, Path]
    folders: set[Path] = field(default_factory=set)  # output folders made in this run

    def run_record(self, inputs: list[str | os.PathLike[str]], lock: FolderLock) -> dict[str, Any]:
        """The manifest line that starts the run."""
        return {
            "type": "run",
            "time": utc_now(),
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


def check_arguments(
    inputs: list[str | os.PathLike[str]], out: Path, output_format: str, workers: int | None, png_level: int
) -> None:
    """Refuse bad options and an output folder that is an input or a file."""
    check_choice(output_format, OUTPUT_FORMATS, "output_format")
    if isinstance(png_level, bool) or not isinstance(png_level, int) or not 0 <= png_level <= 9:
        raise FermaskError(
            f"png_level must be a whole number from 0 (fastest, largest files) to 9 (slowest, smallest), "
            f"got {png_level!r}"
        )
    check_workers(workers)
    out_real = real_path(out)
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


def _style_names(config: dict[str, Any]) -> list[str]:
    """The style names of a run's configuration (a masker without styles: none)."""
    masker = config.get("masker")
    styles = masker.get("styles") if isinstance(masker, dict) else None
    if not isinstance(styles, list):
        return []
    return [str(s.get("name")) for s in styles if isinstance(s, dict) and s.get("name")]


def _other_configuration(out: Path, records: list[dict[str, Any]], run_config: dict[str, Any]) -> str:
    """Why a run into ``out`` is refused, and the two ways out: a new folder named after the style, or --force."""
    runs = [r for r in records if r.get("type") == "run" and isinstance(r.get("config"), dict)]
    before = ",".join(_style_names(runs[-1]["config"])) if runs else ""
    now = ",".join(_style_names(run_config))
    changed = bool(before and now) and before != now
    if changed:
        what = f"style {before}, now {now}"
    else:
        what = f"style {before}, other options" if before else "other options"
    names = now.split(",")
    suffix = "-".join(names) if len(names) <= 2 else "mixed"  # 'random' lists every style: too long for a name
    stem, n = (f"{out}-{suffix}", 1) if changed else (str(out), 2)
    folder = Path(stem if n == 1 else f"{stem}-{n}")
    while folder.exists():  # a free name: the suggestion must work as written
        n += 1
        folder = Path(f"{stem}-{n}")
    return (
        f"{str(out)!r} holds the masks of a run with another configuration ({what}); a rerun into it must use the same options. "
        f"Write to a new folder, such as --output {folder} (outdir={str(folder)!r}), "
        "or pass --force (force=True) to mask every input again into this one, replacing its masks"
    )


def plan_run(
    chosen: dict[Path, InputFile],
    ignored: int,
    out: Path,
    masker: MaskerLike,
    output_format: OutputFormat,
    force: bool,
    png_level: int = DEFAULT_PNG_LEVEL,
) -> Plan:
    """Check the manifest's configuration and pick what is left to do (``out`` exists and is locked).

    ``chosen`` holds the inputs under their resolved paths (:func:`collect_resolved`).
    An input done by an earlier run of the same configuration is skipped
    (unless ``force``) and keeps its earlier output name.
    """
    files = list(chosen.values())
    # what changes the pixels written; the PNG level changes only the files' size, so a run may resume with another
    run_config = {"masker": masker.config(), "output_format": output_format}
    digest = config_hash(run_config)
    manifest_path = out / MANIFEST_NAME
    if manifest_path.is_symlink() or (manifest_path.exists() and not manifest_path.is_file()):
        raise refuse_link(manifest_path, "its manifest")  # neither read nor appended to: it is not this folder's
    records, bad_lines = read_manifest(manifest_path)
    if bad_lines:
        warnings.warn(
            f"{manifest_path}: skipped {bad_lines} cut-off line(s), left by a run that was killed or ran out of "
            "disk; an input whose line was lost is done again, and this run's lines start on a fresh line",
            stacklevel=3,
        )
    last_hash, previous = previous_state(records)
    if last_hash is not None and last_hash != digest and not force:
        raise FermaskError(_other_configuration(out, records, run_config))
    if force:
        previous = {}
    reals = list(chosen)
    forbidden = set(reals) | {real_path(manifest_path), real_path(out / LOCK_NAME)}
    namer = Namer(out, forbidden, written_by_fermask(records, out))
    earlier_output: dict[str, Path] = {}
    for key, rec in previous.items():
        if rec.get("status") == "masked" and isinstance(rec.get("output"), str):
            namer.reserve(rec["output"])
            earlier_output[key] = Path(rec["output"])
    todo: list[Todo] = []
    skipped = 0
    for index, f in enumerate(files):
        key = str(reals[index])
        prev = previous.get(key)
        if prev is not None and is_done(prev, f.path, out):
            skipped += 1
            continue
        todo.append(Todo(f, key, file_stamp(f.path), index, broken_link(f.path)))
    return Plan(
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


