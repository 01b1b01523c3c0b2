"""Emotions over time in a video clip.

Frames are read with imageio's ffmpeg plugin (the ``video`` extra:
``pip install 'fermask[video]'`` installs ``imageio-ffmpeg``, which ships an
ffmpeg binary). Every ``stride``-th frame goes through a
:class:`~fermask.Predictor`; faces of several frames share model calls.

The result is a :class:`VideoPrediction`: a per-frame table (one row per face,
or one empty row for a frame without a face) that can be written as CSV, and
an emotion-over-time plot (:meth:`VideoPrediction.plot`).

Examples:
    >>> from fermask import Predictor
    >>> from fermask.video import predict_video
    >>> result = predict_video(Predictor.load("bundle"), "clip.mp4", stride=5)  # doctest: +SKIP
    >>> result.to_csv("clip.emotions.csv")  # doctest: +SKIP
    >>> result.plot().savefig("clip.emotions.png")  # doctest: +SKIP
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ._numbers import check_int
from .errors import DataFormatError, ImageError, InvalidValueError, missing_dependency

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

    from .predictor import Predictor
    from .results import PredictionList

__all__ = [
    "VIDEO_SUFFIXES",
    "VideoError",
    "is_video",
    "iter_frames",
    "video_fps",
    "predict_video",
    "VideoPrediction",
]

VIDEO_SUFFIXES = frozenset({".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".wmv"})
"""File suffixes treated as videos (compared lower-case)."""


def is_video(path: str | os.PathLike[str]) -> bool:
    """Whether a path names a video file, judged by its suffix.

    Examples:
        >>> is_video("clip.MP4"), is_video("photo.jpg")
        (True, False)
    """
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


class VideoError(DataFormatError, ImageError):
    """A file is not a readable video: missing, empty, damaged, cut off or not a video at all.

    The message is one line: ``'x.mp4' is not a readable video: <reason>``.
    It is a :class:`~fermask.errors.DataFormatError` and, as unreadable
    videos always were, an :class:`~fermask.errors.ImageError`.
    """


_FIX = "check that the file plays in a video player, or copy it again"
# ffmpeg's stderr starts with a banner (version, build configuration, library versions)
_BANNER = re.compile(r"^(ffmpeg version |\s+(built with |configuration: |lib\w+\s+\d))")
_CONTEXT = re.compile(r"^\[[^\]]* @ 0x[0-9a-f]+\]\s*")  # "[in#0 @ 0x55...] " before a message
_PROBLEM = re.compile(r"not found|invalid|error|corrupt|truncat|partial|end of file|no such", re.IGNORECASE)

# A video that stops before this share of the duration its header declares is cut off.
_CUT_OFF_SHARE = 0.75


def _reason(exc: BaseException) -> str:
    """One line from an imageio/ffmpeg error: ffmpeg's own complaint, never its banner."""
    lines = [ln for ln in str(exc).splitlines() if ln.strip() and ln.strip() != "=== stderr ==="]
    log = [_CONTEXT.sub("", ln).strip() for ln in lines[1:] if not _BANNER.match(ln)]
    problems = [ln for ln in log if _PROBLEM.search(ln) and not ln.startswith("Error opening input file")]
    line = problems[0] if problems else lines[0].strip() if lines else type(exc).__name__
    line = line.removeprefix("Error opening input: ")
    return line if len(line) <= 160 else line[:157] + "..."


def _unreadable(path: str | os.PathLike[str], reason: str) -> VideoError:
    return VideoError(f"'{os.fspath(path)}' is not a readable video: {reason}; {_FIX}")


def _ffmpeg() -> None:
    try:
        import imageio_ffmpeg  # noqa: F401
    except ImportError:
        raise missing_dependency("imageio-ffmpeg", "video", "reading videos") from None


def _check(path: Path) -> None:
    if not path.exists():
        raise VideoError(f"'{path}': no such file")
    if path.is_dir():
        raise VideoError(f"'{path}': is a folder, expected a video file")
    if path.stat().st_size == 0:
        raise _unreadable(path, "the file is empty (0 bytes)")


def _probe(path: str | os.PathLike[str]) -> tuple[float, float]:
    """The frame rate and the duration in seconds (0 when unknown) a video's header declares."""
    _ffmpeg()
    import imageio.v3 as iio

    p = Path(path)
    _check(p)
    try:
        meta = iio.immeta(p, plugin="FFMPEG")
    except Exception as exc:  # ffmpeg reports unreadable files in many ways
        raise _unreadable(p, _reason(exc)) from None
    fps = float(meta.get("fps") or 0.0)
    if not np.isfinite(fps) or fps <= 0:
        raise _unreadable(p, "the video declares no frame rate")
    duration = float(meta.get("duration") or 0.0)
    return fps, duration if np.isfinite(duration) and duration > 0 else 0.0


def video_fps(path: str | os.PathLike[str]) -> float:
    """The frame rate a video declares (frames per second).

    Raises:
        VideoError: The file is missing or not a readable video.
        MissingDependencyError: imageio-ffmpeg is not installed.
    """
    return _probe(path)[0]


def _check_complete(path: str | os.PathLike[str], frames: int, fps: float, duration: float) -> None:
    """A video read to its end must not stop well before the duration its header declares."""
    expected = duration * fps
    if frames == 0:
        raise _unreadable(path, "it holds no frames")
    if expected and frames < _CUT_OFF_SHARE * expected - 1:
        raise _unreadable(
            path,
            f"it ends after {frames} frames ({frames / fps:.2f} s) but declares {duration:.2f} s "
            f"(about {round(expected)} frames); the file is cut off",
        )


