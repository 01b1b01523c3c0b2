"""The metrics, in numpy: confusion matrix, per-class precision/recall/F1, top-k accuracy.

The confusion matrix has one row per **true** class and one column per
**predicted** class; a score that is undefined (a class never predicted, or
never true) is 0, as scikit-learn's ``zero_division=0`` gives.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..errors import DataFormatError

__all__ = ["confusion_matrix", "per_class_scores", "top_k_accuracy"]


def confusion_matrix(y_true: Sequence[int] | np.ndarray, y_pred: Sequence[int] | np.ndarray, num_classes: int) -> np.ndarray:
    """Count matrix with rows = true class and columns = predicted class.

    Args:
        y_true: True class indices.
        y_pred: Predicted class indices.
        num_classes: Number of classes ``K``.

    Returns:
        ``(K, K)`` int64 counts.

    Examples:
        >>> confusion_matrix([0, 0, 1], [0, 1, 1], 2).tolist()
        [[1, 1], [0, 1]]
    """
    t = np.asarray(y_true, dtype=np.int64).ravel()
    p = np.asarray(y_pred, dtype=np.int64).ravel()
    if t.shape != p.shape:
        raise DataFormatError(f"y_true and y_pred must have the same length, got {t.size} and {p.size}")
    for name, arr in (("y_true", t), ("y_pred", p)):
        if arr.size and (arr.min() < 0 or arr.max() >= num_classes):
            raise DataFormatError(f"{name} holds class indices outside 0-{num_classes - 1}")
    return np.bincount(t * num_classes + p, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def per_class_scores(cm: np.ndarray) -> dict[str, np.ndarray]:
    """Precision, recall, F1 and support per class from a confusion matrix.

    Args:
        cm: ``(K, K)`` counts, rows = true class.

    Returns:
        A dict of ``(K,)`` arrays: ``precision``, ``recall``, ``f1`` (floats,
        0 where undefined) and ``support`` (true count per class).

    Examples:
        >>> s = per_class_scores(np.array([[1, 1], [0, 2]]))
        >>> s["precision"].tolist(), s["recall"].tolist()
        ([1.0, 0.6666666666666666], [0.5, 1.0])
    """
    cm = np.asarray(cm, dtype=np.float64)
    tp = np.diag(cm)
    predicted = cm.sum(axis=0)
    support = cm.sum(axis=1)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, support, out=np.zeros_like(tp), where=support > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(tp), where=denom > 0)
    return {"precision": precision, "recall": recall, "f1": f1, "support": support.astype(np.int64)}


def top_k_accuracy(y_true: Sequence[int] | np.ndarray, scores: np.ndarray, k: int = 2) -> float:
    """Share of rows whose true class is among the ``k`` highest scores.

    Ties are broken towards the lower class index (a stable sort).

    Examples:
        >>> top_k_accuracy([2, 0], np.array([[0.5, 0.3, 0.2], [0.1, 0.6, 0.3]]), k=2)
        0.0
        >>> top_k_accuracy([1, 2], np.array([[0.5, 0.3, 0.2], [0.1, 0.6, 0.3]]), k=2)
        1.0
    """
    t = np.asarray(y_true, dtype=np.int64).ravel()
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 2 or s.shape[0] != t.size:
        raise DataFormatError(f"scores must have shape ({t.size}, K), got {s.shape}")
    if t.size == 0:
        return float("nan")
    top = np.argsort(-s, axis=1, kind="stable")[:, :k]
    return float((top == t[:, None]).any(axis=1).mean())
