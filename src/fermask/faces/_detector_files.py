"""BlazeFace's model files: fetched from the ``mediapipe`` wheel on PyPI, sha256-pinned, kept in fermask's cache.

Google publishes the BlazeFace face detectors (Apache-2.0) inside the
``mediapipe`` wheels. :func:`download_detector` runs ``pip download`` for the
one pinned wheel (any platform's pip can fetch it: the platform and Python
version are given), takes the two detector files and the licence out of it,
checks each file's sha256 and stores them with a ``provenance.json`` in
``<cache>/detectors/blazeface-mediapipe-0.10.14/``. MediaPipe itself is never
installed or imported.

:func:`find_detector_files` finds them again and checks their sha256 once per
process; a missing or altered file raises :class:`DetectorFilesError`, whose
message says how to fetch them.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import threading
import zipfile
from dataclasses import dataclass
from pathlib import Path

from .._files import cache_dir, copy_zip_member, pip_download, sha256_file, zip_member_sha256
from ..errors import FermaskError

__all__ = [
    "DetectorFilesError", "DETECTOR_FILES", "MEDIAPIPE_VERSION", "detector_dir", "find_detector_files",
    "download_detector",
]

MEDIAPIPE_VERSION = "0.10.14"
#: The wheel pip fetches: CPython 3.11, manylinux x86-64 (the detector files are the same in every wheel).
WHEEL_PLATFORM = ("manylinux_2_17_x86_64", "3.11")
WHEEL_NAME = f"mediapipe-{MEDIAPIPE_VERSION}-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
LICENCE = "Apache-2.0"
COPYRIGHT = "Copyright The MediaPipe Authors (Google LLC)"
HOMEPAGE = "https://github.com/google-ai-edge/mediapipe"
CITATION = (
    "Bazarevsky, V., Kartynnik, Y., Vakunov, A., Raveendran, K., & Grundmann, M. (2019). BlazeFace: "
    "Sub-millisecond Neural Face Detection on Mobile GPUs. arXiv:1907.05047"
)
#: Bounds the bytes read from one wheel member (the largest file here is under 1 MB).
MAX_MEMBER_BYTES = 8 << 20


@dataclass(frozen=True)
class DetectorFile:
    """One pinned file of the wheel."""

    kind: str
    member: str
    sha256: str
    size: int

    @property
    def file_name(self) -> str:
        """Its name in the cache folder."""
        return Path(self.member).name


#: The BlazeFace models fermask uses, by kind (see :data:`fermask.faces._blazeface.BLAZE_MODELS`).
DETECTOR_FILES: dict[str, DetectorFile] = {
    "short": DetectorFile(
        "short", "mediapipe/modules/face_detection/face_detection_short_range.tflite",
        "bbff11cebd1eb27a1e004cae0b0e63ec8c551cbf34a4451148b4908b8db3eca8", 229714,
    ),
    "full": DetectorFile(
        "full", "mediapipe/modules/face_detection/face_detection_full_range_sparse.tflite",
        "2c3728e6da56f21e21a320433396fb06d40d9088f2247c05e5635a688d45dfe1", 676746,
    ),
}


class DetectorFilesError(FermaskError, FileNotFoundError):
    """BlazeFace's files are missing or not the pinned ones."""


def detector_dir() -> Path:
    """The cache folder that holds BlazeFace's files."""
    return cache_dir("detectors", f"blazeface-mediapipe-{MEDIAPIPE_VERSION}")


_verified: dict[tuple[str, int, int], bool] = {}
_verify_lock = threading.Lock()


def _check(path: Path, spec: DetectorFile) -> None:
    fix = "fetch them again with: fermask download-detector --force"
    try:
        st = path.stat()
    except OSError:
        raise DetectorFilesError(
            f"BlazeFace's {spec.file_name} is not in {path.parent}; fetch the detector files with: "
            "fermask download-detector"
        ) from None
    key = (str(path), st.st_size, st.st_mtime_ns)
    with _verify_lock:
        if _verified.get(key):
            return
        digest = sha256_file(path) if st.st_size == spec.size else f"a file of {st.st_size} bytes"
        if digest != spec.sha256:
            raise DetectorFilesError(
                f"BlazeFace's {path} is not the published file (sha256 {digest}, expected {spec.sha256}); {fix}"
            )
        _verified[key] = True


def find_detector_files(folder: str | os.PathLike[str] | None = None) -> dict[str, Path]:
    """The checked BlazeFace files, by kind (``"short"``, ``"full"``).

    Args:
        folder: Where to look; default :func:`detector_dir`.

    Raises:
        DetectorFilesError: A file is missing or its sha256 is not the pinned one.

    Examples:
        >>> sorted(find_detector_files())  # doctest: +SKIP
        ['full', 'short']
    """
    base = Path(folder) if folder is not None else detector_dir()
    found = {}
    for kind, spec in DETECTOR_FILES.items():
        path = base / spec.file_name
        _check(path, spec)
        found[kind] = path
    return found


