"""Faces, person folds, masks and augmentation for ``build_masked_model.py``.

Every face is found once on its bare photo. Two crops are kept:

- the *teacher crop*: the face box grown by the teacher's face margin, gray,
  at the teacher's input size, cut as :class:`fermask.Predictor` cuts it
  (``fermask._image.crop_face`` then ``fit_image``); the teacher's answer on
  it is the training target and the "bare" answer of every measure;
- the *context crop*: the same box grown further (:data:`CONTEXT_MARGIN`), in
  colour at :data:`CONTEXT_SIZE` px, with its 68 landmarks, from which
  training views are drawn: a mask (fermask's or not), a mirror, a small
  rotation, scale and shift, brightness and contrast, blur and JPEG.

Measured faces are masked on the full photo and cut like the teacher crop,
so that measuring sees what a user's photo would give.
"""

from __future__ import annotations

import io
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageFilter

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent / "benchmarks"))
from occluders import KINDS, cover  # noqa: E402  (recipes/occluders.py, else benchmarks/occluders.py)

from fermask._image import IMAGE_SUFFIXES, crop_face, fit_image, load_image, to_gray  # noqa: E402
from fermask.faces import Face  # noqa: E402

#: Border around the face box of the context crop, as a fraction of the box (the teacher's margin is inside it).
CONTEXT_MARGIN = 0.4
#: Side of the context crop, in pixels.
CONTEXT_SIZE = 144
#: Folders of the faces set that hold no face (``nonfaces/``) or that are not photos to learn from.
SKIP_FOLDERS = ("nonfaces",)
#: The photographed expression of the London set's folders, as the teacher's label.
EXPRESSIONS = {"neutral": "neutral", "smiling": "happy"}
OTHER_KINDS = tuple(KINDS)


@dataclass
class Faces:
    """The faces of a folder, one per photo.

    Attributes:
        files: Paths relative to the folder.
        people: One person id per face (both London photos of an id share one).
        expressions: The photographed expression as a label name, or ``""``.
        boxes: Face boxes in the photo.
        bare: ``(N, H, W)`` teacher crops, gray ``uint8``.
        context: ``(N, S, S, 3)`` context crops, RGB ``uint8``.
        context_landmarks: ``(N, 68, 2)`` landmarks in context-crop pixels.
        photo_landmarks: ``(N, 68, 2)`` landmarks in photo pixels.
        skipped: Photos in which no face was found.
    """

    files: list[str]
    people: np.ndarray
    expressions: np.ndarray
    boxes: np.ndarray
    bare: np.ndarray
    context: np.ndarray
    context_landmarks: np.ndarray
    photo_landmarks: np.ndarray
    skipped: list[str]

    def __len__(self) -> int:
        return len(self.files)


def person_of(rel: str) -> str:
    """The person id of a file of the faces set: ``london/NNN`` for both London photos, ``lisa`` for lisa/ and zoom/."""
    parts = Path(rel).parts
    stem = Path(rel).stem
    if parts[0] == "london":
        return "london/" + stem.split("_")[0]
    if parts[0] in ("lisa", "zoom"):
        return "lisa"
    return f"{parts[0]}/{stem}"


def expression_of(rel: str) -> str:
    """The photographed expression (a label name) of a London photo, else ``""``."""
    parts = Path(rel).parts
    return EXPRESSIONS.get(parts[1], "") if parts[0] == "london" and len(parts) > 2 else ""


def list_photos(folder: Path) -> list[str]:
    """The face photos of the set, relative and sorted (``nonfaces/`` left out)."""
    return sorted(
        p.relative_to(folder).as_posix() for p in folder.rglob("*")
        if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and p.relative_to(folder).parts[0] not in SKIP_FOLDERS
    )


def _grown(box: Any, margin: float) -> tuple[int, int, int]:
    """Left, top and side of ``box`` grown as ``crop_face`` grows it (a square box)."""
    left, top, right, bottom = (int(round(v)) for v in box)
    dx, dy = int(round((right - left) * margin)), int(round((bottom - top) * margin))
    return left - dx, top - dy, max(right - left + 2 * dx, bottom - top + 2 * dy)


