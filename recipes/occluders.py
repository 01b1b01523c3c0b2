"""Cover the lower face with things fermask's mask renderer did not draw.

Models adapted to masks (``benchmarks/bench_adapt.py``) and the mask-presence
classifier (``recipes/build_mask_presence.py``) are measured on
masks that fermask draws and, apart, on masks it did not: this module draws
those, with PIL only, from the 68 landmarks of the unmasked face. It shares
no code with ``fermask.masks``. Kinds:

- ``polygon``: a flat mask of another outline (trapezoid, hexagon, rounded
  blob) in a random colour, plain, striped, checked or noisy;
- ``scarf``: a wide band from the nose to below the chin that runs past the
  face's sides, with soft folds;
- ``hand``: a palm and four fingers over the mouth, in the face's own skin
  tone (sampled from the cheeks), with shading;
- ``photo``: a mask-like outline filled with a patch of a real photo (a
  texture the caller gives, e.g. the Pixabay non-face photos), with no
  drawn pattern at all: the mask-presence recipe never trains on it, so it
  measures masks unlike anything seen in training.

:func:`near_miss` draws the opposite: things near the mouth that do NOT
cover it (:data:`NEAR_MISSES`): ``hand_beside`` (a hand along the cheek or
under the chin), ``beard`` (hair on the jaw and upper lip, lips left bare)
and ``chin_band`` (a band of cloth pulled down under the mouth).

Every kind is deterministic for a given ``seed``.

Examples:
    >>> import numpy as np
    >>> from occluders import cover  # doctest: +SKIP
    >>> img = np.full((120, 120, 3), 128, np.uint8)
    >>> pts = np.array([[30 + x, 30 + y] for x, y in np.random.default_rng(0).uniform(0, 60, (68, 2))])
    >>> cover(img, pts, "polygon", seed=0).shape  # doctest: +SKIP
    (120, 120, 3)
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

KINDS = ("polygon", "scarf", "hand")
#: Kinds that need ``textures`` (real photos to cut the fill from).
PHOTO_KINDS = ("photo",)
#: Uncovered-mouth look-alikes drawn by :func:`near_miss`.
NEAR_MISSES = ("hand_beside", "beard", "chin_band")


def _lower_face(pts: np.ndarray) -> tuple[float, float, float, float, float]:
    """Left, right, top (nose bridge) and bottom (below the chin) of the lower face, and its width."""
    jaw = pts[0:17]
    left, right = float(jaw[:, 0].min()), float(jaw[:, 0].max())
    top = float(pts[28, 1])  # on the nose bridge, under the eyes
    bottom = float(pts[8, 1]) + 0.08 * (right - left)
    return left, right, top, bottom, right - left


def _texture(size: tuple[int, int], rng: np.random.Generator, gray: bool) -> Image.Image:
    w, h = size
    base = rng.integers(0, 256, 3)
    kind = rng.choice(["plain", "stripes", "checks", "noise"])
    arr = np.empty((h, w, 3), np.float32)
    arr[:] = base
    if kind == "stripes":
        period = int(rng.integers(4, 14))
        other = rng.integers(0, 256, 3)
        band = ((np.arange(h)[:, None] + np.arange(w)[None, :] * rng.choice([0, 1])) // period) % 2 == 1
        arr[band] = other
    elif kind == "checks":
        period = int(rng.integers(5, 16))
        other = rng.integers(0, 256, 3)
        band = ((np.arange(h)[:, None] // period) + (np.arange(w)[None, :] // period)) % 2 == 1
        arr[band] = other
    elif kind == "noise":
        arr += rng.normal(0, 25, (h, w, 1))
    img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    return img.convert("L").convert("RGB") if gray else img


def _paste(base: Image.Image, fill: Image.Image, shape: Image.Image, soft: float) -> Image.Image:
    alpha = shape.filter(ImageFilter.GaussianBlur(soft)) if soft > 0 else shape
    out = base.copy()
    out.paste(fill, (0, 0), alpha)
    return out


def _outline(pts: np.ndarray, rng: np.random.Generator) -> list[tuple[float, float]]:
    """A mask-like outline over the lower face: a trapezoid, a hexagon or a rounded blob."""
    left, right, top, bottom, w = _lower_face(pts)
    pad = w * rng.uniform(0.0, 0.08)
    outline = rng.choice(["trapezoid", "hexagon", "blob"])
    if outline == "trapezoid":
        inset = w * rng.uniform(0.05, 0.2)
        poly = [(left - pad, top), (right + pad, top), (right - inset, bottom), (left + inset, bottom)]
    elif outline == "hexagon":
        mid = (top + bottom) / 2
        cx = (left + right) / 2
        poly = [(cx, top - w * 0.05), (right + pad, top + 0.15 * (bottom - top)), (right + pad, mid),
                (cx, bottom + w * 0.05), (left - pad, mid), (left - pad, top + 0.15 * (bottom - top))]
    else:
        cx, cy = (left + right) / 2, (top + bottom) / 2 + 0.05 * w
        rx, ry = (right - left) / 2 + pad, (bottom - top) / 2 + 0.05 * w
        t = np.linspace(0, 2 * np.pi, 40, endpoint=False)
        wobble = 1 + 0.06 * np.sin(3 * t + rng.uniform(0, 6))
        poly = list(zip(cx + rx * wobble * np.cos(t), cy + ry * wobble * np.sin(t)))
    return [(float(x), float(y)) for x, y in poly]


def _polygon(img: Image.Image, pts: np.ndarray, rng: np.random.Generator, gray: bool) -> Image.Image:
    shape = Image.new("L", img.size, 0)
    ImageDraw.Draw(shape).polygon(_outline(pts, rng), fill=255)
    return _paste(img, _texture(img.size, rng, gray), shape, soft=rng.uniform(0, 1.5))


def _scarf(img: Image.Image, pts: np.ndarray, rng: np.random.Generator, gray: bool) -> Image.Image:
    left, right, top, bottom, w = _lower_face(pts)
    extra = w * rng.uniform(0.1, 0.3)
    top += w * rng.uniform(-0.03, 0.08)
    shape = Image.new("L", img.size, 0)
    sag = w * rng.uniform(0.02, 0.1)
    poly = [(left - extra, top + sag), ((left + right) / 2, top), (right + extra, top + sag),
            (right + extra, bottom + 0.3 * w), (left - extra, bottom + 0.3 * w)]
    ImageDraw.Draw(shape).polygon(poly, fill=255)
    fill = np.asarray(_texture(img.size, rng, gray)).astype(np.float32)
    yy = np.arange(img.size[1], dtype=np.float32)[:, None]
    folds = 1 + 0.18 * np.sin(yy / max(3.0, w * rng.uniform(0.06, 0.12)) + rng.uniform(0, 6))
    fill = np.clip(fill * folds[..., None], 0, 255).astype(np.uint8)
    return _paste(img, Image.fromarray(fill), shape, soft=1.0)


def _skin_tone(img: Image.Image, pts: np.ndarray) -> np.ndarray:
    arr = np.asarray(img).astype(np.float32)
    samples = []
    for a, b in ((1, 31), (15, 35)):  # cheeks: between the jaw and the nose
        x, y = (pts[a] + pts[b]) / 2
        x0, y0 = int(max(0, x - 3)), int(max(0, y - 3))
        patch = arr[y0 : int(y) + 4, x0 : int(x) + 4].reshape(-1, 3)
        if len(patch):
            samples.append(patch.mean(axis=0))
    return np.mean(samples, axis=0) if samples else np.array([190.0, 150.0, 130.0])


def _hand(img: Image.Image, pts: np.ndarray, rng: np.random.Generator, gray: bool) -> Image.Image:
    left, right, top, bottom, w = _lower_face(pts)
    tone = np.clip(_skin_tone(img, pts) * rng.uniform(0.85, 1.15), 0, 255)
    shape = Image.new("L", img.size, 0)
    draw = ImageDraw.Draw(shape)
    mouth_y = float(pts[51:58, 1].mean())
    finger_h = (bottom - top) * 0.2
    x0, x1 = left - w * rng.uniform(0.0, 0.2), right + w * rng.uniform(0.0, 0.15)
    ys = [mouth_y - 1.6 * finger_h + k * finger_h * 1.02 for k in range(4)]
    for k, y in enumerate(ys):  # fingers across the mouth, of slightly different lengths
        draw.rounded_rectangle([x0, y, x1 - k * w * 0.05, y + finger_h * 0.95], radius=finger_h * 0.45, fill=255)
    draw.ellipse([x0 - w * 0.5, ys[0], x0 + w * 0.25, ys[-1] + finger_h * 1.6], fill=255)  # the palm
    arr = np.asarray(img).astype(np.float32).copy()
    fill = np.empty_like(arr)
    fill[:] = tone
    yy = np.arange(arr.shape[0], dtype=np.float32)[:, None]
    crease = np.ones_like(yy)
    for y in ys[1:]:
        crease -= 0.25 * np.exp(-((yy - y) ** 2) / max(1.0, (finger_h * 0.08) ** 2))
    fill *= crease[..., None]
    fill += rng.normal(0, 3, fill.shape)
    out = Image.fromarray(np.clip(fill, 0, 255).astype(np.uint8))
    if gray:
        out = out.convert("L").convert("RGB")
    return _paste(img, out, shape, soft=1.2)


def _photo(img: Image.Image, pts: np.ndarray, rng: np.random.Generator, gray: bool,
           textures: list[np.ndarray]) -> Image.Image:
    shape = Image.new("L", img.size, 0)
    poly = _outline(pts, rng)
    ImageDraw.Draw(shape).polygon(poly, fill=255)
    xs, ys = [p[0] for p in poly], [p[1] for p in poly]
    bw, bh = max(2, int(max(xs) - min(xs)) + 2), max(2, int(max(ys) - min(ys)) + 2)
    tex = textures[int(rng.integers(len(textures)))]
    th, tw = tex.shape[:2]
    side = int(min(th, tw) * rng.uniform(0.25, 0.7))  # a patch of the photo, scaled to the outline
    x0, y0 = int(rng.integers(0, tw - side + 1)), int(rng.integers(0, th - side + 1))
    patch = Image.fromarray(np.ascontiguousarray(tex[y0 : y0 + side, x0 : x0 + side])).convert("RGB")
    patch = patch.resize((bw, bh), Image.Resampling.BILINEAR)
    fill = Image.new("RGB", img.size, (0, 0, 0))
    fill.paste(patch, (int(min(xs)), int(min(ys))))
    if gray:
        fill = fill.convert("L").convert("RGB")
    return _paste(img, fill, shape, soft=rng.uniform(0, 1.2))


def _hand_beside(img: Image.Image, pts: np.ndarray, rng: np.random.Generator, gray: bool) -> Image.Image:
    """A hand that touches the face without covering the mouth: along one cheek, or under the chin."""
    left, right, top, bottom, w = _lower_face(pts)
    tone = np.clip(_skin_tone(img, pts) * rng.uniform(0.85, 1.15), 0, 255)
    shape = Image.new("L", img.size, 0)
    draw = ImageDraw.Draw(shape)
    fw = w * 0.13  # a finger's width
    if rng.uniform() < 0.5:  # fingers up along the cheek, the palm below the jaw
        side = int(rng.integers(2))
        edge = float(pts[4, 0] if side == 0 else pts[12, 0])  # the jaw beside the mouth
        into = w * rng.uniform(0.0, 0.08)
        for k in range(4):
            x = edge - 4 * fw + into + k * fw if side == 0 else edge - into + k * fw
            y0 = top + (bottom - top) * rng.uniform(-0.2, 0.1) + abs(k - 1.5) * fw * 0.4
            draw.rounded_rectangle([x, y0, x + fw * 0.95, bottom + 0.3 * w], radius=fw * 0.45, fill=255)
    else:  # a fist under the chin
        chin = float(pts[8, 1]) + w * rng.uniform(0.0, 0.06)
        cx = float(pts[8, 0]) + w * rng.uniform(-0.15, 0.15)
        for k in range(4):
            draw.rounded_rectangle([cx - 2 * fw + k * fw, chin, cx - 1.05 * fw + k * fw, chin + 1.3 * fw],
                                   radius=fw * 0.45, fill=255)
        draw.ellipse([cx - 2.2 * fw, chin + fw, cx + 2.2 * fw, chin + 4.5 * fw], fill=255)
    fill = np.empty((img.size[1], img.size[0], 3), np.float32)
    fill[:] = tone
    fill += rng.normal(0, 3, fill.shape)
    out = Image.fromarray(np.clip(fill, 0, 255).astype(np.uint8))
    if gray:
        out = out.convert("L").convert("RGB")
    return _paste(img, out, shape, soft=1.2)


def _beard(img: Image.Image, pts: np.ndarray, rng: np.random.Generator, gray: bool) -> Image.Image:
    """Hair over the jaw, chin and upper lip, from stubble to a full beard; the lips stay bare."""
    w = float(pts[16, 0] - pts[0, 0])
    shape = Image.new("L", img.size, 0)
    draw = ImageDraw.Draw(shape)
    upper = float(pts[33, 1]) + (float(pts[51, 1]) - float(pts[33, 1])) * rng.uniform(0.2, 0.6)
    jaw = [(float(x), float(y) + w * 0.03) for x, y in pts[2:15]]
    draw.polygon([(float(pts[2, 0]), upper), *jaw, (float(pts[14, 0]), upper)], fill=255)
    lips = pts[48:60]
    cx, cy = lips.mean(axis=0)
    grow = 1.0 + rng.uniform(0.05, 0.25)
    draw.polygon([(float(cx + (x - cx) * grow), float(cy + (y - cy) * grow)) for x, y in lips], fill=0)
    density = rng.uniform(0.35, 0.95)  # stubble to full beard
    shape = shape.point(lambda v: int(v * density))
    colour = np.array([[25, 20, 18], [60, 40, 25], [110, 80, 50], [150, 150, 150], [190, 160, 110]])[
        int(rng.integers(5))
    ] * rng.uniform(0.8, 1.2)
    h, wd = img.size[1], img.size[0]
    strands = rng.normal(0, 1, (h, wd)).astype(np.float32)
    strands = (strands + np.roll(strands, 1, axis=0) + np.roll(strands, 2, axis=0)) / 3  # short hairs, downwards
    fill = np.clip(colour[None, None, :] * (1 + 0.35 * strands[..., None]), 0, 255).astype(np.uint8)
    out = Image.fromarray(fill)
    if gray:
        out = out.convert("L").convert("RGB")
    return _paste(img, out, shape, soft=1.5)


def _chin_band(img: Image.Image, pts: np.ndarray, rng: np.random.Generator, gray: bool) -> Image.Image:
    """A mask or scarf pulled down under the mouth: it covers the chin and neck, not the lips or nose."""
    left, right, _, bottom, w = _lower_face(pts)
    lip = float(pts[57, 1])
    top = lip + (float(pts[8, 1]) - lip) * rng.uniform(0.3, 0.75)
    extra = w * rng.uniform(0.0, 0.25)
    sag = w * rng.uniform(0.0, 0.08)
    poly = [(left - extra, top - sag), ((left + right) / 2, top), (right + extra, top - sag),
            (right + extra, bottom + 0.35 * w), (left - extra, bottom + 0.35 * w)]
    shape = Image.new("L", img.size, 0)
    ImageDraw.Draw(shape).polygon(poly, fill=255)
    return _paste(img, _texture(img.size, rng, gray), shape, soft=1.0)


def _prepare(image: np.ndarray, landmarks: np.ndarray, seed: int) -> tuple[Image.Image, np.ndarray, np.random.Generator, bool]:
    img = Image.fromarray(image).convert("RGB")
    gray = image.ndim == 2 or bool(np.all(np.ptp(np.asarray(img).astype(np.int16), axis=2) < 3))
    return img, np.asarray(landmarks, dtype=np.float64), np.random.default_rng(seed), gray


def near_miss(image: np.ndarray, landmarks: np.ndarray, kind: str, seed: int = 0) -> np.ndarray:
    """The image with something near the mouth that leaves the mouth and nose bare (a hard negative).

    Args:
        image: ``(H, W)`` gray or ``(H, W, 3)`` RGB ``uint8``.
        landmarks: The face's 68 ``(x, y)`` landmark points.
        kind: One of :data:`NEAR_MISSES`.
        seed: Seed of the random shape and colour.

    Returns:
        A new array of the same shape and dtype.
    """
    if kind not in NEAR_MISSES:
        raise ValueError(f"kind must be one of {NEAR_MISSES}, got {kind!r}")
    img, pts, rng, gray = _prepare(image, landmarks, seed)
    out = np.asarray({"hand_beside": _hand_beside, "beard": _beard, "chin_band": _chin_band}[kind](img, pts, rng, gray))
    return np.ascontiguousarray(out[..., 0] if image.ndim == 2 else out)


def cover(image: np.ndarray, landmarks: np.ndarray, kind: str, seed: int = 0,
          textures: list[np.ndarray] | None = None) -> np.ndarray:
    """The image with the face's lower half covered by a ``kind`` of occluder.

    Args:
        image: ``(H, W)`` gray or ``(H, W, 3)`` RGB ``uint8``.
        landmarks: The face's 68 ``(x, y)`` landmark points (of the unmasked face).
        kind: One of :data:`KINDS` or :data:`PHOTO_KINDS`.
        seed: Seed of the random shape, colour and texture.
        textures: RGB photos to cut fills from; needed by :data:`PHOTO_KINDS`.

    Returns:
        A new array of the same shape and dtype.
    """
    if kind not in KINDS + PHOTO_KINDS:
        raise ValueError(f"kind must be one of {KINDS + PHOTO_KINDS}, got {kind!r}")
    if kind in PHOTO_KINDS and not textures:
        raise ValueError(f"kind {kind!r} cuts its fill from photos: pass textures=[...]")
    img, pts, rng, gray = _prepare(image, landmarks, seed)
    if kind == "photo":
        out = _photo(img, pts, rng, gray, list(textures or []))
    else:
        out = {"polygon": _polygon, "scarf": _scarf, "hand": _hand}[kind](img, pts, rng, gray)
    arr = np.asarray(out)
    return np.ascontiguousarray(arr[..., 0] if image.ndim == 2 else arr)
