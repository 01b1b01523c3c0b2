"""The face finder: its options and the analyzer.

:class:`FaceOptions` defines and checks the options that :class:`FaceAnalyzer`,
the Masker and the Predictor share; :class:`FaceAnalyzer` detects faces and
places their 68 landmarks.
"""

from __future__ import annotations

import math
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._choices import DETECTORS, FACE_POLICIES, Detector, Policy, check_choice
from .._image import ImageInput, load_image, to_gray
from ..errors import InvalidTypeError, InvalidValueError, LandmarkModelNotFound, MissingDependencyError
from ._dlib_models import DETECTOR_LOCK, dlib_model, hog_detector
from ._detector_files import DetectorFilesError
from ._face import Face
from ._model_files import LANDMARKS_FILE, find_cnn_detector_model, find_landmarks_model

DEFAULT_MIN_SCORE = 0.1
"""Detections scoring below this are dropped unless ``min_score`` says otherwise.

dlib itself keeps every score above 0; 0.1 drops the weakest detections,
which on photos are mostly false positives (clothes, backgrounds).
"""


@dataclass(frozen=True)
class FaceOptions:
    """How faces are found: the options :class:`FaceAnalyzer`, :class:`~fermask.Masker` and :class:`~fermask.Predictor` share.

    The three take these as keyword arguments of the same names and defaults;
    this class is where they are defined and checked, once. Building one
    checks every value.

    Attributes:
        face_policy: ``"auto"``, ``"detect"`` or ``"full_frame"`` (see :mod:`fermask.faces`).
        detector: ``"hybrid"``, ``"hog"``, ``"blazeface"``, ``"cnn"`` or ``"auto"`` (see :class:`FaceAnalyzer`).
        upsample: Times the image is doubled before detection, 0 to 4;
            ``None`` chooses by image size.
        min_score: Detections scoring below this are dropped
            (:data:`DEFAULT_MIN_SCORE`).
        landmarks_path: Path of the 68-point model; see :func:`find_landmarks_model`.

    Raises:
        InvalidChoiceError: An unknown ``face_policy`` or ``detector``.
        InvalidValueError: ``upsample`` outside 0-4, or ``min_score`` not a number.

    Examples:
        >>> FaceOptions(detector="cnn").min_score
        0.1
        >>> FaceOptions(upsample=9)
        Traceback (most recent call last):
        ...
        fermask.errors.InvalidValueError: upsample must be a whole number from 0 to 4, or None to choose by image size; got 9
    """

    face_policy: Policy = "auto"
    detector: Detector = "hybrid"
    upsample: int | None = None
    min_score: float = DEFAULT_MIN_SCORE
    landmarks_path: str | os.PathLike[str] | None = None

    def __post_init__(self) -> None:
        check_choice(self.face_policy, FACE_POLICIES, "face_policy")
        check_choice(self.detector, DETECTORS, "detector")
        if self.upsample is not None:
            try:
                up = -1 if isinstance(self.upsample, bool) else int(self.upsample)
            except (TypeError, ValueError):
                up = -1
            if not 0 <= up <= 4:
                raise InvalidValueError(
                    f"upsample must be a whole number from 0 to 4, or None to choose by image size; got {self.upsample!r}"
                )
            object.__setattr__(self, "upsample", up)
        try:
            score = float(self.min_score)
        except (TypeError, ValueError):
            score = math.nan
        if math.isnan(score):
            raise InvalidValueError(
                f"min_score must be a number (default {DEFAULT_MIN_SCORE}; lower finds more faces), got {self.min_score!r}"
            )
        object.__setattr__(self, "min_score", score)

    def analyzer(self) -> FaceAnalyzer:
        """A :class:`FaceAnalyzer` with these options (it loads the landmark model)."""
        return FaceAnalyzer(
            face_policy=self.face_policy,
            detector=self.detector,
            upsample=self.upsample,
            min_score=self.min_score,
            landmarks_path=self.landmarks_path,
        )


