"""The cached HOG face detector: same faces as dlib's built-in one, and rebuilt when the cache is bad."""

from __future__ import annotations

import errno
from pathlib import Path

import numpy as np
import pytest

dlib = pytest.importorskip("dlib")

from fermask import _hog  # noqa: E402
from fermask._image import to_gray  # noqa: E402


@pytest.fixture()
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("FERMASK_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _detections(detector: object, gray: np.ndarray) -> list[tuple[int, int, int, int, float, int]]:
    rects, scores, kinds = detector.run(gray, 1, -0.5)  # type: ignore[attr-defined]
    return [(r.left(), r.top(), r.right(), r.bottom(), round(s, 6), k) for r, s, k in zip(rects, scores, kinds)]


def test_the_cached_detector_finds_what_the_built_in_one_finds(
    own_cache: Path, astronaut: np.ndarray, lfw_crops48: np.ndarray
) -> None:
    first = _hog.frontal_face_detector()  # made the slow way, then cached
    path = _hog.detector_cache_path()
    assert path.is_file() and path.parent.parent == own_cache
    cached = _hog.frontal_face_detector()
    builtin = dlib.get_frontal_face_detector()
    images = [to_gray(astronaut)] + [np.kron(c, np.ones((2, 2), np.uint8)) for c in lfw_crops48[:20]]
    expected = [_detections(builtin, g) for g in images]
    assert any(expected), "the test images should hold faces the detector finds"
    assert [_detections(cached, g) for g in images] == expected
    assert [_detections(first, g) for g in images] == expected


def test_a_cache_hit_does_not_rebuild_the_detector(own_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _hog.frontal_face_detector()

    def slow_path() -> None:
        raise AssertionError("the detector was rebuilt although the cache holds it")

    monkeypatch.setattr(dlib, "get_frontal_face_detector", slow_path)
    assert type(_hog.frontal_face_detector()).__name__ == "fhog_object_detector"


@pytest.mark.parametrize("damage", ["truncate", "flip", "no_digest"])
def test_a_damaged_cache_is_made_again(own_cache: Path, damage: str) -> None:
    _hog.frontal_face_detector()
    path = _hog.detector_cache_path()
    good = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(good[: len(good) // 2])
    elif damage == "flip":
        path.write_bytes(good[:100] + bytes([good[100] ^ 0xFF]) + good[101:])
    else:
        (path.parent / (path.name + ".sha256")).unlink()
    detector = _hog.frontal_face_detector()
    assert type(detector).__name__ == "fhog_object_detector"
    assert path.read_bytes() == good  # rebuilt, whole
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]


def test_a_cache_that_cannot_be_written_still_gives_a_detector(
    own_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_replace_with = _hog._replace_with

    def disk_full(path: Path, write: object) -> None:
        def write_then_fail(tmp: str) -> None:
            write(tmp)  # type: ignore[operator]
            raise OSError(errno.ENOSPC, "No space left on device", tmp)

        real_replace_with(path, write_then_fail)

    monkeypatch.setattr(_hog, "_replace_with", disk_full)
    assert type(_hog.frontal_face_detector()).__name__ == "fhog_object_detector"
    assert not _hog.detector_cache_path().exists()
    assert not [p for p in _hog.detector_cache_path().parent.iterdir()]  # no temporary file left


def test_a_cache_path_that_is_a_file_still_gives_a_detector(own_cache: Path) -> None:
    own_cache.parent.mkdir(parents=True, exist_ok=True)
    own_cache.write_text("not a folder")
    assert type(_hog.frontal_face_detector()).__name__ == "fhog_object_detector"
