"""Finding the landmark model, downloading it with a checksum, face policies."""

from __future__ import annotations

import bz2
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from fermask import faces
from fermask.faces import _model_files
from fermask.errors import FermaskError, InvalidChoiceError, InvalidValueError, LandmarkModelNotFound
from fermask.faces import LANDMARKS_FILE, FaceAnalyzer, download_landmarks_model, find_landmarks_model


def test_explicit_path_wins_and_must_exist(tmp_path: Path) -> None:
    f = tmp_path / "model.dat"
    f.write_bytes(b"x")
    assert find_landmarks_model(f) == f
    with pytest.raises(LandmarkModelNotFound, match="does not exist"):
        find_landmarks_model(tmp_path / "missing.dat")


def test_environment_variable_comes_before_packages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "env.dat"
    f.write_bytes(b"x")
    monkeypatch.setenv("FERMASK_LANDMARKS", str(f))
    assert find_landmarks_model() == f


def test_not_found_lists_every_way(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FERMASK_LANDMARKS", raising=False)
    monkeypatch.setenv("FERMASK_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(_model_files, "_package_model", lambda file_name: None)
    monkeypatch.setattr(_model_files, "DEBIAN_DLIB_DIR", tmp_path / "no-debian")
    with pytest.raises(LandmarkModelNotFound) as err:
        find_landmarks_model()
    msg = str(err.value)
    for way in ("landmarks_path", "FERMASK_LANDMARKS", "fermask[landmarks]", "libdlib-data",
                "fermask download-landmarks", "iBUG 300-W"):
        assert way in msg
    # the user cache is the last place looked at
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / faces.LANDMARKS_FILE).write_bytes(b"x")
    assert find_landmarks_model() == tmp_path / "cache" / faces.LANDMARKS_FILE


def test_download_checks_sha256_and_keeps_nothing_on_mismatch(tmp_path: Path) -> None:
    src = tmp_path / "model.dat.bz2"
    src.write_bytes(bz2.compress(b"not the real model"))
    dest = tmp_path / "cache" / faces.LANDMARKS_FILE
    with pytest.raises(FermaskError, match="expected " + faces.LANDMARKS_SHA256):
        download_landmarks_model(src.as_uri(), dest, progress=False)
    assert not dest.exists()
    assert list(dest.parent.iterdir()) == []


def test_download_keeps_a_verified_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    payload = b"pretend model bytes"
    import hashlib

    monkeypatch.setattr(_model_files, "LANDMARKS_SHA256", hashlib.sha256(payload).hexdigest())
    src = tmp_path / "model.dat.bz2"
    src.write_bytes(bz2.compress(payload))
    out = download_landmarks_model(src.as_uri(), tmp_path / "m.dat", progress=False)
    assert out.read_bytes() == payload


def test_policies_on_a_crop_and_a_faceless_photo(astronaut_crop48: np.ndarray) -> None:
    noise = np.random.default_rng(1).integers(0, 255, (300, 300), dtype=np.uint8)
    small_noise = noise[:48, :48]
    assert FaceAnalyzer(face_policy="full_frame").find(small_noise)[0].detected is False
    assert FaceAnalyzer(face_policy="detect").find(small_noise) == []
    assert FaceAnalyzer(face_policy="auto").find(small_noise)[0].box == (0, 0, 47, 47)
    assert FaceAnalyzer(face_policy="auto").find(noise) == []  # a large image is never masked blindly
    crop_faces = FaceAnalyzer(face_policy="auto").find(astronaut_crop48)
    assert len(crop_faces) == 1 and crop_faces[0].landmarks.shape == (68, 2)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="face_policy"):
        FaceAnalyzer(face_policy="sometimes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="detector"):
        FaceAnalyzer(detector="eyes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="upsample"):
        FaceAnalyzer(upsample=9)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"face_policy": "sometimes"}, InvalidChoiceError, "face_policy must be 'auto', 'detect' or 'full_frame'"),
        ({"detector": "hogg"}, InvalidChoiceError, "Did you mean 'hog'"),
        ({"upsample": 5}, InvalidValueError, "upsample must be a whole number from 0 to 4"),
        ({"upsample": True}, InvalidValueError, "upsample"),
        ({"min_score": "high"}, InvalidValueError, "min_score must be a number"),
    ],
)
def test_face_options_are_checked_in_one_place(kwargs: dict[str, Any], error: type[Exception], match: str) -> None:
    from fermask.faces import FaceOptions
    from fermask.masker import Masker

    for make in (FaceOptions, FaceAnalyzer, Masker):  # the Predictor: tests/test_predictor.py
        with pytest.raises(error, match=match):
            make(**kwargs)


