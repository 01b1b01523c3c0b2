"""Checking and coercing what a :class:`~fermask.data.FERDataset` is built from (arrays in, arrays out).

``dataset.py`` calls these from ``FERDataset.__init__``, ``coerce``, ``select``,
``concat`` and the methods that take a class by name; nothing here imports it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

from ..errors import DataFormatError, InvalidIndexError
from ..labels import EMOTIONS, label_index

__all__ = [
    "Fields",
    "as_str_array",
    "checked_fields",
    "class_index",
    "class_caps",
    "check_concat",
    "check_same_names",
    "index_array",
    "pair_as_arrays",
    "pixels_as_uint8",
]


class Fields(NamedTuple):
    """A dataset's per-image arrays and class names, checked and in their stored dtypes."""

    images: np.ndarray
    labels: np.ndarray
    usage: np.ndarray
    styles: np.ndarray | None
    soft_labels: np.ndarray | None
    label_names: tuple[str, ...]
    ids: np.ndarray


def as_str_array(values: Iterable[str] | np.ndarray | None, n: int, what: str) -> np.ndarray:
    """``values`` as an ``(n,)`` str array (``""`` everywhere for ``None``)."""
    if values is None:
        return np.full(n, "", dtype="<U1")
    arr = np.asarray(values)
    if arr.dtype.kind not in ("U", "S", "O"):
        raise DataFormatError(f"{what} must be strings, got dtype {arr.dtype}")
    arr = arr.astype(str)
    if arr.shape != (n,):
        raise DataFormatError(f"{what} must have one entry per image ({n}), got shape {arr.shape}")
    return arr


def pixels_as_uint8(x: np.ndarray, what: str) -> np.ndarray:
    """Pixel values 0-255 of any numeric dtype as uint8; images scaled to 0-1 are refused."""
    if x.dtype == np.uint8:
        return x
    if not np.issubdtype(x.dtype, np.number):
        raise DataFormatError(f"{what} images must be numbers, got dtype {x.dtype}")
    if x.size and float(np.nanmax(x)) <= 1.0:
        raise DataFormatError(
            f"the {what} images look scaled to 0-1, but fermask models take pixel values 0-255 and "
            "scale inside the model; pass the original uint8 images (or x * 255)"
        )
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


def _checked_images(images: np.ndarray) -> np.ndarray:
    images = np.asarray(images)
    if images.dtype != np.uint8:
        raise DataFormatError(
            f"images must be uint8 (pixel values 0-255), got dtype {images.dtype}; "
            "convert with np.clip(x, 0, 255).astype(np.uint8)"
        )
    if images.ndim == 4 and images.shape[3] == 1:
        images = images[..., 0]
    if not (images.ndim == 3 or (images.ndim == 4 and images.shape[3] == 3)):
        raise DataFormatError(f"images must have shape (N, H, W) or (N, H, W, 3), got {images.shape}")
    return images


def _checked_labels(labels: np.ndarray | Sequence[int], n: int) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.shape != (n,):
        raise DataFormatError(f"labels must have shape ({n},) to match the images, got {labels.shape}")
    if labels.size and not np.issubdtype(labels.dtype, np.integer):
        raise DataFormatError(f"labels must be integers, got dtype {labels.dtype}")
    return labels.astype(np.int64, copy=False)


def checked_fields(
    images: np.ndarray,
    labels: np.ndarray | Sequence[int],
    usage: Iterable[str] | np.ndarray | None,
    styles: Iterable[str] | np.ndarray | None,
    soft_labels: np.ndarray | None,
    label_names: Sequence[str],
    ids: np.ndarray | Sequence[int] | None,
) -> Fields:
    """The arguments of ``FERDataset(...)`` checked against each other, as :class:`Fields`.

    Raises:
        DataFormatError: An array of the wrong dtype or shape, fewer than two
            class names, or a label out of range.
    """
    images = _checked_images(images)
    n = images.shape[0]
    labels = _checked_labels(labels, n)
    names = tuple(str(x) for x in label_names)
    if len(names) < 2:
        raise DataFormatError(f"label_names needs at least two classes, got {names}")
    if labels.size and (labels.min() < -1 or labels.max() >= len(names)):
        bad = int(labels.min() if labels.min() < -1 else labels.max())
        raise DataFormatError(
            f"label {bad} is out of range for {len(names)} classes {names}; use 0-{len(names) - 1}, or -1 for unlabelled"
        )
    usage_arr = as_str_array(usage, n, "usage")
    styles_arr = None if styles is None else as_str_array(styles, n, "styles")
    if soft_labels is not None:
        soft_labels = np.asarray(soft_labels, dtype=np.float32)
        if soft_labels.shape != (n, len(names)):
            raise DataFormatError(f"soft_labels must have shape ({n}, {len(names)}), got {soft_labels.shape}")
    ids_arr = np.arange(n, dtype=np.int64) if ids is None else np.asarray(ids, dtype=np.int64)
    if ids_arr.shape != (n,):
        raise DataFormatError(f"ids must have shape ({n},), got {ids_arr.shape}")
    return Fields(images, labels, usage_arr, styles_arr, soft_labels, names, ids_arr)


