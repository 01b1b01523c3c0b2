"""Masking a whole dataset's images once, cached on disk and resumable; arrays in, arrays out.

The cache lives in ``<cache root>/<key>/`` where the key is the sha256 of the
images, the labels, the Masker's full configuration, the fermask version, the
shard size and the cache format version (:data:`CACHE_VERSION`). Results are
written as they finish in fermask's one shard format (:mod:`fermask.data.store`):
``part-00000.npz``, ... each written atomically, with its row count and sha256
recorded in ``meta.json`` and checked when it is read back. An interrupted run
leaves only whole, recorded shards, and the next run masks only the missing
ones; ``complete.json`` marks a finished cache. Caches of older formats have
other keys, so they are never read: that masking is simply done again.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Generator, Iterator, Sequence
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .._files import cache_dir as user_cache_dir
from .._files import sha256_hex, write_json_atomic
from .._image import to_rgb
from .._version import __version__
from ..errors import DataFormatError
from .store import check_shard_entries, read_shard, write_shard

if TYPE_CHECKING:  # pragma: no cover
    from ..masker import MaskResult

__all__ = ["mask_arrays", "cache_key", "default_cache_root", "CACHE_FORMAT", "CACHE_VERSION"]

CACHE_FORMAT = "fermask-mask-cache"
CACHE_VERSION = 2
"""Bumped whenever the cache layout changes; it is part of the key, so older caches are never misread."""

INDEX_FILE = "meta.json"
DONE_FILE = "complete.json"
_PART = "part-{:05d}.npz"

Bounds = list[tuple[int, int]]


def default_cache_root() -> Path:
    """Where ``FERDataset.mask`` caches masked datasets: ``datasets/`` in fermask's user cache."""
    return user_cache_dir("datasets")


def _masker_config(masker: Any) -> dict[str, Any]:
    if not callable(getattr(masker, "mask_many", None)):
        raise DataFormatError(f"mask() needs a fermask.Masker, got {type(masker).__name__}")
    config = getattr(masker, "config", None)
    if not callable(config):
        raise DataFormatError(
            f"mask() needs a fermask.Masker (with .config() and .mask_many()), got {type(masker).__name__}"
        )
    return dict(config())


def cache_key(images: np.ndarray, labels: np.ndarray, masker_config: dict[str, Any], shard_size: int) -> str:
    """The cache key of masking these images and labels with a masker of this configuration."""
    return sha256_hex(
        repr(images.shape),
        np.ascontiguousarray(images).data,
        np.ascontiguousarray(labels).data,
        json.dumps(masker_config, sort_keys=True, default=str),
        f"fermask {__version__} {CACHE_FORMAT} v{CACHE_VERSION} shard {shard_size}",
    )


_PART_ARRAYS = ("images", "masked", "styles", "reasons")


def _check_part(arrays: dict[str, np.ndarray], path: Path) -> dict[str, np.ndarray]:
    """A cache part holds the arrays :func:`_collect_shard` writes."""
    missing = [k for k in _PART_ARRAYS if k not in arrays]
    if missing:
        raise DataFormatError(f"'{path}' has no {', '.join(map(repr, missing))} array")
    return arrays


