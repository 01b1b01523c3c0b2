"""The examples the mask-presence classifier learns from and is measured on.

Read by ``build_mask_presence.py``. From each bare photo of the faces folder
(its face found once by fermask's HOG detector, with its 68 landmarks) come
many 64x64 crops, each cut by :func:`fermask.faces.presence_crop` (the
runtime's own input definition) after heavy augmentation:

- masked by fermask's renderer, in every built-in style with random colours
  and patterns (``fermask.Masker``);
- covered by things fermask does not draw (``occluders.cover``: polygon,
  scarf, hand; and ``photo``, which the recipe never trains on);
- bare, and bare with near misses (``occluders.near_miss``: a hand beside
  the face, a beard, a cloth pulled down under the mouth).

Augmentation: the face drawn at several sizes, rotated, mirrored, its box
shifted and scaled (as another detector would box it), light and contrast
changed (dark, bright, side-lit), blurred, JPEG-compressed, some crops gray.
Every crop depends only on the seed, the photo's position and the variant's
number, so a rebuild gives the same crops.
"""

from __future__ import annotations

import csv
import hashlib
import io
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

sys.path.insert(0, str(Path(__file__).resolve().parent))

from occluders import KINDS, NEAR_MISSES, cover, near_miss  # noqa: E402

from fermask import Masker, load_image  # noqa: E402
from fermask.faces import FaceAnalyzer, presence_crop  # noqa: E402
from fermask.faces._face import Face  # noqa: E402
from fermask.masks import BUILTIN_STYLES  # noqa: E402

STYLES = tuple(s.name for s in BUILTIN_STYLES)
#: Occluder kinds trained on (leave-one-kind-out drops one of them at a time).
TRAINED_KINDS = KINDS
#: The occluder kind no model of the recipe ever trains on.
UNSEEN_KIND = "photo"
BARE_KINDS = ("bare", *NEAR_MISSES)
FACE_FOLDERS = ("london/neutral", "london/smiling", "canada", "composite", "lisa", "zoom")
#: Face sides (pixels) the photo is drawn at before cropping: small, medium and large faces.
LEVELS = (40, 72, 128)
REGION = 2.8  # side of the region kept around a face, in face-box sides


@dataclass
class Photo:
    """One bare face photo of the faces folder."""

    file: str  # relative to the faces folder
    person: str
    sha256: str
    licence: str
    levels: list[tuple[np.ndarray, tuple[float, float, float, float], np.ndarray]] = field(default_factory=list)


@dataclass
class Plan:
    """How many crops of each kind come from every photo."""

    per_style: int = 3
    per_kind: int = 3
    bare: int = 10
    per_near_miss: int = 3

    def variants(self) -> list[tuple[str, int]]:
        """``(kind, label)`` of every crop of one photo, in a fixed order."""
        out = [(s, 1) for s in STYLES for _ in range(self.per_style)]
        out += [(k, 1) for k in (*TRAINED_KINDS, UNSEEN_KIND) for _ in range(self.per_kind)]
        out += [("bare", 0)] * self.bare
        out += [(k, 0) for k in NEAR_MISSES for _ in range(self.per_near_miss)]
        return out


def person_of(file: str) -> str:
    """The person a photo shows: both London photos of an id are one person; Lisa and zoom are one."""
    folder, name = file.rsplit("/", 1)
    stem = name.rsplit(".", 1)[0]
    if folder.startswith("london/"):
        return "london:" + stem.split("_")[0]
    if folder in ("lisa", "zoom"):
        return "lisa"
    return f"{folder}:{stem}"  # canada: one photo per person (003f ... 154m); composite: one average each


