"""Mask presence in a prediction: each face's mask score, and the model that answers it.

A :class:`~fermask.Predictor` scores every face it finds with fermask's mask
classifier (:class:`fermask.faces.MaskPresence`): :class:`MaskRouting` holds
that classifier, the threshold, and optionally a second predictor for masked
faces. When one is given, faces whose mask score reaches the threshold are
answered by it, the others by the first; each :class:`~fermask.Prediction`
says which model answered.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .._image import crop_face, fit_image, load_image
from ..errors import FermaskError, InvalidValueError
from ..faces import MASKED_THRESHOLD, Face, MaskPresence, presence_crop
from ..faces._presence import CROP_SIZE, mask_presence_model
from ._pending import Pending

__all__ = ["MaskRouting"]


class MaskRouting:
    """The mask classifier of a predictor, and the predictor that answers masked faces.

    Args:
        enabled: Score mask presence at all (``False``: every ``mask_score`` is ``None``).
        threshold: Faces scoring at least this count as masked.
        masked: The predictor for masked faces, or ``None``.
        classifier: A classifier other than the shipped one.
    """

    def __init__(self, enabled: bool = True, threshold: float = MASKED_THRESHOLD, masked: Any = None,
                 classifier: MaskPresence | None = None) -> None:
        try:
            value = float(threshold)
        except (TypeError, ValueError):
            value = float("nan")
        if not 0.0 < value <= 1.0:
            raise InvalidValueError(f"mask_threshold must be a number above 0 and at most 1, got {threshold!r}")
        if masked is not None and not enabled:
            raise InvalidValueError("a model for masked faces (masked=...) needs mask_presence=True to route faces")
        self.enabled = bool(enabled)
        self.threshold = value
        self.masked = masked
        self._classifier = classifier
        self._failed = False

    def classifier(self) -> MaskPresence | None:
        """The classifier, loaded on first use; ``None`` (after one warning) where it cannot run."""
        if not self.enabled or self._failed:
            return None
        if self._classifier is None:
            try:
                self._classifier = mask_presence_model()
            except FermaskError as exc:
                warnings.warn(f"mask presence is not scored: {exc}", stacklevel=4)
                self._failed = True
                return None
        return self._classifier

    def scores(self, crops: Sequence[Any]) -> np.ndarray:
        """Mask scores of face crops: made by :func:`~fermask.faces.presence_crop`, or any face images.

        Raises:
            FermaskError: The classifier cannot run here.
        """
        model = self.classifier()
        if model is None:
            raise FermaskError("the mask classifier cannot run here (see the warning above)")
        batch = [fit_image(load_image(c), (CROP_SIZE, CROP_SIZE), "rgb") for c in crops]
        return model.scores(np.stack(batch)) if batch else np.zeros((0,), np.float32)

    def add_to(self, pending: Pending, image: np.ndarray, faces: Sequence[Face]) -> None:
        """Score the faces of one image and, when routing, crop the masked ones for the second model."""
        model = self.classifier()
        if model is None or not faces:
            return
        pending.mask_scores = model.scores(np.stack([presence_crop(image, f.box) for f in faces]))
        if self.masked is not None:
            margin = float(self.masked.info.face_margin)
            pending.alt_crops = {
                i: self.masked.preprocess(crop_face(image, f.box, margin))
                for i, (f, s) in enumerate(zip(faces, pending.mask_scores))
                if s >= self.threshold
            }

    def route(self, pending: Pending, probs: np.ndarray, scores: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        """``probs`` with the masked faces' rows answered by the second model (``scores`` runs it)."""
        if not pending.alt_crops:
            return probs
        order = sorted(pending.alt_crops)
        out = np.array(probs, dtype=np.float64, copy=True)
        out[order] = scores(np.stack([pending.alt_crops[i] for i in order]))
        return out
