"""fermask.export and ``fermask export``: Keras bundles to TFLite (every quantization), SavedModel and ONNX."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from fermask.cli import main
from fermask.errors import FermaskError, InvalidChoiceError, InvalidValueError

pytest.importorskip("tensorflow")

SHAPE = (48, 48, 1)


def _faces(n: int = 40) -> np.ndarray:
    """Real faces (scikit-image's LFW subset, 25x25), upscaled to the model's input, float32 0-255."""
    from skimage.data import lfw_subset

    from fermask._image import fit_image

    crops = (lfw_subset()[:n] * 255).round().astype(np.uint8)
    return np.stack([fit_image(c, SHAPE[:2])[..., None] for c in crops]).astype(np.float32)


@pytest.fixture(scope="module")
def keras_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny trained-looking Keras bundle: conv, pooling, softmax over the 7 emotions."""
    from fermask import save_bundle
    from fermask._tf import keras_module
    from fermask.bundle import BundleInfo

    keras = keras_module()
    keras.utils.set_random_seed(0)
    inp = keras.Input(SHAPE)
    x = keras.layers.Rescaling(1 / 255)(inp)
    x = keras.layers.Conv2D(8, 3, strides=2, activation="relu")(x)
    x = keras.layers.Conv2D(8, 3, strides=2, activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    out = keras.layers.Dense(7, activation="softmax")(keras.layers.Dense(16, activation="relu")(x))
    model = keras.Model(inp, out)
    path = tmp_path_factory.mktemp("export") / "keras_bundle"
    save_bundle(path, model, BundleInfo(input_shape=SHAPE, face_margin=0.1))
    return path


def _scores(bundle: Path, x: np.ndarray) -> np.ndarray:
    from fermask import Predictor

    return Predictor.load(bundle).scores(x)


def test_float32_export_equals_the_keras_bundle_on_real_faces(keras_bundle: Path, tmp_path: Path) -> None:
    from fermask.bundle import read_bundle_info
    from fermask.export import export_model

    faces = _faces()
    out = export_model(keras_bundle, tmp_path / "lite", calibration=faces)
    assert (out / "model.tflite").is_file() and not (out / "model.keras").exists()
    info = read_bundle_info(out)
    assert info.model_format == "tflite" and info.quantization is None
    assert info.face_margin == pytest.approx(0.1)
    want, got = _scores(keras_bundle, faces), _scores(out, faces)
    assert np.abs(want - got).max() < 1e-4
    assert (want.argmax(1) == got.argmax(1)).all()
    check = info.extra["export"]["check"]
    assert check["inputs"] == len(faces) and check["on"] == "calibration faces"
    assert check["argmax_agreement"] == 1.0 and check["max_abs_diff"] < 1e-4


@pytest.mark.parametrize("mode", ["float16", "dynamic", "int8"])
def test_each_quantization_mode_exports_and_loads(keras_bundle: Path, tmp_path: Path, mode: str,
                                                  capfd: pytest.CaptureFixture[str]) -> None:
    from fermask.bundle import load_bundle
    from fermask.export import export_model

    faces = _faces()
    capfd.readouterr()
    out = export_model(keras_bundle, tmp_path / mode, quantize=mode, calibration=faces)
    assert "fully_quantize" not in capfd.readouterr().err  # the converter's notice is dropped
    model, info = load_bundle(out)
    assert info.quantization == mode and info.model_format == "tflite"
    assert model.quantized is (mode == "int8")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # int8 rows sum to 1 only within 1/256 a label: still probabilities, no softmax
        probs = _scores(out, faces)
    assert probs.shape == (len(faces), 7) and np.allclose(probs.sum(1), 1.0, atol=1e-3)
    # close to the Keras model: quantization moves scores a little, not to other answers wholesale
    assert np.abs(probs - _scores(keras_bundle, faces)).mean() < 0.05
    record = info.extra["export"]
    assert record["quantize"] == mode and record["calibration"]["faces"] == len(faces)
    assert record["bytes"] == (out / "model.tflite").stat().st_size


def test_int8_without_calibration_is_refused_before_anything_is_written(keras_bundle: Path, tmp_path: Path) -> None:
    from fermask.export import export_model

    with pytest.raises(InvalidValueError, match="calibration"):
        export_model(keras_bundle, tmp_path / "out", quantize="int8")
    assert not (tmp_path / "out").exists()


def test_bad_format_and_quantize_are_refused(keras_bundle: Path, tmp_path: Path) -> None:
    from fermask.export import export_model

    with pytest.raises(InvalidChoiceError, match="int4"):
        export_model(keras_bundle, tmp_path / "a", quantize="int4")
    with pytest.raises(InvalidChoiceError, match="Did you mean 'tflite'"):
        export_model(keras_bundle, tmp_path / "a", format="tflit")
    with pytest.raises(InvalidValueError, match="TFLite exports only"):
        export_model(keras_bundle, tmp_path / "a", format="savedmodel", quantize="float16")
    assert not (tmp_path / "a").exists()


def test_an_existing_output_is_kept_unless_forced_and_foreign_files_never_deleted(
    keras_bundle: Path, tmp_path: Path
) -> None:
    from fermask.export import export_model

    out = export_model(keras_bundle, tmp_path / "lite")
    before = (out / "fermask.json").read_text()
    with pytest.raises(FermaskError, match="already exists"):
        export_model(keras_bundle, out, quantize="dynamic")
    assert (out / "fermask.json").read_text() == before
    export_model(keras_bundle, out, quantize="dynamic", overwrite=True)  # an earlier export: replaced
    assert json.loads((out / "fermask.json").read_text())["quantization"] == "dynamic"

    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    (mine / "fermask.json").write_text("{}")
    with pytest.raises(FermaskError, match=r"did not write \(notes.txt\)"):
        export_model(keras_bundle, mine, overwrite=True)
    assert (mine / "notes.txt").read_text() == "keep me"
    with pytest.raises(FermaskError, match="is the bundle being exported"):
        export_model(keras_bundle, keras_bundle, overwrite=True)
    assert (keras_bundle / "model.keras").is_file()


def test_a_tflite_bundle_is_not_exported_again(keras_bundle: Path, tmp_path: Path) -> None:
    from fermask.export import export_model

    lite = export_model(keras_bundle, tmp_path / "lite")
    with pytest.raises(FermaskError, match="tflite bundle; export reads Keras bundles"):
        export_model(lite, tmp_path / "again")


def test_savedmodel_export_serves_the_keras_answers(keras_bundle: Path, tmp_path: Path) -> None:
    import tensorflow as tf

    from fermask.export import export_model

    faces = _faces(8)
    out = export_model(keras_bundle, tmp_path / "sm", format="savedmodel")
    assert (out / "saved_model.pb").is_file()
    record = json.loads((out / "fermask.json").read_text())
    assert record["model_format"] == "savedmodel" and record["extra"]["export"]["check"]["max_abs_diff"] < 1e-5
    loaded = tf.saved_model.load(str(out))  # kept: a temporary would lose its variables mid-call
    served = np.asarray(loaded.serve(faces))
    assert np.abs(served - _scores(keras_bundle, faces)).max() < 1e-5
    from fermask import Predictor

    with pytest.raises(FermaskError, match="savedmodel export .*--format tflite"):
        Predictor.load(out)  # not a bundle fermask runs: it says what to do instead


def test_onnx_export_when_tf2onnx_is_installed(keras_bundle: Path, tmp_path: Path) -> None:
    pytest.importorskip("tf2onnx")
    ort = pytest.importorskip("onnxruntime")
    from fermask.export import export_model

    faces = _faces(8)
    out = export_model(keras_bundle, tmp_path / "onnx", format="onnx")
    session = ort.InferenceSession(str(out / "model.onnx"), providers=["CPUExecutionProvider"])
    got = session.run(None, {session.get_inputs()[0].name: faces})[0]
    assert np.abs(got - _scores(keras_bundle, faces)).max() < 1e-4
    assert json.loads((out / "fermask.json").read_text())["model_format"] == "onnx"


def test_calibration_faces_from_a_folder_of_crops_fit_the_bundle(tmp_path: Path) -> None:
    from PIL import Image
    from skimage.data import lfw_subset

    from fermask.bundle import BundleInfo
    from fermask.export import calibration_faces

    folder = tmp_path / "faces"
    folder.mkdir()
    for i, face in enumerate((lfw_subset()[:25] * 255).astype(np.uint8)):
        Image.fromarray(face).save(folder / f"{i:02d}.png")
    x = calibration_faces(folder, BundleInfo(input_shape=(64, 64, 3)), max_faces=21)
    assert x.shape == (21, 64, 64, 3) and x.dtype == np.float32 and 0 <= x.min() and x.max() <= 255
    with pytest.warns(UserWarning, match="only 5 calibration face"):
        calibration_faces(folder, BundleInfo(input_shape=SHAPE), max_faces=5)
    with pytest.raises(FermaskError, match="does not exist"):
        calibration_faces(tmp_path / "nowhere", BundleInfo())


# ----------------------------------------------------------------------------- the command
def test_cli_exports_and_prints_the_agreement(keras_bundle: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", str(keras_bundle), "-o", str(tmp_path / "lite"), "--quantize", "float16"]) == 0
    out = capsys.readouterr().out
    assert "quantize=float16" in out and "same top class" in out and "fermask predict PHOTO --model" in out
    assert "against the Keras model on 16 random-pixel images:" in out  # not "16 random pixels"


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--quantize", "int8"], "--quantize int8 needs --calibration DATA"),
        (["--format", "savedmodel", "--quantize", "dynamic"], "applies to --format tflite only"),
    ],
)
def test_cli_option_errors_are_one_line_exit_2(
    keras_bundle: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert main(["export", str(keras_bundle), "-o", str(tmp_path / "x"), *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and err.startswith("fermask export: error:") and "\n" not in err
    assert not (tmp_path / "x").exists()


def test_cli_refuses_an_existing_output_and_an_unknown_quantization(
    keras_bundle: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "taken"
    out.mkdir()
    (out / "photo.jpg").write_bytes(b"x")
    assert main(["export", str(keras_bundle), "-o", str(out)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["export", str(keras_bundle), "-o", str(out), "--force"]) == 2
    assert "did not write (photo.jpg)" in capsys.readouterr().err and (out / "photo.jpg").is_file()
    with pytest.raises(SystemExit) as exc:
        main(["export", str(keras_bundle), "-o", str(tmp_path / "y"), "--quantize", "int4"])
    assert exc.value.code == 2 and "invalid choice: 'int4'" in capsys.readouterr().err


def test_importing_export_loads_no_tensorflow() -> None:
    code = (
        "import sys, fermask.export, fermask.commands.export, fermask.cli; fermask.cli.build_parser(); "
        "bad = sorted(m for m in ('tensorflow', 'keras') if m in sys.modules); print(bad); sys.exit(1 if bad else 0)"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