def test_face_options_hold_the_defaults() -> None:
    import inspect

    from fermask.faces import DEFAULT_MIN_SCORE, FaceOptions
    from fermask.masker import Masker
    from fermask.predictor import Predictor

    opts = FaceOptions(upsample=1.0, min_score="0.5")  # type: ignore[arg-type]
    assert (opts.upsample, opts.min_score) == (1, 0.5)
    assert FaceOptions().min_score == DEFAULT_MIN_SCORE == 0.1
    for cls in (FaceAnalyzer, Masker, Predictor):
        assert inspect.signature(cls).parameters["min_score"].default == DEFAULT_MIN_SCORE


def test_the_old_policy_argument_still_works_with_a_deprecation_warning() -> None:
    with pytest.warns(DeprecationWarning, match="face_policy"):
        analyzer = FaceAnalyzer(policy="detect")
    assert analyzer.config()["policy"] == "detect"


def test_the_face_policy_is_stored_under_the_name_the_constructor_takes() -> None:
    analyzer = FaceAnalyzer(face_policy="full_frame")
    assert analyzer.face_policy == "full_frame" and "policy" not in vars(analyzer)
    with pytest.warns(DeprecationWarning, match="use FaceAnalyzer.face_policy instead"):
        assert analyzer.policy == "full_frame"
    with pytest.warns(DeprecationWarning, match="use FaceAnalyzer.face_policy instead"):
        analyzer.policy = "detect"
    assert analyzer.face_policy == "detect" and analyzer.config()["policy"] == "detect"


def test_download_failure_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FermaskError, match="could not download.*fermask\\[landmarks\\]"):
        download_landmarks_model((tmp_path / "absent.dat.bz2").as_uri(), tmp_path / "m.dat", progress=False)
    assert not (tmp_path / "m.dat").exists() and list(tmp_path.iterdir()) == []


def test_an_analyzer_sent_to_a_machine_without_the_senders_model_path_uses_its_own(
    tmp_path: Path, astronaut_crop48: np.ndarray
) -> None:
    import pickle

    analyzer = FaceAnalyzer(face_policy="full_frame")
    own = analyzer.landmarks_path
    state = analyzer.__getstate__()
    elsewhere = pickle.loads(pickle.dumps(analyzer))
    elsewhere.__setstate__({**state, "landmarks_path": str(tmp_path / "gone" / LANDMARKS_FILE)})
    assert elsewhere.landmarks_path == own  # the standard model: this machine's copy is found
    assert elsewhere.find(astronaut_crop48)[0].landmarks.shape == (68, 2)
    custom = pickle.loads(pickle.dumps(analyzer))
    custom.__setstate__({**state, "landmarks_path": str(tmp_path / "my_landmarks.dat")})
    assert custom.landmarks_path == str(tmp_path / "my_landmarks.dat")  # a custom model is never swapped
    with pytest.raises(LandmarkModelNotFound, match="is not on this machine .*pip install 'fermask\\[landmarks\\]'"):
        custom.find(astronaut_crop48)


def test_the_packaged_model_is_found_without_importing_its_package() -> None:
    """face-recognition-models imports pkg_resources (40 ms) just to build the path fermask finds itself."""
    import subprocess
    import sys

    pytest.importorskip("face_recognition_models")
    code = (
        "import sys, os\n"
        "os.environ.pop('FERMASK_LANDMARKS', None)\n"
        "from fermask.faces import find_landmarks_model, find_cnn_detector_model\n"
        "print(find_landmarks_model())\n"
        "print(find_cnn_detector_model())\n"
        "print(sorted(m for m in ('face_recognition_models', 'pkg_resources') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.splitlines()
    assert out[0].endswith("face_recognition_models/models/" + LANDMARKS_FILE) and Path(out[0]).is_file()
    assert out[1].endswith("face_recognition_models/models/mmod_human_face_detector.dat")
    assert out[2] == "[]"
