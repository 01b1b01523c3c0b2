"""Splitting a count over groups, shared by dataset sampling and synthetic data."""

from __future__ import annotations

import numpy as np

__all__ = ["allocate"]


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
