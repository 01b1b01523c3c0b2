"""The result records of a prediction: :class:`Prediction`, :class:`PredictionList`, :func:`top_emotion`.

They are plain data (numbers, strings and NumPy arrays), defined at the
foundation so that every layer can read them: the predictor builds them,
``video`` keeps them per frame and :mod:`fermask.plots` draws them, without
any of these importing the others. :mod:`fermask.predictor` re-exports all
three, and ``from fermask import Prediction`` finds them here.

An image with no face gives an empty :class:`PredictionList`. Asking it for
its :meth:`~PredictionList.top_emotion` raises :class:`~fermask.NoFaceError`
with a clear message (never an ``IndexError``), unless a ``default`` is given.

Examples:
    >>> from fermask.results import Prediction, PredictionList
    >>> preds = PredictionList([Prediction(0, (0, 0, 48, 48), "happy", {"happy": 0.8, "sad": 0.2})])
    >>> preds.top_emotion()
    ('happy', 0.8)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import NoFaceError

__all__ = ["Prediction", "PredictionList", "top_emotion"]

_MISSING: Any = object()


@dataclass
class Prediction:
    """The emotion scores of one face.

    Attributes:
        index: Position of the face in its image, counted left to right from 0.
        box: ``(left, top, right, bottom)`` of the face in pixels.
        landmarks: ``(68, 2)`` float32 landmark points, or ``None``.
        label: The label with the highest score.
        scores: One score per label, in the model's label order; they sum to 1.
        detected: ``True`` if a detector found the face, ``False`` if the whole
            frame was taken as the face (a face crop).
        masked_style: The mask style drawn on the face before predicting
            (``simulate_mask``), else ``None``.
        mask_score: How likely the face wears a mask (or anything over mouth
            and nose), 0-1, from fermask's mask classifier; ``None`` where it
            was not scored.
        masked: Whether ``mask_score`` reaches the predictor's threshold (0.5
            by default); ``None`` where it was not scored.
        model: The model that answered this face, when the predictor knows
            its name (a predictor with a second model for masked faces
            answers each face with one of the two).
    """

    index: int
    box: tuple[int, int, int, int]
    label: str
    scores: dict[str, float]
    landmarks: np.ndarray | None = field(default=None, repr=False)
    detected: bool = True
    masked_style: str | None = None
    mask_score: float | None = None
    masked: bool | None = None
    model: str | None = None

    @property
    def score(self) -> float:
        """The score of :attr:`label`."""
        return self.scores[self.label]

    @property
    def mask_note(self) -> str:
        """`` · mask 98%``: how likely the face wears a mask, for captions; empty where that was not scored."""
        if self.mask_score is None:
            return ""
        return f" · mask {self.mask_score:.0%}"

    def to_dict(self, *, landmarks: bool = False) -> dict[str, Any]:
        """A JSON-ready dict.

        Args:
            landmarks: Include the 68 landmark points (rounded to 0.01 px).

        Returns:
            ``index``, ``box``, ``label``, ``score``, ``scores``, ``detected``,
            ``masked_style``, ``mask_score``, ``masked``, ``model`` and, if
            asked, ``landmarks``.
        """
        d: dict[str, Any] = {
            "index": self.index,
            "box": [int(v) for v in self.box],
            "label": self.label,
            "score": round(float(self.score), 6),
            "scores": {k: round(float(v), 6) for k, v in self.scores.items()},
            "detected": bool(self.detected),
            "masked_style": self.masked_style,
            "mask_score": None if self.mask_score is None else round(float(self.mask_score), 4),
            "masked": self.masked,
            "model": self.model,
        }
        if landmarks and self.landmarks is not None:
            d["landmarks"] = np.round(self.landmarks, 2).tolist()
        return d


class PredictionList(list[Prediction]):
    """The predictions for one image: a list of :class:`Prediction`, left to right.

    Attributes:
        source: A short description of the image (its path, when it had one).
        error: Why the image could not be used, when
            :meth:`fermask.Predictor.predict_many` ran with ``on_error="record"``;
            the list is then empty.
        image_size: ``(height, width)`` of the image, when it was read.
        masked_image: The image with the simulated masks drawn, when the
            predictor was made with ``simulate_mask`` and ``keep_masked_images=True``.
    """

    def __init__(
        self,
        items: Iterable[Prediction] = (),
        *,
        source: str | None = None,
        error: str | None = None,
        image_size: tuple[int, int] | None = None,
        masked_image: np.ndarray | None = None,
    ) -> None:
        super().__init__(items)
        self.source = source
        self.error = error
        self.image_size = image_size
        self.masked_image = masked_image

    def top_emotion(self, default: Any = _MISSING) -> tuple[str, float]:
        """The label and score of the first (leftmost) face.

        Args:
            default: Returned instead of raising when there is no face.

        Returns:
            ``(label, score)`` of face 0.

        Raises:
            NoFaceError: The image has no face (and no ``default`` was given).

        Examples:
            >>> PredictionList([]).top_emotion(default=None) is None
            True
        """
        return top_emotion(self, default=default)

    def to_dicts(self, *, landmarks: bool = False) -> list[dict[str, Any]]:
        """Every prediction as a dict (see :meth:`Prediction.to_dict`)."""
        return [p.to_dict(landmarks=landmarks) for p in self]

    def __repr__(self) -> str:
        extra = f", error={self.error!r}" if self.error else ""
        return f"PredictionList({list.__repr__(self)}, source={self.source!r}{extra})"


def top_emotion(predictions: Sequence[Prediction], default: Any = _MISSING) -> tuple[str, float]:
    """The top label and its score for the first face of an image.

    Args:
        predictions: What :meth:`fermask.Predictor.predict` returned.
        default: Returned instead of raising when the list is empty.

    Returns:
        ``(label, score)`` of the first (leftmost) face.

    Raises:
        NoFaceError: ``predictions`` is empty and no ``default`` was given.

    Examples:
        >>> top_emotion([], default=("none", 0.0))
        ('none', 0.0)
    """
    if len(predictions) == 0:
        if default is not _MISSING:
            return default
        src = getattr(predictions, "source", None)
        err = getattr(predictions, "error", None)
        where = f" in {src}" if src else ""
        why = f" (the image could not be read: {err})" if err else ""
        raise NoFaceError(
            f"no face was found{where}{why}, so there is no top emotion. Check `len(predictions)` "
            "first, pass top_emotion(default=...), or try detector='cnn' (finds more masked and "
            "turned faces) or face_policy='full_frame' for images that are already face crops."
        )
    p = predictions[0]
    return p.label, float(p.score)
