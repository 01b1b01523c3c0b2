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
"""

from __future__ import annotations

import bz2
import importlib.util
import math
import os
import platform
import shutil
import tempfile
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ._choices import DETECTORS, FACE_POLICIES, Detector, Policy, check_choice
from ._files import cache_dir as _user_cache_dir
from ._files import sha256_file
from ._hog import frontal_face_detector
from ._image import ImageInput, load_image, to_gray
from .errors import FermaskError, InvalidTypeError, InvalidValueError, LandmarkModelNotFound

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
]

LANDMARKS_FILE = "shape_predictor_68_face_landmarks.dat"
LANDMARKS_SHA256 = "fbdc2cb80eb9aa7a758672cbfdda32ba6300efe9b6e6c7a299ff7e736b11b92f"
LANDMARKS_URL = "http://dlib.net/files/shape_predictor_68_face_landmarks.dat.bz2"
CNN_DETECTOR_FILE = "mmod_human_face_detector.dat"
DEBIAN_DLIB_DIR = Path("/usr/share/dlib")

# 68-point scheme (iBUG 300-W), 0-based index ranges.
JAW = slice(0, 17)
NOSE_BRIDGE = slice(27, 31)
NOSE_BOTTOM = slice(31, 36)
LEFT_EYE = slice(36, 42)  # the subject's right eye, on the image's left
RIGHT_EYE = slice(42, 48)
EYEBROWS = slice(17, 27)
MOUTH = slice(48, 68)


def cache_dir() -> Path:
    """fermask's user cache folder (``$FERMASK_CACHE``, else ``$XDG_CACHE_HOME/fermask``)."""
    return _user_cache_dir()


def _package_model(file_name: str) -> Path | None:
    """``file_name`` in the ``face-recognition-models`` package, found without importing it.

    The package itself imports ``pkg_resources`` (40 ms) only to build this path.
    """
    try:
        spec = importlib.util.find_spec("face_recognition_models")
    except (ImportError, ValueError):
        return None
    for folder in (spec.submodule_search_locations or []) if spec is not None else []:
        p = Path(folder) / "models" / file_name
        if p.is_file():
            return p
    return None


def find_landmarks_model(path: str | os.PathLike[str] | None = None) -> Path:
    """Locate the dlib 68-point landmark model file.

    Args:
        path: An explicit path; when given it must exist.

    Returns:
        The path of ``shape_predictor_68_face_landmarks.dat``.

    Raises:
        LandmarkModelNotFound: No copy was found; the message lists every
            way to provide one.

    Examples:
        >>> find_landmarks_model().name  # doctest: +SKIP
        'shape_predictor_68_face_landmarks.dat'
    """
    if path is not None:
        p = Path(path).expanduser()
        if p.is_file():
            return p
        raise LandmarkModelNotFound(f"the landmark model path '{p}' does not exist or is not a file")
    tried: list[str] = []
    env = os.environ.get("FERMASK_LANDMARKS")
    if env:
        p = Path(env).expanduser()
        if p.is_file():
            return p
        tried.append(f"FERMASK_LANDMARKS='{env}' (no such file)")
    packaged = _package_model(LANDMARKS_FILE)
    if packaged is not None:
        return packaged
    deb = DEBIAN_DLIB_DIR / LANDMARKS_FILE
    if deb.is_file():
        return deb
    cached = cache_dir() / LANDMARKS_FILE
    if cached.is_file():
        return cached
    lines = "\n".join(
        [
            "the dlib 68-point landmark model (shape_predictor_68_face_landmarks.dat) was not found.",
            *(f"  tried: {t}" for t in tried),
            "Provide it in any of these ways:",
            "  1. pass landmarks_path=... (or --landmarks on the command line);",
            "  2. set the environment variable FERMASK_LANDMARKS to the file's path;",
            "  3. pip install 'fermask[landmarks]'  (installs face-recognition-models, 100 MB);",
            "  4. apt-get install libdlib-data  (Debian/Ubuntu: /usr/share/dlib/);",
            f"  5. fermask download-landmarks  (online: fetches {LANDMARKS_URL},",
            f"     checks its sha256 and stores it in {cache_dir()}).",
            "The model was trained on iBUG 300-W, whose terms exclude commercial use.",
        ]
    )
    raise LandmarkModelNotFound(lines)