def read_faces(folder: Path, size: tuple[int, int], margin: float, limit: int | None = None,
               progress: bool = True) -> Faces:
    """Find the largest face of every photo and cut its crops."""
    from tqdm.auto import tqdm

    from fermask.faces import FaceAnalyzer

    finder = FaceAnalyzer(face_policy="detect")
    files = list_photos(folder)
    if limit:
        files = _spread(files, limit)
    kept, skipped, rows = [], [], []
    for rel in tqdm(files, desc="faces", unit="photo", disable=not progress):
        photo = load_image(folder / rel)
        found = finder.find(photo)
        if not found:
            skipped.append(rel)
            continue
        face = max(found, key=lambda f: f.width * f.height)
        left, top, side = _grown(face.box, CONTEXT_MARGIN)
        ctx = fit_image(crop_face(photo, face.box, CONTEXT_MARGIN), (CONTEXT_SIZE, CONTEXT_SIZE), "rgb")
        ctx_lm = (face.landmarks - np.array([left, top], np.float32)) * (CONTEXT_SIZE / side)
        bare = fit_image(crop_face(photo, face.box, margin), size, "grayscale")
        kept.append(rel)
        rows.append((face.box, bare, ctx, ctx_lm, face.landmarks))
    return Faces(
        kept, np.array([person_of(f) for f in kept]), np.array([expression_of(f) for f in kept]),
        np.array([r[0] for r in rows], np.int64).reshape(-1, 4), np.stack([r[1] for r in rows]),
        np.stack([r[2] for r in rows]), np.stack([r[3] for r in rows]).astype(np.float32),
        np.stack([r[4] for r in rows]).astype(np.float32), skipped,
    )


def _spread(files: list[str], limit: int) -> list[str]:
    """``limit`` files from every folder in turn (a quick run still has London pairs and other sets)."""
    by_person: dict[str, list[str]] = {}
    for f in files:
        by_person.setdefault(person_of(f), []).append(f)
    groups = sorted(by_person.values(), key=lambda g: (Path(g[0]).parts[0], g[0]))
    picked: list[str] = []
    for i in range(max(len(g) for g in groups)):
        for g in groups[:: max(1, len(groups) // limit)]:
            if i < len(g) and len(picked) < limit:
                picked.append(g[i])
    return sorted(picked)


def person_folds(people: np.ndarray, k: int, seed: int) -> np.ndarray:
    """A fold number per face: people shuffled (seeded), then dealt largest first to the smallest fold."""
    names, counts = np.unique(people, return_counts=True)
    order = np.random.default_rng(seed).permutation(len(names))
    order = order[np.argsort(-counts[order], kind="stable")]
    sizes = np.zeros(k, np.int64)
    fold_of: dict[str, int] = {}
    for j in order:
        f = int(np.argmin(sizes))
        fold_of[str(names[j])] = f
        sizes[f] += counts[j]
    return np.array([fold_of[str(p)] for p in people], np.int64)


# ----------------------------------------------------------------------------- training views
def _face(landmarks: np.ndarray) -> Face:
    lo, hi = landmarks.min(axis=0), landmarks.max(axis=0)
    return Face(tuple(int(v) for v in (*lo, *hi)), landmarks.astype(np.float32))  # type: ignore[arg-type]


def draw_mask(masker: Any, image: np.ndarray, landmarks: np.ndarray, kind: str, seed: int) -> np.ndarray:
    """``image`` with a mask: ``kind`` ``"fermask"`` (a random built-in style, colour and pattern) or an occluder kind."""
    if kind == "fermask":
        return masker.mask_faces(image, [_face(landmarks)], index=seed).image
    return cover(image, landmarks, kind, seed=seed)


def _affine(img: Image.Image, rng: np.random.Generator, inner: float, out: int, mirror: bool) -> Image.Image:
    """The centre ``inner`` share of ``img``, turned, scaled and shifted a little, at ``out`` px."""
    side = img.size[0]
    angle = np.deg2rad(rng.uniform(-12, 12))
    scale = rng.uniform(0.9, 1.1)
    shift = rng.uniform(-0.05, 0.05, 2) * side * inner
    step = side * inner / out / scale  # input pixels per output pixel
    c, s = np.cos(angle) * step, np.sin(angle) * step
    cx, cy = side / 2 + shift[0], side / 2 + shift[1]
    sx = -c if mirror else c
    sy = -s if mirror else s
    # input = A @ (output - out/2) + centre; mirroring flips the output's x axis
    data = (sx, -s, cx - sx * out / 2 + s * out / 2, sy, c, cy - sy * out / 2 - c * out / 2)
    return img.transform((out, out), Image.Transform.AFFINE, data, Image.Resampling.BILINEAR, fillcolor=None)


def _photometric(img: Image.Image, rng: np.random.Generator) -> np.ndarray:
    """Brightness and contrast, sometimes a blur, sometimes JPEG."""
    arr = np.asarray(img).astype(np.float32)
    arr = (arr - arr.mean()) * rng.uniform(0.7, 1.3) + arr.mean() + rng.uniform(-30, 30)
    img = Image.fromarray(np.clip(arr + 0.5, 0, 255).astype(np.uint8))
    if rng.random() < 0.3:
        img = img.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.2)))
    if rng.random() < 0.5:
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=int(rng.integers(25, 91)))
        img = Image.open(io.BytesIO(buf.getvalue()))
        img.load()
    return np.asarray(img, np.uint8)


