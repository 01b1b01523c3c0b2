"""One image's faces on their way through a predictor: found and cropped, then scored into a :class:`PredictionList`."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..faces import MASKED_THRESHOLD
from ..results import Prediction, PredictionList

if TYPE_CHECKING:  # pragma: no cover
    from ..faces import Face

__all__ = ["Pending", "describe", "to_prediction_list"]


def describe(src: Any) -> str:
    """How an image given to the predictor is named in its results (``PredictionList.source``)."""
    if isinstance(src, (str, os.PathLike)):
        return os.fspath(src)
    if isinstance(src, np.ndarray):
        return f"<array {src.shape} {src.dtype}>"
    if isinstance(src, (bytes, bytearray)):
        return f"<{len(src)} bytes>"
    return f"<{type(src).__name__}>"


@dataclass
class Pending:
    """Faces of one image waiting for the model."""

    faces: list[Face]
    crops: list[np.ndarray]
    styles: list[str | None]
    source: str
    size: tuple[int, int] | None
    error: str | None = None
    masked: np.ndarray | None = None
    mask_scores: np.ndarray | None = None
    alt_crops: dict[int, np.ndarray] = field(default_factory=dict)


def to_prediction_list(pending: Pending, probs: np.ndarray, labels: Sequence[str], *, threshold: float = MASKED_THRESHOLD,
                       names: tuple[str | None, str | None] = (None, None)) -> PredictionList:
    """One :class:`Prediction` per face of ``pending``; ``probs`` holds one row of probabilities per face.

    ``names`` are the models that answer bare faces and faces routed as
    masked (those in ``pending.alt_crops``).
    """
    preds = []
    for i, (face, row, style) in enumerate(zip(pending.faces, probs, pending.styles)):
        scores = {lab: float(v) for lab, v in zip(labels, row)}
        mask_score = None if pending.mask_scores is None else float(pending.mask_scores[i])
        preds.append(
            Prediction(
                index=i,
                box=tuple(int(v) for v in face.box),  # type: ignore[arg-type]
                label=labels[int(np.argmax(row))],
                scores=scores,
                landmarks=face.landmarks,
                detected=bool(face.detected),
                masked_style=style,
                mask_score=mask_score,
                masked=None if mask_score is None else mask_score >= threshold,
                model=names[1] if i in pending.alt_crops else names[0],
            )
        )
    return PredictionList(
        preds, source=pending.source, error=pending.error, image_size=pending.size, masked_image=pending.masked
    )
