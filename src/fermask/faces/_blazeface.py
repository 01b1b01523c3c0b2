"""BlazeFace, MediaPipe's face detector, run on fermask's TFLite seam and decoded here.

The two models (``short`` for faces that fill much of the picture, 128 px
input; ``full`` for faces small in the picture, 192 px input) come from the
``mediapipe`` wheel (see :mod:`fermask.faces._detector_files`); this module
knows their input and output layout and turns their raw tensors into boxes:

- the picture is letterboxed (scaled to fit, centred, padded) to the model's
  square input, pixels scaled to -1..1;
- each model scores a fixed grid of anchors (SSD anchors with fixed size:
  896 anchors for ``short``, 2,304 for ``full``) and regresses, per anchor,
  a box ``(x, y, w, h)`` and six key points (eyes, nose tip, mouth, ears)
  in input pixels relative to the anchor's centre;
- scores pass through a sigmoid; boxes that overlap are merged by weighted
  non-maximum suppression (each kept box is the score-weighted mean of the
  boxes overlapping it by more than 0.3 IoU).

The anchor grids, scales and thresholds are MediaPipe's published graph
settings for these two files. Nothing here imports MediaPipe.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from .._image import fit_image, to_rgb
from .._runtime import TFLiteGraph

__all__ = ["BlazeFace", "BlazeBox", "BLAZE_MODELS", "BlazeModelSpec"]


@dataclass(frozen=True)
class BlazeModelSpec:
    """The layout of one BlazeFace model file.

    Attributes:
        size: Side of the model's own square input, in pixels.
        strides: ``(stride in pixels, anchors per cell)`` of each anchor layer, in output order.
        min_score: MediaPipe's detection threshold for this model.
        resizable: Whether the input may take another size (the model is fully
            convolutional; the short-range one is, the full-range one is not).
    """

    size: int
    strides: tuple[tuple[int, int], ...]
    min_score: float
    resizable: bool


#: The two BlazeFace models: ``short`` (faces within about 2 m) and ``full`` (faces small in the picture).
BLAZE_MODELS: dict[str, BlazeModelSpec] = {
    "short": BlazeModelSpec(128, ((8, 2), (16, 6)), 0.5, True),
    "full": BlazeModelSpec(192, ((4, 1),), 0.6, False),
}

NMS_IOU = 0.3


class BlazeBox(NamedTuple):
    """One face BlazeFace found, in the picture's pixels.

    Attributes:
        box: ``(left, top, right, bottom)`` as floats.
        score: Confidence, 0-1.
        keypoints: ``(6, 2)`` array: the subject's right eye, left eye, nose
            tip, mouth centre, right ear, left ear (as MediaPipe orders them).
    """

    box: tuple[float, float, float, float]
    score: float
    keypoints: np.ndarray


def _anchors(spec: BlazeModelSpec, height: int, width: int) -> np.ndarray:
    """Anchor centres ``(n, 2)`` as ``(x, y)`` fractions of an input of ``height`` x ``width`` px."""
    parts = []
    for stride, per_cell in spec.strides:
        rows, cols = height // stride, width // stride
        xs, ys = np.meshgrid((np.arange(cols, dtype=np.float32) + 0.5) / cols,
                             (np.arange(rows, dtype=np.float32) + 0.5) / rows)
        grid = np.stack([xs.ravel(), ys.ravel()], axis=1)
        parts.append(np.repeat(grid, per_cell, axis=0))
    return np.concatenate(parts)


def _iou(box: np.ndarray, others: np.ndarray) -> np.ndarray:
    left = np.maximum(box[0], others[:, 0])
    top = np.maximum(box[1], others[:, 1])
    right = np.minimum(box[2], others[:, 2])
    bottom = np.minimum(box[3], others[:, 3])
    inter = np.clip(right - left, 0, None) * np.clip(bottom - top, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (others[:, 2] - others[:, 0]) * (others[:, 3] - others[:, 1])
    return np.asarray(inter / np.maximum(area + areas - inter, 1e-9))


def weighted_nms(boxes: np.ndarray, keypoints: np.ndarray, scores: np.ndarray,
                 iou: float = NMS_IOU) -> list[tuple[np.ndarray, float, np.ndarray]]:
    """Merge overlapping detections: each kept one is the score-weighted mean of those overlapping it.

    Args:
        boxes: ``(n, 4)`` as ``(left, top, right, bottom)``.
        keypoints: ``(n, k, 2)``.
        scores: ``(n,)``.
        iou: Detections overlapping the best remaining one by more than this join it.

    Returns:
        ``(box, score, keypoints)`` per merged detection, best first; the
        score is the best member's.

    Examples:
        >>> import numpy as np
        >>> b = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], float)
        >>> [round(s, 2) for _, s, _ in weighted_nms(b, np.zeros((3, 1, 2)), np.array([0.9, 0.6, 0.8]))]
        [0.9, 0.8]
    """
    order = np.argsort(-scores, kind="stable")
    boxes, keypoints, scores = boxes[order], keypoints[order], scores[order]
    alive = np.ones(len(scores), bool)
    out = []
    for i in range(len(scores)):
        if not alive[i]:
            continue
        group = alive & (_iou(boxes[i], boxes) > iou)
        group[i] = True
        w = scores[group][:, None]
        box = (boxes[group] * w).sum(0) / w.sum()
        kps = (keypoints[group] * w[:, :, None]).sum(0) / w.sum()
        out.append((box, float(scores[i]), kps))
        alive &= ~group
    return out


class BlazeFace:
    """One BlazeFace model, callable on a picture.

    Args:
        model_file: The ``.tflite`` file.
        kind: ``"short"`` or ``"full"`` (see :data:`BLAZE_MODELS`).
        num_threads: Interpreter threads (``None``: the runtime's default).
        input_size: ``(height, width)`` of the input, multiples of 16, for the
            short-range model (fully convolutional: a larger input finds
            smaller faces, each 14-64 px of the input as on its own 128 px
            input); default the model's own square.

    Raises:
        DataFormatError: The file is not this BlazeFace model, or it cannot take ``input_size``.

    Examples:
        >>> detector = BlazeFace("face_detection_short_range.tflite", "short")  # doctest: +SKIP
        >>> [round(b.score, 2) for b in detector(photo)]  # doctest: +SKIP
        [0.93]
    """

    def __init__(self, model_file: str | os.PathLike[str], kind: str = "short", *,
                 num_threads: int | None = None, input_size: tuple[int, int] | None = None) -> None:
        from ..errors import DataFormatError

        self.kind = kind
        self.spec = BLAZE_MODELS[kind]
        own = (self.spec.size, self.spec.size)
        self.input_size = own if input_size is None else (int(input_size[0]), int(input_size[1]))
        if self.input_size != own and (not self.spec.resizable or min(self.input_size) < 16
                                       or any(v % 16 for v in self.input_size)):
            raise DataFormatError(f"the {kind}-range BlazeFace model cannot take an input of {self.input_size}")
        fix = "fetch it again with: fermask download-detector --force"
        name = f"the BlazeFace model '{model_file}'"
        self.graph = TFLiteGraph(model_file, num_threads=num_threads, name=name, fix=fix,
                                 input_shape=(1, *self.input_size, 3))
        if self.graph.model_input_shape != (1, *own, 3):
            raise DataFormatError(
                f"{self.graph.name} takes {self.graph.model_input_shape}, not the {kind}-range BlazeFace input "
                f"(1, {own[0]}, {own[1]}, 3); {fix}"
            )
        self.anchors = _anchors(self.spec, *self.input_size)

    def _letterbox(self, rgb: np.ndarray) -> tuple[np.ndarray, float, float, float]:
        """The model input and how to map its pixels back: ``(input, scale, pad_x, pad_y)``."""
        ih, iw = self.input_size
        h, w = rgb.shape[:2]
        scale = min(ih / h, iw / w)
        nh, nw = min(ih, max(1, round(h * scale))), min(iw, max(1, round(w * scale)))
        small = fit_image(rgb, (nh, nw), fast=True)
        canvas = np.zeros((ih, iw, 3), np.float32)
        py, px = (ih - nh) // 2, (iw - nw) // 2
        canvas[py : py + nh, px : px + nw] = small.astype(np.float32) / 127.5 - 1.0
        return canvas[None], scale, float(px), float(py)

    def raw(self, image: np.ndarray, threshold: float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The decoded box ``(n, 4)``, key points ``(n, 6, 2)`` and probability ``(n,)`` of every anchor whose
        probability is at least ``threshold``, in picture pixels."""
        rgb = to_rgb(image)
        x, scale, px, py = self._letterbox(rgb)
        outs = self.graph(x)
        reg, cls = (outs[0], outs[1]) if outs[0].shape[-1] == 16 else (outs[1], outs[0])
        logits = np.clip(cls.reshape(-1).astype(np.float64), -100.0, 100.0)
        scores = 1.0 / (1.0 + np.exp(-logits))
        keep = scores >= threshold
        scores, anchors = scores[keep], self.anchors[keep]
        ih, iw = self.input_size
        frac = np.tile(np.array([iw, ih], np.float32), 8)
        reg = reg.reshape(-1, 16)[keep] / frac  # pixels of the input -> fractions of its width and height
        centre = reg[:, 0:2] + anchors
        half = reg[:, 2:4] / 2
        boxes = np.concatenate([centre - half, centre + half], axis=1) * frac[:4]
        kps = (reg[:, 4:16].reshape(-1, 6, 2) + anchors[:, None, :]) * frac[:2]
        shift = np.array([px, py], np.float32)
        boxes = (boxes - np.tile(shift, 2)) / scale
        kps = (kps - shift) / scale
        return boxes, kps, scores

    def __call__(self, image: np.ndarray, min_score: float | None = None) -> list[BlazeBox]:
        """The faces in a ``uint8`` gray or RGB picture, best first.

        Args:
            image: ``(H, W)`` or ``(H, W, 3)`` ``uint8`` array.
            min_score: Keep detections scoring at least this (default: MediaPipe's threshold for the model).
        """
        boxes, kps, scores = self.raw(image, self.spec.min_score if min_score is None else min_score)
        merged = weighted_nms(boxes, kps, scores)
        return [BlazeBox(tuple(float(v) for v in b), s, k) for b, s, k in merged]  # type: ignore[arg-type]

    def __repr__(self) -> str:
        return f"BlazeFace({self.graph.name}, kind={self.kind!r})"