def find_cnn_detector_model(path: str | os.PathLike[str] | None = None) -> Path:
    """Locate dlib's CNN face detector (``mmod_human_face_detector.dat``).

    Looked up like the landmark model: an explicit path, ``FERMASK_CNN_DETECTOR``,
    the ``face-recognition-models`` package, ``/usr/share/dlib/``, the user cache.
    """
    if path is not None:
        p = Path(path).expanduser()
        if p.is_file():
            return p
        raise LandmarkModelNotFound(f"the CNN face detector path '{p}' does not exist or is not a file")
    env = os.environ.get("FERMASK_CNN_DETECTOR")
    candidates = [Path(env).expanduser()] if env else []
    pkg = _package_model(CNN_DETECTOR_FILE)
    if pkg is not None:
        candidates.append(pkg)
    candidates += [DEBIAN_DLIB_DIR / CNN_DETECTOR_FILE, cache_dir() / CNN_DETECTOR_FILE]
    for c in candidates:
        if c.is_file():
            return c
    raise LandmarkModelNotFound(
        "dlib's CNN face detector (mmod_human_face_detector.dat) was not found. Install it with "
        "pip install 'fermask[landmarks]', or set FERMASK_CNN_DETECTOR to the file's path, "
        "or use detector='hog'."
    )



def download_landmarks_model(
    url: str = LANDMARKS_URL, dest: str | os.PathLike[str] | None = None, *, progress: bool = True
) -> Path:
    """Download the 68-point model from dlib.net into the user cache, checking its sha256.

    Needs internet access. The ``.bz2`` is decompressed on the fly; the file
    only takes its final name once its checksum matches.

    Args:
        url: Where to fetch the ``.dat.bz2`` from (or a ``file://`` URL).
        dest: Target file; defaults to the user cache.
        progress: Show a progress bar.

    Returns:
        The path of the verified model file.
    """
    target = Path(dest) if dest is not None else cache_dir() / LANDMARKS_FILE
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".landmarks-", suffix=".partial", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        import urllib.request

        from tqdm.auto import tqdm

        try:
            resp = urllib.request.urlopen(url, timeout=60)
        except (OSError, ValueError) as exc:
            os.close(fd)
            raise FermaskError(
                f"could not download the landmark model from {url} ({exc}). Without internet access, "
                "install it with pip install 'fermask[landmarks]' (face-recognition-models) or apt-get "
                "install libdlib-data, "
                "or set FERMASK_LANDMARKS to a copy of the file."
            ) from None
        with resp, os.fdopen(fd, "wb") as out:
            total = int(resp.headers.get("Content-Length") or 0) or None
            dec = bz2.BZ2Decompressor() if url.endswith(".bz2") else None
            with tqdm(total=total, unit="B", unit_scale=True, disable=not progress, desc="landmarks") as bar:
                for chunk in iter(lambda: resp.read(1 << 20), b""):
                    bar.update(len(chunk))
                    out.write(dec.decompress(chunk) if dec else chunk)
        digest = sha256_file(tmp)
        if digest != LANDMARKS_SHA256:
            raise FermaskError(
                f"the downloaded landmark model has sha256 {digest}, expected {LANDMARKS_SHA256}; "
                "the file was discarded. Try again, or get it from face-recognition-models."
            )
        os.replace(tmp, target)
        return target
    finally:
        if tmp.exists():
            tmp.unlink()


# Loaded dlib models are shared by every analyzer in a process.
_MODELS: dict[tuple[str, str], Any] = {}
_MODELS_LOCK = threading.Lock()
# dlib's detectors keep scratch state inside the detector object: two threads running one
# object at once return wrong boxes (seen: 85 of 480 masked crops changed with 2 threads).
# So a HOG detector is lent to one call at a time from a pool that grows to the number of
# threads detecting at once (dlib releases the GIL while it runs: 2 threads detect 2.1x as
# fast as one; a new detector costs 0.17 s, or 1 ms from the cache of _hog, so they are kept). Calls of the one
# shared CNN detector are serialised. The landmark predictor is safe to share.
_DETECTOR_LOCK = threading.Lock()
_HOG_FREE: list[Any] = []
_HOG_FREE_LOCK = threading.Lock()


@contextmanager
def _hog_detector() -> Iterator[Any]:
    """A dlib HOG face detector that no other thread uses until the block ends."""
    with _HOG_FREE_LOCK:
        detector = _HOG_FREE.pop() if _HOG_FREE else None
    if detector is None:
        detector = frontal_face_detector()
    try:
        yield detector
    finally:
        with _HOG_FREE_LOCK:
            _HOG_FREE.append(detector)


def _dlib_model(kind: str, path: str) -> Any:
    key = (kind, path)
    model = _MODELS.get(key)
    if model is None:
        with _MODELS_LOCK:
            model = _MODELS.get(key)
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
                _MODELS[key] = model
    return model


