"""The building blocks of a mask style: face geometry and mask shapes.

A style turns 68 landmarks into a :class:`MaskShape` — an outline polygon
plus details (seams, pleats, straps, filters) — in image coordinates. The
renderer then draws that shape at any resolution with a colour, a pattern
and shading. Styles never touch pixels, so they scale from 48 px crops to
4k photos and follow the head's turn and tilt through the landmarks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import InvalidValueError

__all__ = ["FaceGeometry", "MaskShape", "Line", "Disc", "MaskStyle", "bezier", "smooth_closed"]

RGB = tuple[int, int, int]


class FaceGeometry:
    """Landmarks with a face-aligned frame, so styles can place points in face units.

    ``right`` runs from the image-left jaw end (point 0) to the other (point 16);
    ``up`` is perpendicular to it, pointing from the chin toward the eyes. The
    face width ``w`` is the jaw-end distance, the height ``h`` the distance
    from the chin (8) to the nose bridge top (27) along ``up``.

    Args:
        landmarks: ``(68, 2)`` array of ``(x, y)`` points.

    Examples:
        >>> import numpy as np
        >>> pts = np.zeros((68, 2)); pts[16] = (100, 0); pts[27] = (50, -10); pts[8] = (50, 60)
        >>> g = FaceGeometry(pts)
        >>> round(g.w), round(g.h)
        (100, 70)
    """

    def __init__(self, landmarks: np.ndarray) -> None:
        p = np.asarray(landmarks, dtype=np.float64)
        if p.shape != (68, 2):
            raise InvalidValueError(f"expected 68 landmarks of shape (68, 2), got {p.shape}")
        self.p = p
        right = p[16] - p[0]
        w = float(np.hypot(*right))
        if w < 1e-6:
            right, w = np.array([1.0, 0.0]), 1.0
        self.right = right / w
        up = np.array([self.right[1], -self.right[0]])
        if np.dot(p[27] - p[8], up) < 0:
            up = -up
        self.up = up
        self.w = w
        self.h = max(float(np.dot(p[27] - p[8], up)), 1e-6)

    def __getitem__(self, i: int) -> np.ndarray:
        return self.p[i]

    def at(self, base: np.ndarray, du: float = 0.0, dv: float = 0.0) -> np.ndarray:
        """``base`` moved ``du`` face widths right and ``dv`` face heights up."""
        return np.asarray(base, dtype=np.float64) + du * self.w * self.right + dv * self.h * self.up

    def lerp(self, i: int, j: int, t: float) -> np.ndarray:
        """The point ``t`` of the way from landmark ``i`` to landmark ``j``."""
        return self.p[i] + (self.p[j] - self.p[i]) * t

    def v(self, pts: np.ndarray) -> np.ndarray:
        """Height of points along ``up`` (relative to the chin)."""
        return (np.atleast_2d(pts) - self.p[8]) @ self.up

    def below_eyes(self, pts: np.ndarray, margin: float = 0.04) -> np.ndarray:
        """Move points that reach the eyes down so they stay ``margin`` face heights below them."""
        pts = np.array(np.atleast_2d(pts), dtype=np.float64)
        eye_low = float(self.v(self.p[36:48]).min()) - margin * self.h
        over = self.v(pts) - eye_low
        mask = over > 0
        pts[mask] -= over[mask, None] * self.up
        return pts


@dataclass
class Line:
    """A polyline detail (pleat, seam, strap) drawn on or off the mask.

    Attributes:
        points: ``(M, 2)`` image coordinates.
        width: Width as a fraction of the face width.
        shade: Brightness factor (0.7 darker, 1.2 lighter) applied to the mask colour,
            used when ``color`` is ``None``.
        color: A fixed colour instead of a shade (straps, clips).
        clip: Draw only inside the mask outline.
    """

    points: np.ndarray
    width: float = 0.01
    shade: float = 0.8
    color: RGB | None = None
    clip: bool = True


@dataclass
class Disc:
    """A filled ellipse (filter, valve): a disc of ``radius`` face widths.

    Attributes:
        center: Image coordinates.
        radius: Radius as a fraction of the face width.
        color: Fill colour; ``None`` uses the mask colour times ``shade``.
        shade: Brightness factor when ``color`` is ``None``.
        squash: Height/width ratio of the ellipse; its axes are the image's (it does not turn with the face).
        rim: Rim width as a fraction of the radius (drawn darker), 0 for none.
    """

    center: np.ndarray
    radius: float
    color: RGB | None = None
    shade: float = 0.85
    squash: float = 1.0
    rim: float = 0.15


@dataclass
class MaskShape:
    """What a style draws: the outline plus details.

    Attributes:
        outline: ``(K, 2)`` closed polygon of the mask body, image coordinates.
        lines: Details drawn as lines.
        discs: Details drawn as filled ellipses (added to the mask's area).
        shading: Strength of the style's own 3-D shading (0 = flat).
    """

    outline: np.ndarray
    lines: list[Line] = field(default_factory=list)
    discs: list[Disc] = field(default_factory=list)
    shading: float = 0.25


def bezier(p0: np.ndarray, p1: np.ndarray, p2: np.ndarray, n: int = 16) -> np.ndarray:
    """Points of the quadratic Bezier curve with control point ``p1``."""
    t = np.linspace(0.0, 1.0, n)[:, None]
    return (1 - t) ** 2 * p0 + 2 * (1 - t) * t * p1 + t**2 * p2


def through(p0: np.ndarray, mid: np.ndarray, p2: np.ndarray, n: int = 16) -> np.ndarray:
    """A quadratic Bezier from ``p0`` to ``p2`` that passes through ``mid`` at its middle."""
    return bezier(p0, 2 * np.asarray(mid) - (np.asarray(p0) + np.asarray(p2)) / 2, p2, n)


def smooth_closed(pts: np.ndarray, samples: int = 4) -> np.ndarray:
    """A closed Catmull-Rom spline through ``pts`` with ``samples`` points per segment."""
    p = np.asarray(pts, dtype=np.float64)
    n = len(p)
    t = np.linspace(0.0, 1.0, samples, endpoint=False)[:, None]
    out = []
    for i in range(n):
        p0, p1, p2, p3 = p[i - 1], p[i], p[(i + 1) % n], p[(i + 2) % n]
        out.append(
            0.5
            * (
                2 * p1
                + (-p0 + p2) * t
                + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t**2
                + (-p0 + 3 * p1 - 3 * p2 + p3) * t**3
            )
        )
    return np.concatenate(out)


class MaskStyle:
    """Base class of mask styles.

    Subclass it, set :attr:`name`, :attr:`description` and
    :attr:`default_color`, and implement :meth:`shape`. Register the class
    with :func:`fermask.register_mask` or an entry point in the
    ``fermask.masks`` group.

    Examples:
        >>> from fermask.masks import MaskStyle, MaskShape, register_mask
        >>> class Visor(MaskStyle):
        ...     name = "doc-visor"
        ...     description = "a band across the lower face"
        ...     def shape(self, g):
        ...         return MaskShape(outline=g.p[[2, 30, 14, 8]])
        >>> _ = register_mask("doc-visor", Visor)
    """

    name: str = "unnamed"
    description: str = ""
    default_color: RGB = (235, 235, 235)
    default_pattern: str | None = None

    def shape(self, g: FaceGeometry) -> MaskShape:
        """The mask's shape for one face."""
        raise NotImplementedError

    def config(self) -> dict[str, Any]:
        """Everything that changes how the style looks (for cache keys and records)."""
        cls = type(self)
        return {
            "name": self.name,
            "class": f"{cls.__module__}.{cls.__qualname__}",
            "default_color": list(self.default_color),
            "default_pattern": self.default_pattern,
            "version": getattr(self, "version", 1),
        }

    def __repr__(self) -> str:
        return f"<MaskStyle {self.name!r}>"
