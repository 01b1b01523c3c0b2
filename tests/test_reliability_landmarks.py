"""Issue 25, item 13: a model path given by an environment variable is as strict as the option.

A wrong ``FERMASK_LANDMARKS`` (or ``FERMASK_CNN_DETECTOR``) used to be
skipped in silence and another copy of the model used; now it is the same
clear error as a wrong ``--landmarks``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fermask.cli import main
from fermask.errors import LandmarkModelNotFound
from fermask.faces import _model_files, find_cnn_detector_model, find_landmarks_model


@pytest.fixture()
def other_copies(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Another landmark model and CNN detector that the lookup would find after the variable (in the cache)."""
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / _model_files.LANDMARKS_FILE).write_bytes(b"x")
    (cache / _model_files.CNN_DETECTOR_FILE).write_bytes(b"x")
    monkeypatch.setenv("FERMASK_CACHE", str(cache))
    monkeypatch.setattr(_model_files, "_package_model", lambda file_name: None)
    monkeypatch.setattr(_model_files, "DEBIAN_DLIB_DIR", tmp_path / "no-debian")
    return cache


@pytest.mark.parametrize("value", ["nope.dat", "."])  # missing, and a folder
def test_wrong_landmarks_variable_is_an_error(other_copies: Path, tmp_path: Path, value: str,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FERMASK_LANDMARKS", str(tmp_path / value))
    with pytest.raises(LandmarkModelNotFound, match="FERMASK_LANDMARKS=.*does not exist or is not a file"):
        find_landmarks_model()
    # an explicit path still wins over the variable
    assert find_landmarks_model(other_copies / _model_files.LANDMARKS_FILE).parent == other_copies


def test_wrong_cnn_detector_variable_is_an_error(other_copies: Path, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FERMASK_CNN_DETECTOR", str(tmp_path / "nope.dat"))
    with pytest.raises(LandmarkModelNotFound, match="FERMASK_CNN_DETECTOR=.*does not exist"):
        find_cnn_detector_model()
    monkeypatch.delenv("FERMASK_CNN_DETECTOR")
    assert find_cnn_detector_model().parent == other_copies


def test_cli_refuses_a_wrong_variable_like_the_option(other_copies: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    from fermask.assets import example_photo

    photo = str(example_photo())
    monkeypatch.setenv("FERMASK_LANDMARKS", str(tmp_path / "nope.dat"))
    assert main(["mask", photo, "-o", str(tmp_path / "out"), "-q"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "FERMASK_LANDMARKS=" in err[0] and "nope.dat" in err[0]
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").glob("*.png"))
