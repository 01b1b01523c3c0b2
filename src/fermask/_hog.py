"""dlib's frontal face detector, kept in fermask's cache so that a new one takes a millisecond.

``dlib.get_frontal_face_detector()`` rebuilds the detector from text
compiled into dlib each time it is called: about 0.17 s of CPU, paid by every
process that detects faces (a ``fermask`` command, each worker a pool starts
without forking, each Dask worker) and by every thread that needs a detector
of its own. Saved once in dlib's binary form, the same detector reads back in
about a millisecond.

The file lies in the user cache (``$FERMASK_CACHE/dlib/``), named after the
dlib version that wrote it, with its sha256 beside it. It is written under a
temporary name and renamed, so it is whole or absent. A file that is missing,
does not match its sha256 or cannot be read is made again; a cache folder
that cannot be written only means the slow path each time. The cached copy
finds exactly the faces the built-in one finds (the test suite compares
them).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ._files import cache_dir, sha256_file, sha256_hex

__all__ = ["frontal_face_detector", "detector_cache_path"]


def detector_cache_path() -> Path:
    """Where the detector of the dlib installed here is cached (it may not exist yet)."""
    import dlib

    version = "".join(c if c.isalnum() or c in ".-" else "_" for c in str(dlib.__version__))
    return cache_dir("dlib") / f"frontal_face_detector-dlib{version}.svm"


def _digest_path(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def _read_cached(path: Path) -> Any | None:
    """The cached detector, or ``None`` when it is missing, altered or unreadable."""
    import dlib

    try:
        data = path.read_bytes()
        expected = _digest_path(path).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    if sha256_hex(data) != expected:
        return None
    try:
        return dlib.fhog_object_detector(str(path))
    except (RuntimeError, ValueError):  # dlib's "Error deserializing ..."
        return None


def _replace_with(path: Path, write: Callable[[str], object]) -> None:
    """Make ``path`` whole or not at all: ``write(name)`` fills a temporary file beside it, which is then renamed."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _save(detector: Any, path: Path) -> None:
    """Cache ``detector`` at ``path`` (the detector first, then its sha256); a failure leaves no cache."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _replace_with(path, detector.save)
        digest = sha256_file(path)
        _replace_with(_digest_path(path), lambda tmp: Path(tmp).write_text(digest + "\n", encoding="ascii"))
    except (OSError, RuntimeError):  # a read-only or full cache: detectors are made the slow way
        pass


def frontal_face_detector() -> Any:
    """A new dlib HOG frontal face detector, read from the cache when it is there.

    Returns:
        A ``dlib.fhog_object_detector`` equal to ``dlib.get_frontal_face_detector()``.

    Examples:
        >>> detector = frontal_face_detector()  # doctest: +SKIP
        >>> type(detector).__name__  # doctest: +SKIP
        'fhog_object_detector'
    """
    import dlib

    path = detector_cache_path()
    detector = _read_cached(path)
    if detector is None:
        detector = dlib.get_frontal_face_detector()
        _save(detector, path)
    return detector
