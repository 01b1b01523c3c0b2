"""The dlib models loaded in this process, shared by every analyzer, and the pool of HOG detectors."""

from __future__ import annotations

import platform
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .._hog import frontal_face_detector
from ..errors import LandmarkModelNotFound

# Loaded dlib models are shared by every analyzer in a process.
MODELS: dict[tuple[str, str], Any] = {}
_MODELS_LOCK = threading.Lock()
# dlib's detectors keep scratch state inside the detector object: two threads running one
# object at once return wrong boxes (seen: 85 of 480 masked crops changed with 2 threads).
# So a HOG detector is lent to one call at a time from a pool that grows to the number of
# threads detecting at once (dlib releases the GIL while it runs: 2 threads detect 2.1x as
# fast as one; a new detector costs 0.17 s, or 1 ms from the cache of _hog, so they are kept). Calls of the one
# shared CNN detector are serialised. The landmark predictor is safe to share.
DETECTOR_LOCK = threading.Lock()
HOG_FREE: list[Any] = []
_HOG_FREE_LOCK = threading.Lock()


@contextmanager
def hog_detector() -> Iterator[Any]:
    """A dlib HOG face detector that no other thread uses until the block ends."""
    with _HOG_FREE_LOCK:
        detector = HOG_FREE.pop() if HOG_FREE else None
    if detector is None:
        detector = frontal_face_detector()
    try:
        yield detector
    finally:
        with _HOG_FREE_LOCK:
            HOG_FREE.append(detector)


def dlib_model(kind: str, path: str) -> Any:
    """The dlib model of ``kind`` (``"landmarks"`` or ``"cnn"``) at ``path``, loaded once per process."""
    key = (kind, path)
    model = MODELS.get(key)
    if model is None:
        with _MODELS_LOCK:
            model = MODELS.get(key)
            if model is None:
                import dlib

                if not Path(path).is_file():
                    raise LandmarkModelNotFound(
                        f"the {kind} model {path!r} is not on this machine ({platform.node()}); a cluster worker "
                        "needs its own copy: pip install 'fermask[landmarks]' there, or pass a landmarks_path "
                        "that every worker can read"
                    )
                if kind == "landmarks":
                    model = dlib.shape_predictor(path)
                else:
                    model = dlib.cnn_face_detection_model_v1(path)
                MODELS[key] = model
    return model
