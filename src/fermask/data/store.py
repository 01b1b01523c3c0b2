"""fermask's one shard format, and the on-disk layout of a saved dataset.

A *shard* is a numpy ``.npz`` file of arrays with one row per image, written
atomically (a temporary file, then a rename) and recorded in its folder's
index as ``{"file", "count", "sha256"}``; reading one checks that record.
Saved datasets (below) and the masking cache (:mod:`fermask.data.cache`) both
store their arrays this way. This module moves arrays and metadata only:
:class:`~fermask.data.FERDataset` turns them into a dataset.

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

Examples:
    >>> import tempfile
    >>> import numpy as np
    >>> folder = Path(tempfile.mkdtemp())
    >>> entry = write_shard(folder, "part-00000.npz", {"x": np.arange(3)})
    >>> entry["count"], len(entry["sha256"])
    (3, 64)
    >>> read_shard(folder, entry)["x"].tolist()
    [0, 1, 2]
"""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .._files import sha256_file, write_json_atomic
from .._version import __version__
from ..errors import DataFormatError

__all__ = [
    "write_dataset",
    "read_dataset",
    "write_shard",
    "read_shard",
    "write_npz",
    "read_npz",
    "DATASET_FORMAT",
    "DATASET_VERSION",
    "INFO_FILE",
    "REQUIRED_ARRAYS",
    "check_shard_entries",
]

DATASET_FORMAT = "fermask-dataset"
DATASET_VERSION = 1
INFO_FILE = "dataset.json"
_SHARD = "shard-{:05d}.npz"


def write_npz(path: Path, arrays: Mapping[str, np.ndarray], *, compress: bool = True) -> None:
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
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:  # BadZipFile: a damaged zip (verify=False)
        raise DataFormatError(f"'{path}' is not a readable npz shard ({exc}); delete it and save again") from None


def _rows(arrays: Mapping[str, np.ndarray]) -> int:
    """The number of rows every array shares (0 for no arrays)."""
    lengths = {k: len(v) for k, v in arrays.items()}
    if len(set(lengths.values())) > 1:
        raise DataFormatError(f"the arrays of a shard must have one row per image, got lengths {lengths}")
    return next(iter(lengths.values()), 0)


