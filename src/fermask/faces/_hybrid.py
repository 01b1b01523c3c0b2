"""The ``blazeface`` and ``hybrid`` detectors: BlazeFace alone, and BlazeFace combined with dlib's HOG.

dlib's HOG detector misses most masked faces (it looks for a whole frontal
face's gradients, mouth included) and is slow on large photos; BlazeFace
finds most masked faces at a cost that barely grows with the photo, but
misses a few faces HOG finds. ``hybrid`` runs BlazeFace, and HOG as a second
opinion on the photos where BlazeFace finds no face (figures in the
prediction guide, from ``benchmarks/bench_detection.py``; run over every
photo, HOG added 0.4 points of recall on fermask's masks, 1.0 on others and
none on bare faces, for 2.4 times the time on 640x480 photos):

1. BlazeFace's short-range model (fully convolutional) reads the photo at
   several sizes, a pyramid: longer side 128 px, then :data:`LEVEL_STEP`
   times larger, up to the size where a face of :data:`SMALLEST_FACE` px
   covers :data:`MASKED_FACE_INPUT` px of the input (at most
   :data:`LARGEST_LEVEL`); each level finds faces of about 24-64 px of its
   input, so together they cover faces from :data:`SMALLEST_FACE` px to the
   whole photo. The full-range model reads the photo once more.
2. A BlazeFace face scoring under :data:`SURE_SCORE` is kept only when the
   short-range model, run again on its crop, scores it at least
   :data:`VERIFY_SCORE` (most false boxes on photos without faces go here).
3. BlazeFace boxes are moved onto dlib's box convention (measured on the
   licence-clean faces: the same centre, 0.92x or 0.88x the side), so the
   68 landmarks are placed as on HOG boxes.
4. Where BlazeFace finds no face, HOG reads the photo (a copy at most
   :data:`HOG_SIDE` px on its longer side), threshold lowered to
   :data:`WEAK_HOG`; a candidate under the analyzer's ``min_score`` is kept
   only when BlazeFace confirms it on its crop.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .._image import crop_face, fit_image, to_gray, to_rgb
from ._blazeface import BLAZE_MODELS, BlazeBox, BlazeFace, _iou
from ._detector_files import find_detector_files

__all__ = ["BlazeDetector", "Detection", "HOG_SIDE", "SMALLEST_FACE", "WEAK_HOG", "VERIFY_SCORE"]

Detection = tuple[tuple[int, int, int, int], "float | None"]
HogRun = Callable[[np.ndarray, int, float], list[tuple[tuple[int, int, int, int], float]]]

#: HOG, the second opinion, reads a copy whose longer side is at most this many pixels.
HOG_SIDE = 640
#: The short-range passes reach down to faces this many pixels wide (HOG's own window is 80 px).
SMALLEST_FACE = 48
#: A masked face needs about this many pixels in the short-range model's input to be found (a bare one 14).
MASKED_FACE_INPUT = 24
#: Each short-range level is this many times the one before (one level finds faces of 24 to 64 px of its input).
LEVEL_STEP = 2.5
#: The largest short-range input's longer side (cost grows with its area: 19 ms at 512x512 on one core).
LARGEST_LEVEL = 512
#: BlazeFace's whole-photo pass reads a copy at most this many pixels on its longer side (its input is 128 or 192).
BLAZE_SIDE = 640
#: HOG candidates down to this score are considered; those under ``min_score`` need BlazeFace's agreement.
WEAK_HOG = -0.8
#: BlazeFace's short-range score on a weak HOG candidate's crop that confirms it.
VERIFY_SCORE = 0.75
#: BlazeFace boxes scoring under this are kept only when the short-range model confirms them on their crop.
SURE_SCORE = 0.75
#: The BlazeFace threshold per model (MediaPipe's own: 0.5 and 0.6).
BLAZE_SCORE = {"short": 0.5, "full": 0.6}
#: Centre shift (fraction of the side, x and y) and side factor taking each model's box to dlib's convention.
TO_DLIB = {"short": (0.0, -0.04, 0.92), "full": (0.0, 0.0, 0.88)}
MERGE_IOU = 0.3
#: A face's eyes are at least this share of its box's width apart (measured: 0.3-0.5; false boxes 0.02-0.15).
MIN_EYE_GAP = 0.2
#: A face's nose tip is at least this many eye gaps below the eyes (measured: about 0.45).
MIN_NOSE_DROP = 0.15


def _to_dlib(found: BlazeBox, kind: str) -> tuple[float, float, float, float]:
    left, top, right, bottom = found.box
    dx, dy, side = TO_DLIB[kind]
    w, h = right - left, bottom - top
    cx, cy = (left + right) / 2 + dx * w, (top + bottom) / 2 + dy * h
    half = side * max(w, h) / 2
    return (cx - half, cy - half, cx + half, cy + half)


def plausible(found: BlazeBox) -> bool:
    """Whether a detection's key points are laid out as on a face: eyes apart, nose and mouth below them.

    Measured in the frame of the eye line (so a tilted face passes): the eyes
    at least :data:`MIN_EYE_GAP` of the box's width apart, the nose tip below
    their midpoint by at least :data:`MIN_NOSE_DROP` eye gaps, the mouth below
    the nose. Textures that BlazeFace takes for faces (foliage, rock, fur)
    mostly fail it; real faces, masked ones included, pass.
    """
    right_eye, left_eye, nose, mouth = found.keypoints[:4]
    width = found.box[2] - found.box[0]
    axis = left_eye - right_eye
    gap = float(np.hypot(*axis))
    if width <= 0 or gap < MIN_EYE_GAP * width:
        return False
    down = np.array([-axis[1], axis[0]]) / gap  # the eye line turned 90 degrees: down the face
    middle = (left_eye + right_eye) / 2
    nose_drop = float((nose - middle) @ down) / gap
    mouth_drop = float((mouth - middle) @ down) / gap
    return nose_drop >= MIN_NOSE_DROP and mouth_drop > nose_drop


def _shrunk(rgb: np.ndarray, side: int) -> tuple[np.ndarray, float]:
    """``rgb`` with its longer side at most ``side`` px, and the factor back to its own pixels."""
    h, w = rgb.shape[:2]
    if max(h, w) <= side:
        return rgb, 1.0
    scale = side / max(h, w)
    small = fit_image(rgb, (max(1, round(h * scale)), max(1, round(w * scale))), fast=True)
    return small, w / small.shape[1]


def _scaled(box: tuple[float, float, float, float], factor: float) -> tuple[float, float, float, float]:
    return (box[0] * factor, box[1] * factor, box[2] * factor, box[3] * factor)


def _round(box: tuple[float, ...]) -> tuple[int, int, int, int]:
    return (int(round(box[0])), int(round(box[1])), int(round(box[2])), int(round(box[3])))


def _levels(h: int, w: int) -> list[tuple[int, int]]:
    """The input sizes of the short-range passes over a ``h`` x ``w`` photo, smallest first.

    Each is the photo's shape at a longer side of 128 px, then :data:`LEVEL_STEP`
    times the one before (whole multiples of 16), up to the first that shows a face of
    :data:`SMALLEST_FACE` px at :data:`MASKED_FACE_INPUT` px, and at most
    :data:`LARGEST_LEVEL`.
    """
    long_side = max(h, w)
    need = min(LARGEST_LEVEL, int(np.ceil(MASKED_FACE_INPUT * long_side / SMALLEST_FACE / 64)) * 64)
    sizes, side = [], 128
    while True:
        sizes.append((max(16, round(side * h / long_side / 16) * 16), max(16, round(side * w / long_side / 16) * 16)))
        if side * 1.25 >= need:  # the last level is close enough to what is needed
            return sizes
        side = min(int(side * LEVEL_STEP) // 16 * 16, need)


class BlazeDetector:
    """BlazeFace's two models, alone or combined with HOG (see the module's description).

    Args:
        folder: Where BlazeFace's files are (default: fermask's cache).

    Raises:
        DetectorFilesError: The files are missing or altered.
        DataFormatError: A file is not the BlazeFace model it should be.
    """

    def __init__(self, folder: str | Path | None = None) -> None:
        self._files = find_detector_files(folder)
        self.short = BlazeFace(self._files["short"], "short", num_threads=1)
        self.full = BlazeFace(self._files["full"], "full", num_threads=1)
        self._short: dict[tuple[int, int], BlazeFace] = {(128, 128): self.short}
        self._lock = threading.Lock()

    def blaze(self, rgb: np.ndarray, shrunk: tuple[np.ndarray, float] | None = None
              ) -> list[tuple[tuple[float, float, float, float], float]]:
        """BlazeFace's faces (full range whole, short range at each level) in dlib's box convention, merged.

        Args:
            rgb: The picture.
            shrunk: ``_shrunk(rgb, BLAZE_SIDE)``, when the caller has it.
        """
        h, w = rgb.shape[:2]
        small, factor = shrunk if shrunk is not None else _shrunk(rgb, BLAZE_SIDE)
        found: list[tuple[tuple[float, float, float, float], float]] = []
        image, image_factor = small, factor
        full_from = (small, factor)  # the full-range model reads the smallest level picture of 192 px or more
        for size in reversed(_levels(h, w)):  # largest first: each level's picture is shrunk from the one before
            source, source_factor = (rgb, 1.0) if max(size) > max(small.shape[:2]) else (image, image_factor)
            scale = min(size[0] / source.shape[0], size[1] / source.shape[1], 1.0)
            image = fit_image(source, (max(1, round(source.shape[0] * scale)), max(1, round(source.shape[1] * scale))),
                              fast=True)
            image_factor = source_factor * source.shape[1] / image.shape[1]
            for b in filter(plausible, self._short_at(size)(image, BLAZE_SCORE["short"])):
                found.append((_scaled(_to_dlib(b, "short"), image_factor), b.score))
            if max(image.shape[:2]) >= BLAZE_MODELS["full"].size:
                full_from = (image, image_factor)
        for b in filter(plausible, self.full(full_from[0], BLAZE_SCORE["full"])):
            found.append((_scaled(_to_dlib(b, "full"), full_from[1]), b.score))
        return _merge([], found)

    def _short_at(self, size: tuple[int, int]) -> BlazeFace:
        """The short-range model with an input of ``size`` (made once per size)."""
        with self._lock:
            model = self._short.get(size)
            if model is None:
                model = self._short[size] = BlazeFace(self._files["short"], "short", num_threads=1, input_size=size)
            return model

    def sure(self, image: np.ndarray, shrunk: tuple[np.ndarray, float] | None = None
             ) -> list[tuple[tuple[float, float, float, float], float]]:
        """:meth:`blaze`'s faces that score at least :data:`SURE_SCORE` or that the short-range model confirms."""
        rgb = to_rgb(image)
        shrunk = shrunk if shrunk is not None else _shrunk(rgb, BLAZE_SIDE)
        return [(b, s) for b, s in self.blaze(rgb, shrunk) if s >= SURE_SCORE or self._confirmed(rgb, b, shrunk)]

    def detect(self, image: np.ndarray) -> list[Detection]:
        """The ``blazeface`` detector: :meth:`sure`'s faces with whole-pixel boxes."""
        return [(_round(box), score) for box, score in self.sure(image)]

    def verify(self, rgb: np.ndarray, box: tuple[int, int, int, int],
               shrunk: tuple[np.ndarray, float] | None = None) -> float:
        """BlazeFace's short-range score for a face in this box (the best box near its centre), 0 if none.

        The crop is cut from ``shrunk`` (a smaller copy and its factor) where
        the face keeps at least 48 px there, else from ``rgb``.
        """
        if shrunk is not None and shrunk[1] > 1.0 and (box[2] - box[0]) / shrunk[1] >= 48:
            rgb, box = shrunk[0], _round(_scaled(box, 1.0 / shrunk[1]))
        crop = crop_face(rgb, box, 0.5)
        crop, _ = _shrunk(crop, 256)
        size = crop.shape[0]
        best = 0.0
        for b in self.short(crop, 0.3):
            cx, cy = (b.box[0] + b.box[2]) / 2, (b.box[1] + b.box[3]) / 2
            if abs(cx - size / 2) < size * 0.2 and abs(cy - size / 2) < size * 0.2:
                best = max(best, b.score)
        return best

    def hybrid(self, image: np.ndarray, hog: HogRun, upsample: int, min_score: float) -> list[Detection]:
        """BlazeFace, then HOG where BlazeFace found no face, in ``image``'s pixels.

        Args:
            image: ``uint8`` gray or RGB picture.
            hog: Runs dlib's HOG detector: ``hog(gray, upsample, threshold)`` gives ``(box, score)`` pairs.
            upsample: HOG's upsampling for a photo of this size (``FaceAnalyzer``'s rule).
            min_score: HOG candidates at or above this need no confirmation.
        """
        rgb = to_rgb(image)
        shrunk = _shrunk(rgb, BLAZE_SIDE)
        found = self.sure(rgb, shrunk)
        if found:
            return [(_round(box), score) for box, score in found]
        small, factor = _shrunk(shrunk[0], HOG_SIDE)  # from BlazeFace's copy: no second pass over the photo
        factor *= shrunk[1]
        strong: list[tuple[tuple[float, float, float, float], float]] = []
        weak: list[tuple[tuple[float, float, float, float], float]] = []
        for box, score in hog(to_gray(small), upsample if factor == 1.0 else 0, min(WEAK_HOG, min_score)):
            full_box = _scaled((float(box[0]), float(box[1]), float(box[2]), float(box[3])), factor)
            (strong if score >= min_score else weak).append((full_box, float(score)))
        merged = _merge(strong, [(b, s) for b, s in weak if self._confirmed(rgb, b, shrunk)])
        return [(_round(box), score) for box, score in merged]

    def _confirmed(self, rgb: np.ndarray, box: tuple[float, float, float, float],
                   shrunk: tuple[np.ndarray, float] | None = None) -> bool:
        return self.verify(rgb, _round(box), shrunk) >= VERIFY_SCORE


def _merge(first: list[tuple[tuple[float, float, float, float], float]],
           more: list[tuple[tuple[float, float, float, float], float]]) -> list[tuple[tuple[float, float, float, float], float]]:
    """``first``, then each of ``more`` (best first) that overlaps nothing kept so far."""
    kept = list(first)
    for box, score in sorted(more, key=lambda bs: -bs[1]):
        if kept and _iou(np.array(box), np.array([k[0] for k in kept])).max() > MERGE_IOU:
            continue
        kept.append((box, score))
    return kept


_shared: dict[str, BlazeDetector] = {}
_shared_lock = threading.Lock()


def blaze_detector() -> BlazeDetector:
    """The process's BlazeFace detector (loaded once; its interpreters run one call at a time)."""
    with _shared_lock:
        if "default" not in _shared:
            _shared["default"] = BlazeDetector()
        return _shared["default"]