def training_views(faces: Faces, masker: Any, views: int, size: int, inner: float, seed: int,
                   other_share: float = 0.4, progress: bool = True) -> dict[str, np.ndarray]:
    """``views`` augmented views of every face, each masked and, with the same augmentation, bare.

    Args:
        faces: The faces.
        masker: A random-style :class:`~fermask.Masker`.
        views: Views per face.
        size: Side of the model input.
        inner: Share of the context crop that the teacher crop covers.
        seed: Seed; view ``v`` of face ``i`` depends only on ``(seed, i, v)``.
        other_share: Share of masks fermask does not draw (the others are fermask's).
        progress: A progress bar.

    Returns:
        ``masked`` and ``bare``: ``(N, views, size, size)`` gray ``uint8``;
        ``kind``: ``(N, views)`` the mask kind of each view.
    """
    from tqdm.auto import tqdm

    n = len(faces)
    masked = np.empty((n, views, size, size), np.uint8)
    bare = np.empty_like(masked)
    kinds = np.empty((n, views), object)
    for i in tqdm(range(n), desc="training views", unit="face", disable=not progress):
        for v in range(views):
            rng = np.random.default_rng([seed, i, v])
            kind = str(rng.choice(OTHER_KINDS)) if rng.random() < other_share else "fermask"
            mask_seed = int(rng.integers(2**31))
            mirror = bool(rng.random() < 0.5)
            state = rng.bit_generator.state
            for out, src in ((masked, draw_mask(masker, faces.context[i], faces.context_landmarks[i], kind, mask_seed)),
                             (bare, faces.context[i])):
                rng.bit_generator.state = state  # the same augmentation for both
                gray = Image.fromarray(to_gray(src))
                out[i, v] = _photometric(_affine(gray, rng, inner, size, mirror), rng)
            kinds[i, v] = kind
    return {"masked": masked, "bare": bare, "kind": kinds}


# ----------------------------------------------------------------------------- measured faces
def measured_sets(folder: Path, faces: Faces, masker_for: Any, size: tuple[int, int], margin: float, seed: int,
                  progress: bool = True) -> dict[str, np.ndarray]:
    """Every face masked once in every built-in style and once with every occluder kind, on the full photo.

    Args:
        folder: The faces folder.
        faces: The faces.
        masker_for: A function from a style name to a :class:`~fermask.Masker` of that style
            (random colour and pattern).
        size: The model input's ``(height, width)``.
        margin: The teacher's face margin.
        seed: Seed of the colours, patterns and occluders (kept apart from training's).
        progress: A progress bar.

    Returns:
        One ``(N, H, W)`` gray array per set: ``"fermask:<style>"`` and ``"other:<kind>"``.
    """
    from tqdm.auto import tqdm

    from fermask.masks import list_masks

    sets = [("fermask", s) for s in list_masks()] + [("other", k) for k in OTHER_KINDS]
    out = {f"{a}:{b}": np.empty((len(faces), *size), np.uint8) for a, b in sets}
    for i in tqdm(range(len(faces)), desc="measured faces", unit="photo", disable=not progress):
        photo = load_image(folder / faces.files[i])
        for j, (group, name) in enumerate(sets):
            s = int(np.random.default_rng([seed, 1_000_003, i, j]).integers(2**31))
            lm = faces.photo_landmarks[i]
            img = (masker_for(name).mask_faces(photo, [_face(lm)], index=s).image if group == "fermask"
                   else cover(photo, lm, name, seed=s))
            out[f"{group}:{name}"][i] = fit_image(crop_face(img, faces.boxes[i], margin), size, "grayscale")
    return out
