"""Old names of :mod:`fermask.predictor` kept working, each warning with its replacement."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np

from .. import _image

__all__ = ["crop_face"]


def crop_face(image: np.ndarray, box: Sequence[int], margin: float = 0.0) -> np.ndarray:
    """Deprecated: use :func:`fermask.crop_face` instead (the one crop rule, in ``fermask._image``).

    Kept so that ``from fermask.predictor import crop_face`` still works; it
    warns and returns what ``fermask.crop_face`` returns.
    """
    warnings.warn(
        "fermask.predictor.crop_face is deprecated; use fermask.crop_face instead",
        DeprecationWarning,
        stacklevel=2,
    )
    return _image.crop_face(image, box, margin)
