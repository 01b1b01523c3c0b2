"""The on-disk format of a saved :class:`~fermask.data.FERDataset`.

A saved dataset is a folder::

    masked_fer2013/
        dataset.json          description (written last: its presence means the save finished)
        shard-00000.npz       up to shard_size images each, numpy's compressed npz
        shard-00001.npz
        ...

Each shard holds the arrays ``images`` (uint8, ``(n, H, W)`` or
``(n, H, W, 3)``), ``labels`` (int64, ``-1`` = unlabelled), ``usage`` (str),
``ids`` (int64 source rows) and, when present, ``styles`` (str, ``""`` =
unmasked) and ``soft_labels`` (float32 ``(n, K)``). ``dataset.json`` holds
``format`` (``"fermask-dataset"``), ``version`` (1), ``count``,
``image_shape``, ``label_names``, ``source``, ``masking`` (the Masker
configuration or null), ``notes``, and ``shards``: a list of
``{"file", "count", "sha256"}``. Any tool that reads npz files (numpy,
``np.load(path, allow_pickle=False)``) can read it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .._files import sha256_file, write_json_atomic
from ..errors import DataFormatError

if TYPE_CHECKING:  # pragma: no cover
    from .dataset import FERDataset

__all__ = ["save_dataset", "load_dataset", "DATASET_FORMAT", "DATASET_VERSION", "INFO_FILE"]

DATASET_FORMAT = "fermask-dataset"
DATASET_VERSION = 1
INFO_FILE = "dataset.json"
_SHARD = "shard-{:05d}.npz"



def write_npz(path: Path, arrays: dict[str, np.ndarray], *, compress: bool = True) -> None:
    """Write arrays to ``path`` atomically (a temporary file, then a rename)."""
    tmp = path.with_name(path.name + ".partial")
    # The arrays go in by keyword (their names in the file). numpy's stubs give
    # savez an ``allow_pickle: bool`` keyword (numpy >= 2.1), so a ``**dict`` of
    # arrays does not type-check against them; the call itself is unchanged.
    save: Callable[..., None] = np.savez_compressed if compress else np.savez
    with open(tmp, "wb") as f:
        save(f, **arrays)
    os.replace(tmp, path)


def read_npz(path: Path) -> dict[str, np.ndarray]:
    """Read every array of an npz file (no pickles)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (OSError, ValueError, EOFError) as exc:
        raise DataFormatError(f"'{path}' is not a readable npz shard ({exc}); delete it and save again") from None


def save_dataset(ds: FERDataset, path: str | os.PathLike[str], *, shard_size: int = 10000, overwrite: bool = False) -> Path:
    """Write ``ds`` to ``path`` (see the module docs for the format).

    Args:
        ds: The dataset.
        path: The target folder.
        shard_size: Images per shard.
        overwrite: Replace a dataset already saved there. Without it an
            existing non-empty folder is an error (inputs are never overwritten).

    Returns:
        The folder.
    """
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise DataFormatError(f"'{out}' exists and is a file; save needs a folder path")
    if out.is_dir() and any(out.iterdir()):
        if not overwrite:
            raise DataFormatError(f"'{out}' is not empty; choose a new folder or pass overwrite=True")
        if not (out / INFO_FILE).is_file():
            raise DataFormatError(
                f"'{out}' is not empty and holds no saved dataset; refusing to overwrite it, choose a new folder"
            )
        (out / INFO_FILE).unlink()
        for old in out.glob("shard-*.npz"):
            old.unlink()
    out.mkdir(parents=True, exist_ok=True)
    if len(ds) == 0:
        raise DataFormatError("cannot save an empty dataset")
    shard_size = max(1, int(shard_size))
    shards = []
    for k, start in enumerate(range(0, len(ds), shard_size)):
        part = slice(start, start + shard_size)
        arrays: dict[str, np.ndarray] = {
            "images": ds.images[part],
            "labels": ds.labels[part],
            "usage": ds.usage[part],
            "ids": ds.ids[part],
        }
        if ds.styles is not None:
            arrays["styles"] = ds.styles[part]
        if ds.soft_labels is not None:
            arrays["soft_labels"] = ds.soft_labels[part]
        name = _SHARD.format(k)
        write_npz(out / name, arrays)
        shards.append({"file": name, "count": int(len(arrays["labels"])), "sha256": sha256_file(out / name)})
    from .._version import __version__

    info = {
        "format": DATASET_FORMAT,
        "version": DATASET_VERSION,
        "fermask_version": __version__,
        "count": len(ds),
        "image_shape": list(ds.image_shape),
        "label_names": list(ds.label_names),
        "source": ds.source,
        "masking": ds.masking,
        "notes": ds.notes,
        "shards": shards,
    }
    write_json_atomic(out / INFO_FILE, info)
    return out


def load_dataset(path: str | os.PathLike[str], *, verify: bool = True) -> FERDataset:
    """Load a dataset written by :func:`save_dataset`.

    Args:
        path: The folder (or its ``dataset.json``).
        verify: Check each shard's sha256 against ``dataset.json``.

    Raises:
        DataFormatError: Not a saved dataset, an unfinished save, or a shard
            that is missing or does not match its checksum.
    """
    from .dataset import FERDataset

    p = Path(path)
    folder = p.parent if p.name == INFO_FILE else p
    info_path = folder / INFO_FILE
    if not info_path.is_file():
        hint = " (the save did not finish: save again)" if any(folder.glob("shard-*.npz")) else ""
        raise DataFormatError(f"'{folder}' is not a saved fermask dataset: no {INFO_FILE}{hint}")
    try:
        info = json.loads(info_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataFormatError(f"'{info_path}' is not valid JSON: {exc}") from None
    if info.get("format") != DATASET_FORMAT:
        raise DataFormatError(f"'{info_path}' is not a fermask dataset description (format={info.get('format')!r})")
    if int(info.get("version", 0)) > DATASET_VERSION:
        raise DataFormatError(
            f"'{folder}' was saved in dataset format version {info['version']}, newer than this fermask "
            f"understands ({DATASET_VERSION}); upgrade fermask"
        )
    parts: dict[str, list[np.ndarray]] = {}
    for s in info["shards"]:
        f = folder / s["file"]
        if not f.is_file():
            raise DataFormatError(f"'{f}' is missing; the saved dataset is incomplete")
        if verify and sha256_file(f) != s["sha256"]:
            raise DataFormatError(f"'{f}' does not match its checksum in {INFO_FILE}; the file is damaged")
        arrays = read_npz(f)
        if len(arrays.get("labels", ())) != s["count"]:
            raise DataFormatError(f"'{f}' holds {len(arrays.get('labels', ()))} rows, {INFO_FILE} says {s['count']}")
        for k, v in arrays.items():
            parts.setdefault(k, []).append(v)
    cat = {k: np.concatenate(v) for k, v in parts.items()}
    if len(cat["labels"]) != info["count"]:
        raise DataFormatError(f"'{folder}' holds {len(cat['labels'])} rows, {INFO_FILE} says {info['count']}")
    return FERDataset(
        cat["images"],
        cat["labels"],
        usage=cat["usage"],
        ids=cat["ids"],
        styles=cat.get("styles"),
        soft_labels=cat.get("soft_labels"),
        label_names=info["label_names"],
        source=info.get("source", ""),
        masking=info.get("masking"),
        notes=info.get("notes") or {},
    )
