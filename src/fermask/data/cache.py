"""Masking a whole dataset once, cached on disk and resumable.

The cache lives in ``<cache root>/<key>/`` where the key is a sha256 of the
images, the labels, the Masker's full configuration and the fermask version.
Results are written in shards (``part-00000.npz``, ...) as they finish, each
atomically, so an interrupted run leaves only whole shards; the next run masks
only the shards that are missing. ``complete.json`` marks a finished cache.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .._files import cache_dir
from .._image import to_rgb
from ..errors import DataFormatError
from .store import read_npz, write_npz

if TYPE_CHECKING:  # pragma: no cover
    from .dataset import FERDataset

__all__ = ["mask_dataset", "cache_key", "default_cache_root"]

_PART = "part-{:05d}.npz"


def default_cache_root() -> Path:
    """Where ``FERDataset.mask`` caches masked datasets: ``datasets/`` in fermask's user cache."""
    return cache_dir("datasets")


def _masker_config(masker: Any) -> dict[str, Any]:
    config = getattr(masker, "config", None)
    if not callable(config):
        raise DataFormatError(
            f"mask() needs a fermask.Masker (with .config() and .mask_many()), got {type(masker).__name__}"
        )
    return dict(config())


def cache_key(ds: FERDataset, masker_config: dict[str, Any], shard_size: int) -> str:
    """The cache key of masking ``ds`` with a masker of this configuration."""
    from .._version import __version__

    h = hashlib.sha256()
    h.update(repr(ds.images.shape).encode())
    h.update(np.ascontiguousarray(ds.images).data)
    h.update(np.ascontiguousarray(ds.labels).data)
    h.update(json.dumps(masker_config, sort_keys=True, default=str).encode())
    h.update(f"fermask {__version__} shard {shard_size}".encode())
    return h.hexdigest()[:32]


def _mask_shard(ds: FERDataset, results: Any, bounds: tuple[int, int], n: int, bar: Any) -> dict[str, np.ndarray]:
    a, b = bounds
    imgs: list[np.ndarray] = []
    masked = np.zeros(b - a, dtype=bool)
    styles: list[str] = []
    reasons: list[str] = []
    for j in range(b - a):
        try:
            res = next(results)
        except StopIteration:
            raise DataFormatError(f"the masker returned fewer results than images ({a + j} of {n})") from None
        img = getattr(res, "image", None)
        ok = bool(getattr(res, "masked", False)) and img is not None
        imgs.append(np.asarray(img) if img is not None else ds.images[a + j])
        masked[j] = ok
        found = getattr(res, "styles", None) or [""]
        styles.append(str(found[0]) if ok else "")
        reasons.append("" if ok else str(getattr(res, "reason", None) or "not masked"))
        bar.update(1)
    return {
        "images": _uniform(imgs),
        "masked": masked,
        "styles": np.asarray(styles, dtype=str),
        "reasons": np.asarray(reasons, dtype=str),
    }


def _uniform(images: list[np.ndarray]) -> np.ndarray:
    if any(a.ndim == 3 for a in images):
        images = [to_rgb(a) for a in images]
    return np.stack(images)


