"""TFLite bundles: the runtime seam, saving and loading, refusals of damaged or contradicting bundles."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

from fermask._runtime import TFLiteModel, runtime_name  # noqa: E402
from fermask.bundle import (  # noqa: E402
    INFO_FILE,
    TFLITE_MODEL_FILE,
    BundleInfo,
    load_bundle,
    model_file_name,
    read_bundle_info,
    save_bundle,
    save_tflite_bundle,
)
from fermask.errors import DataFormatError, InvalidChoiceError  # noqa: E402

LABELS = ["calm", "glad", "cross"]


@pytest.fixture(scope="module")
def tiny() -> keras.Model:
    """A 3-class 16x16 gray model taking 0-255 pixels, as fermask's own models do."""
    keras.utils.set_random_seed(3)
    return keras.Sequential([
        keras.Input((16, 16, 1)), keras.layers.Rescaling(1 / 255), keras.layers.Conv2D(4, 3, activation="relu"),
        keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(3, activation="softmax"),
    ])


def _convert(model: keras.Model, int8: bool = False) -> bytes:
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if int8:
        rng = np.random.default_rng(0)
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: (
            [rng.uniform(0, 255, (1, 16, 16, 1)).astype(np.float32)] for _ in range(32))
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    return bytes(converter.convert())


@pytest.fixture(scope="module")
def tflite_bytes(tiny: keras.Model) -> bytes:
    return _convert(tiny)


@pytest.fixture(scope="module")
def bundle(tflite_bytes: bytes, tmp_path_factory: pytest.TempPathFactory) -> Path:
    info = BundleInfo(labels=LABELS, input_shape=(16, 16, 1), face_margin=0.1)
    return save_tflite_bundle(tmp_path_factory.mktemp("b") / "lite", tflite_bytes, info)


@pytest.fixture(scope="module")
def batch() -> np.ndarray:
    return np.random.default_rng(1).uniform(0, 255, (5, 16, 16, 1)).astype(np.float32)


def test_a_tflite_bundle_round_trips_within_1e4(bundle: Path, tiny: keras.Model, batch: np.ndarray) -> None:
    model, info = load_bundle(bundle)
    assert isinstance(model, TFLiteModel)
    assert info.model_format == "tflite" and info.quantization is None and info.face_margin == 0.1
    assert sorted(p.name for p in bundle.iterdir()) == [INFO_FILE, TFLITE_MODEL_FILE]
    assert json.loads((bundle / INFO_FILE).read_text())["model_format"] == "tflite"
    want = tiny.predict(batch, verbose=0)
    np.testing.assert_allclose(model(batch), want, atol=1e-4)
    assert (model(batch).argmax(1) == want.argmax(1)).all()
    # the batch dimension follows the input, both ways, and a Keras-style predict works
    np.testing.assert_allclose(model(batch[:2]), want[:2], atol=1e-4)
    np.testing.assert_allclose(model.predict(batch, batch_size=3), want, atol=1e-4)
    assert model(batch[:0]).shape == (0, 3)


def test_tflite_model_properties(tflite_bytes: bytes) -> None:
    model = TFLiteModel(tflite_bytes, num_threads=1)
    assert model.input_shape == (16, 16, 1) and model.num_outputs == 3
    assert model.input_dtype == np.float32 and not model.quantized
    assert runtime_name() == "litert"  # the venv has ai-edge-litert: TensorFlow's interpreter is not used
    with pytest.raises(DataFormatError, match=r"takes batches of shape \(n, \(16, 16, 1\)\)"):
        model(np.zeros((2, 8, 8, 1), np.float32))


@pytest.mark.filterwarnings("ignore:Statistics for quantized inputs")
def test_int8_input_and_output_are_quantized_and_dequantized(tiny: keras.Model, batch: np.ndarray) -> None:
    model = TFLiteModel(_convert(tiny, int8=True))
    assert model.quantized and model.input_dtype == np.int8
    got = model(batch)
    assert got.dtype == np.float32 and got.shape == (5, 3)
    np.testing.assert_allclose(got, tiny.predict(batch, verbose=0), atol=0.05)  # int8 steps of 1/256


def test_model_file_name_follows_the_format() -> None:
    assert model_file_name(BundleInfo()) == "model.keras"
    assert model_file_name(BundleInfo(model_format="tflite")) == "model.tflite"


