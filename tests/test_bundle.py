"""Bundles: damaged files and descriptions that contradict the model fail at load, with the file and the fix."""

from __future__ import annotations

from collections.abc import Callable
import math
from pathlib import Path

import pytest

keras = pytest.importorskip("keras")

from fermask.bundle import INFO_FILE, MODEL_FILE, BundleInfo, load_bundle, read_bundle_info, save_bundle  # noqa: E402
from fermask.errors import DataFormatError  # noqa: E402
from fermask.labels import EMOTIONS  # noqa: E402


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> Path:
    model = keras.Sequential([keras.Input((48, 48, 1)), keras.layers.Flatten(), keras.layers.Dense(7, activation="softmax")])
    return save_bundle(tmp_path_factory.mktemp("b") / "good", model, BundleInfo(labels=list(EMOTIONS), input_shape=(48, 48, 1)))


def test_the_good_bundle_loads(good: Path) -> None:
    model, info = load_bundle(good)
    assert info.labels == list(EMOTIONS) and model.output_shape == (None, 7)
    assert not list(good.glob("*.partial*")), "save_bundle leaves no temporary files"


def test_random_bytes_as_model_keras_say_the_file_is_damaged(good: Path, copied_bundle: Callable[..., Path]) -> None:
    bad = copied_bundle(good)
    (bad / MODEL_FILE).write_bytes(bytes(range(256)) * 20)
    with pytest.raises(DataFormatError, match="exists but is not a Keras model file") as err:
        load_bundle(bad)
    assert str(bad / MODEL_FILE) in str(err.value) and "not found" not in str(err.value).lower()


def test_a_truncated_model_keras_is_a_clear_error(good: Path, copied_bundle: Callable[..., Path]) -> None:
    bad = copied_bundle(good)
    data = (bad / MODEL_FILE).read_bytes()
    (bad / MODEL_FILE).write_bytes(data[: len(data) // 2])
    with pytest.raises(DataFormatError, match=str(MODEL_FILE)):
        load_bundle(bad)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"input_shape": [64, 64, 1]}, r"takes input \(48, 48, 1\) but its description says input_shape \(64, 64, 1\)"),
        ({"labels": ["sad", "happy", "neutral"]}, r"has 7 outputs but its description says"),
        ({"output": "sigmoid", "labels": ["no", "yes"]}, r"has 7 outputs"),
    ],
)
def test_a_description_that_contradicts_the_model_fails_at_load(
    good: Path, copied_bundle: Callable[..., Path], changes: dict[str, object], message: str
) -> None:
    bad = copied_bundle(good, **changes)
    with pytest.raises(DataFormatError, match=message) as err:
        load_bundle(bad)
    assert "correct fermask.json" in str(err.value)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"face_margin": -0.2}, "face_margin is the fraction"),
        ({"face_margin": math.nan}, "face_margin is the fraction"),
        ({"face_margin": "wide"}, "face_margin"),
        ({"input_shape": "48x48"}, "input_shape"),
        ({"labels": ["happy"]}, "two or more distinct"),
        ({"labels": ["happy", "happy", "sad"]}, "two or more distinct"),
        ({"color_mode": "rgb"}, "contradicts input_shape"),
        ({"color_mode": "gray"}, "Did you mean 'grayscale'"),
    ],
)
def test_bad_descriptions_are_refused_without_loading_the_model(
    good: Path, copied_bundle: Callable[..., Path], changes: dict[str, object], message: str
) -> None:
    bad = copied_bundle(good, **changes)
    with pytest.raises(DataFormatError, match=message):
        read_bundle_info(bad)


@pytest.mark.parametrize("text", ["[1, 2]", '"bundle"', "{not json"])
def test_a_description_that_is_not_a_json_object(good: Path, copied_bundle: Callable[..., Path], text: str) -> None:
    bad = copied_bundle(good)
    (bad / INFO_FILE).write_text(text)
    with pytest.raises(DataFormatError, match="JSON"):
        read_bundle_info(bad)


def test_predictor_overrides_are_checked_and_leave_the_callers_info_alone(good: Path) -> None:
    from fermask.predictor import Predictor

    model, info = load_bundle(good)
    with pytest.raises(DataFormatError, match="face_margin is the fraction"):
        Predictor(model, info, face_margin=-1)
    with pytest.raises(DataFormatError, match="has 7 outputs.*pass labels="):
        Predictor(model, info, labels=["no", "yes"])
    p = Predictor(model, info, face_margin=0.25)
    assert p.info.face_margin == 0.25 and info.face_margin == 0.0