def mask_dataset(
    ds: FERDataset,
    masker: Any,
    *,
    on_no_face: str = "drop",
    cache_dir: str | os.PathLike[str] | None = None,
    workers: int | None = None,
    progress: bool = True,
    shard_size: int = 2000,
    use_cache: bool = True,
) -> FERDataset:
    """Implementation of :meth:`FERDataset.mask`."""
    if on_no_face not in ("drop", "keep"):
        raise DataFormatError(f"on_no_face must be 'drop' or 'keep', got {on_no_face!r}")
    if len(ds) == 0:
        raise DataFormatError("mask: the dataset is empty")
    if not callable(getattr(masker, "mask_many", None)):
        raise DataFormatError(f"mask() needs a fermask.Masker, got {type(masker).__name__}")
    config = _masker_config(masker)
    shard_size = max(1, int(shard_size))
    n = len(ds)
    bounds = [(s, min(s + shard_size, n)) for s in range(0, n, shard_size)]
    folder: Path | None = None
    done: dict[int, dict[str, np.ndarray]] = {}
    if use_cache:
        key = cache_key(ds, config, shard_size)
        folder = Path(cache_dir) if cache_dir is not None else default_cache_root()
        folder = folder / key
        folder.mkdir(parents=True, exist_ok=True)
        meta = folder / "meta.json"
        if not meta.exists():
            meta.write_text(
                json.dumps(
                    {"count": n, "shard_size": shard_size, "source": ds.source, "masker": config},
                    indent=2,
                    default=str,
                ),
                encoding="utf-8",
            )
        for k, (a, b) in enumerate(bounds):
            f = folder / _PART.format(k)
            if f.is_file():
                try:
                    arrays = read_npz(f)
                except DataFormatError:
                    f.unlink()  # an unreadable shard is redone
                    continue
                if len(arrays.get("masked", ())) == b - a:
                    done[k] = arrays
    todo = [k for k in range(len(bounds)) if k not in done]
    if todo:
        from tqdm.auto import tqdm

        remaining = sum(bounds[k][1] - bounds[k][0] for k in todo)
        bar = tqdm(
            total=n,
            initial=n - remaining,
            unit="img",
            desc="masking" + (" (resuming)" if done else ""),
            disable=not progress,
        )
        try:
            # contiguous runs of missing shards; each run starts at its own index so that
            # random style choices (seeded by image index) match an uninterrupted run
            runs: list[list[int]] = []
            for k in todo:
                if runs and runs[-1][-1] == k - 1:
                    runs[-1].append(k)
                else:
                    runs.append([k])
            # Shards are compressed and written by a background thread (zlib releases
            # the GIL), so the masking workers are never left waiting on the disk.
            with ThreadPoolExecutor(1, thread_name_prefix="fermask-shard-writer") as writer:
                writes: list[Future[None]] = []
                for run in runs:
                    a0, b0 = bounds[run[0]][0], bounds[run[-1]][1]
                    results = masker.mask_many(
                        list(ds.images[a0:b0]), workers=workers, progress=False, start=a0, total=b0 - a0
                    )
                    try:
                        for k in run:
                            done[k] = _mask_shard(ds, results, bounds[k], n, bar)
                            if folder is not None:
                                writes.append(writer.submit(write_npz, folder / _PART.format(k), done[k]))
                    finally:
                        close = getattr(results, "close", None)
                        if callable(close):
                            close()
                for w in writes:
                    w.result()
        finally:
            bar.close()
        if folder is not None:
            (folder / "complete.json").write_text(json.dumps({"count": n}) + "\n", encoding="utf-8")
    parts = [done[k] for k in range(len(bounds))]
    rgb = any(p["images"].ndim == 4 for p in parts)
    images = np.concatenate([
        p["images"] if (p["images"].ndim == 4 or not rgb) else np.repeat(p["images"][..., None], 3, axis=3)
        for p in parts
    ])
    masked = np.concatenate([p["masked"] for p in parts])
    styles = np.concatenate([p["styles"] for p in parts]).astype(str)
    reasons = np.concatenate([p["reasons"] for p in parts]).astype(str)
    not_masked = int((~masked).sum())
    notes = {
        **ds.notes,
        "masking": {
            "masked": int(masked.sum()),
            "not_masked": not_masked,
            "dropped": not_masked if on_no_face == "drop" else 0,
            "on_no_face": on_no_face,
            "reasons": dict(Counter(reasons[~masked].tolist()).most_common(5)),
            "cache": str(folder) if folder is not None else None,
        },
    }
    out = ds._replace(
        images=images,
        styles=styles,
        masking=config,
        notes=notes,
        source=f"{ds.source} | masked",
    )
    if on_no_face == "drop":
        out = out.select(masked)
        if len(out) == 0:
            raise DataFormatError(
                f"mask(on_no_face='drop') dropped every image: no face was masked in {n} images "
                f"(reasons: {notes['masking']['reasons']}). For face crops use face_policy='full_frame' or 'auto'"
            )
    return out
