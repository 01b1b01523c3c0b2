"""Drawing a :class:`~fermask.masks.base.MaskShape` onto an image.

Shapes are drawn with PIL at a supersampled scale (about 160 px across the
face) and reduced with a box filter, so edges stay smooth on 48 px crops;
large faces are drawn at their own scale, in their own region only. Colour,
pattern and shading are applied with numpy, and the mask takes up the
scene's lighting from the face underneath it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Union

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from .._choices import check_choice
from ..errors import InvalidValueError
from .base import FaceGeometry, MaskShape

__all__ = ["COLORS", "PATTERNS", "Appearance", "parse_color", "paint", "ColorSpec"]

RGB = tuple[int, int, int]
ColorSpec = Union[str, Sequence[int], None]

COLORS: dict[str, RGB] = {
    "white": (240, 240, 240),
    "lightblue": (150, 200, 230),
    "blue": (50, 100, 200),
    "navy": (35, 50, 100),
    "black": (30, 30, 32),
    "gray": (140, 140, 145),
    "green": (70, 140, 90),
    "mint": (165, 225, 200),
    "pink": (240, 170, 195),
    "red": (190, 40, 45),
    "yellow": (235, 205, 80),
    "purple": (120, 70, 160),
    "beige": (220, 200, 170),
}
"""Named colours accepted by ``color=`` (also ``#rrggbb`` and ``(r, g, b)``)."""

PATTERNS: tuple[str, ...] = ("stripes", "dots", "checks", "fabric", "camo", "zigzag")
"""Procedural patterns accepted by ``pattern=`` (``None`` for plain)."""

_HEX = re.compile(r"^#?([0-9a-fA-F]{6})$")


def parse_color(color: ColorSpec) -> RGB | None:
    """Turn a colour name, ``#rrggbb`` string or ``(r, g, b)`` sequence into an RGB tuple.

    Args:
        color: The colour; ``None`` means the style's default.

    Returns:
        ``(r, g, b)`` with values 0-255, or ``None``.

    Raises:
        ValueError: Unknown name or malformed value.

    Examples:
        >>> parse_color("#ff8000")
        (255, 128, 0)
    """
    if color is None:
        return None
    if isinstance(color, str):
        key = color.strip().lower().replace(" ", "").replace("_", "")
        if key in COLORS:
            return COLORS[key]
        m = _HEX.match(key)
        if m:
            v = m.group(1)
            return (int(v[0:2], 16), int(v[2:4], 16), int(v[4:6], 16))
        raise InvalidValueError(
            f"unknown colour {color!r}; use a name ({', '.join(COLORS)}), '#rrggbb', "
            "an (r, g, b) tuple, or 'random'"
        )
    try:
        vals = [int(c) for c in color]
    except (TypeError, ValueError):
        raise InvalidValueError(f"a colour must be a name, '#rrggbb' or (r, g, b), got {color!r}") from None
    if len(vals) != 3 or not all(0 <= c <= 255 for c in vals):
        raise InvalidValueError(f"an (r, g, b) colour needs three values in 0-255, got {color!r}")
    return (vals[0], vals[1], vals[2])


@dataclass(frozen=True)
class Appearance:
    """How one mask looks: colour, pattern and the pattern's second colour."""

    color: RGB
    pattern: str | None = None
    pattern_color: RGB | None = None

    def second_color(self) -> RGB:
        """The pattern's second colour: given, or a contrasting tint of the main colour."""
        if self.pattern_color is not None:
            return self.pattern_color
        lum = 0.299 * self.color[0] + 0.587 * self.color[1] + 0.114 * self.color[2]
        if lum > 150:
            return tuple(int(c * 0.55) for c in self.color)  # type: ignore[return-value]
        return tuple(int(c + (255 - c) * 0.6) for c in self.color)  # type: ignore[return-value]


def _soft(x: np.ndarray, px: float) -> np.ndarray:
    """Anti-aliased step of a signed distance ``x`` measured in pixels-ish units."""
    return np.clip(0.5 + x / max(px, 1e-6), 0.0, 1.0)


def _pattern(name: str, u: np.ndarray, v: np.ndarray, face_w: float, rng: np.random.Generator) -> np.ndarray:
    """Pattern weight in 0..1 over face-frame coordinates (``u``, ``v`` in face widths)."""
    check_choice(name, PATTERNS, "pattern")  # the names below; the last one needs no test
    px = 1.0 / max(face_w, 1.0)  # one pixel in face widths
    if name == "stripes":
        period = 0.09
        d = (np.abs(((v / period) % 1.0) - 0.5) - 0.25) * period
        return _soft(d, px)
    if name == "dots":
        period = 0.11
        cu = (u / period) % 1.0 - 0.5
        row = np.floor(v / period)
        cu = np.where(row % 2 == 0, cu, (cu + 1.0) % 1.0 - 0.5)
        cv = (v / period) % 1.0 - 0.5
        d = (0.28 - np.hypot(cu, cv)) * period
        return _soft(d, px)
    if name == "checks":
        period = 0.14
        su = np.sin(2 * math.pi * u / period)
        sv = np.sin(2 * math.pi * v / period)
        return 0.5 * (_soft(su * period / 6, px) + _soft(sv * period / 6, px)) * 0.9
    if name == "fabric":
        f = 2 * math.pi / 0.025
        weave = 0.5 + 0.25 * np.sin(f * u) * np.sin(f * v)
        return np.clip(weave + rng.normal(0.0, 0.06, u.shape), 0.0, 1.0) * 0.35
    if name == "camo":
        grid = rng.random((8, 8)).astype(np.float32)
        img = Image.fromarray((grid * 255).astype(np.uint8)).resize((u.shape[1], u.shape[0]), Image.Resampling.BICUBIC)
        n = np.asarray(img, dtype=np.float32) / 255.0
        return _soft((n - 0.5) * 0.2, px * 2)
    period = 0.1  # zigzag
    tri = np.abs(((u / period) % 1.0) - 0.5) * period * 0.8
    d = (np.abs((((v + tri) / period) % 1.0) - 0.5) - 0.25) * period
    return _soft(d, px)


def _bounds(shape: MaskShape, g: FaceGeometry) -> tuple[float, float, float, float]:
    pts = [shape.outline]
    pts += [ln.points for ln in shape.lines]
    for d in shape.discs:
        r = d.radius * g.w
        pts.append(np.array([d.center - r, d.center + r]))
    allp = np.vstack(pts)
    pad = max(2.0, 0.04 * g.w)
    return (allp[:, 0].min() - pad, allp[:, 1].min() - pad, allp[:, 0].max() + pad, allp[:, 1].max() + pad)


@dataclass(frozen=True)
class _Region:
    """The part of the image a mask covers, and the supersampling it is drawn at."""

    x0: int
    y0: int
    x1: int
    y1: int
    ss: int  # supersampling factor of the drawing canvas

    @property
    def size(self) -> tuple[int, int]:
        """``(width, height)`` in image pixels."""
        return self.x1 - self.x0, self.y1 - self.y0

    @property
    def canvas_size(self) -> tuple[int, int]:
        """``(width, height)`` of the supersampled drawing canvas."""
        rw, rh = self.size
        return rw * self.ss, rh * self.ss

    def to_canvas(self, p: np.ndarray) -> list[tuple[float, float]]:
        """Image points (one or many) in canvas coordinates, as PIL takes them."""
        origin = np.array([self.x0, self.y0], dtype=np.float64)
        q = (np.atleast_2d(p) - origin + 0.5) * self.ss - 0.5
        return [(float(a), float(b)) for a, b in q]


def _region(shape: MaskShape, g: FaceGeometry, width: int, height: int) -> _Region | None:
    """The image region ``shape`` covers (``None`` when it lies outside the image)."""
    x0f, y0f, x1f, y1f = _bounds(shape, g)
    x0, y0 = max(0, int(math.floor(x0f))), max(0, int(math.floor(y0f)))
    x1, y1 = min(width, int(math.ceil(x1f)) + 1), min(height, int(math.ceil(y1f)) + 1)
    if x1 <= x0 or y1 <= y0:
        return None
    ss = int(min(4, max(1, math.ceil(160.0 / max(g.w, 1.0)))))
    return _Region(x0, y0, x1, y1, ss)


def _draw(shape: MaskShape, g: FaceGeometry, base: RGB, r: _Region) -> tuple[Image.Image, Image.Image]:
    """Draw the shape on the supersampled canvas and reduce it to the region's size.

    Returns:
        ``planes`` (an RGB image whose planes are the alpha, the body without
        its discs, and the shade, 128 = unshaded) and the colour image.
    """
    cw, ch = r.canvas_size
    body_img = Image.new("L", (cw, ch), 0)
    ImageDraw.Draw(body_img).polygon(r.to_canvas(shape.outline), fill=255)
    alpha_img = body_img.copy()
    adraw = ImageDraw.Draw(alpha_img)
    color_img = Image.new("RGB", (cw, ch), base)
    cdraw = ImageDraw.Draw(color_img)
    shade_img = Image.new("L", (cw, ch), 128)
    sdraw = ImageDraw.Draw(shade_img)

    for d in shape.discs:
        rad = d.radius * g.w * r.ss
        cx, cy = r.to_canvas(d.center)[0]
        box = (cx - rad, cy - rad * d.squash, cx + rad, cy + rad * d.squash)
        fill = d.color if d.color is not None else tuple(int(min(255, c * d.shade)) for c in base)
        adraw.ellipse(box, fill=255)
        cdraw.ellipse(box, fill=fill)
        if d.rim > 0:
            rim_w = max(1, int(round(rad * d.rim)))
            cdraw.ellipse(box, outline=tuple(int(c * 0.6) for c in fill), width=rim_w)
        body_draw = ImageDraw.Draw(body_img)
        body_draw.ellipse(box, fill=0)
    for ln in shape.lines:
        width = max(1, int(round(ln.width * g.w * r.ss)))
        pts = r.to_canvas(ln.points)
        if ln.color is not None:
            cdraw.line(pts, fill=ln.color, width=width, joint="curve")
            sdraw.line(pts, fill=128, width=width, joint="curve")
            if not ln.clip:
                adraw.line(pts, fill=255, width=width, joint="curve")
        else:
            sdraw.line(pts, fill=int(max(0, min(255, 128 * ln.shade))), width=width, joint="curve")
            if not ln.clip:
                adraw.line(pts, fill=255, width=width, joint="curve")
                cdraw.line(pts, fill=base, width=width, joint="curve")

    # alpha, body and shade travel as the three planes of one image: one resize.
    planes = Image.merge("RGB", (alpha_img, body_img, shade_img))
    if r.ss > 1:
        planes = planes.resize(r.size, Image.Resampling.BOX)
        color_img = color_img.resize(r.size, Image.Resampling.BOX)
    return planes, color_img


def _add_pattern(
    col: np.ndarray, body: np.ndarray, g: FaceGeometry, look: Appearance, r: _Region, rng: np.random.Generator
) -> np.ndarray:
    """Mix the pattern's second colour into the body of the mask, in face-aligned coordinates."""
    if not look.pattern:
        return col
    ys, xs = np.mgrid[r.y0 : r.y1, r.x0 : r.x1].astype(np.float32)
    dx, dy = xs - g.p[33][0], ys - g.p[33][1]
    u = (dx * g.right[0] + dy * g.right[1]) / g.w
    v = (dx * g.up[0] + dy * g.up[1]) / g.w
    m = _pattern(look.pattern, u, v, g.w, rng) * body
    second = np.array(look.second_color(), dtype=np.float32)
    return col * (1.0 - m[..., None]) + second * m[..., None]


def _shade(col: np.ndarray, planes: Image.Image, shape: MaskShape, g: FaceGeometry) -> None:
    """The style's own relief, in place: darker toward the edges of the body."""
    if shape.shading > 0:
        blur = max(1.0, 0.06 * g.w)
        inner = np.asarray(planes.getchannel(1).filter(ImageFilter.GaussianBlur(blur)), dtype=np.float32) / 255.0
        col *= (1.0 - shape.shading * 0.6 * (1.0 - inner))[..., None]


def _light(col: np.ndarray, luma: np.ndarray, r: _Region) -> None:
    """The scene's light, in place, then clip to 0-255.

    Only the low frequencies of the face's brightness are used: the mask takes
    the scene's light without letting the mouth show through.
    """
    coarse = Image.fromarray(np.ascontiguousarray(luma[r.y0 : r.y1, r.x0 : r.x1])).resize(
        (3, 3), Image.Resampling.BOX
    )
    lum = np.asarray(coarse.resize(r.size, Image.Resampling.BILINEAR), dtype=np.float32)
    ref = float(lum.mean()) + 1e-3
    light = np.clip(lum / ref, 0.7, 1.3)
    col *= (0.8 + 0.2 * light)[..., None]
    np.clip(col, 0.0, 255.0, out=col)


def _blend(out: np.ndarray, col: np.ndarray, a: np.ndarray, r: _Region) -> None:
    """Blend the mask's colour into ``out`` with opacity ``a`` (gray images get its luma)."""
    region = out[r.y0 : r.y1, r.x0 : r.x1]
    if out.ndim == 2:
        colg = col[..., 0] * 0.299 + col[..., 1] * 0.587 + col[..., 2] * 0.114
        region += (colg - region) * a
    else:
        region += (col - region) * a[..., None]


def paint(
    out: np.ndarray,
    luma: np.ndarray,
    shape: MaskShape,
    g: FaceGeometry,
    look: Appearance,
    strength: float,
    rng: np.random.Generator,
) -> None:
    """Draw one mask into ``out`` in place.

    Args:
        out: ``float32`` image, ``(H, W)`` gray or ``(H, W, 3)`` RGB, values 0-255.
        luma: ``(H, W)`` gray version of the original image (for lighting).
        shape: What to draw.
        g: The face's geometry.
        look: Colour and pattern.
        strength: Opacity of the mask, 0-1.
        rng: Randomness for textured patterns.
    """
    r = _region(shape, g, out.shape[1], out.shape[0])
    if r is None:
        return
    planes, color_img = _draw(shape, g, look.color, r)
    pl = np.asarray(planes, dtype=np.float32)
    a = pl[..., 0] * (strength / 255.0)
    body = pl[..., 1] / 255.0
    col = np.asarray(color_img, dtype=np.float32) * (pl[..., 2:3] / 128.0)
    col = _add_pattern(col, body, g, look, r, rng)
    _shade(col, planes, shape, g)
    _light(col, luma, r)
    _blend(out, col, a, r)
