"""Synthetic FER-format data for tests and benchmarks. **Not FER2013.**

:func:`make_synthetic_fer` makes 48x48 gray face images at any size so that
pipelines (reading, masking, caching, ``tf.data``, training) can be exercised
at full FER2013 scale without FER2013, which cannot be redistributed.

How an image is made:

1. A base face: a real face photo shipped with scikit-image (the 100
   ``lfw_subset`` face photos and the public-domain astronaut portrait, cropped to
   the face) when scikit-image is installed, otherwise a procedurally drawn
   face (an oval with eyes, nose, hair and a background).
2. **The class signal**: an expression drawn on the face with dark strokes --
   brows (slanted in for angry, raised for fear, surprise and sad) and a mouth
   (an upward arc for happy, a downward arc for sad, an open oval for
   surprise, a wide open gap for fear, a crooked line with nose wrinkles for
   disgust, a straight line for angry and neutral). ``signal`` scales the
   stroke contrast; with ``signal=0`` the labels carry no information.
3. Jitter: a random small rotation, scale and shift; re-lighting (gain,
   offset and a linear gradient in a random direction); pixel noise.

The class signal is learnable by a small CNN; it is not a facial expression
of a real person, so accuracy on this data says nothing about FER.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw

from .._image import fit_image
from ..errors import DataFormatError
from ..labels import EMOTIONS
from ._sampling import allocate
from .dataset import FERDataset
from .readers import USAGES

__all__ = ["make_synthetic_fer", "FER2013_CLASS_TOTALS", "FER2013_USAGE_TOTALS", "SYNTHETIC_SOURCE"]

FER2013_CLASS_TOTALS = (4953, 547, 5121, 8989, 6077, 4002, 6198)
"""Images per class in the whole of FER2013 (35,887), used for the default class mix."""

FER2013_USAGE_TOTALS = (28709, 3589, 3589)
"""Images per Usage value in FER2013 (Training, PublicTest, PrivateTest)."""

SYNTHETIC_SOURCE = "SYNTHETIC FER-format data (fermask.data.make_synthetic_fer; not FER2013)"

_SIDE = 48


def _photo_faces() -> list[np.ndarray] | None:
    try:
        from skimage import data as skdata
    except Exception:
        return None
    faces: list[np.ndarray] = []
    try:
        for f in skdata.lfw_subset()[:100]:  # the first 100 are faces, the rest are not
            faces.append(fit_image((np.asarray(f) * 255).round().astype(np.uint8), (_SIDE, _SIDE)))
        astro = Image.fromarray(skdata.astronaut()).crop((170, 70, 275, 185)).convert("L")
        faces.append(fit_image(np.asarray(astro), (_SIDE, _SIDE)))
    except Exception:
        return None
    return faces


def _drawn_faces(count: int, rng: np.random.Generator) -> list[np.ndarray]:
    faces = []
    for _ in range(count):
        bg = int(rng.integers(20, 200))
        img = Image.new("L", (_SIDE, _SIDE), bg)
        d = ImageDraw.Draw(img)
        skin = int(rng.integers(110, 230))
        hair = int(rng.integers(10, 90))
        w = float(rng.uniform(15, 19))
        d.ellipse((24 - w - 2, 1, 24 + w + 2, 30), fill=hair)
        d.ellipse((24 - w, 5, 24 + w, 47), fill=skin)
        eye = max(0, skin - int(rng.integers(70, 110)))
        for cx in (17, 31):
            d.ellipse((cx - 3, 19, cx + 3, 23), fill=min(255, skin + 20))
            d.ellipse((cx - 1.5, 19.5, cx + 1.5, 22.5), fill=eye)
        d.line((24, 22, 22, 31, 25, 31), fill=max(0, skin - 40), width=1)
        faces.append(np.asarray(img))
    return faces


def _draw_expression(img: Image.Image, label: int, ink: int, rng: np.random.Generator) -> None:
    d = ImageDraw.Draw(img)
    dx, dy = rng.uniform(-1.0, 1.0, size=2)

    def line(*pts: float, width: int = 2) -> None:
        d.line([(x + dx if i % 2 == 0 else x + dy) for i, x in enumerate(pts)], fill=ink, width=width)

    # brows: (outer y, inner y) per side; the inner end is near the nose
    brows = {0: (13, 18), 1: (15, 15), 2: (14, 11), 3: (15, 15), 4: (16, 12), 5: (10, 10), 6: (15, 15)}[label]
    line(10, brows[0], 20, brows[1])
    line(28, brows[1], 38, brows[0])
    if label == 3:  # happy: upward arc
        d.arc((15 + dx, 28 + dy, 33 + dx, 40 + dy), 20, 160, fill=ink, width=2)
    elif label == 4:  # sad: downward arc
        d.arc((16 + dx, 35 + dy, 32 + dx, 45 + dy), 200, 340, fill=ink, width=2)
    elif label == 5:  # surprise: open oval
        d.ellipse((20 + dx, 33 + dy, 28 + dx, 43 + dy), outline=ink, fill=ink)
    elif label == 2:  # fear: wide open gap
        d.rectangle((16 + dx, 36 + dy, 32 + dx, 40 + dy), outline=ink, fill=ink)
    elif label == 1:  # disgust: crooked mouth and nose wrinkles
        line(16, 39, 22, 36, 27, 39, 32, 35)
        line(20, 27, 23, 29, width=1)
        line(28, 27, 25, 29, width=1)
    else:  # angry and neutral: straight mouth (angry tighter)
        half = 5 if label == 0 else 7
        line(24 - half, 38, 24 + half, 38)


def _jitter(img: Image.Image, rng: np.random.Generator, fill: int) -> Image.Image:
    angle = math.radians(rng.uniform(-8, 8))
    scale = rng.uniform(0.92, 1.08)
    tx, ty = rng.uniform(-2, 2, size=2)
    c, s = math.cos(angle) / scale, math.sin(angle) / scale
    cx = cy = _SIDE / 2
    # output (x, y) -> input (a x + b y + c, d x + e y + f)
    coeffs = (c, s, cx - c * cx - s * cy - tx, -s, c, cy + s * cx - c * cy - ty)
    return img.transform((_SIDE, _SIDE), Image.Transform.AFFINE, coeffs, Image.Resampling.BILINEAR, fillcolor=fill)


def make_synthetic_fer(
    n: int,
    seed: int = 0,
    image_size: int | tuple[int, int] = 48,
    *,
    base: str = "auto",
    signal: float = 1.0,
    balanced: bool = False,
    class_weights: Sequence[float] | None = None,
    noise: float = 4.0,
) -> FERDataset:
    """Make ``n`` synthetic FER-format images with a learnable class signal (not FER2013).

    See the module docs for how images are made and what the signal is.

    Args:
        n: Number of images.
        seed: Random seed; the same arguments give the same images.
        image_size: Side (or ``(height, width)``) of the images; they are drawn
            at 48x48 and resized.
        base: ``"photos"`` (scikit-image's face photos; needs scikit-image),
            ``"drawn"`` (procedural faces) or ``"auto"`` (photos when available).
        signal: Contrast of the drawn expression, 0 (none) to 1 (full).
        balanced: Equal class counts instead of FER2013's class mix.
        class_weights: Explicit class proportions (7 numbers), overriding both.
        noise: Standard deviation of the pixel noise.

    Returns:
        A :class:`FERDataset` in FER2013 label order, with a Usage column in
        FER2013's proportions (about 80/10/10); ``source`` says it is synthetic.

    Examples:
        >>> ds = make_synthetic_fer(140, seed=0, balanced=True)
        >>> ds.class_counts()["happy"], ds.images.shape
        (20, (140, 48, 48))
        >>> "not FER2013" in ds.source
        True
    """
    n = int(n)
    if n < 1:
        raise DataFormatError(f"make_synthetic_fer: n must be at least 1, got {n}")
    if base not in ("auto", "photos", "drawn"):
        raise DataFormatError(f"base must be 'auto', 'photos' or 'drawn', got {base!r}")
    if not 0.0 <= signal <= 1.0:
        raise DataFormatError(f"signal must lie between 0 and 1, got {signal}")
    rng = np.random.default_rng(seed)
    pool: list[np.ndarray] | None = None
    used = "drawn"
    if base in ("auto", "photos"):
        pool = _photo_faces()
        if pool is None and base == "photos":
            from ..errors import missing_dependency

            raise missing_dependency("scikit-image", "dev", "synthetic data from face photos (base='photos')")
        used = "photos" if pool is not None else "drawn"
    if pool is None:
        pool = _drawn_faces(64, np.random.default_rng(seed + 1_000_003))
    if class_weights is not None:
        w = np.asarray(class_weights, dtype=np.float64)
        if w.shape != (len(EMOTIONS),) or (w < 0).any() or w.sum() == 0:
            raise DataFormatError(f"class_weights must be {len(EMOTIONS)} non-negative numbers, got {class_weights}")
    else:
        w = np.ones(len(EMOTIONS)) if balanced else np.asarray(FER2013_CLASS_TOTALS, dtype=np.float64)
    counts = allocate(np.round(w / w.sum() * 1_000_000).astype(np.int64), n)
    labels = rng.permutation(np.repeat(np.arange(len(EMOTIONS)), counts))
    ucounts = allocate(np.asarray(FER2013_USAGE_TOTALS, dtype=np.int64), n)
    usage = rng.permutation(np.repeat(np.asarray(USAGES, dtype="<U11"), ucounts))

    out = np.empty((n, _SIDE, _SIDE), dtype=np.uint8)
    faces = rng.integers(0, len(pool), size=n)
    for i in range(n):
        face = pool[faces[i]]
        img = Image.fromarray(face)
        mean = float(face.mean())
        ink = int(round(mean - signal * min(mean, 110.0)))
        if signal > 0:
            _draw_expression(img, int(labels[i]), max(ink, 0), rng)
        img = _jitter(img, rng, int(mean))
        out[i] = np.asarray(img)
    # re-lighting and noise, vectorised
    yy, xx = np.mgrid[0:_SIDE, 0:_SIDE].astype(np.float32) / (_SIDE - 1) - 0.5
    theta = rng.uniform(0, 2 * np.pi, size=n).astype(np.float32)
    slope = rng.uniform(0, 50, size=n).astype(np.float32)
    gain = rng.uniform(0.75, 1.25, size=n).astype(np.float32)
    offset = rng.uniform(-25, 25, size=n).astype(np.float32)
    step = 4096
    for a in range(0, n, step):
        b = min(a + step, n)
        x = out[a:b].astype(np.float32)
        grad = (np.cos(theta[a:b])[:, None, None] * xx + np.sin(theta[a:b])[:, None, None] * yy) * slope[a:b, None, None]
        x = x * gain[a:b, None, None] + offset[a:b, None, None] + grad
        if noise > 0:
            x += rng.normal(0.0, noise, size=x.shape).astype(np.float32)
        out[a:b] = np.clip(x + 0.5, 0, 255).astype(np.uint8)
    size = (image_size, image_size) if isinstance(image_size, int) else tuple(int(v) for v in image_size)
    images = out if size == (_SIDE, _SIDE) else np.stack([fit_image(im, size) for im in out])
    return FERDataset(
        images,
        labels,
        usage=usage,
        source=f"{SYNTHETIC_SOURCE}: n={n}, seed={seed}, base={used}, signal={signal}",
        notes={"synthetic": True},
    )
