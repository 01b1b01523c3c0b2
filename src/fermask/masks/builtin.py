"""fermask's built-in mask styles, drawn from the 68 landmarks.

All shapes are made by this project from landmark geometry; no image
templates ship. Each outline is kept below the eyes by
:meth:`FaceGeometry.below_eyes`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .base import Disc, FaceGeometry, Line, MaskShape, MaskStyle, smooth_closed, through

__all__ = ["Surgical", "N95", "KN95", "Cloth", "GasMask", "Bandana", "BUILTIN_STYLES"]


def _jaw(g: FaceGeometry, first: int, last: int, grow: float, chin_drop: float) -> np.ndarray:
    """Jaw points ``last`` down to ``first`` (right to left), pushed out and below the chin."""
    center = g[33]
    pts = []
    for j in range(last, first - 1, -1):
        q = center + (g[j] - center) * (1.0 + grow)
        weight = max(0.0, 1.0 - abs(j - 8) / 6.0)
        pts.append(g.at(q, 0.0, -chin_drop * weight))
    return np.array(pts)


def _corners(g: FaceGeometry, t: float, out: float) -> tuple[np.ndarray, np.ndarray]:
    """Left and right top corners on the cheeks, ``t`` of the way from jaw point 1 to 2."""
    left = g.at(g.lerp(1, 2, t), -out, 0.0)
    right = g.at(g.lerp(15, 14, t), out, 0.0)
    return left, right


def _shrink(pts: np.ndarray, k: float) -> np.ndarray:
    c = pts.mean(axis=0)
    return c + (pts - c) * (1.0 - k)


def _closed(pts: np.ndarray) -> np.ndarray:
    return np.vstack([pts, pts[:1]])


def _ear(g: FaceGeometry, side: int, dv: float) -> np.ndarray:
    return g.at(g[0] if side < 0 else g[16], 0.02 * side, dv)


def _loops(g: FaceGeometry, top_l: np.ndarray, top_r: np.ndarray, bot_l: np.ndarray, bot_r: np.ndarray,
           color: tuple[int, int, int] | None, width: float = 0.01) -> list[Line]:
    lines = []
    for side, top, bot in ((-1, top_l, bot_l), (1, top_r, bot_r)):
        ear_top, ear_bot = _ear(g, side, 0.0), _ear(g, side, -0.12)
        lines.append(Line(np.array([top, ear_top]), width, 1.0, color, clip=False))
        lines.append(Line(np.array([bot, ear_bot]), width, 1.0, color, clip=False))
    return lines


@dataclass
class _Body:
    """The main panel of a mask that spans the cheeks and the jaw."""

    left: np.ndarray
    right: np.ndarray
    top_mid: np.ndarray
    jaw: np.ndarray
    outline: np.ndarray

    @property
    def chin(self) -> np.ndarray:
        return self.jaw[len(self.jaw) // 2]

    def loops(self, g: FaceGeometry, color: tuple[int, int, int] | None, width: float) -> list[Line]:
        """Ear loops from the top corners and from the jaw's second points."""
        return _loops(g, self.left, self.right, self.jaw[-2], self.jaw[1], color, width)


def _body(
    g: FaceGeometry,
    corner: tuple[float, float],
    top: tuple[float, int],
    jaw: tuple[int, int, float, float],
    *,
    smooth: bool = False,
    straight_top: bool = False,
) -> _Body:
    """A mask panel: cheek corners, a top edge over the nose bridge, the jaw below.

    Args:
        g: The face.
        corner: ``(t, out)`` for :func:`_corners`.
        top: ``(k, n)``: the top edge crosses the nose bridge ``k`` of the way
            from landmark 28 to 29, drawn with ``n`` points.
        jaw: ``(first, last, grow, chin_drop)`` for :func:`_jaw`.
        smooth: Round the outline with a spline.
        straight_top: Straight edges to the nose bridge (fold-flat masks).
    """
    left, right = _corners(g, *corner)
    k, n = top
    top_mid = g.lerp(28, 29, k)
    if straight_top:
        half = n // 2 + 1
        edge = np.vstack([np.linspace(left, top_mid, half), np.linspace(top_mid, right, half)[1:]])
    else:
        edge = through(left, top_mid, right, n)
    jaw_pts = _jaw(g, *jaw)
    pts = np.vstack([edge, jaw_pts])
    outline = g.below_eyes(smooth_closed(pts, 3) if smooth else pts)
    return _Body(left, right, top_mid, jaw_pts, outline)


class Surgical(MaskStyle):
    """A pleated surgical mask with ear loops."""

    name = "surgical"
    description = "pleated surgical mask, light blue by default, ear loops"
    default_color = (150, 200, 230)

    def shape(self, g: FaceGeometry) -> MaskShape:
        b = _body(g, (0.45, 0.03), (0.55, 14), (2, 14, 0.06, 0.07))
        left, right, top_mid, jaw, outline, chin = b.left, b.right, b.top_mid, b.jaw, b.outline, b.chin
        pleats = []
        for k in (0.28, 0.48, 0.68):
            start = left + (jaw[-1] - left) * k
            end = right + (jaw[0] - right) * k
            mid = top_mid + (chin - top_mid) * k
            pleats.append(Line(through(start, mid, end, 12), 0.012, 0.78))
        loops = b.loops(g, (235, 235, 235), 0.009)
        return MaskShape(outline, pleats + loops, shading=0.25)


