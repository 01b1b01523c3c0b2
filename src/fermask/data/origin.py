"""Where a FER2013-format dataset comes from: FER2013 itself, or fermask's synthetic data.

Used by ``fermask reproduce`` (:mod:`fermask.reproduce`) to mark its table: a
dataset is recognised as fermask's synthetic data from its pixels, and data
whose size or training class counts are not FER2013's is flagged as not
comparable to published results.

Examples:
    >>> from fermask.data import make_synthetic_fer
    >>> from fermask.data.origin import differences_from_fer2013
    >>> differences_from_fer2013(make_synthetic_fer(14, seed=0))[0][:30]
    'this data has 14 images, FER20'
"""

from __future__ import annotations

import numpy as np

from .._files import sha256_hex
from ..labels import EMOTIONS
from .dataset import FERDataset
from .synthetic import SYNTHETIC_SOURCE, make_synthetic_fer

__all__ = [
    "FER2013_ROWS",
    "FER2013_TRAINING_COUNTS",
    "SYNTHETIC_SEEDS",
    "content_sha256",
    "differences_from_fer2013",
    "synthetic_origin",
    "training_rows",
]

FER2013_ROWS = 35_887
"""Images in the whole FER2013 (Training 28,709 + PublicTest 3,589 + PrivateTest 3,589)."""

FER2013_TRAINING_COUNTS = (3995, 436, 4097, 7215, 4830, 3171, 4965)
"""Images per class in FER2013's Training rows, in FER2013 label order (28,709 in all)."""

SYNTHETIC_SEEDS = (0,)
"""Seeds of :func:`~fermask.data.make_synthetic_fer` that :func:`synthetic_origin` checks a file against."""


def synthetic_origin(ds: FERDataset) -> str | None:
    """How ``ds`` is known to be fermask's synthetic data (not FER2013), or ``None``.

    Two things are recognised, without any flag:

    * data made by :func:`~fermask.data.make_synthetic_fer` in this process,
      and anything made from it (subsets, splits, masked copies, a folder
      written by ``FERDataset.save``): its ``source`` or ``notes`` say so;
    * data read back from a file (a FER2013-format CSV, an image folder)
      whose images and labels are exactly those of
      ``make_synthetic_fer(n, seed=s)`` for its ``n`` rows and a seed in
      :data:`SYNTHETIC_SEEDS`, with ``balanced=True`` when every class has
      the same count (within one). A file carries no record of where it came
      from, so this regenerates the data and compares every pixel: never a
      false match, but synthetic files made with other arguments (or edited,
      shuffled, cut) are not recognised. The Usage column is not compared.

    Regenerating costs about as long as :func:`~fermask.data.make_synthetic_fer`
    takes for ``n`` images (a few seconds for FER2013's 35,887).

    Examples:
        >>> from fermask.data import make_synthetic_fer
        >>> synthetic_origin(make_synthetic_fer(20, seed=3)).startswith("made by fermask")
        True
    """
    if ds.notes.get("synthetic") or SYNTHETIC_SOURCE in ds.source:
        return f"made by fermask's synthetic data generator: {ds.source}"
    if len(ds) == 0 or ds.images.shape[1:] != (48, 48) or tuple(ds.label_names) != EMOTIONS or (ds.labels < 0).any():
        return None
    counts = np.bincount(ds.labels, minlength=len(EMOTIONS))
    balanced = int(counts.max() - counts.min()) <= 1
    for seed in SYNTHETIC_SEEDS:
        made = make_synthetic_fer(len(ds), seed=seed, balanced=balanced)
        if np.array_equal(made.labels, ds.labels) and np.array_equal(made.images, ds.images):
            call = f"make_synthetic_fer({len(ds)}, seed={seed}{', balanced=True' if balanced else ''})"
            return f"its images and labels are exactly those of fermask's {call}; read from {ds.source}"
    return None


def content_sha256(ds: FERDataset) -> str:
    """sha256 of the images (with their shape) and labels: the same data gives the same hash in any file format."""
    return sha256_hex(repr(ds.images.shape), np.ascontiguousarray(ds.images).data, np.ascontiguousarray(ds.labels).data)


def training_rows(ds: FERDataset) -> FERDataset:
    """The rows the suite trains on: the Training rows, or every row when there are none."""
    return ds.select(ds.usage == "Training") if (ds.usage == "Training").any() else ds


def differences_from_fer2013(read: FERDataset) -> list[str]:
    """What makes ``read`` not (the whole of) FER2013 as published: its size, its training class counts."""
    parts = []
    if len(read) != FER2013_ROWS:
        parts.append(
            f"this data has {len(read):,} images, FER2013 has {FER2013_ROWS:,}: it is not (the whole of) FER2013, "
            "and the results are not comparable to the report's"
        )
    train = training_rows(read)
    counts = tuple(int(c) for c in np.bincount(train.labels[train.labels >= 0], minlength=len(train.label_names)))
    if tuple(read.label_names) != EMOTIONS or counts != FER2013_TRAINING_COUNTS:
        have = ", ".join(f"{n} {c:,}" for n, c in zip(read.label_names, counts))
        want = ", ".join(f"{n} {c:,}" for n, c in zip(EMOTIONS, FER2013_TRAINING_COUNTS))
        parts.append(f"its training images per class ({have}) are not FER2013's ({want}): it is not FER2013 as published")
    return parts