class _CacheEntry:
    """One cache folder: its shards and ``meta.json``, the index that records them."""

    def __init__(self, folder: Path, meta: dict[str, Any]) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.meta = meta
        self.shards = self._recorded()
        self._write_index()

    def _recorded(self) -> dict[str, dict[str, Any]]:
        """The shards ``meta.json`` records, by file name.

        None when it is missing (a new cache); none, with a warning, when it is
        damaged or of another format: every part is then masked again.
        """
        index = self.folder / INDEX_FILE
        if not index.exists():
            parts = sorted(self.folder.glob("part-*.npz"))
            if parts:  # the index was deleted: the parts cannot be checked, so they are redone
                warnings.warn(f"the masking cache index '{index}' is missing; the {len(parts)} part(s) in "
                              f"'{self.folder}' cannot be checked and every part is masked again", stacklevel=5)
            return {}
        try:
            old = json.loads(index.read_text(encoding="utf-8"))
            if not isinstance(old, dict):
                raise DataFormatError(f"it holds a JSON {type(old).__name__}, not an object")
            for k in ("format", "version", "count"):
                if old.get(k) != self.meta[k]:
                    raise DataFormatError(f"its {k} is {old.get(k)!r}, expected {self.meta[k]!r}")
            shards = check_shard_entries(old.get("shards"), index, fix="it is rewritten")
        except (OSError, ValueError) as exc:  # DataFormatError and JSON errors are ValueErrors
            warnings.warn(
                f"the masking cache index '{index}' is damaged ({exc}); every part of this cache is masked again",
                stacklevel=5,
            )
            return {}
        return {str(s["file"]): s for s in shards}

    def _write_index(self) -> None:
        write_json_atomic(self.folder / INDEX_FILE, {**self.meta, "shards": [self.shards[f] for f in sorted(self.shards)]})

    def finished(self, bounds: Bounds) -> dict[int, dict[str, np.ndarray]]:
        """The recorded shards that read back whole; damaged ones are deleted (with a warning), to be masked again."""
        done: dict[int, dict[str, np.ndarray]] = {}
        for k, (a, b) in enumerate(bounds):
            entry = self.shards.get(_PART.format(k))
            if entry is None or entry["count"] != b - a:
                continue
            try:
                done[k] = _check_part(read_shard(self.folder, entry, index=INDEX_FILE), self.folder / entry["file"])
            except DataFormatError as exc:
                warnings.warn(
                    f"a masking cache part is damaged: {exc}; its {b - a} images are masked again", stacklevel=4
                )
                part = self.folder / entry["file"]
                if part.is_dir():
                    raise DataFormatError(
                        f"the masking cache part '{part}' is a folder, expected a .npz file; remove that folder "
                        "(or the whole cache folder) and run again"
                    ) from None
                part.unlink(missing_ok=True)
                del self.shards[entry["file"]]
        return done

    def write(self, k: int, arrays: dict[str, np.ndarray]) -> None:
        """Write shard ``k``, then record it (a shard is only ever read back once recorded)."""
        entry = write_shard(self.folder, _PART.format(k), arrays)
        self.shards[entry["file"]] = entry
        self._write_index()

    def mark_complete(self) -> None:
        write_json_atomic(self.folder / DONE_FILE, {"count": self.meta["count"]})


def _next_result(results: Iterator[MaskResult], i: int, n: int) -> MaskResult:
    try:
        return next(results)
    except StopIteration:
        raise DataFormatError(f"the masker returned fewer results than images ({i} of {n})") from None


def _collect_shard(images: np.ndarray, results: Iterator[MaskResult], bounds: tuple[int, int], bar: Any) -> dict[str, np.ndarray]:
    """One shard's arrays from the next ``b - a`` results (the original image where none came back)."""
    a, b = bounds
    imgs: list[np.ndarray] = []
    masked = np.zeros(b - a, dtype=bool)
    styles: list[str] = []
    reasons: list[str] = []
    for j in range(b - a):
        res = _next_result(results, a + j, len(images))
        ok = res.status == "masked"
        imgs.append(np.asarray(res.image) if res.image is not None else images[a + j])
        masked[j] = ok
        styles.append(str(res.styles[0]) if ok and res.styles else "")
        reasons.append("" if ok else str(res.why))
        bar.update(1)
    return {
        "images": _uniform(imgs),
        "masked": masked,
        "styles": np.asarray(styles, dtype=str),
        "reasons": np.asarray(reasons, dtype=str),
    }


def _uniform(images: Sequence[np.ndarray]) -> np.ndarray:
    """Stack images, making every one RGB when any is."""
    if any(a.ndim == 3 for a in images):
        images = [to_rgb(a) for a in images]
    return np.stack(images)


def _runs(todo: list[int]) -> list[list[int]]:
    """Contiguous runs of shard numbers: ``[0, 1, 3]`` -> ``[[0, 1], [3]]``."""
    runs: list[list[int]] = []
    for k in todo:
        if runs and runs[-1][-1] == k - 1:
            runs[-1].append(k)
        else:
            runs.append([k])
    return runs


def _mask_run(
    images: np.ndarray,
    masker: Any,
    bounds: Bounds,
    run: list[int],
    workers: int | None,
    bar: Any,
    executor: Executor | None = None,
) -> Generator[tuple[int, dict[str, np.ndarray]], None, None]:
    """Mask one run of shards with a single ``mask_many`` call, yielding each shard as it finishes.

    The run starts at its own image index, so random style choices (seeded by
    image index) match an uninterrupted run, whatever ``workers`` or ``executor``.
    """
    a0, b0 = bounds[run[0]][0], bounds[run[-1]][1]
    results = masker.mask_many(
        list(images[a0:b0]), workers=workers, executor=executor, progress=False, start=a0, total=b0 - a0
    )
    try:
        for k in run:
            yield k, _collect_shard(images, results, bounds[k], bar)
    finally:
        close = getattr(results, "close", None)
        if callable(close):
            close()


