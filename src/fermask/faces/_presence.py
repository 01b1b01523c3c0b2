"""Mask presence: how likely it is that a face wears a mask (or anything else over the mouth and nose).

fermask ships a small classifier for this, trained by
``recipes/build_mask_presence.py`` on the licence-clean faces of
``../shared/faces`` (bare, masked in every built-in style, colour and
pattern, and covered by things fermask does not draw); its description,
training files and measured figures are in ``assets/mask_presence.json``
beside the model. It runs on fermask's TFLite seam, so it needs no
TensorFlow.

:func:`presence_crop` is the one definition of what the classifier sees:
the face box made square, grown by :data:`CROP_MARGIN` on each side, in RGB,
resized to :data:`CROP_SIZE` pixels. The recipe that trains the model and
the runtime that applies it both call it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from .._image import crop_face, fit_image
from ..errors import DataFormatError, InvalidValueError

__all__ = ["CROP_MARGIN", "CROP_SIZE", "MASKED_THRESHOLD", "MaskPresence", "presence_crop", "mask_presence_model"]

#: Side of the square crop the classifier takes, in pixels.
CROP_SIZE = 64
#: Fraction of the (squared) face box added on every side before resizing.
CROP_MARGIN = 0.15
#: A face whose mask score is at least this counts as masked.
MASKED_THRESHOLD = 0.5

MODEL_FILE = "mask_presence.tflite"
INFO_FILE = "mask_presence.json"


def presence_crop(image: np.ndarray, box: Sequence[float]) -> np.ndarray:
    """The ``(CROP_SIZE, CROP_SIZE, 3)`` ``uint8`` crop the mask classifier takes for one face box.

    Args:
        image: ``(H, W)`` or ``(H, W, 3)`` ``uint8`` picture.
        box: ``(left, top, right, bottom)`` of the face.

    Examples:
        >>> import numpy as np
        >>> presence_crop(np.zeros((100, 80), np.uint8), (10, 20, 50, 70)).shape
        (64, 64, 3)
    """
    left, top, right, bottom = (float(v) for v in box)
    side = max(right - left, bottom - top, 2.0)
    cx, cy = (left + right) / 2, (top + bottom) / 2
    square = (cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2)
    crop = crop_face(image, square, CROP_MARGIN)
    return fit_image(np.ascontiguousarray(crop), (CROP_SIZE, CROP_SIZE), "rgb")


class MaskPresence:
    """The mask classifier: scores face crops 0 (bare) to 1 (masked).

    Args:
        model_file: A ``.tflite`` classifier taking ``(n, 64, 64, 3)`` float32
            pixels 0-255 and giving ``(n, 1)`` probabilities; ``None`` loads
            the one fermask ships.

    Raises:
        DataFormatError: The file is not such a model.

    Examples:
        >>> from fermask.faces import MaskPresence, presence_crop  # doctest: +SKIP
        >>> MaskPresence().scores([presence_crop(photo, face.box)])  # doctest: +SKIP
        array([0.98], dtype=float32)
    """

    def __init__(self, model_file: str | Path | None = None) -> None:
        from .._runtime import TFLiteModel

        if model_file is None:
            content, name = _packaged_bytes(MODEL_FILE), "fermask's mask-presence model"
            self.model = TFLiteModel(content, name=name)
        else:
            self.model = TFLiteModel(model_file)
        if self.model.input_shape != (CROP_SIZE, CROP_SIZE, 3) or self.model.num_outputs != 1:
            raise DataFormatError(
                f"{self.model.name} takes {self.model.input_shape} and gives {self.model.num_outputs} scores; a "
                f"mask classifier takes ({CROP_SIZE}, {CROP_SIZE}, 3) crops and gives 1 score"
            )

    def scores(self, crops: Any) -> np.ndarray:
        """Mask scores (0-1, float32) of crops made by :func:`presence_crop`.

        Args:
            crops: ``(n, 64, 64, 3)`` ``uint8`` array, or a list of such crops.

        Raises:
            InvalidValueError: The crops are not ``(64, 64, 3)``.
        """
        batch = np.asarray([np.asarray(c) for c in crops]) if isinstance(crops, (list, tuple)) else np.asarray(crops)
        if len(batch) == 0:
            return np.zeros((0,), np.float32)
        if batch.ndim != 4 or batch.shape[1:] != (CROP_SIZE, CROP_SIZE, 3):
            raise InvalidValueError(
                f"mask scores take crops of shape ({CROP_SIZE}, {CROP_SIZE}, 3) made by presence_crop(image, box); "
                f"got an array of shape {batch.shape}"
            )
        out = self.model.predict(batch.astype(np.float32)).reshape(-1)
        return np.clip(out, 0.0, 1.0).astype(np.float32)


def _packaged_bytes(name: str) -> bytes:
    try:
        return resources.files("fermask.assets").joinpath(name).read_bytes()
    except (FileNotFoundError, OSError) as exc:
        raise DataFormatError(f"fermask's {name} cannot be read ({exc}); reinstall fermask") from None


@lru_cache(maxsize=1)
def packaged_info() -> dict[str, Any]:
    """The description of the shipped mask classifier (``assets/mask_presence.json``)."""
    try:
        return dict(json.loads(_packaged_bytes(INFO_FILE)))
    except json.JSONDecodeError as exc:
        raise DataFormatError(f"fermask's {INFO_FILE} is not valid JSON ({exc}); reinstall fermask") from None


_shared: MaskPresence | None = None
_shared_lock = threading.Lock()


def mask_presence_model() -> MaskPresence:
    """The shipped classifier, loaded once per process."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = MaskPresence()
        return _shared