class FaceAnalyzer:
    """Finds faces and their 68 landmarks.

    Args:
        face_policy: ``"auto"``, ``"detect"`` or ``"full_frame"`` (see :mod:`fermask.faces`).
        detector: ``"hybrid"`` (the default: dlib's HOG detector and Google's
            BlazeFace combined, see :mod:`fermask.faces._hybrid`; finds masked
            faces HOG misses, and is faster on large photos), ``"hog"`` (dlib's
            HOG alone), ``"blazeface"`` (BlazeFace alone), ``"cnn"`` (dlib's CNN
            detector: slow) or ``"auto"`` (HOG, then CNN where HOG finds
            nothing). BlazeFace's files are fetched by ``fermask
            download-detector``; without them ``"hybrid"`` warns once and runs
            HOG alone, and ``"blazeface"`` raises :class:`DetectorFilesError`.
            ``"hybrid"`` searches images no larger than ``crop_max_side``
            (face crops, such as FER2013's) with HOG alone, as before.
        upsample: Times the image is doubled before detection; ``None`` picks
            1 for images under 400 px on their longer side, else 0.
        crop_max_side: Under ``face_policy="auto"``, images whose sides are all at
            most this many pixels are treated as face crops when no face is detected.
        min_score: Detections scoring below this are dropped
            (:data:`DEFAULT_MIN_SCORE`, 0.1). Lower it to find more faces at
            the cost of more errors.
        landmarks_path: Path of the 68-point model; see :func:`find_landmarks_model`.
        cnn_model_path: Path of the CNN detector model.
        policy: The former name of ``face_policy``; still accepted, with a
            :class:`DeprecationWarning`.

    Attributes:
        face_policy: The face policy in use (``config()["policy"]``); the
            former attribute name ``policy`` still reads and sets it, with a
            :class:`DeprecationWarning`.

    Examples:
        >>> import numpy as np
        >>> analyzer = FaceAnalyzer(face_policy="full_frame")
        >>> faces = analyzer.find(np.full((48, 48), 128, dtype=np.uint8))  # doctest: +SKIP
        >>> faces[0].landmarks.shape  # doctest: +SKIP
        (68, 2)
    """

    def __init__(
        self,
        face_policy: Policy = "auto",
        detector: Detector = "hybrid",
        upsample: int | None = None,
        crop_max_side: int = 160,
        min_score: float = DEFAULT_MIN_SCORE,
        landmarks_path: str | os.PathLike[str] | None = None,
        cnn_model_path: str | os.PathLike[str] | None = None,
        *,
        policy: Policy | None = None,
    ) -> None:
        if policy is not None:
            warnings.warn(
                "FaceAnalyzer(policy=...) is deprecated; pass face_policy=... (as Masker and Predictor take it)",
                DeprecationWarning,
                stacklevel=2,
            )
            if face_policy != "auto" and face_policy != policy:
                raise InvalidTypeError(
                    f"FaceAnalyzer got face_policy={face_policy!r} and policy={policy!r}; pass face_policy only"
                )
            face_policy = policy
        FaceOptions(face_policy, detector, upsample, min_score)  # checks them; the one place that does
        self.face_policy: Policy = face_policy
        self.detector: Detector = detector
        self.upsample = None if upsample is None else int(upsample)
        self.crop_max_side = int(crop_max_side)
        self.min_score = float(min_score)
        self.landmarks_path = str(find_landmarks_model(landmarks_path))
        self._cnn_path = None if cnn_model_path is None else str(cnn_model_path)
        self._blaze: Any = None  # the BlazeDetector, False once "hybrid" fell back to HOG

    @property
    def policy(self) -> Policy:
        """Deprecated: use :attr:`face_policy` instead (the name the constructor takes)."""
        warnings.warn(
            "FaceAnalyzer.policy is deprecated; use FaceAnalyzer.face_policy instead", DeprecationWarning, stacklevel=2
        )
        return self.face_policy

    @policy.setter
    def policy(self, value: Policy) -> None:
        warnings.warn(
            "FaceAnalyzer.policy is deprecated; use FaceAnalyzer.face_policy instead", DeprecationWarning, stacklevel=2
        )
        check_choice(value, FACE_POLICIES, "face_policy")
        self.face_policy = value

    def config(self) -> dict[str, Any]:
        """The settings that change results (for cache keys and records; the key stays ``"policy"``)."""
        return {
            "policy": self.face_policy,
            "detector": self._effective_detector(),
            "upsample": self.upsample,
            "crop_max_side": self.crop_max_side,
            "min_score": self.min_score,
            "landmarks_model": Path(self.landmarks_path).name,
        }

    def _effective_detector(self) -> str:
        """The detector that runs: ``"hog"`` where ``"hybrid"`` fell back for want of BlazeFace's files."""
        if self.detector == "hybrid" and self.face_policy != "full_frame" and self.blaze_detector() is None:
            return "hog"
        return self.detector

    def _upsample_for(self, gray: np.ndarray) -> int:
        if self.upsample is not None:
            return self.upsample
        return 1 if max(gray.shape) < 400 else 0

    def warm(self) -> None:
        """Load the dlib models now (otherwise the first image pays for it).

        Worker processes forked afterwards (``fermask mask -j N``, ``workers=N``
        on Linux) then share this process's copy of the 99.7 MB landmark model
        instead of each loading its own: the workers start at once, and their
        memory caches hold one copy.
        """
        dlib_model("landmarks", self.landmarks_path)
        if self.detector in ("hog", "auto", "hybrid") and self.face_policy != "full_frame":
            with hog_detector():
                pass
        if self.detector in ("hybrid", "blazeface") and self.face_policy != "full_frame":
            self.blaze_detector()
        if self.detector == "cnn" and self.face_policy != "full_frame":
            dlib_model("cnn", str(find_cnn_detector_model(self._cnn_path)))

    def detect(self, image: ImageInput) -> list[tuple[tuple[int, int, int, int], float | None]]:
        """Run the face detector only.

        Returns:
            ``(box, score)`` pairs, box as ``(left, top, right, bottom)``.
        """
        return self._detect(None, load_image(image))  # the gray copy is made only where HOG reads the photo

    def blaze_detector(self) -> Any:
        """The BlazeFace detector this analyzer uses, or ``None`` where ``"hybrid"`` fell back to HOG.

        Raises:
            DetectorFilesError: ``detector="blazeface"`` and BlazeFace's files are missing or altered.
        """
        if self._blaze is None:
            from ._hybrid import blaze_detector

            try:
                self._blaze = blaze_detector()
            except (DetectorFilesError, MissingDependencyError) as exc:  # no files, or no TFLite runtime
                if self.detector == "blazeface":
                    raise
                warnings.warn(f"{exc}; finding faces with dlib's HOG detector alone, which misses many "
                              "masked faces", stacklevel=3)
                self._blaze = False
        return self._blaze or None

    def _hog(self, gray: np.ndarray, up: int, threshold: float) -> list[tuple[tuple[int, int, int, int], float]]:
        with hog_detector() as hog:
            rects, scores, _ = hog.run(gray, up, threshold)
        return [((r.left(), r.top(), r.right(), r.bottom()), float(s)) for r, s in zip(rects, scores)]

    def _detect(self, gray: np.ndarray | None, image: np.ndarray | None = None
                ) -> list[tuple[tuple[int, int, int, int], float | None]]:
        """Detect in ``gray`` or ``image`` (at least one given; BlazeFace prefers ``image``, HOG needs ``gray``)."""
        picture = image if image is not None else gray
        assert picture is not None
        up = self._upsample_for(picture)
        found: list[tuple[tuple[int, int, int, int], float | None]] = []
        crop_sized = max(picture.shape[:2]) <= self.crop_max_side
        wants_blaze = self.detector == "blazeface" or (self.detector == "hybrid" and not crop_sized)
        blaze = self.blaze_detector() if wants_blaze else None  # face crops (FER2013's 48 px): HOG, as before
        if blaze is not None and self.detector == "hybrid":
            return blaze.hybrid(picture, self._hog, up, self.min_score)
        if blaze is not None:
            return blaze.detect(picture)
        if gray is None:
            gray = to_gray(picture)
        if self.detector in ("hog", "auto", "hybrid"):
            found = list(self._hog(gray, up, self.min_score))
        if self.detector == "cnn" or (self.detector == "auto" and not found):
            cnn_path = str(find_cnn_detector_model(self._cnn_path))
            cnn = dlib_model("cnn", cnn_path)
            rgb = np.ascontiguousarray(np.repeat(gray[..., None], 3, axis=2))
            with DETECTOR_LOCK:
                dets = cnn(rgb, up)
            found = [
                ((d.rect.left(), d.rect.top(), d.rect.right(), d.rect.bottom()), float(d.confidence))
                for d in dets
                if d.confidence >= self.min_score
            ]
        return found

    def landmarks(self, image: ImageInput, box: tuple[int, int, int, int]) -> np.ndarray:
        """The 68 landmarks inside a given face box, as a ``(68, 2)`` float32 array."""
        return self._landmarks(to_gray(load_image(image)), box)

    def _landmarks(self, gray: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
        import dlib

        predictor = dlib_model("landmarks", self.landmarks_path)
        shape = predictor(gray, dlib.rectangle(*(int(v) for v in box)))
        pts = np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float32)
        return pts

    def find(self, image: ImageInput) -> list[Face]:
        """Find every face and its landmarks, ordered left to right.

        Args:
            image: Anything :func:`fermask.load_image` accepts.

        Returns:
            The faces; an empty list when there is none (under ``"auto"``,
            only for images larger than a crop).
        """
        arr = load_image(image)
        return self.find_in_gray(to_gray(arr), arr)

    def find_in_gray(self, gray: np.ndarray, image: np.ndarray | None = None) -> list[Face]:
        """:meth:`find` on an already-loaded ``uint8`` gray array.

        Args:
            gray: The picture in gray.
            image: The same picture in colour, when the caller has it
                (BlazeFace finds faces better in colour; landmarks use ``gray``).
        """
        h, w = gray.shape[:2]
        if self.face_policy == "full_frame":
            boxes: list[tuple[tuple[int, int, int, int], float | None]] = []
        else:
            boxes = self._detect(gray, image)
        faces = [Face(box, self._landmarks(gray, box), True, score) for box, score in boxes]
        if not faces and (
            self.face_policy == "full_frame" or (self.face_policy == "auto" and max(h, w) <= self.crop_max_side)
        ):
            box = (0, 0, w - 1, h - 1)
            faces = [Face(box, self._landmarks(gray, box), False, None)]
        faces.sort(key=lambda f: (f.box[0], f.box[1]))
        return faces

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_blaze"] = None  # interpreters are not pickled; the receiver loads its own
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Unpickle; on a machine without the landmark model at the sender's path, use this machine's copy.

        A Dask worker receives the analyzer of the machine that made it. When
        that path is missing here and it names the standard model file, the
        worker's own copy is looked up (:func:`find_landmarks_model`); a custom
        model is never swapped for the standard one.
        """
        self.__dict__.update(state)
        self.__dict__.setdefault("_blaze", None)
        path = Path(self.landmarks_path)
        if not path.is_file() and path.name == LANDMARKS_FILE:
            try:
                self.landmarks_path = str(find_landmarks_model())
            except LandmarkModelNotFound:
                pass  # the error, with its advice, comes when the model is needed

    def __repr__(self) -> str:
        return f"FaceAnalyzer(face_policy={self.face_policy!r}, detector={self.detector!r}, upsample={self.upsample!r})"