def _mask_missing(
    images: np.ndarray,
    masker: Any,
    bounds: Bounds,
    done: dict[int, dict[str, np.ndarray]],
    cache: _CacheEntry | None,
    *,
    workers: int | None,
    progress: bool,
    executor: Executor | None = None,
) -> None:
    """Mask the shards not in ``done`` into it; each is also written to the cache."""
    from tqdm.auto import tqdm

    todo = [k for k in range(len(bounds)) if k not in done]
    remaining = sum(bounds[k][1] - bounds[k][0] for k in todo)
    n = len(images)
    desc = "masking" + (" (resuming)" if done else "")
    with tqdm(total=n, initial=n - remaining, unit="img", desc=desc, disable=not progress) as bar:
        # Shards are compressed and written by a background thread (zlib releases
        # the GIL), so the masking workers are never left waiting on the disk.
        with ThreadPoolExecutor(1, thread_name_prefix="fermask-shard-writer") as writer:
            writes: list[Future[None]] = []
            for run in _runs(todo):
                shards = _mask_run(images, masker, bounds, run, workers, bar, executor)
                try:
                    for k, arrays in shards:
                        done[k] = arrays
                        if cache is not None:
                            writes.append(writer.submit(cache.write, k, arrays))
                finally:
                    shards.close()
            for w in writes:
                w.result()


def _join(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Concatenate shards, making gray shards RGB when any shard is RGB."""
    rgb = any(p["images"].ndim == 4 for p in parts)
    images = np.concatenate([
        p["images"] if (p["images"].ndim == 4 or not rgb) else np.repeat(p["images"][..., None], 3, axis=3)
        for p in parts
    ])
    return {
        "images": images,
        "masked": np.concatenate([p["masked"] for p in parts]),
        "styles": np.concatenate([p["styles"] for p in parts]).astype(str),
        "reasons": np.concatenate([p["reasons"] for p in parts]).astype(str),
    }


def mask_arrays(
    images: np.ndarray,
    labels: np.ndarray,
    masker: Any,
    *,
    source: str = "",
    cache_dir: str | os.PathLike[str] | None = None,
    workers: int | None = None,
    executor: Executor | None = None,
    progress: bool = True,
    shard_size: int = 2000,
    use_cache: bool = True,
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Mask every image with a Masker, through the cache; the work behind :meth:`FERDataset.mask`.

    Args:
        images: The images (uint8, one per row).
        labels: Their labels (part of the cache key).
        masker: A :class:`~fermask.Masker` (anything with ``config()`` and ``mask_many()``).
        source: A description of the data, recorded in ``meta.json``.
        cache_dir: Cache root; default :func:`default_cache_root`.
        workers: Worker processes for masking (``None``: the masker's default).
            Ignored when ``executor`` is given.
        executor: A :class:`concurrent.futures.Executor` to mask on instead of
            local processes, e.g. a Dask ``client.get_executor()``; not shut
            down here. The results (and the cache key) are the same whatever
            the executor: each image is seeded by its index.
        progress: Show a progress bar.
        shard_size: Images per cache shard.
        use_cache: ``False`` masks in memory without reading or writing the cache.

    Returns:
        ``(arrays, info)``: arrays ``images`` (RGB for all when any is RGB),
        ``masked`` (bool), ``styles`` and ``reasons`` (str, ``""`` where
        masked), one row per image; info ``{"masking": the masker config,
        "cache": the cache folder or None}``.
    """
    n = len(images)
    if n == 0:
        raise DataFormatError("mask: the dataset is empty")
    config = _masker_config(masker)
    shard_size = max(1, int(shard_size))
    bounds = [(s, min(s + shard_size, n)) for s in range(0, n, shard_size)]
    cache: _CacheEntry | None = None
    if use_cache:
        root = Path(cache_dir) if cache_dir is not None else default_cache_root()
        meta = {
            "format": CACHE_FORMAT,
            "version": CACHE_VERSION,
            "count": n,
            "shard_size": shard_size,
            "source": source,
            "masker": config,
        }
        cache = _CacheEntry(root / cache_key(images, labels, config, shard_size), meta)
    done = cache.finished(bounds) if cache is not None else {}
    if len(done) < len(bounds):
        _mask_missing(images, masker, bounds, done, cache, workers=workers, progress=progress, executor=executor)
        if cache is not None:
            cache.mark_complete()
    info = {"masking": config, "cache": str(cache.folder) if cache is not None else None}
    return _join([done[k] for k in range(len(bounds))]), info