def test_old_descriptions_load_as_keras_and_quantization_is_checked(
    bundle: Path, copied_bundle: Callable[..., Path]
) -> None:
    data = BundleInfo().to_dict()
    del data["model_format"], data["quantization"]
    info = BundleInfo.from_dict(data)
    assert info.model_format == "keras" and info.quantization is None
    assert BundleInfo(model_format="tflite", quantization="none").quantization is None
    with pytest.raises(InvalidChoiceError, match="quantization must be"):
        BundleInfo(model_format="tflite", quantization="int4")
    with pytest.raises(InvalidChoiceError, match="model_format must be"):
        BundleInfo(model_format="onnx")
    with pytest.raises(DataFormatError, match="quantization 'int8' is for TFLite bundles"):
        BundleInfo(quantization="int8")
    assert read_bundle_info(copied_bundle(bundle, quantization="dynamic")).quantization == "dynamic"


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"input_shape": [48, 48, 1]}, r"takes input \(16, 16, 1\) but its description says input_shape \(48, 48, 1\)"),
        ({"labels": ["a", "b", "c", "d"]}, r"has 3 outputs but its description says .*expected 4"),
        ({"model_format": "keras"}, r"has no model.keras .*model_format='keras'"),
    ],
)
def test_a_description_that_contradicts_the_model_is_refused(bundle: Path, copied_bundle: Callable[..., Path],
                                                             changes: dict[str, object], match: str) -> None:
    with pytest.raises(DataFormatError, match=match):
        load_bundle(copied_bundle(bundle, **changes))