class N95(MaskStyle):
    """A moulded N95 respirator cup with a nose clip and straps; optional exhalation valve.

    Args:
        valve: Draw an exhalation valve on the wearer's right side.
    """

    name = "n95"
    description = "moulded N95 respirator cup, nose clip, head straps"
    default_color = (238, 236, 226)

    def __init__(self, valve: bool = False) -> None:
        self.valve = bool(valve)

    def config(self) -> dict[str, object]:
        return {**super().config(), "valve": self.valve}

    def shape(self, g: FaceGeometry) -> MaskShape:
        b = _body(g, (0.3, 0.02), (0.4, 8), (3, 13, 0.05, 0.11), smooth=True)
        left, right, top_mid, outline = b.left, b.right, b.top_mid, b.outline
        clip = g.at(through(left + (top_mid - left) * 0.55, top_mid, right + (top_mid - right) * 0.55, 8), 0, -0.035)
        lines = [
            Line(clip, 0.022, 1.0, (200, 202, 205)),
            Line(_closed(_shrink(outline, 0.05)), 0.008, 0.86),
        ]
        lines += b.loops(g, (90, 140, 200), 0.012)
        discs = []
        if self.valve:
            discs.append(Disc(g.at(g.lerp(48, 4, 0.35), 0, -0.02), 0.09, (210, 210, 214), rim=0.25))
        return MaskShape(outline, lines, discs, shading=0.35)


class KN95(MaskStyle):
    """A fold-flat KN95 mask: straight top edges, a vertical centre seam, a nose clip."""

    name = "kn95"
    description = "fold-flat KN95 mask with a centre seam and nose clip"
    default_color = (245, 245, 245)

    def shape(self, g: FaceGeometry) -> MaskShape:
        b = _body(g, (0.4, 0.02), (0.35, 10), (2, 14, 0.05, 0.1), straight_top=True)
        left, right, peak, outline, chin = b.left, b.right, b.top_mid, b.outline, b.chin
        lines = [
            Line(np.array([peak, g.at(peak, 0, -0.05), chin]), 0.01, 0.8),
            Line(np.array([peak + (left - peak) * 0.35, peak, peak + (right - peak) * 0.35]), 0.018, 1.0,
                 (205, 205, 210)),
            Line(_closed(_shrink(outline, 0.04)), 0.007, 0.88),
        ]
        lines += b.loops(g, (245, 245, 245), 0.009)
        return MaskShape(outline, lines, shading=0.3)


class Cloth(MaskStyle):
    """A fitted cloth mask: wide, covering the cheeks, with a centre seam and fabric texture."""

    name = "cloth"
    description = "fitted cloth mask, wide, centre seam, fabric texture"
    default_color = (45, 65, 115)
    default_pattern = "fabric"

    def shape(self, g: FaceGeometry) -> MaskShape:
        b = _body(g, (0.2, 0.05), (0.45, 12), (1, 15, 0.08, 0.1), smooth=True)
        top_mid, outline, chin = b.top_mid, b.outline, b.chin
        lines = [
            Line(through(top_mid, g.lerp(30, 51, 0.8), chin, 10), 0.012, 0.75),
            Line(_closed(_shrink(outline, 0.035)), 0.01, 0.8),
        ]
        lines += b.loops(g, None, 0.016)
        return MaskShape(outline, lines, shading=0.3)


class GasMask(MaskStyle):
    """A half-face respirator ("gas mask") with two filter cartridges and a valve."""

    name = "gas"
    description = "half-face rubber respirator with two filter cartridges"
    default_color = (48, 48, 52)

    def shape(self, g: FaceGeometry) -> MaskShape:
        b = _body(g, (0.7, 0.0), (0.5, 10), (3, 13, 0.03, 0.09), smooth=True)
        outline = b.outline
        discs = [
            Disc(g.at(g.lerp(5, 48, 0.3), -0.03, 0.0), 0.16, (70, 72, 78), rim=0.22),
            Disc(g.at(g.lerp(11, 54, 0.3), 0.03, 0.0), 0.16, (70, 72, 78), rim=0.22),
            Disc(g.at(g.lerp(57, 8, 0.45), 0, 0), 0.075, (95, 95, 100), rim=0.3),
        ]
        lines = b.loops(g, (25, 25, 28), 0.02)
        return MaskShape(outline, lines, discs, shading=0.4)


class Bandana(MaskStyle):
    """A bandana tied over the nose, hanging in a point below the chin."""

    name = "bandana"
    description = "bandana tied behind the head, hanging below the chin; dotted pattern"
    default_color = (165, 30, 40)
    default_pattern = "dots"

    def shape(self, g: FaceGeometry) -> MaskShape:
        left, right = _corners(g, 0.25, 0.06)
        top_mid = g.lerp(28, 29, 0.5)
        top = through(left, top_mid, right, 12)
        tip = g.at(g[8], 0.0, -0.38)
        low_l = g.at(g[4], -0.06, -0.1)
        low_r = g.at(g[12], 0.06, -0.1)
        bottom = np.vstack([through(right, low_r, tip, 8)[1:], through(tip, low_l, left, 8)[1:-1]])
        outline = g.below_eyes(np.vstack([top, bottom]))
        lines = _loops(g, left, right, left, right, None, 0.03)[::2]
        return MaskShape(outline, lines, shading=0.25)


BUILTIN_STYLES: tuple[type[MaskStyle], ...] = (Surgical, N95, KN95, Cloth, GasMask, Bandana)
