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
  ``OUTDIR`` (``null`` when nothing was written).
* ``{"type": "summary", ...}`` ends a run (``"interrupted": true`` when it
  was stopped).

Lines are appended and flushed as each image finishes, and each image is
written to a temporary file first and renamed, so a run that is killed never
leaves a half-written image counted as done. A rerun with the same
configuration skips inputs that are done (``masked`` with the output still on
disk, or ``no_face``) and unchanged (same size and modification time); inputs
that failed are tried again. A rerun with a different configuration is
refused unless ``force=True``.

Examples:
    >>> from fermask import Masker
    >>> from fermask.batch import mask_folder
    >>> summary = mask_folder(["photos/"], "masked/", Masker("surgical"))  # doctest: +SKIP
    >>> print(summary.line())  # doctest: +SKIP
    12 masked, 1 no face, 0 errors -> masked
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import sys
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal, Protocol

import numpy as np

from ._choices import OUTPUT_FORMATS, check_choice
from ._image import IMAGE_SUFFIXES
from ._version import __version__
from .errors import FermaskError
from .masker import MaskResult

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

OutputFormat = Literal["png", "same"]
"""The accepted ``output_format`` values (``fermask mask --format``)."""

_PIL_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".bmp": "BMP", ".webp": "WEBP"}


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
    Duplicates (the same file reached twice) are kept once.

    Args:
        inputs: Files and folders.
        exclude: A folder whose contents are never inputs (the output folder).

    Returns:
        The files, and the number of files inside the folders that were
        ignored because their suffix is not an image suffix.

    Raises:
        FermaskError: No inputs, or an input path does not exist.
    """
    items = [Path(p) for p in inputs]
    if not items:
        raise FermaskError("no inputs given; name at least one image file or folder")
    missing = [str(p) for p in items if not p.exists()]
    if missing:
        raise FermaskError(
            f"input not found: {', '.join(missing)}; check the path (folders are searched recursively)"
        )
    skip = Path(exclude).resolve() if exclude is not None else None
    seen: set[Path] = set()
    found: list[InputFile] = []
    ignored = 0
    for item in items:
        if item.is_dir():
            # leave the output folder out when it lies inside this input folder
            drop = skip if skip is not None and _is_within(skip, item.resolve()) else None
            for f in sorted(item.rglob("*")):
                if not f.is_file():
                    continue
                real = f.resolve()
                if drop is not None and _is_within(real, drop):
                    continue
                if f.suffix.lower() not in IMAGE_SUFFIXES:
                    ignored += 1
                    continue
                if real in seen:
                    continue
                seen.add(real)
                found.append(InputFile(f, f.relative_to(item)))
        else:
            real = item.resolve()
            if real in seen:
                continue
            seen.add(real)
            found.append(InputFile(item, Path(item.name)))
    return found, ignored


# -- manifest -------------------------------------------------------------
def config_hash(config: dict[str, Any]) -> str:
    """A short, stable hash of a JSON-ready configuration."""
    blob = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def read_manifest(path: str | os.PathLike[str]) -> tuple[list[dict[str, Any]], int]:
    """Read a manifest, tolerating a cut-off last line.

    Args:
        path: The ``manifest.jsonl`` file.

    Returns:
        The records (dicts, in file order) and the number of lines that
        could not be parsed (a run killed mid-write leaves at most one).
    """
    records: list[dict[str, Any]] = []
    bad = 0
    p = Path(path)
    if not p.exists():
        return records, bad
    with open(p, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                bad += 1
                continue
            if isinstance(rec, dict):
                records.append(rec)
            else:
                bad += 1
    return records, bad


def _file_stamp(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns


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
    """Output paths unique within the output folder and never equal to an input."""

    def __init__(self, outdir: Path, forbidden: set[Path]) -> None:
        self.outdir = outdir
        self.used: set[Path] = set()
        self.forbidden = forbidden

    def reserve(self, rel: str) -> None:
        self.used.add((self.outdir / rel).resolve())

    def __call__(self, rel: Path, suffix: str) -> Path:
        base = rel.with_suffix(suffix)
        k = 1
        cand = base
        while True:
            full = (self.outdir / cand).resolve()
            if full not in self.used and full not in self.forbidden:
                self.used.add(full)
                return cand
            k += 1
            cand = base.with_name(f"{base.stem}-{k}{base.suffix}")


def _save_atomic(image: np.ndarray, target: Path) -> None:
    from PIL import Image

    target.parent.mkdir(parents=True, exist_ok=True)
    fmt = _PIL_FORMATS.get(target.suffix.lower(), "PNG")
    tmp = target.with_name(f".{target.name}.{os.getpid()}.partial")
    try:
        img = Image.fromarray(image)
        if fmt == "JPEG":
            img.save(tmp, format=fmt, quality=95)
        elif fmt == "WEBP":
            img.save(tmp, format=fmt, lossless=True)
        else:
            img.save(tmp, format=fmt)
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


class _Manifest:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._f: IO[str] = open(path, "a", encoding="utf-8")

    def write(self, rec: dict[str, Any]) -> None:
        self._f.write(json.dumps(rec, ensure_ascii=False, default=str) + "\n")
        self._f.flush()

    def close(self) -> None:
        self._f.close()


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


# -- the engine -----------------------------------------------------------
@dataclass
class _Todo:
    """One input to mask in this run."""

    file: InputFile
    key: str  # the resolved input path: the manifest's ``input``
    stamp: tuple[int, int] | None  # size and mtime when the run was planned


@dataclass
class _Plan:
    """What a run will do, decided before any image is masked."""

    out: Path
    manifest: Path
    output_format: OutputFormat
    run_config: dict[str, Any]
    digest: str
    files: list[InputFile]
    ignored: int
    bad_lines: int
    todo: list[_Todo]
    skipped: int
    namer: _Namer
    earlier_output: dict[str, Path]

    def run_record(self, inputs: list[str | os.PathLike[str]]) -> dict[str, Any]:
        """The manifest line that starts the run."""
        return {
            "type": "run",
            "time": _now(),
            "fermask": __version__,
            "config_hash": self.digest,
            "config": self.run_config,
            "inputs": [str(Path(p)) for p in inputs],
            "files": len(self.files),
            "to_do": len(self.todo),
            "skipped": self.skipped,
            "ignored": self.ignored,
            "unreadable_manifest_lines": self.bad_lines,
            "python": sys.version.split()[0],
        }


def _check_arguments(
    inputs: list[str | os.PathLike[str]], out: Path, output_format: str, workers: int | None
) -> None:
    """Refuse bad options and an output folder that is an input or a file."""
    check_choice(output_format, OUTPUT_FORMATS, "output_format", error=FermaskError)
    if workers is not None and int(workers) < 1:
        raise FermaskError(f"workers must be at least 1, got {workers}")
    out_real = out.resolve()
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
    inputs: list[str | os.PathLike[str]],
    out: Path,
    masker: _MaskerLike,
    output_format: OutputFormat,
    force: bool,
) -> _Plan:
    """Find the inputs, check the manifest's configuration, and pick what is left to do.

    Creates ``out``; an input done by an earlier run of the same configuration
    is skipped (unless ``force``) and keeps its earlier output name.
    """
    files, ignored = collect_inputs(inputs, exclude=out)
    run_config = {"masker": masker.config(), "output_format": output_format}
    digest = config_hash(run_config)
    manifest_path = out / MANIFEST_NAME
    records, bad_lines = read_manifest(manifest_path)
    last_hash, previous = _previous_state(records)
    if last_hash is not None and last_hash != digest and not force:
        raise FermaskError(
            f"{str(out)!r} holds the results of a run with another configuration (hash {last_hash}, "
            f"now {digest}); a resumed run must use the same options. Use a new output folder, or "
            "pass --force (force=True) to redo every input into this one"
        )
    if force:
        previous = {}

    out.mkdir(parents=True, exist_ok=True)
    forbidden = {f.path.resolve() for f in files} | {manifest_path.resolve()}
    namer = _Namer(out, forbidden)
    earlier_output: dict[str, Path] = {}
    for key, rec in previous.items():
        if rec.get("status") == "masked" and isinstance(rec.get("output"), str):
            namer.reserve(rec["output"])
            earlier_output[key] = Path(rec["output"])
    todo: list[_Todo] = []
    skipped = 0
    for f in files:
        key = str(f.path.resolve())
        prev = previous.get(key)
        if prev is not None and _is_done(prev, f.path, out):
            skipped += 1
            continue
        todo.append(_Todo(f, key, _file_stamp(f.path)))
    return _Plan(
        out=out,
        manifest=manifest_path,
        output_format=output_format,
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


def _item_record(item: _Todo, res: MaskResult) -> dict[str, Any]:
    """The manifest line of one input, before its output is written."""
    rec = res.to_record()
    stamp = item.stamp
    return {
        "type": "item",
        "input": item.key,
        "output": None,
        **{k: rec[k] for k in ("status", "faces", "styles", "colors", "patterns", "full_frame", "reason")},
        "input_bytes": stamp[0] if stamp else None,
        "input_mtime_ns": stamp[1] if stamp else None,
    }


def _write_result(plan: _Plan, item: _Todo, res: MaskResult) -> dict[str, Any]:
    """Save a masked image under its output name; return the input's manifest record.

    A failed write turns the record into an error.
    """
    rec = _item_record(item, res)
    if rec["status"] != "masked" or res.image is None:  # "masked" always has an image
        return rec
    suffix = ".png" if plan.output_format == "png" else item.file.path.suffix.lower()
    if suffix not in _PIL_FORMATS:
        suffix = ".png"
    rel = plan.earlier_output.get(item.key) or plan.namer(item.file.rel, suffix)
    try:
        _save_atomic(res.image, plan.out / rel)
        rec["output"] = rel.as_posix()
    except (OSError, ValueError) as exc:
        rec.update(status="error", reason=f"could not write the output {str(plan.out / rel)!r}: {exc}")
    return rec


def _count(summary: BatchSummary, item: _Todo, rec: dict[str, Any]) -> None:
    """Add one input's outcome to the run's summary."""
    if rec["status"] == "masked":
        summary.masked += 1
    elif rec["status"] == "no_face":
        summary.no_face += 1
    else:
        summary.errors += 1
        summary.error_inputs.append((str(item.file.path), str(rec["reason"])))


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
) -> BatchSummary:
    """Mask every image in ``inputs`` and write the results under ``outdir``.

    Args:
        inputs: Image files and folders (folders are searched recursively).
        outdir: Output folder; created if needed. It may lie inside an input
            folder (it is then left out of the search) but may not be one.
        masker: A :class:`~fermask.Masker` (anything with ``config()`` and
            ``mask_many()``).
        workers: Worker processes (``1``: this process; ``None``: every CPU).
        executor: A :class:`concurrent.futures.Executor` to use instead.
        progress: Show a progress bar.
        output_format: ``"png"`` (lossless, the default) or ``"same"`` (keep
            each input's suffix; JPEGs are saved at quality 95).
        force: Redo every input even if the manifest says it is done, and
            accept a configuration different from the earlier runs'.
        chunksize: Images sent to a worker at a time.

    Returns:
        Counts of what this run did (see :class:`BatchSummary`).

    Raises:
        FermaskError: No inputs, a missing input, ``outdir`` equal to an input
            or an input folder, an unknown ``output_format``, or an existing
            manifest written with another configuration (without ``force``).
    """
    inputs = [inputs] if isinstance(inputs, (str, os.PathLike)) else list(inputs)
    out = Path(outdir)
    _check_arguments(inputs, out, output_format, workers)
    plan = _plan_run(inputs, out, masker, output_format, force)
    summary = BatchSummary(outdir=out, manifest=plan.manifest, skipped=plan.skipped, ignored=plan.ignored)

    manifest = _Manifest(plan.manifest)
    start = time.perf_counter()
    try:
        manifest.write(plan.run_record(inputs))
        results = masker.mask_many(
            [str(item.file.path) for item in plan.todo],
            workers=workers,
            executor=executor,
            chunksize=chunksize,
            progress=progress,
        )
        for item, res in zip(plan.todo, results):
            rec = _write_result(plan, item, res)
            _count(summary, item, rec)
            manifest.write(rec)
    except BaseException:  # Ctrl-C, or a failure of the run itself (disk full, ...)
        summary.interrupted = True
        raise
    finally:
        summary.seconds = time.perf_counter() - start
        try:
            manifest.write({"type": "summary", "time": _now(), **summary.to_dict()})
        except OSError:  # e.g. disk full: the item lines already written still count
            pass
        manifest.close()
    return summary
