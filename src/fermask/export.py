"""Export a Keras bundle for deployment: a TFLite bundle (float or quantized), a SavedModel or ONNX.

A TFLite bundle (``model.tflite`` beside ``fermask.json``) loads through
:meth:`fermask.Predictor.load`, :func:`fermask.load_bundle` and
``fermask predict -m`` like a Keras bundle, and runs on LiteRT without
TensorFlow (``pip install 'fermask[lite]'``). Exporting needs TensorFlow
(``fermask[cpu]``); running the result does not.

Quantization (TFLite only) trades accuracy for size and speed:

* ``"none"``: float32, the same answers as the Keras model (within 1e-4).
* ``"float16"``: weights stored as float16 (half the size), computed in float32.
* ``"dynamic"``: weights stored as int8 (a quarter of the size), activations
  quantized on the fly.
* ``"int8"``: weights *and* activations int8, input and output too (full
  integer). The ranges of the activations are measured on *calibration
  faces*, so this mode needs ``calibration``.

Calibration data are faces like those the model will see when it predicts:
cropped and sized as the bundle crops them (its ``face_margin``, input size
and colour mode), masked if you will predict on masked faces. Labels are not
read and nothing is trained; the faces only set the int8 ranges. Any face
data :func:`fermask.adaptation.load_faces` reads will do: a folder of face
crops or photos (faces are found and cropped), a FER2013-format CSV, a saved
dataset, a :class:`~fermask.FERDataset` or an array of images. A few hundred
faces are enough (``max_faces``, default 300). Given with another mode, the
same faces are used only to measure how often the export agrees with the
Keras model.

Examples:
    >>> from fermask.export import export_model
    >>> export_model("fer-mini-xception", "bundles/fer-lite")  # doctest: +SKIP
    PosixPath('bundles/fer-lite')
    >>> export_model("runs/mine/bundle", "bundles/mine-int8", quantize="int8",
    ...              calibration="data/fer2013.csv")  # doctest: +SKIP
    PosixPath('bundles/mine-int8')
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from ._choices import EXPORT_FORMATS, QUANTIZATIONS, check_choice
from ._files import BUNDLE_INFO_FILE, check_replaceable, json_default, write_json_atomic
from ._runtime import CONVERTER_NOTICES, filtered_stderr
from ._version import __version__
from .bundle import BundleInfo, read_bundle_info, resolve_model, save_tflite_bundle
from .errors import FermaskError, InvalidValueError, MissingDependencyError
from .pretrained import locate_bundle

__all__ = [
    "export_model",
    "calibration_faces",
    "EXPORT_FORMATS",
    "DEFAULT_MAX_FACES",
    "MIN_CALIBRATION_FACES",
]

#: Calibration faces used at most (a random subset of larger data).
DEFAULT_MAX_FACES = 300
#: Fewer calibration faces than this give a warning: int8 ranges measured on a handful of faces clip the rest.
MIN_CALIBRATION_FACES = 20
#: The file name of an ONNX export.
ONNX_MODEL_FILE = "model.onnx"
#: How many random-pixel inputs check an export when no calibration faces are given.
_PROBE_INPUTS = 16


def export_model(
    source: Any,
    out_dir: str | os.PathLike[str],
    *,
    format: str = "tflite",
    quantize: str = "none",
    calibration: Any = None,
    info: BundleInfo | None = None,
    max_faces: int = DEFAULT_MAX_FACES,
    overwrite: bool = False,
    progress: bool = False,
) -> Path:
    """Export a Keras model bundle as a TFLite bundle, a SavedModel or an ONNX model.

    Args:
        source: A Keras bundle folder, a downloaded pretrained model's name
            (``"fer-mini-xception"``; see ``fermask pretrained``), a
            :class:`~fermask.Predictor` on a Keras model, or a Keras model
            (described by ``info``, else by its shapes).
        out_dir: The folder to write; it must not exist (or be empty) unless
            ``overwrite``.
        format: ``"tflite"`` (a bundle fermask runs without TensorFlow),
            ``"savedmodel"`` (TensorFlow Serving and other TensorFlow tools)
            or ``"onnx"`` (needs ``pip install tf2onnx onnx``).
        quantize: TFLite only: ``"none"`` (float32), ``"float16"``,
            ``"dynamic"`` (int8 weights) or ``"int8"`` (full integer; needs
            ``calibration``). See the module documentation.
        calibration: Faces that set the int8 ranges (required for
            ``"int8"``), and on which every export is compared with the Keras
            model: a folder of face crops or photos, a FER2013-format CSV, a
            saved dataset, a FERDataset or an array (see :func:`calibration_faces`).
        info: The description of a bare Keras model ``source``.
        max_faces: The most calibration faces used (a seeded random subset).
        overwrite: Replace ``out_dir`` when it holds a previous export (a folder
            with anything fermask did not write is never replaced).
        progress: Show a progress bar while reading calibration photos.

    Returns:
        The folder written. It holds ``fermask.json`` beside ``model.tflite``,
        the SavedModel or ``model.onnx``; ``extra["export"]`` in it records the
        source, the mode, the calibration and how often the export agreed with
        the Keras model.

    Raises:
        InvalidChoiceError: An unknown ``format`` or ``quantize``.
        InvalidValueError: ``quantize`` with a format other than TFLite, or
            ``"int8"`` without ``calibration``.
        FermaskError: ``out_dir`` exists (see ``overwrite``), ``source`` is
            not a Keras model, or the conversion failed.
        MissingDependencyError: TensorFlow (or, for ONNX, tf2onnx) is not installed.
    """
    check_choice(format, EXPORT_FORMATS, "format")
    check_choice(quantize, QUANTIZATIONS, "quantize")
    if format != "tflite" and quantize != "none":
        raise InvalidValueError(
            f"quantize={quantize!r} applies to TFLite exports only, got format={format!r}; "
            "use format='tflite' or leave quantize at 'none'"
        )
    if quantize == "int8" and calibration is None:
        raise InvalidValueError(
            "quantize='int8' needs calibration faces to measure the int8 ranges: pass calibration= "
            "(CLI: --calibration DATA) a folder of face crops or photos, a FER2013-format CSV or a saved "
            "dataset, like the faces the model will see; or choose quantize='dynamic', which needs none"
        )
    out = Path(out_dir)
    source_dir = _source_dir(source)
    _check_output(out, overwrite, source_dir)
    model, info, description = _keras_source(source, info)
    faces = None
    if calibration is not None:
        faces = calibration_faces(calibration, info, max_faces=max_faces, progress=progress)
    record: dict[str, Any] = {
        "from": description,
        "format": format,
        "quantize": quantize,
        "calibration": None if faces is None else {"source": _describe_data(calibration), "faces": len(faces)},
        "fermask": __version__,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".export-", dir=out.parent) as tmp:
        staged = Path(tmp) / "export"
        writer = {"tflite": _write_tflite, "savedmodel": _write_savedmodel, "onnx": _write_onnx}[format]
        writer(model, info, staged, Path(tmp), quantize=quantize, faces=faces, record=record)
        if source_dir is not None:
            for licence in sorted(source_dir.glob("LICEN[CS]E*")):
                shutil.copyfile(licence, staged / licence.name)
        if out.exists():
            os.replace(out, Path(tmp) / "replaced")
        os.replace(staged, out)
    return out


# ----------------------------------------------------------------------------- source and output
def _source_dir(source: Any) -> Path | None:
    """The bundle folder a path or pretrained name stands for (``None`` for a model object)."""
    if not isinstance(source, (str, os.PathLike)):
        return None
    p = locate_bundle(source)
    return p if p.is_dir() else p.parent


def _keras_source(source: Any, info: BundleInfo | None) -> tuple[Any, BundleInfo, str]:
    """The Keras model to export, its description and where it came from."""
    from ._tf import require_tensorflow

    require_tensorflow("exporting a model")  # in one line (a pretrained name would otherwise load its TFLite copy)
    if isinstance(source, (str, os.PathLike)):
        found = read_bundle_info(source)
        fmt = getattr(found, "model_format", "keras")
        if fmt != "keras":
            raise FermaskError(
                f"'{source}' is a {fmt} bundle; export reads Keras bundles (model.keras). Export from the "
                "Keras bundle it was made from, or use this bundle as it is"
            )
    resolved = resolve_model(source, what="the model to export")
    model = resolved.model
    if not hasattr(model, "export") or not hasattr(model, "input_shape"):
        raise FermaskError(
            f"the model to export must be a Keras model (or a bundle or Predictor holding one), got "
            f"{type(model).__name__}; a TFLite model cannot be exported again"
        )
    description = info if info is not None else resolved.info
    if description is None:
        description = BundleInfo.from_model(model)
    description.check_model(model, resolved.description, fix="pass info= describing this model")
    return model, description, resolved.description


def _check_output(out: Path, overwrite: bool, source_dir: Path | None) -> None:
    """Refuse an output that exists (unless ``overwrite`` and fermask wrote it) or is the source itself."""
    if source_dir is not None and out.resolve() == source_dir.resolve():
        raise FermaskError(f"the output '{out}' is the bundle being exported; choose another output folder")
    check_replaceable(out, overwrite, inputs=[] if source_dir is None else [source_dir], what="output folder")


def _describe_data(data: Any) -> str:
    if isinstance(data, (str, os.PathLike)):
        return str(data)
    return f"{type(data).__name__} of {len(data)} images" if hasattr(data, "__len__") else type(data).__name__


# ----------------------------------------------------------------------------- calibration faces
def calibration_faces(
    data: Any,
    info: BundleInfo,
    *,
    max_faces: int = DEFAULT_MAX_FACES,
    seed: int = 0,
    progress: bool = False,
) -> np.ndarray:
    """Model inputs from calibration data: faces cropped and sized as the bundle expects.

    Args:
        data: A folder of face crops or photos (searched recursively; faces
            in photos are found and cropped with the bundle's face margin),
            a FER2013-format CSV, a saved dataset folder, a
            :class:`~fermask.FERDataset`, or an array of images ``(N, H, W)``
            or ``(N, H, W, C)`` in 0-255 (an array shaped like the model's
            input is used as it is; others are resized).
        info: The bundle's description (input size, colour mode, face margin).
        max_faces: The most faces kept (a seeded random subset of more).
        seed: The seed of that subset.
        progress: Show a progress bar while reading photos.

    Returns:
        ``(n, height, width, channels)`` float32 inputs in 0-255.

    Raises:
        DataFormatError: ``data`` holds no face, or is not face data.
        InvalidValueError: ``max_faces`` is below 1.

    Warns:
        UserWarning: Fewer than :data:`MIN_CALIBRATION_FACES` faces.
    """
    from .adaptation import load_faces
    from .data.dataset import FERDataset

    if int(max_faces) < 1:
        raise InvalidValueError(f"max_faces must be 1 or more, got {max_faces}")
    if isinstance(data, np.ndarray) and data.ndim == 4 and tuple(data.shape[1:]) == info.input_shape:
        x = np.asarray(data[: int(max_faces)], dtype=np.float32)  # model inputs already
        _warn_if_few(len(x), data)
        return x
    if isinstance(data, np.ndarray) and data.dtype != np.uint8:
        data = np.clip(np.round(data), 0, 255).astype(np.uint8)
    if isinstance(data, (str, os.PathLike)):
        p = Path(data).expanduser()
        if p.is_file() or (p / "dataset.json").is_file():  # a FER2013-format CSV or a saved dataset: subset first
            from .data.load import load_fer_data

            data = load_fer_data(p)
    if isinstance(data, FERDataset) and len(data) > max_faces:
        data = data.subset(int(max_faces), stratify=False, seed=seed)
    ds = load_faces(data, image_size=info.image_size, color_mode=info.color_mode,
                    face_margin=info.face_margin, progress=progress)
    if len(ds) > max_faces:
        ds = ds.subset(int(max_faces), stratify=False, seed=seed)
    x = np.asarray(ds.images, dtype=np.float32)
    x = x[..., None] if x.ndim == 3 else x
    _warn_if_few(len(x), data)
    return x


def _warn_if_few(n: int, data: Any) -> None:
    if n < MIN_CALIBRATION_FACES:
        warnings.warn(
            f"only {n} calibration face(s) in {_describe_data(data)}; int8 ranges measured on so few "
            f"faces clip others. Give {MIN_CALIBRATION_FACES} or more (a few hundred is best)",
            UserWarning,
            stacklevel=3,
        )


# ----------------------------------------------------------------------------- writers
def _saved_model(model: Any, folder: Path) -> None:
    try:
        model.export(str(folder), format="tf_saved_model", verbose=False)
    except Exception as exc:  # Keras raises many kinds for models it cannot trace
        raise FermaskError(
            f"Keras could not export the model as a SavedModel ({type(exc).__name__}: {_first_line(exc)})"
        ) from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__


def _tflite_bytes(model: Any, quantize: str, faces: np.ndarray | None, work: Path) -> bytes:
    """Convert a Keras model to a TFLite flatbuffer with one of :data:`QUANTIZATIONS`.

    The model is exported as a SavedModel (Keras 3's ``model.export``) and
    converted from it by ``tf.lite.TFLiteConverter.from_saved_model``.
    """
    from ._tf import tf_module

    tf = tf_module()
    check_choice(quantize, QUANTIZATIONS, "quantize")
    saved = work / "savedmodel"
    _saved_model(model, saved)
    conv = tf.lite.TFLiteConverter.from_saved_model(str(saved))
    if quantize != "none":
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantize == "float16":
        conv.target_spec.supported_types = [tf.float16]
    elif quantize == "int8":
        if faces is None or len(faces) == 0:
            raise InvalidValueError("quantize='int8' needs calibration faces; none were given")
        calib = faces
        conv.representative_dataset = lambda: ([calib[i : i + 1]] for i in range(len(calib)))
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        conv.inference_input_type = tf.int8
        conv.inference_output_type = tf.int8
    try:
        with filtered_stderr(CONVERTER_NOTICES):
            return bytes(conv.convert())
    except Exception as exc:  # the converter raises ConverterError and others
        raise FermaskError(
            f"TensorFlow's TFLite converter could not convert the model with quantize={quantize!r} "
            f"({type(exc).__name__}: {_first_line(exc)}); try another quantize mode"
        ) from None


def _check_inputs(info: BundleInfo, faces: np.ndarray | None) -> tuple[np.ndarray, str]:
    if faces is not None and len(faces):
        return faces, "calibration faces"
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (_PROBE_INPUTS, *info.input_shape)).astype(np.float32)
    return x, "random-pixel images (not faces: pass calibration data for a figure on faces)"


def _agreement(reference: np.ndarray, got: np.ndarray, on: str) -> dict[str, Any]:
    ref = np.asarray(reference, dtype=np.float64).reshape(len(reference), -1)
    out = np.asarray(got, dtype=np.float64).reshape(len(got), -1)
    return {
        "on": on,
        "inputs": int(len(ref)),
        "max_abs_diff": float(np.abs(ref - out).max()),
        "argmax_agreement": float((ref.argmax(axis=1) == out.argmax(axis=1)).mean()) if ref.shape[1] > 1
        else float(((ref[:, 0] > 0.5) == (out[:, 0] > 0.5)).mean()),
    }


def _keras_outputs(model: Any, x: np.ndarray) -> np.ndarray:
    return np.concatenate([np.asarray(model(x[i : i + 64], training=False)) for i in range(0, len(x), 64)])


def _write_tflite(model: Any, info: BundleInfo, staged: Path, work: Path, *, quantize: str,
                  faces: np.ndarray | None, record: dict[str, Any]) -> None:
    from ._runtime import TFLiteModel
    from ._tf import tf_module

    data = _tflite_bytes(model, quantize, faces, work)
    x, on = _check_inputs(info, faces)
    check = _agreement(_keras_outputs(model, x), TFLiteModel(data)(x), on)
    if quantize == "none" and check["max_abs_diff"] > 1e-4:
        warnings.warn(
            f"the float32 TFLite model differs from the Keras model by up to {check['max_abs_diff']:.2g} on "
            f"{check['inputs']} {on}; expected under 1e-4. Check the model's answers before using it",
            UserWarning,
            stacklevel=3,
        )
    record.update(tensorflow=tf_module().__version__, check=check, bytes=len(data))
    out_info = replace(info, model_format="tflite", quantization=None if quantize == "none" else quantize,
                       extra={**info.extra, "export": record})
    save_tflite_bundle(staged, data, out_info)


def _write_description(folder: Path, info: BundleInfo, model_format: str, record: dict[str, Any]) -> None:
    """``fermask.json`` for an export fermask does not run itself (SavedModel, ONNX)."""
    d = replace(info, extra={**info.extra, "export": record}).to_dict()
    d["model_format"] = model_format
    write_json_atomic(folder / BUNDLE_INFO_FILE, d, default=json_default)


def _write_savedmodel(model: Any, info: BundleInfo, staged: Path, work: Path, *, quantize: str,
                      faces: np.ndarray | None, record: dict[str, Any]) -> None:
    from ._tf import tf_module

    tf = tf_module()
    _saved_model(model, staged)
    x, on = _check_inputs(info, faces)
    loaded = tf.saved_model.load(str(staged))
    got = np.concatenate([np.asarray(loaded.serve(x[i : i + 64])) for i in range(0, len(x), 64)])
    record.update(tensorflow=tf.__version__, check=_agreement(_keras_outputs(model, x), got, on),
                  signature="serve (also serving_default): float32 (batch, height, width, channels) pixels 0-255")
    _write_description(staged, info, "savedmodel", record)


def _write_onnx(model: Any, info: BundleInfo, staged: Path, work: Path, *, quantize: str,
                faces: np.ndarray | None, record: dict[str, Any]) -> None:
    from ._tf import tf_module

    missing = [m for m in ("tf2onnx", "onnx") if importlib.util.find_spec(m) is None]
    if missing:
        raise MissingDependencyError(
            f"ONNX export needs {' and '.join(missing)}, which {'is' if len(missing) == 1 else 'are'} not "
            "installed. Install them with: pip install tf2onnx onnx (checked with tf2onnx 1.17.0 and "
            "onnx 1.23.2 on TensorFlow 2.21 / Keras 3.15)"
        )
    tf = tf_module()
    staged.mkdir(parents=True)
    x, on = _check_inputs(info, faces)
    reference = _keras_outputs(model, x)  # also builds a model loaded from a file: Keras exports only called models
    try:
        model.export(str(staged / ONNX_MODEL_FILE), format="onnx", verbose=False)
    except Exception as exc:  # tf2onnx raises many kinds
        raise FermaskError(f"Keras could not export the model as ONNX ({type(exc).__name__}: {_first_line(exc)})") from None
    record.update(tensorflow=tf.__version__, check=None)
    if importlib.util.find_spec("onnxruntime") is not None:
        import onnxruntime

        session = onnxruntime.InferenceSession(str(staged / ONNX_MODEL_FILE), providers=["CPUExecutionProvider"])
        name = session.get_inputs()[0].name
        got = np.concatenate([session.run(None, {name: x[i : i + 64]})[0] for i in range(0, len(x), 64)])
        record["check"] = _agreement(reference, got, on)
    _write_description(staged, info, "onnx", record)