def sha256_of(path: Path) -> str:
    """The hex sha256 of a file."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def list_photos(faces: Path) -> tuple[list[Photo], list[dict[str, str]]]:
    """The face photos (checked against ``provenance.csv``) and the non-face photos' rows.

    Raises:
        SystemExit: A photo is missing from the provenance list or its sha256 differs.
    """
    with open(faces / "provenance.csv", newline="", encoding="utf-8") as fh:
        rows = {r["file"]: r for r in csv.DictReader(fh)}
    photos = []
    for folder in FACE_FOLDERS:
        for path in sorted((faces / folder).glob("*.jpg")):
            rel = path.relative_to(faces).as_posix()
            row = rows.get(rel)
            digest = sha256_of(path)
            if row is None or row["sha256"] != digest:
                raise SystemExit(f"{rel}: not in provenance.csv or its sha256 differs; the faces folder is not the recorded one")
            photos.append(Photo(rel, person_of(rel), digest, row["licence"]))
    nonfaces = [r for f, r in sorted(rows.items()) if f.startswith("nonfaces/")]
    return photos, nonfaces


def _region(image: np.ndarray, box: tuple[int, int, int, int], pts: np.ndarray, side_px: int):
    """The square region around a face, edge-padded, scaled so the face box is ``side_px`` wide."""
    left, top, right, bottom = (float(v) for v in box)
    side = max(right - left, bottom - top)
    cx, cy = (left + right) / 2, (top + bottom) / 2
    half = REGION * side / 2
    x0, y0 = int(np.floor(cx - half)), int(np.floor(cy - half))
    n = int(np.ceil(2 * half))
    h, w = image.shape[:2]
    pads = ((max(0, -y0), max(0, y0 + n - h)), (max(0, -x0), max(0, x0 + n - w)), (0, 0))
    padded = np.pad(image, pads, mode="edge")
    region = padded[y0 + pads[0][0] : y0 + pads[0][0] + n, x0 + pads[1][0] : x0 + pads[1][0] + n]
    scale = side_px / side
    out_n = max(8, int(round(n * scale)))
    small = np.asarray(Image.fromarray(region).resize((out_n, out_n), Image.Resampling.BILINEAR))
    f = out_n / n
    new_box = ((left - x0) * f, (top - y0) * f, (right - x0) * f, (bottom - y0) * f)
    return small, new_box, ((pts - [x0, y0]) * f).astype(np.float32)


def find_faces(photos: list[Photo], faces: Path, progress: bool) -> None:
    """Find each photo's face (HOG and 68 landmarks) and keep it drawn at every size of :data:`LEVELS`.

    Raises:
        SystemExit: A photo has no face, or more than one.
    """
    from tqdm.auto import tqdm

    analyzer = FaceAnalyzer(detector="hog")
    for photo in tqdm(photos, desc="finding faces", unit="photo", disable=not progress):
        image = load_image(faces / photo.file)
        found = analyzer.find(image)
        if len(found) != 1:
            raise SystemExit(f"{photo.file}: {len(found)} faces found by HOG, expected 1")
        image = image if image.ndim == 3 else np.stack([image] * 3, axis=-1)
        photo.levels = [_region(image, found[0].box, found[0].landmarks, s) for s in LEVELS]


def load_textures(faces: Path, nonfaces: list[dict[str, str]]) -> list[np.ndarray]:
    """The non-face photos, RGB, for the ``photo`` occluder."""
    return [np.asarray(Image.open(faces / r["file"]).convert("RGB")) for r in nonfaces]


class Renderer:
    """Draws the crops of one kind of variant; one Masker per style, made once."""

    def __init__(self, seed: int, textures: list[np.ndarray]) -> None:
        self.seed = seed
        self.textures = textures
        self.maskers = {s: Masker(s, color="random", pattern="random", seed=seed) for s in STYLES}
        self.plain = {s: Masker(s, seed=seed) for s in STYLES}  # the style's own colour and pattern

    def draw(self, image: np.ndarray, box, pts: np.ndarray, kind: str, rng: np.random.Generator, index: int) -> np.ndarray:
        """``image`` with ``kind`` drawn on its face (bare: unchanged)."""
        sub = int(rng.integers(2**31))
        if kind in STYLES:
            masker = self.plain[kind] if rng.uniform() < 0.25 else self.maskers[kind]
            face = Face(tuple(int(round(v)) for v in box), pts)
            return masker.mask_faces(image, [face], index).image
        if kind in TRAINED_KINDS or kind == UNSEEN_KIND:
            return cover(image, pts, kind, seed=sub, textures=self.textures)
        if kind in NEAR_MISSES:
            return near_miss(image, pts, kind, seed=sub)
        return image


def _rotate(image: np.ndarray, box, angle: float) -> np.ndarray:
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    return np.asarray(Image.fromarray(image).rotate(angle, Image.Resampling.BILINEAR, center=(cx, cy)))


def jitter_box(box, rng: np.random.Generator) -> tuple[float, float, float, float]:
    """The face box as another detector might give it: shifted and scaled by up to about 15 %."""
    left, top, right, bottom = box
    side = max(right - left, bottom - top)
    cx, cy = (left + right) / 2, (top + bottom) / 2
    if rng.uniform() < 0.3:  # a larger box, lower on the face (BlazeFace-like)
        s = side * rng.uniform(1.05, 1.3)
        cy += side * rng.uniform(0.0, 0.12)
    else:
        s = side * np.exp(rng.uniform(-0.15, 0.15))
    cx += side * rng.uniform(-0.12, 0.12)
    cy += side * rng.uniform(-0.12, 0.12)
    return (cx - s / 2, cy - s / 2, cx + s / 2, cy + s / 2)


def photometric(crop: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Light, contrast, colour cast, side light, blur, noise, JPEG and gray, each at random."""
    x = crop.astype(np.float32)
    x = (x - x.mean()) * rng.uniform(0.6, 1.4) + x.mean() + rng.uniform(-35, 35)
    x *= rng.uniform(0.9, 1.1, 3)
    if rng.uniform() < 0.3:  # dark or bright scene
        gamma = rng.choice([rng.uniform(1.5, 2.6), rng.uniform(0.4, 0.7)])
        x = 255.0 * (np.clip(x, 0, 255) / 255.0) ** gamma
    if rng.uniform() < 0.25:  # light from one side, or from above
        t = np.linspace(-1, 1, x.shape[0], dtype=np.float32)
        ramp = 1 + rng.uniform(0.2, 0.6) * t * rng.choice([-1, 1])
        x *= (ramp[None, :, None] if rng.uniform() < 0.6 else ramp[:, None, None])
    if rng.uniform() < 0.2:
        x += rng.normal(0, rng.uniform(2, 8), x.shape)
    img = Image.fromarray(np.clip(x + 0.5, 0, 255).astype(np.uint8))
    if rng.uniform() < 0.3:
        img = img.filter(ImageFilter.GaussianBlur(rng.uniform(0.4, 1.3)))
    if rng.uniform() < 0.3:
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=int(rng.integers(25, 90)))
        img = Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
    if rng.uniform() < 0.2:
        img = img.convert("L").convert("RGB")
    out = np.asarray(img)
    return out[:, ::-1].copy() if rng.uniform() < 0.5 else out.copy()