@dataclass(frozen=True)
class Face:
    """One face in an image.

    Attributes:
        box: ``(left, top, right, bottom)`` in pixels; may reach outside the image.
        landmarks: ``(68, 2)`` float32 array of ``(x, y)`` points, iBUG 300-W order.
        detected: ``True`` if a detector found the face, ``False`` if the
            whole frame was used as the face box.
        score: The detector's confidence, when it gives one.
    """

    box: tuple[int, int, int, int]
    landmarks: np.ndarray = field(repr=False)
    detected: bool = True
    score: float | None = None

    @property
    def width(self) -> int:
        """Width of the box."""
        return self.box[2] - self.box[0]

    @property
    def height(self) -> int:
        """Height of the box."""
        return self.box[3] - self.box[1]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "box": list(self.box),
            "landmarks": np.round(self.landmarks, 2).tolist(),
            "detected": self.detected,
            "score": self.score,
        }


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
        face_policy: ``"auto"``, ``"detect"`` or ``"full_frame"`` (see the module docs).
        detector: ``"hog"``, ``"cnn"`` or ``"auto"`` (see :class:`FaceAnalyzer`).
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
    detector: Detector = "hog"
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
        face_policy: ``"auto"``, ``"detect"`` or ``"full_frame"`` (see the module docs).
        detector: ``"hog"`` (fast), ``"cnn"`` (dlib's CNN detector: slower,
            finds masked and turned faces more often) or ``"auto"`` (HOG, then
            CNN where HOG finds nothing).
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
        detector: Detector = "hog",
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
            "detector": self.detector,
            "upsample": self.upsample,
            "crop_max_side": self.crop_max_side,
            "min_score": self.min_score,
            "landmarks_model": Path(self.landmarks_path).name,
        }

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
        _dlib_model("landmarks", self.landmarks_path)
        if self.detector in ("hog", "auto") and self.face_policy != "full_frame":
            with _hog_detector():
                pass
        if self.detector == "cnn" and self.face_policy != "full_frame":
            _dlib_model("cnn", str(find_cnn_detector_model(self._cnn_path)))

    def detect(self, image: ImageInput) -> list[tuple[tuple[int, int, int, int], float | None]]:
        """Run the face detector only.

        Returns:
            ``(box, score)`` pairs, box as ``(left, top, right, bottom)``.
        """
        gray = to_gray(load_image(image))
        return self._detect(gray)

    def _detect(self, gray: np.ndarray) -> list[tuple[tuple[int, int, int, int], float | None]]:
        up = self._upsample_for(gray)
        found: list[tuple[tuple[int, int, int, int], float | None]] = []
        if self.detector in ("hog", "auto"):
            with _hog_detector() as hog:
                rects, scores, _ = hog.run(gray, up, self.min_score)
            found = [((r.left(), r.top(), r.right(), r.bottom()), float(s)) for r, s in zip(rects, scores)]
        if self.detector == "cnn" or (self.detector == "auto" and not found):
            cnn_path = str(find_cnn_detector_model(self._cnn_path))
            cnn = _dlib_model("cnn", cnn_path)
            rgb = np.ascontiguousarray(np.repeat(gray[..., None], 3, axis=2))
            with _DETECTOR_LOCK:
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

        predictor = _dlib_model("landmarks", self.landmarks_path)
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
        gray = to_gray(load_image(image))
        return self.find_in_gray(gray)

    def find_in_gray(self, gray: np.ndarray) -> list[Face]:
        """:meth:`find` on an already-loaded ``uint8`` gray array."""
        h, w = gray.shape[:2]
        if self.face_policy == "full_frame":
            boxes: list[tuple[tuple[int, int, int, int], float | None]] = []
        else:
            boxes = self._detect(gray)
        faces = [Face(box, self._landmarks(gray, box), True, score) for box, score in boxes]
        if not faces and (
            self.face_policy == "full_frame" or (self.face_policy == "auto" and max(h, w) <= self.crop_max_side)
        ):
            box = (0, 0, w - 1, h - 1)
            faces = [Face(box, self._landmarks(gray, box), False, None)]
        faces.sort(key=lambda f: (f.box[0], f.box[1]))
        return faces

    def __getstate__(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Unpickle; on a machine without the landmark model at the sender's path, use this machine's copy.

        A Dask worker receives the analyzer of the machine that made it. When
        that path is missing here and it names the standard model file, the
        worker's own copy is looked up (:func:`find_landmarks_model`); a custom
        model is never swapped for the standard one.
        """
        self.__dict__.update(state)
        path = Path(self.landmarks_path)
        if not path.is_file() and path.name == LANDMARKS_FILE:
            try:
                self.landmarks_path = str(find_landmarks_model())
            except LandmarkModelNotFound:
                pass  # the error, with its advice, comes when the model is needed

    def __repr__(self) -> str:
        return f"FaceAnalyzer(face_policy={self.face_policy!r}, detector={self.detector!r}, upsample={self.upsample!r})"


def _copy_model(src: Path, dest: Path) -> Path:  # pragma: no cover - helper for docs
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dest)
    return dest
