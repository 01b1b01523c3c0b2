"""One face found in an image: its box and its 68 landmarks (iBUG 300-W order).

The index ranges of the 68-point scheme's parts (:data:`JAW`, :data:`MOUTH`,
...) are named here too; ``docs/plugins.md`` shows them on a face.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

# 68-point scheme (iBUG 300-W), 0-based index ranges.
JAW = slice(0, 17)
NOSE_BRIDGE = slice(27, 31)
NOSE_BOTTOM = slice(31, 36)
LEFT_EYE = slice(36, 42)  # the subject's right eye, on the image's left
RIGHT_EYE = slice(42, 48)
EYEBROWS = slice(17, 27)
MOUTH = slice(48, 68)


@dataclass(frozen=True)
class Face:
    """One face in an image.

    Attributes:
        box: ``(left, top, right, bottom)`` in pixels; may reach outside the image.
        landmarks: ``(68, 2)`` float32 array of ``(x, y)`` points, iBUG 300-W order.
        detected: ``True`` if a detector found the face, ``False`` if the
            whole frame was used as the face box.
        score: The detector's confidence, when it gives one.
    """

    box: tuple[int, int, int, int]
    landmarks: np.ndarray = field(repr=False)
    detected: bool = True
    score: float | None = None

    @property
    def width(self) -> int:
        """Width of the box."""
        return self.box[2] - self.box[0]

    @property
    def height(self) -> int:
        """Height of the box."""
        return self.box[3] - self.box[1]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "box": list(self.box),
            "landmarks": np.round(self.landmarks, 2).tolist(),
            "detected": self.detected,
            "score": self.score,
        }