def make_crop(photo: Photo, renderer: Renderer, kind: str, rng: np.random.Generator, index: int) -> np.ndarray:
    """One augmented ``presence_crop`` of ``photo`` with ``kind`` drawn on it."""
    image, box, pts = photo.levels[int(rng.choice(len(LEVELS), p=[0.3, 0.4, 0.3]))]
    drawn = renderer.draw(image, box, pts, kind, rng, index)
    angle = rng.uniform(-15, 15)
    rotated = _rotate(drawn, box, angle) if abs(angle) > 1 else drawn
    return photometric(presence_crop(rotated, jitter_box(box, rng)), rng)


def _photo_crops(args: tuple[int, Photo, Plan, int]) -> list[np.ndarray]:
    p, photo, plan, seed = args
    renderer = _renderer(seed, _TEXTURES)
    return [make_crop(photo, renderer, kind, np.random.default_rng([seed, p, v]), index=p * 1000 + v)
            for v, (kind, _) in enumerate(plan.variants())]


_RENDERERS: dict[int, Renderer] = {}
_TEXTURES: list[np.ndarray] = []  # set before the workers fork, so they inherit the photos instead of receiving them


def _renderer(seed: int, textures: list[np.ndarray]) -> Renderer:
    """One Renderer per process and seed."""
    if seed not in _RENDERERS:
        _RENDERERS[seed] = Renderer(seed, textures)
    return _RENDERERS[seed]


def build_examples(photos: list[Photo], plan: Plan, seed: int, textures: list[np.ndarray],
                   progress: bool, workers: int = 2) -> dict[str, np.ndarray]:
    """Every crop of every photo, with its label, kind and photo number.

    Each crop is seeded by ``(seed, photo, variant)`` alone, so the crops are
    the same whatever ``workers`` is (processes forked; TensorFlow is not
    imported yet).

    Returns:
        ``x`` (n, 64, 64, 3) uint8, ``y`` (n,) 0/1, ``kind`` (n,) str, ``photo`` (n,) int.
    """
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    from tqdm.auto import tqdm

    variants = plan.variants()
    _TEXTURES[:] = textures
    _RENDERERS.clear()
    jobs = [(p, photo, plan, seed) for p, photo in enumerate(photos)]
    bar = tqdm(total=len(photos) * len(variants), desc="drawing examples", unit="crop", disable=not progress)
    crops: list[np.ndarray] = []
    with bar:
        if workers > 1:
            with ProcessPoolExecutor(workers, mp_context=mp.get_context("fork")) as pool:
                for got in pool.map(_photo_crops, jobs, chunksize=4):
                    crops += got
                    bar.update(len(got))
        else:
            for job in jobs:
                crops += _photo_crops(job)
                bar.update(len(variants))
    n = len(variants)
    return {
        "x": np.stack(crops),
        "y": np.array([label for _ in photos for _, label in variants], np.float32),
        "kind": np.array([kind for _ in photos for kind, _ in variants]),
        "photo": np.repeat(np.arange(len(photos)), n),
    }
