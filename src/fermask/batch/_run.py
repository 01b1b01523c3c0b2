"""A folder run: mask what the plan says, write each result and its manifest line, count.

The workers (``_encode``) mask and encode; this process writes the files,
flushes the manifest lines in groups and renames each image only after its
line is flushed (:class:`_Committer`).
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Iterable, Iterator
from concurrent.futures import Executor
from contextlib import closing
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from .._choices import OutputFormat
from .._parallel import cpu_count, ordered_map
from ..errors import FermaskError
from ..masker import MaskResult, warm_quietly
from ._encode import DEFAULT_PNG_LEVEL, PIL_FORMATS, RECORD_FIELDS, Encoded, Encoder, Task
from ._inputs import collect_resolved
from ._lock import FolderLock
from ._manifest import Manifest, utc_now
from ._outputs import Output, remove_partials, write_partial
from ._plan import MaskerLike, Plan, Todo, check_arguments, plan_run

__all__ = ["BatchSummary", "mask_folder"]


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
        errors = f"{self.errors} error" + ("" if self.errors == 1 else "s")
        text = f"{self.masked} masked, {self.no_face} no face, {errors} -> {self.outdir}"
        extra = []
        if self.skipped:
            extra.append(f"{self.skipped} already done, skipped")
        if self.ignored:
            extra.append(f"{self.ignored} non-image file{'' if self.ignored == 1 else 's'} ignored")
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


def _output_format(plan: Plan, item: Todo) -> tuple[str, str]:
    """The output suffix of an input and the Pillow format it is written in."""
    suffix = ".png" if plan.output_format == "png" else item.file.path.suffix.lower()
    if suffix not in PIL_FORMATS:
        suffix = ".png"
    return suffix, PIL_FORMATS[suffix]


def _item_record(item: Todo, fields: dict[str, Any]) -> dict[str, Any]:
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


def _write_result(plan: Plan, item: Todo, done: Encoded) -> tuple[dict[str, Any], Output | None]:
    """Write a masked image under a temporary name; return the input's manifest record and the output.

    A failed write turns the record into an error (with no output).
    """
    rec = _item_record(item, done.fields)
    if rec["status"] != "masked" or done.data is None:  # "masked" always has data
        return rec, None
    rel = plan.earlier_output.get(item.key) or plan.namer(item.file.rel, _output_format(plan, item)[0])
    try:
        output = write_partial(done.data, plan.out / rel, plan.folders, plan.out)
    except (OSError, FermaskError) as exc:  # FermaskError: a symbolic link on the way, not followed
        rec.update(status="error", reason=f"could not write the output {str(plan.out / rel)!r}: {exc}")
        return rec, None
    rec["output"] = rel.as_posix()
    return rec, output


def _broken_result(item: Todo) -> Encoded:
    """The outcome of an input that is a broken symlink (nothing to read)."""
    rec = MaskResult(image=None, index=item.index, reason=item.broken).to_record()
    return Encoded({**rec, "note": None}, None)


def _results(
    plan: Plan, masker: MaskerLike, *, workers: int | None, executor: Executor | None, chunksize: int
) -> Iterator[tuple[Todo, Encoded]]:
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

    def __init__(self, manifest: Manifest, summary: BatchSummary, batch: int = 64, seconds: float = 0.5) -> None:
        self.manifest = manifest
        self.summary = summary
        self.batch = batch
        self.seconds = seconds
        self.pending: list[tuple[Todo, dict[str, Any], Output | None]] = []
        self.since = 0.0

    def add(self, item: Todo, rec: dict[str, Any], output: Output | None) -> None:
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


def _count(summary: BatchSummary, item: Todo, rec: dict[str, Any]) -> None:
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
    plan: Plan, inputs: list[str | os.PathLike[str]], masker: MaskerLike, lock: FolderLock, *,
    progress: bool, **options: Any,
) -> BatchSummary:
    """Mask what the plan says, one manifest line per input; the summary line ends the run, whatever happens."""
    from tqdm.auto import tqdm

    summary = BatchSummary(outdir=plan.out, manifest=plan.manifest, skipped=plan.skipped, ignored=plan.ignored)
    manifest = Manifest(plan.manifest)
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
            manifest.write({"type": "summary", "time": utc_now(), **summary.to_dict()})
        except OSError:  # e.g. disk full: the item lines already written still count
            pass
        manifest.close()
    return summary


def mask_folder(
    inputs: Iterable[str | os.PathLike[str]] | str | os.PathLike[str],
    outdir: str | os.PathLike[str],
    masker: MaskerLike,
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
            9 (slowest, smallest); the pixels are the same at every level.
            The default is :data:`fermask._choices.DEFAULT_PNG_LEVEL` (its
            comment gives the measured speed and size).

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
    check_arguments(inputs, out, output_format, workers, png_level)
    chosen, ignored = collect_resolved(inputs, out)
    lock = FolderLock(out)
    try:
        if lock.taken_over is not None:
            warnings.warn(
                f"{out}: took over the lock of process {lock.taken_over}, which ended without releasing it "
                "(killed?); this run resumes its work",
                stacklevel=2,
            )
            remove_partials(out, lock.taken_over)
        plan = plan_run(chosen, ignored, out, masker, output_format, force, png_level)
        return _run(plan, inputs, masker, lock, progress=progress, workers=workers, executor=executor,
                    chunksize=chunksize)
    finally:
        lock.release()