def _pip_download(dest: Path, progress: bool) -> Path:
    platform, python = WHEEL_PLATFORM
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--platform", platform,
           "--python-version", python, f"mediapipe=={MEDIAPIPE_VERSION}", "-d", os.fspath(dest)]
    wheel, why = pip_download(cmd, dest, "mediapipe-*.whl", progress=progress)
    if wheel is None:
        raise FermaskError(
            f"pip could not download mediapipe=={MEDIAPIPE_VERSION}{why}. Without access to a package index, "
            f"copy the wheel over ({WHEEL_NAME}, from pip download --no-deps --only-binary=:all: --platform "
            f"{platform} --python-version {python} mediapipe=={MEDIAPIPE_VERSION}) and run: "
            "fermask download-detector --from WHEEL"
        )
    return wheel


def _extract(wheel: Path, work: Path) -> None:
    """Take the pinned files (each checked before it is written) and the licence out of the wheel."""
    not_it = f"not the mediapipe=={MEDIAPIPE_VERSION} wheel"
    try:
        with zipfile.ZipFile(wheel) as zf:
            names = set(zf.namelist())
            for spec in DETECTOR_FILES.values():
                if spec.member not in names:
                    raise FermaskError(f"'{wheel.name}' has no {spec.member}; give the mediapipe=={MEDIAPIPE_VERSION} wheel")
                info = zf.getinfo(spec.member)
                digest = zip_member_sha256(zf, info, MAX_MEMBER_BYTES)
                if digest is None:
                    raise FermaskError(f"{spec.member} in '{wheel.name}' holds more than {MAX_MEMBER_BYTES} bytes; {not_it}")
                if digest != spec.sha256:
                    raise FermaskError(
                        f"{spec.member} in '{wheel.name}' has sha256 {digest}, but fermask pins {spec.sha256}; the "
                        "wheel is not the published one (damaged, tampered with or another version); nothing was kept"
                    )
                copy_zip_member(zf, info, work / spec.file_name, info.file_size)
            licence = f"mediapipe-{MEDIAPIPE_VERSION}.dist-info/LICENSE"
            if licence in names:
                info = zf.getinfo(licence)
                if info.file_size > MAX_MEMBER_BYTES:
                    raise FermaskError(f"{licence} in '{wheel.name}' declares {info.file_size} bytes; {not_it}")
                copy_zip_member(zf, info, work / "LICENSE", MAX_MEMBER_BYTES)
    except zipfile.BadZipFile as exc:
        raise FermaskError(f"'{wheel}' is not a readable wheel ({exc}); download it again") from None


def download_detector(*, source_wheel: str | os.PathLike[str] | None = None, force: bool = False,
                      progress: bool = True) -> Path:
    """Fetch BlazeFace's files into the cache (``pip download`` of the pinned mediapipe wheel) and check them.

    Args:
        source_wheel: A local copy of the wheel instead of the network.
        force: Fetch again even when checked files are already there.
        progress: Show pip's output.

    Returns:
        The folder holding the files.

    Raises:
        FermaskError: pip failed, the wheel is unreadable, or a file's sha256
            is not the pinned one (nothing is kept then).
    """
    target = detector_dir()
    if not force:
        try:
            find_detector_files(target)
            return target
        except DetectorFilesError:
            pass
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".download-", dir=target.parent) as tmp:
        work = Path(tmp) / "files"
        work.mkdir()
        if source_wheel is not None:
            wheel = Path(source_wheel)
            if not wheel.is_file():
                raise FermaskError(f"--from '{wheel}' does not exist or is not a file; give the mediapipe wheel")
            origin = f"local file '{wheel.name}'"
        else:
            wheel, origin = _pip_download(Path(tmp) / "wheel", progress), f"pip download mediapipe=={MEDIAPIPE_VERSION}"
        _extract(wheel, work)
        record = {
            "what": "BlazeFace face detectors (short and full range)", "package": "mediapipe",
            "version": MEDIAPIPE_VERSION, "origin": origin, "wheel_sha256": sha256_file(wheel),
            "files": {s.file_name: {"member": s.member, "sha256": s.sha256} for s in DETECTOR_FILES.values()},
            "licence": LICENCE, "copyright": COPYRIGHT, "homepage": HOMEPAGE, "citation": CITATION,
        }
        (work / "provenance.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        old = Path(tmp) / "old"
        if target.exists():
            os.replace(target, old)
        os.replace(work, target)
        shutil.rmtree(old, ignore_errors=True)
    return target