def check_same_names(label_names: Sequence[str] | None, have: Sequence[str], what: str) -> None:
    """Refuse ``label_names`` that differ from a dataset's own ``have`` (``None`` passes)."""
    if label_names is not None and [str(x) for x in label_names] != list(have):
        raise DataFormatError(f"labels={list(label_names)} differ from the {what} dataset's classes {list(have)}")


def pair_as_arrays(
    data: Any, label_names: Sequence[str] | None, what: str
) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """An ``(images, labels)`` pair as uint8 images, int64 class indices and class names.

    One-hot label rows become indices. Without ``label_names``, up to two
    classes are ``("negative", "positive")`` and more are the FER2013 emotions.
    """
    if not (isinstance(data, (tuple, list)) and len(data) == 2):
        raise DataFormatError(
            f"{what} data must be a FERDataset or an (images, labels) pair of arrays, got {type(data).__name__}"
        )
    x = pixels_as_uint8(np.asarray(data[0]), what)
    y = np.asarray(data[1])
    if y.ndim == 2 and y.shape[1] > 1:  # one-hot labels
        y = y.argmax(axis=1)
    y = y.reshape(-1).astype(np.int64)
    if label_names is None:
        k = int(y.max()) + 1 if y.size else 0
        if k > len(EMOTIONS):
            raise DataFormatError(f"the {what} labels go up to {k - 1}; pass labels=[...] naming the {k} classes")
        label_names = EMOTIONS if k > 2 else ("negative", "positive")
    return x, y, tuple(label_names)


def index_array(indices: Any, n: int) -> Any:
    """``FERDataset.select``'s ``indices`` (int, slice, integer indices or bool mask) as a numpy index."""
    if isinstance(indices, (int, np.integer)):
        i = int(indices)
        if not -n <= i < n:
            raise InvalidIndexError(f"index {i} is out of range for a dataset of {n} images")
        return np.array([i % n])
    if isinstance(indices, slice):
        return indices
    idx = np.asarray(indices)
    if idx.dtype == bool:
        if idx.shape != (n,):
            raise InvalidIndexError(f"a boolean mask must have shape ({n},), got {idx.shape}")
    elif idx.size and not np.issubdtype(idx.dtype, np.integer):
        raise InvalidIndexError(f"indices must be integers or booleans, got dtype {idx.dtype}")
    else:
        idx = idx.astype(np.int64)
    return idx


def class_index(name: str | int, label_names: tuple[str, ...]) -> int:
    """The index of a class given by index or by name (case-insensitive; FER2013 aliases for the emotions)."""
    if isinstance(name, (int, np.integer)):
        if not 0 <= int(name) < len(label_names):
            raise DataFormatError(f"class {name} is out of range; expected 0-{len(label_names) - 1}")
        return int(name)
    low = [n.lower() for n in label_names]
    key = str(name).strip().lower()
    if key in low:
        return low.index(key)
    if label_names == EMOTIONS:
        return label_index(key)
    raise DataFormatError(f"unknown class {name!r}; this dataset's classes are {list(label_names)}")


def class_caps(per_class: int | Mapping[Any, int], label_names: tuple[str, ...]) -> dict[int, int]:
    """``FERDataset.cap``'s ``per_class`` as ``{class index: cap}``, each cap at least 1."""
    caps: dict[int, int] = {}
    if isinstance(per_class, Mapping):
        for k, v in per_class.items():
            caps[class_index(k, label_names)] = int(v)
    else:
        caps = {k: int(per_class) for k in range(len(label_names))}
    if any(v < 1 for v in caps.values()):
        raise DataFormatError(f"cap: every cap must be at least 1, got {per_class}")
    return caps


def check_concat(label_names: Sequence[tuple[str, ...]], image_shapes: Sequence[tuple[int, ...]]) -> None:
    """Refuse joining datasets whose class names or image shapes differ (or no dataset at all)."""
    if not label_names:
        raise DataFormatError("concat needs at least one dataset")
    for names, shape in zip(label_names[1:], image_shapes[1:]):
        if names != label_names[0]:
            raise DataFormatError(f"cannot concat datasets with labels {label_names[0]} and {names}")
        if shape != image_shapes[0]:
            raise DataFormatError(f"cannot concat images of shape {image_shapes[0]} and {shape}")
