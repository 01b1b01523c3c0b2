"""Shared fixtures: real faces from scikit-image's bundled data."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Tests never read or write the user's cache (a downloaded pretrained model there would
# change what `fermask predict` and `fermask demo` do); subprocesses inherit this.
_TEST_CACHE = os.environ["FERMASK_CACHE"] = tempfile.mkdtemp(prefix="fermask-test-cache-")

import numpy as np
import pytest
from PIL import Image


@pytest.fixture(scope="session", autouse=True)
def blazeface_files() -> Path | None:
    """BlazeFace's files in the tests' cache, so the default ``hybrid`` detector runs as users get it.

    Fetched once per session with the real ``pip download`` of the pinned
    mediapipe wheel; where the package index cannot be reached, the suite
    runs with HOG alone (the documented fallback) and the tests that need
    BlazeFace skip.
    """
    from fermask.errors import FermaskError
    from fermask.faces._detector_files import download_detector

    try:
        return download_detector(progress=False)
    except FermaskError:
        return None


@pytest.fixture()
def shared_faces() -> Path:
    """The licence-clean faces (``../shared/faces``; ``FERMASK_FACES`` overrides; a worktree looks one level up).

    Skips the test where the folder is not there.
    """
    root = Path(__file__).resolve().parents[1]
    for candidate in (os.environ.get("FERMASK_FACES"), root.parent / "shared" / "faces",
                      root.parents[1] / "shared" / "faces"):
        if candidate and (Path(candidate) / "provenance.csv").is_file():
            return Path(candidate)
    pytest.skip("the licence-clean faces folder (../shared/faces) is not here")


@pytest.fixture()
def needs_blazeface(blazeface_files: Path | None) -> Path:
    """Skip a test when BlazeFace's files could not be fetched."""
    if blazeface_files is None:
        pytest.skip("the package index is unreachable, so BlazeFace's files (mediapipe wheel) cannot be fetched")
    return blazeface_files


@pytest.fixture()
def fake_distribution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Make a distribution look installed: ``make(name, version, entry_points)``.

    Writes ``NAME-VERSION.dist-info`` (its ``METADATA`` and the given
    ``entry_points.txt`` text) into ``tmp_path`` and puts ``tmp_path`` on
    ``sys.path``, where the test writes the plugin's modules.
    """

    def make(name: str, version: str, entry_points: str) -> Path:
        dist = tmp_path / f"{name.replace('-', '_')}-{version}.dist-info"
        dist.mkdir()
        (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        (dist / "entry_points.txt").write_text(entry_points)
        monkeypatch.syspath_prepend(str(tmp_path))
        return dist

    return make


@pytest.fixture()
def copied_bundle(tmp_path: Path):  # type: ignore[no-untyped-def]
    """``copy(src, **changes)``: a copy of the bundle folder ``src`` in ``tmp_path/bundle``,
    its ``fermask.json`` updated with ``changes`` (to make a bundle that contradicts itself)."""

    def copy(src: Path, **changes: object) -> Path:
        dest = tmp_path / "bundle"
        shutil.copytree(src, dest)
        if changes:
            info = dest / "fermask.json"
            info.write_text(json.dumps({**json.loads(info.read_text()), **changes}))
        return dest

    return copy


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    shutil.rmtree(_TEST_CACHE, ignore_errors=True)


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    """scikit-image's public-domain 512x512 RGB portrait (one face)."""
    skdata = pytest.importorskip("skimage.data")
    return np.ascontiguousarray(skdata.astronaut())


@pytest.fixture(scope="session")
def astronaut_face_box() -> tuple[int, int, int, int]:
    """A generous box around the astronaut's face (left, top, right, bottom)."""
    return (165, 60, 285, 200)


@pytest.fixture(scope="session")
def astronaut_crop48(astronaut: np.ndarray) -> np.ndarray:
    """The astronaut's face cropped like FER2013: 48x48 gray."""
    crop = Image.fromarray(astronaut).crop((170, 70, 275, 185)).convert("L")
    return np.asarray(crop.resize((48, 48), Image.BILINEAR))


@pytest.fixture(scope="session")
def lfw_crops48() -> np.ndarray:
    """100 real face crops (LFW subset bundled with scikit-image), resized to 48x48 gray uint8."""
    skdata = pytest.importorskip("skimage.data")
    faces = skdata.lfw_subset()[:100]
    out = np.empty((len(faces), 48, 48), dtype=np.uint8)
    for i, f in enumerate(faces):
        img = Image.fromarray((f * 255).round().astype(np.uint8))
        out[i] = np.asarray(img.resize((48, 48), Image.BILINEAR))
    return out