def write_shard(folder: Path, name: str, arrays: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """Write one compressed shard atomically; return its index entry ``{"file", "count", "sha256"}``."""
    count = _rows(arrays)
    write_npz(folder / name, arrays)
    return {"file": name, "count": count, "sha256": sha256_file(folder / name)}


def read_shard(
    folder: Path, entry: Mapping[str, Any], *, verify: bool = True, index: str = INFO_FILE
) -> dict[str, np.ndarray]:
    """Read the shard an index ``entry`` describes, checking its sha256 and row count.

    Args:
        folder: The folder holding the shard.
        entry: Its ``{"file", "count", "sha256"}`` record.
        verify: Check the sha256 (the row count is always checked).
        index: The index file's name, for messages.

    Raises:
        DataFormatError: The shard is missing, damaged or of another length.
    """
    f = folder / entry["file"]
    if f.is_dir():
        raise DataFormatError(f"'{f}' is a folder, expected a shard file (.npz); remove that folder and save again")
    if not f.is_file():
        raise DataFormatError(f"'{f}' is missing; the saved dataset is incomplete")
    if verify and sha256_file(f) != entry["sha256"]:
        raise DataFormatError(f"'{f}' does not match its checksum in {index}; the file is damaged")
    arrays = read_npz(f)
    rows = _rows(arrays)
    if rows != entry["count"]:
        raise DataFormatError(f"'{f}' holds {rows} rows, {index} says {entry['count']}")
    return arrays


def _clear_folder(out: Path, overwrite: bool) -> None:
    """Make ``out`` an empty folder, removing a saved dataset there only with ``overwrite``."""
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


def write_dataset(
    path: str | os.PathLike[str],
    arrays: Mapping[str, np.ndarray | None],
    info: Mapping[str, Any],
    *,
    shard_size: int = 10000,
    overwrite: bool = False,
) -> Path:
    """Write a dataset's arrays and description to a folder (see the module docs).

    Args:
        path: The target folder.
        arrays: The per-image arrays by name (``None`` values are left out).
        info: The description fields (``image_shape``, ``label_names``,
            ``source``, ``masking``, ``notes``); ``format``, ``version``,
            ``count`` and ``shards`` are added here.
        shard_size: Images per shard.
        overwrite: Replace a dataset already saved there. Without it an
            existing non-empty folder is an error (inputs are never overwritten).

    Returns:
        The folder.
    """
    out = Path(path)
    _clear_folder(out, overwrite)
    present = {k: v for k, v in arrays.items() if v is not None}
    n = _rows(present)
    if n == 0:
        raise DataFormatError("cannot save an empty dataset")
    shard_size = max(1, int(shard_size))
    shards = [
        write_shard(out, _SHARD.format(k), {name: v[start : start + shard_size] for name, v in present.items()})
        for k, start in enumerate(range(0, n, shard_size))
    ]
    description = {
        "format": DATASET_FORMAT,
        "version": DATASET_VERSION,
        "fermask_version": __version__,
        "count": n,
        **info,
        "shards": shards,
    }
    write_json_atomic(out / INFO_FILE, description)
    return out


_FIX = "save the dataset again (or restore the folder from a backup)"


def _check_int(value: Any, what: str, where: str, fix: str) -> int:
    """``value`` as a whole number 0 or more (a JSON number, not a bool or a string), else a DataFormatError."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise DataFormatError(f"'{where}': {what} is {value!r}, expected a whole number 0 or more; {fix}")
    return value


def check_shard_entries(shards: Any, where: str | os.PathLike[str], *, fix: str) -> list[dict[str, Any]]:
    """Check an index's list of shard records ``{"file", "count", "sha256"}`` before any is used.

    A record's ``file`` must be a plain file name inside the index's folder
    (never a path elsewhere), ``count`` a whole number and ``sha256`` 64 hex
    digits.

    Args:
        shards: The ``shards`` value read from the index file.
        where: The index file, for messages.
        fix: What the user should do, appended to every message.

    Returns:
        The records, as dicts.

    Raises:
        DataFormatError: ``shards`` is not a list of such records.
    """
    if not isinstance(shards, list):
        raise DataFormatError(f"'{where}': 'shards' is {type(shards).__name__}, expected a list of shard records; {fix}")
    out: list[dict[str, Any]] = []
    for i, entry in enumerate(shards):
        what = f"shard record {i}"
        if not isinstance(entry, dict):
            raise DataFormatError(f"'{where}': {what} is {entry!r:.60}, expected {{\"file\", \"count\", \"sha256\"}}; {fix}")
        missing = [k for k in ("file", "count", "sha256") if k not in entry]
        if missing:
            raise DataFormatError(f"'{where}': {what} has no {', '.join(repr(k) for k in missing)}; {fix}")
        name, digest = entry["file"], entry["sha256"]
        if not isinstance(name, str) or not name or Path(name).name != name or name.startswith("."):
            raise DataFormatError(f"'{where}': {what} names the file {name!r}, expected a file name in its folder; {fix}")
        _check_int(entry["count"], f"the count of {what}", os.fspath(where), fix)
        if not isinstance(digest, str) or len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise DataFormatError(f"'{where}': {what} has the checksum {digest!r:.70}, expected 64 hex digits; {fix}")
        out.append(dict(entry))
    return out


def _read_info(folder: Path) -> dict[str, Any]:
    """``dataset.json``, checked field by field: every problem names the file and says to save again."""
    info_path = folder / INFO_FILE
    if not info_path.is_file():
        hint = " (the save did not finish: save again)" if any(folder.glob("shard-*.npz")) else ""
        raise DataFormatError(f"'{folder}' is not a saved fermask dataset: no {INFO_FILE}{hint}")
    try:
        info = json.loads(info_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataFormatError(f"'{info_path}' is not valid JSON: {exc}; {_FIX}") from None
    if not isinstance(info, dict):
        raise DataFormatError(
            f"'{info_path}' holds a JSON {type(info).__name__}, expected an object describing a fermask dataset; {_FIX}"
        )
    if info.get("format") != DATASET_FORMAT:
        raise DataFormatError(f"'{info_path}' is not a fermask dataset description (format={info.get('format')!r})")
    if _check_int(info.get("version", 0), "'version'", os.fspath(info_path), _FIX) > DATASET_VERSION:
        raise DataFormatError(
            f"'{folder}' was saved in dataset format version {info['version']}, newer than this fermask "
            f"understands ({DATASET_VERSION}); upgrade fermask"
        )
    _check_int(info.get("count"), "'count'", os.fspath(info_path), _FIX)
    if "shards" not in info:
        raise DataFormatError(f"'{info_path}' has no 'shards' list, so its images cannot be found; {_FIX}")
    info["shards"] = check_shard_entries(info["shards"], info_path, fix=_FIX)
    names = info.get("label_names")
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise DataFormatError(f"'{info_path}': 'label_names' is {names!r:.60}, expected a list of class names; {_FIX}")
    return info


def read_dataset(path: str | os.PathLike[str], *, verify: bool = True) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Read a folder written by :func:`write_dataset`.

    Args:
        path: The folder (or its ``dataset.json``).
        verify: Check each shard's sha256 against ``dataset.json``.

    Returns:
        The per-image arrays joined over the shards, and the description.

    Raises:
        DataFormatError: Not a saved dataset, an unfinished save, or a shard
            that is missing or does not match its checksum.
    """
    p = Path(path)
    folder = p.parent if p.name == INFO_FILE else p
    info = _read_info(folder)
    parts: dict[str, list[np.ndarray]] = {}
    for entry in info["shards"]:
        arrays = read_shard(folder, entry, verify=verify)
        _check_arrays(folder / entry["file"], arrays, parts)
        for k, v in arrays.items():
            parts.setdefault(k, []).append(v)
    try:
        arrays = {k: np.concatenate(v) for k, v in parts.items()}
    except ValueError as exc:
        raise DataFormatError(f"'{folder}': the shards' arrays do not fit together ({exc}); {_FIX}") from None
    rows = len(arrays.get("labels", ()))
    if rows != info["count"]:
        raise DataFormatError(f"'{folder}' holds {rows} rows, {INFO_FILE} says {info['count']}")
    return arrays, info


REQUIRED_ARRAYS = ("images", "labels", "usage", "ids")
"""The arrays every shard of a saved dataset holds (``styles`` and ``soft_labels`` are optional)."""


def _check_arrays(shard: Path, arrays: Mapping[str, np.ndarray], earlier: Mapping[str, Any]) -> None:
    """A shard holds the required arrays, and the same ones as the shards before it."""
    for name in REQUIRED_ARRAYS:
        if name not in arrays:
            raise DataFormatError(f"'{shard}' has no {name!r} array (it holds {sorted(arrays)}); {_FIX}")
    if earlier and set(arrays) != set(earlier):
        raise DataFormatError(f"'{shard}' holds the arrays {sorted(arrays)}, the shards before it {sorted(earlier)}; {_FIX}")