def iter_frames(
    path: str | os.PathLike[str], stride: int = 1, max_frames: int | None = None
) -> Iterator[tuple[int, float, np.ndarray]]:
    """Read every ``stride``-th frame of a video.

    A video read to its end that stops before three quarters of the duration
    its header declares is reported as cut off (after its frames were yielded).

    Args:
        path: The video file.
        stride: Keep frames 0, stride, 2*stride, ...
        max_frames: Stop after yielding this many frames.

    Yields:
        ``(frame_number, time_in_seconds, rgb_uint8_frame)``.

    Raises:
        VideoError: The file is missing, empty, damaged, cut off or not a video;
            one line naming the file, never ffmpeg's banner.
        MissingDependencyError: imageio-ffmpeg is not installed.
    """
    stride = check_int(stride, "stride", minimum=1)
    if max_frames is not None:
        max_frames = check_int(max_frames, "max_frames", minimum=1, hint="leave it unset to read every frame")
    fps, duration = _probe(path)
    import imageio.v3 as iio

    kept = read = 0
    try:
        for i, frame in enumerate(iio.imiter(Path(path), plugin="FFMPEG")):
            read = i + 1
            if i % stride:
                continue
            if max_frames is not None and kept >= max_frames:
                return
            kept += 1
            yield i, i / fps, np.ascontiguousarray(frame[..., :3] if frame.ndim == 3 else frame)
    except Exception as exc:  # imageio and ffmpeg fail mid-stream in many ways
        raise _unreadable(path, f"reading failed after frame {read} ({_reason(exc)})") from None
    _check_complete(path, read, fps, duration)


@dataclass
class VideoPrediction:
    """Predictions for the sampled frames of one video.

    Attributes:
        source: The video's path.
        fps: Its frame rate.
        labels: Label names in score order.
        frames: ``(frame_number, time_s, predictions)`` per sampled frame.
    """

    source: str
    fps: float
    labels: list[str]
    frames: list[tuple[int, float, PredictionList]] = field(default_factory=list)

    @property
    def columns(self) -> list[str]:
        """The CSV columns."""
        return ["frame", "time_s", "face", "left", "top", "right", "bottom", "label", "score", *self.labels]

    def rows(self) -> list[dict[str, Any]]:
        """One dict per face per frame; a frame without a face gives one row with empty face fields."""
        out: list[dict[str, Any]] = []
        for number, t, preds in self.frames:
            base = {"frame": number, "time_s": round(t, 4)}
            if not preds:
                out.append({**base, **{c: "" for c in self.columns[2:]}})
                continue
            for p in preds:
                l, tp, r, b = p.box
                row = {**base, "face": p.index, "left": l, "top": tp, "right": r, "bottom": b,
                       "label": p.label, "score": round(p.score, 6)}
                row.update({k: round(p.scores[k], 6) for k in self.labels})
                out.append(row)
        return out

    def to_csv(self, path: str | os.PathLike[str]) -> Path:
        """Write the per-frame table as CSV (to a temporary name first, so a partial file never looks complete)."""
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_name(p.name + ".partial")
        with open(tmp, "w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, fieldnames=self.columns)
            w.writeheader()
            w.writerows(self.rows())
        os.replace(tmp, p)
        return p

    def timeline(self, face: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Times and the scores of face number ``face`` (NaN where the frame has no such face).

        Returns:
            ``(times, scores)`` with shapes ``(n,)`` and ``(n, len(labels))``.
        """
        times = np.array([t for _, t, _ in self.frames], dtype=float)
        scores = np.full((len(self.frames), len(self.labels)), np.nan)
        for i, (_, _, preds) in enumerate(self.frames):
            if len(preds) > face:
                scores[i] = [preds[face].scores[k] for k in self.labels]
        return times, scores

    def plot(self, face: int = 0) -> Figure:
        """The emotion-over-time plot of one face (see :func:`fermask.plots.plot_emotion_timeline`).

        Args:
            face: Which face of each frame (0: the leftmost).

        Returns:
            The figure, titled with the video's file name and the face number.
        """
        from .plots import plot_emotion_timeline

        times, scores = self.timeline(face)
        return plot_emotion_timeline(times, scores, self.labels, title=f"{Path(self.source).name}: face {face}")


def predict_video(
    predictor: Predictor,
    path: str | os.PathLike[str],
    *,
    stride: int = 1,
    batch_size: int = 64,
    max_frames: int | None = None,
    progress: bool = True,
) -> VideoPrediction:
    """Predict emotions on every ``stride``-th frame of a video.

    Args:
        predictor: The predictor to use (its detector and ``simulate_mask`` apply).
        path: The video file.
        stride: Frame step (``stride=5`` on a 25 fps clip samples 5 frames a second).
        batch_size: Faces per model call.
        max_frames: Stop after this many sampled frames.
        progress: Show a progress bar.

    Returns:
        The per-frame predictions.
    """
    from tqdm.auto import tqdm

    fps = video_fps(path)
    meta: list[tuple[int, float]] = []

    def frames() -> Iterator[np.ndarray]:
        for number, t, frame in iter_frames(path, stride=stride, max_frames=max_frames):
            meta.append((number, t))
            yield frame

    out = VideoPrediction(source=os.fspath(path), fps=fps, labels=predictor.labels)
    bar = tqdm(desc=Path(path).name, unit="frame", disable=not progress)
    for i, preds in enumerate(predictor.iter_predict(frames(), batch_size=batch_size)):
        number, t = meta[i]
        preds.source = f"{os.fspath(path)}#frame={number}"
        out.frames.append((number, t, preds))
        bar.update(1)
    bar.close()
    if not out.frames:
        raise _unreadable(path, "it holds no frames")
    return out
