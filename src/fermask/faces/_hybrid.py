"""The ``blazeface`` and ``hybrid`` detectors: BlazeFace alone, and BlazeFace combined with dlib's HOG.

dlib's HOG detector misses many masked faces (it looks for a frontal face's
gradients, mouth included) and is slow on large photos; BlazeFace finds
most masked faces and costs about the same at any photo size, but misses
some faces HOG finds. ``hybrid`` takes the union, each part where it is
cheap (the figures are in the prediction guide, from
``benchmarks/bench_detection.py``):

1. BlazeFace's full-range model on the whole photo, and on 2x2 overlapping
   tiles of photos over :data:`TILE_FROM` px (small faces in big photos);
   the short-range model on the whole photo (faces that fill it).
2. HOG on a copy whose longer side is at most :data:`HOG_SIDE` px (the whole
   photo when it is smaller, upsampled as ``FaceAnalyzer`` does), with its
   threshold lowered to :data:`WEAK_HOG`; a candidate under the analyzer's
   ``min_score`` is kept only when BlazeFace's short-range model, run on
   its crop, agrees (score at least :data:`VERIFY_SCORE`).
3. BlazeFace boxes are moved onto dlib's box convention (measured on the
   licence-clean faces: the same centre, 0.92x or 0.88x the side), so the
   68 landmarks are placed as they are on HOG boxes; a BlazeFace box that
   overlaps a HOG box (IoU above 0.3) gives way to it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .._image import crop_face, fit_image, to_gray, to_rgb
from ._blazeface import BlazeFace, BlazeBox, _iou
from ._detector_files import find_detector_files

__all__ = ["BlazeDetector", "Detection", "HOG_SIDE", "TILE_FROM", "WEAK_HOG", "VERIFY_SCORE"]

Detection = tuple[tuple[int, int, int, int], "float | None"]
HogRun = Callable[[np.ndarray, int, float], list[tuple[tuple[int, int, int, int], float]]]

#: HOG runs on a copy whose longer side is at most this many pixels.
HOG_SIDE = 480
#: Photos whose longer side is at least this many pixels are also searched in 2x2 tiles.
TILE_FROM = 1000
#: Tiles are about this many pixels on their longer side.
TILE_SIDE = 800
#: BlazeFace's whole-photo pass reads a copy at most this many pixels on its longer side (its input is 128 or 192).
BLAZE_SIDE = 640
#: HOG candidates down to this score are considered; those under ``min_score`` need BlazeFace's agreement.
WEAK_HOG = -0.8
#: BlazeFace's short-range score on a weak HOG candidate's crop that confirms it.
VERIFY_SCORE = 0.7
#: BlazeFace boxes scoring under this are kept only when the short-range model confirms them on their crop.
SURE_SCORE = 0.75
#: The BlazeFace threshold per model (MediaPipe's own: 0.5 and 0.6).
BLAZE_SCORE = {"short": 0.5, "full": 0.6}
#: Centre shift (fraction of the side, x and y) and side factor taking each model's box to dlib's convention.
TO_DLIB = {"short": (0.0, -0.04, 0.92), "full": (0.0, 0.0, 0.88)}
MERGE_IOU = 0.3


def _to_dlib(found: BlazeBox, kind: str) -> tuple[float, float, float, float]:
    left, top, right, bottom = found.box
    dx, dy, side = TO_DLIB[kind]
    w, h = right - left, bottom - top
    cx, cy = (left + right) / 2 + dx * w, (top + bottom) / 2 + dy * h
    half = side * max(w, h) / 2
    return (cx - half, cy - half, cx + half, cy + half)


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


def _tiles(h: int, w: int) -> list[tuple[int, int, int, int]]:
    """Overlapping tiles about :data:`TILE_SIDE` px on their longer side, as ``(left, top, right, bottom)``."""
    n = max(2, round(max(h, w) / TILE_SIDE * 1.25))
    tw, th = int(w / n * 1.25), int(h / n * 1.25)
    xs = np.linspace(0, w - tw, n).round().astype(int)
    ys = np.linspace(0, h - th, n).round().astype(int)
    return [(int(x), int(y), int(x) + tw, int(y) + th) for y in ys for x in xs]


class BlazeDetector:
    """BlazeFace's two models, alone or combined with HOG (see the module's description).

    Args:
        folder: Where BlazeFace's files are (default: fermask's cache).

    Raises:
        DetectorFilesError: The files are missing or altered.
        DataFormatError: A file is not the BlazeFace model it should be.
    """

    def __init__(self, folder: str | Path | None = None) -> None:
        files = find_detector_files(folder)
        self.short = BlazeFace(files["short"], "short", num_threads=1)
        self.full = BlazeFace(files["full"], "full", num_threads=1)

    def blaze(self, rgb: np.ndarray, shrunk: tuple[np.ndarray, float] | None = None
              ) -> list[tuple[tuple[float, float, float, float], float]]:
        """BlazeFace's faces (full range whole and tiled, short range whole) in dlib's box convention, merged.

        Args:
            rgb: The picture.
            shrunk: ``_shrunk(rgb, BLAZE_SIDE)``, when the caller has it.
        """
        h, w = rgb.shape[:2]
        small, factor = shrunk if shrunk is not None else _shrunk(rgb, BLAZE_SIDE)
        found = [(_scaled(_to_dlib(b, "full"), factor), b.score) for b in self.full(small, BLAZE_SCORE["full"])]
        found += [(_scaled(_to_dlib(b, "short"), factor), b.score) for b in self.short(small, BLAZE_SCORE["short"])]
        if max(h, w) >= TILE_FROM:
            for left, top, right, bottom in _tiles(h, w):
                for b in self.full(rgb[top:bottom, left:right], BLAZE_SCORE["full"]):
                    l, t, r, bt = _to_dlib(b, "full")
                    found.append(((l + left, t + top, r + left, bt + top), b.score))
        return _merge([], found)

    def sure(self, image: np.ndarray, shrunk: tuple[np.ndarray, float] | None = None
             ) -> list[tuple[tuple[float, float, float, float], float]]:
        """:meth:`blaze`'s faces that score at least :data:`SURE_SCORE` or that the short-range model confirms."""
        rgb = to_rgb(image)
        return [(b, s) for b, s in self.blaze(rgb, shrunk) if s >= SURE_SCORE or self._confirmed(rgb, b)]

    def detect(self, image: np.ndarray) -> list[Detection]:
        """The ``blazeface`` detector: :meth:`sure`'s faces with whole-pixel boxes."""
        return [(_round(box), score) for box, score in self.sure(image)]

    def verify(self, rgb: np.ndarray, box: tuple[int, int, int, int]) -> float:
        """BlazeFace's short-range score for a face in this box (the best box near its centre), 0 if none."""
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
        """HOG and BlazeFace combined, in ``image``'s pixels.

        Args:
            image: ``uint8`` gray or RGB picture.
            hog: Runs dlib's HOG detector: ``hog(gray, upsample, threshold)`` gives ``(box, score)`` pairs.
            upsample: HOG's upsampling for a photo of this size (``FaceAnalyzer``'s rule).
            min_score: HOG candidates at or above this need no confirmation.
        """
        rgb = to_rgb(image)
        shrunk = _shrunk(rgb, BLAZE_SIDE)
        small, factor = _shrunk(shrunk[0], HOG_SIDE)
        factor *= shrunk[1]
        scale = 1.0 / factor
        strong: list[tuple[tuple[float, float, float, float], float]] = []
        weak: list[tuple[tuple[float, float, float, float], float]] = []
        for box, score in hog(to_gray(small), upsample if scale == 1.0 else 0, min(WEAK_HOG, min_score)):
            full_box = (box[0] / scale, box[1] / scale, box[2] / scale, box[3] / scale)
            (strong if score >= min_score else weak).append((full_box, float(score)))
        kept = _merge(strong, self.sure(rgb, shrunk))
        merged = _merge(kept, [(b, s) for b, s in weak if self._confirmed(rgb, b)])
        return [(_round(box), score) for box, score in merged]

    def _confirmed(self, rgb: np.ndarray, box: tuple[float, float, float, float]) -> bool:
        return self.verify(rgb, _round(box)) >= VERIFY_SCORE


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