@pytest.mark.parametrize("damage", ["truncate", "tamper", "empty", "text"])
def test_a_damaged_tflite_file_gives_one_clear_line(
    bundle: Path, copied_bundle: Callable[..., Path], damage: str
) -> None:
    dest = copied_bundle(bundle)
    f = dest / TFLITE_MODEL_FILE
    raw = f.read_bytes()
    f.write_bytes({"truncate": raw[: len(raw) // 3], "tamper": raw[:8] + b"\xff" * 64 + raw[72:], "empty": b"",
                   "text": b"<html>not found</html>"}[damage])
    with pytest.raises(DataFormatError) as err:
        load_bundle(dest)
    message = str(err.value)
    assert "\n" not in message and str(f) in message
    assert "not a TFLite model" in message or "damaged or truncated TFLite model" in message


def test_save_tflite_bundle_refuses_what_is_not_a_model_or_not_described(tflite_bytes: bytes, tmp_path: Path) -> None:
    with pytest.raises(DataFormatError, match="not a TFLite model"):
        save_tflite_bundle(tmp_path / "x", b"PK\x03\x04 a zip file", BundleInfo(labels=LABELS, input_shape=(16, 16, 1)))
    with pytest.raises(DataFormatError, match="has 3 outputs"):
        save_tflite_bundle(tmp_path / "y", tflite_bytes, BundleInfo(input_shape=(16, 16, 1)))  # 7 emotions
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


def test_save_bundle_writes_keras_even_from_a_tflite_description(tiny: keras.Model, tmp_path: Path) -> None:
    info = BundleInfo(labels=LABELS, input_shape=(16, 16, 1), model_format="tflite", quantization="dynamic")
    model, loaded = load_bundle(save_bundle(tmp_path / "k", tiny, info))
    assert loaded.model_format == "keras" and loaded.quantization is None and hasattr(model, "layers")


def test_pixel_range_is_applied_by_the_predictor(tmp_path: Path, batch: np.ndarray) -> None:
    """A model taking -1..1 (as fer's published model does) gets its range from ``pixel_range``."""
    from fermask.predictor import Predictor

    keras.utils.set_random_seed(4)
    inner = keras.Sequential([keras.Input((16, 16, 1)), keras.layers.Flatten(), keras.layers.Dense(3, activation="softmax")])
    info = BundleInfo(labels=LABELS, input_shape=(16, 16, 1), pixel_range=(-1.0, 1.0))
    path = save_tflite_bundle(tmp_path / "sym", _convert(inner), info)
    got = Predictor.load(path).scores(batch)
    want = inner.predict(batch / 127.5 - 1.0, verbose=0)
    np.testing.assert_allclose(got, want, atol=1e-4)


# ----------------------------------------------------------------------------- the same model, Keras and TFLite
@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """One 48x48 emotion model saved twice: a Keras bundle and a TFLite bundle."""
    from fermask.labels import EMOTIONS

    keras.utils.set_random_seed(7)
    model = keras.Sequential([
        keras.Input((48, 48, 1)), keras.layers.Rescaling(1 / 255),
        keras.layers.Conv2D(4, 5, strides=2, activation="relu"), keras.layers.Flatten(),
        keras.layers.Dense(7, activation="softmax", kernel_initializer=keras.initializers.RandomNormal(stddev=0.3, seed=7)),
    ])
    root = tmp_path_factory.mktemp("pair")
    info = BundleInfo(labels=list(EMOTIONS), input_shape=(48, 48, 1), face_margin=0.05)
    return str(save_bundle(root / "keras", model, info)), str(save_tflite_bundle(root / "lite", _convert(model), info))


def _scores(lists: list) -> np.ndarray:  # type: ignore[type-arg]
    return np.array([[p.scores[k] for k in p.scores] for preds in lists for p in preds])


def test_predictor_on_tflite_equals_keras(pair: tuple[str, str], astronaut: np.ndarray,
                                          lfw_crops48: np.ndarray) -> None:
    from fermask.predictor import Predictor

    keras_p, lite_p = (Predictor.load(b) for b in pair)
    assert isinstance(lite_p.model, TFLiteModel) and lite_p.info.model_format == "tflite"
    one_k, one_l = keras_p.predict(astronaut), lite_p.predict(astronaut)
    assert len(one_l) == 1 and one_l[0].box == one_k[0].box and one_l[0].label == one_k[0].label
    np.testing.assert_allclose(_scores([one_l]), _scores([one_k]), atol=1e-4)
    images = [astronaut, *lfw_crops48[:6], np.zeros((30, 30), np.uint8)]
    want = keras_p.predict_many(images, batch_size=4, workers=1)
    for workers in (1, 2):  # worker threads find faces; the one interpreter scores them
        got = lite_p.predict_many(images, batch_size=4, workers=workers)
        assert [len(r) for r in got] == [len(r) for r in want]
        np.testing.assert_allclose(_scores(got), _scores(want), atol=1e-4)
    np.testing.assert_allclose(lite_p.predict_crops(list(lfw_crops48[:9]), batch_size=4),
                               keras_p.predict_crops(list(lfw_crops48[:9])), atol=1e-4)
    masked = Predictor.load(pair[1], simulate_mask="surgical").predict(astronaut)
    assert masked[0].masked_style == "surgical"


def test_video_cli_and_plots_on_a_tflite_bundle(pair: tuple[str, str], astronaut: np.ndarray, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("imageio_ffmpeg")
    import imageio.v3 as iio
    from PIL import Image

    from fermask.cli import main
    from fermask.predictor import Predictor
    from fermask.video import predict_video

    small = np.asarray(Image.fromarray(astronaut).resize((256, 256)))
    clip = tmp_path / "clip.mp4"
    iio.imwrite(clip, np.stack([small, small, np.full_like(small, 100)]), plugin="FFMPEG", fps=5)
    result = predict_video(Predictor.load(pair[1]), clip)
    want = predict_video(Predictor.load(pair[0]), clip)
    assert [len(p) for _, _, p in result.frames] == [1, 1, 0]
    np.testing.assert_allclose(result.timeline()[1][:2], want.timeline()[1][:2], atol=1e-4)
    photo = tmp_path / "astronaut.png"
    Image.fromarray(astronaut).save(photo)
    assert main(["predict", str(photo), "-m", pair[1], "--json", "--plot", str(tmp_path / "plots"), "-q"]) == 0
    face = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["faces"][0]
    assert face["label"] == Predictor.load(pair[0]).predict(astronaut)[0].label
    assert list((tmp_path / "plots").glob("*.png"))


def test_tensorflow_start_up_notices_are_dropped_and_other_lines_kept(capfd: pytest.CaptureFixture[str]) -> None:
    from fermask._runtime import TF_IMPORT_NOTICES, filtered_stderr

    with filtered_stderr(TF_IMPORT_NOTICES):
        os.write(2, b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n")
        os.write(2, b"I0000 port.cc:153] oneDNN custom operations are on. You may see ...\n")
        os.write(2, b"E0000 something real went wrong\n")
    err = capfd.readouterr().err
    assert err == "E0000 something real went wrong\n"


def test_the_notice_filter_restores_stderr_when_the_import_fails(capfd: pytest.CaptureFixture[str]) -> None:
    from fermask._runtime import filtered_stderr

    with pytest.raises(ImportError), filtered_stderr(("noise",)):
        os.write(2, b"noise\nkept before the failure\n")
        raise ImportError("no tensorflow")
    os.write(2, b"after\n")
    assert capfd.readouterr().err == "kept before the failure\nafter\n"


def test_importing_tensorflow_through_fermask_prints_nothing_on_stderr() -> None:
    pytest.importorskip("tensorflow")
    code = "import fermask; fermask.import_keras()"
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "FERMASK_TF_NOTICES")}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""


def test_keras_step_function_retracing_warnings_are_dropped_and_others_kept() -> None:
    import logging

    from fermask._tf import _KerasRetracingFilter

    def record(message: str) -> logging.LogRecord:
        return logging.LogRecord("tensorflow", logging.WARNING, __file__, 1, message, None, None)

    keep = _KerasRetracingFilter().filter
    assert not keep(record("5 out of the last 13 calls to <function TensorFlowTrainer._make_function.<locals>."
                           "multi_step_on_iterator at 0x7f> triggered tf.function retracing. Tracing is expensive"))
    assert keep(record("5 out of the last 5 calls to <function my_step at 0x7f> triggered tf.function retracing."))
    assert keep(record("TensorFlowTrainer: something else"))


def test_making_interpreters_prints_nothing_on_stderr() -> None:
    model = Path(__file__).parent / "data" / "tiny_tflite_bundle" / "model.tflite"
    code = ("import sys; from pathlib import Path; from fermask._runtime import TFLiteModel; "
            f"b = Path({str(model)!r}).read_bytes(); TFLiteModel(b); TFLiteModel(b)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""  # the runtime's "Created TensorFlow Lite XNNPACK delegate" line is dropped
