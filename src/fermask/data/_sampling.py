"""Index arithmetic for sampling: arrays of labels and usage in, index arrays out.

``allocate`` is shared by dataset sampling and synthetic data; the rest is what
``FERDataset.subset``, ``split``, ``cap`` and ``binary`` compute before they call
``select``. Nothing here imports ``dataset.py``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

__all__ = [
    "allocate",
    "binary_labels",
    "cap_keep",
    "dev_mask",
    "missing_classes",
    "stratified_pick",
    "subset_indices",
    "usage_keys",
]


def allocate(counts: np.ndarray, total: int) -> np.ndarray:
    """Split ``total`` over groups in proportion to ``counts`` (largest remainder).

    Examples:
        >>> allocate(np.array([5, 3, 2]), 4).tolist()
        [2, 1, 1]
    """
    n = int(counts.sum())
    exact = counts * (total / n)
    base = np.floor(exact).astype(np.int64)
    rest = total - int(base.sum())
    order = np.lexsort((np.arange(len(counts)), -(exact - base)))
    base[order[:rest]] += 1
    return np.minimum(base, counts)


def stratified_pick(labels: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` sorted row indices drawn per class in proportion to the class sizes."""
    keys, inv = np.unique(labels, return_inverse=True)
    counts = np.bincount(inv, minlength=len(keys))
    take = allocate(counts, n)
    picked = [rng.choice(np.flatnonzero(inv == g), size=int(t), replace=False) for g, t in enumerate(take) if t]
    return np.sort(np.concatenate(picked)) if picked else np.empty(0, dtype=np.int64)


def subset_indices(labels: np.ndarray, n: int, *, stratify: bool, seed: int) -> np.ndarray:
    """``n`` sorted row indices, at random (stratified by label or not) from ``seed``."""
    rng = np.random.default_rng(seed)
    return stratified_pick(labels, n, rng) if stratify else np.sort(rng.choice(len(labels), size=n, replace=False))


def dev_mask(labels: np.ndarray, n_dev: int, *, stratify: bool, seed: int) -> np.ndarray:
    """A bool mask with ``n_dev`` rows set: the dev part of a seeded train/dev split."""
    rng = np.random.default_rng(seed)
    dev_idx = stratified_pick(labels, n_dev, rng) if stratify else rng.choice(len(labels), size=n_dev, replace=False)
    mask = np.zeros(len(labels), dtype=bool)
    mask[dev_idx] = True
    return mask


def cap_keep(labels: np.ndarray, caps: Mapping[int, int], seed: int) -> np.ndarray:
    """A bool mask keeping at most ``caps[k]`` rows of each class ``k``, chosen at random."""
    rng = np.random.default_rng(seed)
    keep = np.ones(len(labels), dtype=bool)
    for k, limit in caps.items():
        idx = np.flatnonzero(labels == k)
        if idx.size > limit:
            drop = rng.choice(idx, size=idx.size - limit, replace=False)
            keep[drop] = False
    return keep


def binary_labels(
    labels: np.ndarray, soft_labels: np.ndarray | None, positive: Sequence[int]
) -> tuple[np.ndarray, np.ndarray | None]:
    """Labels 1 for the ``positive`` classes, 0 otherwise, -1 kept; soft labels summed the same way."""
    is_pos = np.isin(labels, positive)
    out = np.where(labels < 0, -1, is_pos.astype(np.int64))
    soft = None
    if soft_labels is not None:
        p = soft_labels[:, list(positive)].sum(axis=1)
        soft = np.stack([1.0 - p, p], axis=1).astype(np.float32)
    return out, soft


def usage_keys(usage: np.ndarray, order: Sequence[str]) -> list[str]:
    """The usages present, those in ``order`` first (in that order), then the others sorted."""
    return [u for u in order if (usage == u).any()] + sorted(set(usage.tolist()) - set(order))


def missing_classes(overall: np.ndarray, part: np.ndarray) -> np.ndarray:
    """Indices of the classes with images in ``overall`` counts but none in ``part``."""
    return np.flatnonzero((overall > 0) & (part == 0))
