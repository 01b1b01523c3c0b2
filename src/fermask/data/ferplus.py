"""Relabelling FER2013 rows with FER+ votes (``fer2013new.csv``); arrays in, arrays out.

FER+ has one row per ``fer2013.csv`` row, in the same order, with ten vote
counts per image. :func:`ferplus_labels` turns the votes of the rows a dataset
refers to into labels in FER2013 order; :meth:`FERDataset.with_ferplus
<fermask.data.FERDataset.with_ferplus>` applies them.

Examples:
    >>> import numpy as np
    >>> votes = np.zeros((2, len(FERPLUS_ORDER)), np.int32)
    >>> votes[0, FERPLUS_ORDER.index("happiness")] = 8
    >>> votes[1, FERPLUS_ORDER.index("contempt")] = 8
    >>> out = ferplus_labels(votes, np.array([True, True]), "majority")
    >>> out["keep"].tolist(), int(out["labels"][0]), out["notes"]["no_label_dropped"]
    ([True, False], 3, 1)
"""

from __future__ import annotations

import os
from typing import Any, Literal

import numpy as np

from .._choices import FERPLUS_MODES  # kept importable from here; the tuple lives in _choices
from ..errors import DataFormatError
from ..labels import EMOTIONS, label_index
from .readers import FERPLUS_COLUMNS, read_ferplus_votes

__all__ = ["FERPLUS_ORDER", "FERPLUS_MODES", "read_votes_for", "ferplus_labels"]

FERPLUS_ORDER = FERPLUS_COLUMNS[2:]
"""FER+ vote columns (``fer2013new.csv`` after Usage and Image name)."""

# The FER+ names of the FER2013 classes, in FER2013 label order.
_FERPLUS_NAMES = ("anger", "disgust", "fear", "happiness", "sadness", "surprise", "neutral")
assert [label_index(c) for c in _FERPLUS_NAMES] == list(range(len(EMOTIONS)))
# FER+ vote columns of the seven FER2013 classes, in FER2013 order (angry ... neutral)
_SEVEN = [FERPLUS_ORDER.index(c) for c in _FERPLUS_NAMES]


def read_votes_for(
    path: str | os.PathLike[str], ids: np.ndarray, usage: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The FER+ votes and "has an image name" flags of the ``fer2013.csv`` rows ``ids``.

    Args:
        path: ``fer2013new.csv``.
        ids: Source rows in ``fer2013.csv``.
        usage: Their Usage values (``""`` = unknown), checked against FER+'s.

    Returns:
        ``(votes, named)``: int32 ``(len(ids), 10)`` votes in :data:`FERPLUS_ORDER`, bool ``(len(ids),)``.

    Raises:
        DataFormatError: The votes file does not line up with these rows.
    """
    votes, fer_usage, named = read_ferplus_votes(path)
    if len(ids) and int(ids.max()) >= len(votes):
        raise DataFormatError(
            f"'{path}' has {len(votes):,} rows but this dataset refers to row {int(ids.max()):,}; "
            "FER+ votes join fer2013.csv row by row (35,887 rows), so load the full fer2013.csv"
        )
    fu = fer_usage[ids]
    differ = (usage != "") & (fu != "") & (usage != fu)
    if differ.any():
        bad = int(np.flatnonzero(differ)[0])
        raise DataFormatError(
            f"'{path}' does not line up with this dataset: source row {int(ids[bad])} has Usage "
            f"{usage[bad]!r} here and {fu[bad]!r} in the FER+ file; both must be in fer2013.csv order"
        )
    return votes[ids], named[ids]


def ferplus_labels(votes: np.ndarray, named: np.ndarray, mode: Literal["majority", "soft"]) -> dict[str, Any]:
    """Labels in FER2013 order from FER+ votes.

    Args:
        votes: ``(N, 10)`` vote counts in :data:`FERPLUS_ORDER`.
        named: ``(N,)`` False where FER+ left the image name blank (dropped).
        mode: ``"majority"`` (the category with more than half of the votes;
            none, or contempt/unknown/NF, drops the row) or ``"soft"`` (vote
            shares of the seven classes, renormalised; no vote for any drops it).

    Returns:
        ``{"keep", "labels", "soft_labels", "notes"}``: the rows to keep (bool),
        int64 labels, float32 ``(N, 7)`` shares or ``None``, and the drop counts.
    """
    seven = votes[:, _SEVEN].astype(np.float32)
    keep = named.copy()
    blank = int((~keep).sum())
    soft: np.ndarray | None = None
    if mode == "majority":
        usable = (votes.max(axis=1) * 2 > votes.sum(axis=1)) & np.isin(votes.argmax(axis=1), _SEVEN)
        labels = seven.argmax(axis=1)
    else:
        shares = seven.sum(axis=1)
        usable = shares > 0
        soft = seven / np.maximum(shares, 1)[:, None]
        labels = soft.argmax(axis=1)
    dropped_vote = int((keep & ~usable).sum())
    keep &= usable
    return {
        "keep": keep,
        "labels": labels.astype(np.int64),
        "soft_labels": soft,
        "notes": {"mode": mode, "blank_name_dropped": blank, "no_label_dropped": dropped_vote},
    }
