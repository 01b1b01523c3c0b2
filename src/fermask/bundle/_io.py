"""Bundle folders on disk: writing them (Keras or TFLite), reading them back, and resolving "a model or a bundle"."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, NamedTuple

from .._files import json_default, write_json_atomic
from .._runtime import TFLITE_MAGIC, TFLiteModel, runtime_name, tensorflow_installed
from ..errors import DataFormatError, FermaskError, MissingDependencyError
from ..pretrained import locate_bundle
from ._info import INFO_FILE, MODEL_FILE, TFLITE_MODEL_FILE, BundleInfo

__all__ = [
    "ResolvedModel",
    "resolve_model",
    "model_file_name",
    "save_bundle",
    "save_tflite_bundle",
    "read_bundle_info",
    "load_bundle",
]


class ResolvedModel(NamedTuple):
    """A Keras model with its description, from :func:`resolve_model`."""

    model: Any
    info: BundleInfo | None
    description: str


def resolve_model(obj: Any, *, what: str = "model") -> ResolvedModel:
    """A Keras model and its :class:`BundleInfo` from a model, a bundle folder, a pretrained name or a Predictor.

    This is the one place where fermask accepts "a model, a bundle or a
    Predictor" (evaluation, distillation and adaptation call it). A path or
    a name goes to :func:`load_bundle` (so to
    :func:`fermask.pretrained.locate_bundle`, which tells them apart).

    Args:
        obj: A bundle folder (path) or a pretrained model's name, a Predictor
            (anything with ``.model`` and a ``BundleInfo`` in ``.info``) or a
            Keras model.
        what: What the model is for (``"teacher"``), for messages.

    Returns:
        ``(model, info, description)``; ``info`` is ``None`` for a bare model.

    Raises:
        FermaskError: ``obj`` is none of these.
    """
    if isinstance(obj, (str, os.PathLike)):
        model, info = load_bundle(obj)
        return ResolvedModel(model, info, f"bundle '{obj}'")
    inner = getattr(obj, "model", None)
    attached = getattr(obj, "info", None)
    if inner is not None and isinstance(attached, BundleInfo):  # a Predictor
        return ResolvedModel(inner, attached, f"{type(obj).__name__}({getattr(inner, 'name', 'model')})")
    if not hasattr(obj, "predict"):
        raise FermaskError(
            f"{what} must be a Keras model, a bundle folder, a pretrained model's name or a Predictor, "
            f"got {type(obj).__name__}"
        )
    return ResolvedModel(obj, None, f"model '{getattr(obj, 'name', what)}'")


def model_file_name(info: BundleInfo) -> str:
    """The model file of a bundle described by ``info``: ``model.keras`` or ``model.tflite``."""
    return TFLITE_MODEL_FILE if info.model_format == "tflite" else MODEL_FILE


def _write_bundle(path: str | os.PathLike[str], info: BundleInfo, model_file: str, partial: str,
                  write: Callable[[Path], object]) -> Path:
    """The folder, the model written under ``partial`` and renamed to ``model_file``, then ``fermask.json``."""
    out = Path(path)
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / partial
    write(tmp)
    os.replace(tmp, out / model_file)
    write_json_atomic(out / INFO_FILE, info.to_dict(), default=json_default)
    return out


def save_bundle(path: str | os.PathLike[str], model: Any, info: BundleInfo) -> Path:
    """Write a Keras model and its :class:`BundleInfo` to a bundle folder.

    Args:
        path: The bundle folder; created if missing.
        model: A Keras model.
        info: Its description (saved with ``model_format="keras"``).

    Returns:
        The bundle folder.
    """
    if info.model_format != "keras" or info.quantization is not None:
        info = replace(info, model_format="keras", quantization=None)
    return _write_bundle(path, info, MODEL_FILE, MODEL_FILE + ".partial.keras", model.save)  # Keras wants .keras


def save_tflite_bundle(path: str | os.PathLike[str], tflite: bytes, info: BundleInfo) -> Path:
    """Write a TFLite model and its :class:`BundleInfo` to a bundle folder.

    The model is written beside the folder's other files and renamed into
    place, so a reader never sees half a model. Where a TFLite runtime is
    installed the model is loaded once and checked against ``info`` (input
    shape, number of outputs).

    Args:
        path: The bundle folder; created if missing.
        tflite: The model's bytes (from a TFLite converter, or a ``.tflite`` file).
        info: Its description; saved with ``model_format="tflite"`` (a
            ``"keras"`` one, the default, is changed to it).

    Returns:
        The bundle folder.

    Raises:
        DataFormatError: ``tflite`` is not a TFLite model, or contradicts ``info``.

    Examples:
        >>> save_tflite_bundle("my_model", converter.convert(), info)  # doctest: +SKIP
        PosixPath('my_model')
    """
    if not isinstance(tflite, (bytes, bytearray, memoryview)):
        raise DataFormatError(f"save_tflite_bundle takes the model's bytes, got {type(tflite).__name__}")
    content = bytes(tflite)
    if info.model_format != "tflite":
        info = replace(info, model_format="tflite")
    if len(content) < 8 or content[4:8] != TFLITE_MAGIC:
        raise DataFormatError(
            f"save_tflite_bundle: the {len(content)} bytes given are not a TFLite model (no 'TFL3' identifier); "
            "pass the output of tf.lite.TFLiteConverter.convert() or a .tflite file's bytes"
        )
    try:
        runtime_name()
    except FermaskError:
        pass  # nothing here can load it; it is checked when it is loaded
    else:
        info.check_model(TFLiteModel(content, name="the TFLite model"), "save_tflite_bundle",
                         fix="give the BundleInfo that describes this model")
    return _write_bundle(path, info, TFLITE_MODEL_FILE, TFLITE_MODEL_FILE + ".partial",
                         lambda tmp: tmp.write_bytes(content))


def read_bundle_info(path: str | os.PathLike[str]) -> BundleInfo:
    """Read a bundle's :class:`BundleInfo` without loading the model (no TensorFlow).

    Args:
        path: The bundle folder (or its model file), or the name of a
            downloaded pretrained model (see
            :func:`fermask.pretrained.locate_bundle`).
    """
    p = locate_bundle(path)
    info_path = p / INFO_FILE if p.is_dir() else p.with_name(INFO_FILE)
    if not info_path.is_file():
        raise DataFormatError(
            f"'{p}' is not a fermask bundle: expected a folder holding {INFO_FILE} and its model "
            f"({MODEL_FILE} or {TFLITE_MODEL_FILE}), as written by fermask train, fermask export or fermask.save_bundle"
        )
    try:
        data = json.loads(info_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataFormatError(f"'{info_path}' is not valid JSON: {exc}") from None
    return BundleInfo.from_dict(data)


def load_bundle(path: str | os.PathLike[str], *, compile: bool = False) -> tuple[Any, BundleInfo]:
    """Load a bundle's model and description.

    A Keras bundle gives its Keras model, a TFLite bundle a
    :class:`~fermask.bundle.TFLiteModel` (callable on float32 batches in the
    bundle's :attr:`~BundleInfo.pixel_range`; loading it never imports
    TensorFlow or Keras when LiteRT is installed). A Keras bundle that also
    holds a ``model.tflite`` (a pretrained model downloaded with TensorFlow)
    gives that TFLite model where TensorFlow is not installed.

    Args:
        path: The bundle folder (or its model file), or the name of a
            downloaded pretrained model (``"fer-mini-xception"``, or
            ``"pretrained:fer-mini-xception"`` to say so whatever folders
            exist; see :func:`fermask.pretrained.locate_bundle`).
        compile: Whether to restore a Keras model's training configuration too.

    Returns:
        ``(model, info)``; ``info.model_format`` says which kind ``model`` is.

    Raises:
        AmbiguousNameError: ``path`` is a plain pretrained name and also an
            existing folder; the message says how to choose.
        DataFormatError: Not a bundle, or a damaged one, or one whose
            ``fermask.json`` contradicts its model.
        MissingDependencyError: The runtime the bundle needs is not installed
            (TensorFlow for a Keras bundle, LiteRT for a TFLite one).
    """
    p = locate_bundle(path)  # once: for a pretrained name this reads its fermask.json
    info = read_bundle_info(p)
    folder = p if p.is_dir() else p.parent
    if p.is_file() and p.suffix.lower() == ".tflite" and info.model_format != "tflite":
        info = replace(info, model_format="tflite")
    elif (info.model_format == "keras" and not tensorflow_installed() and p.is_dir()
          and (folder / TFLITE_MODEL_FILE).is_file()):
        info = replace(info, model_format="tflite")  # the float32 companion of a pretrained Keras bundle
    model_path = p if p.is_file() else folder / model_file_name(info)
    if not model_path.is_file():
        raise DataFormatError(
            f"the bundle '{p}' has no {model_path.name} (its {INFO_FILE} says model_format={info.model_format!r}); "
            "copy the whole bundle folder, or write it again"
        )
    if info.model_format == "tflite":
        model: Any = TFLiteModel(model_path, name=f"the bundle's model '{model_path}'")
    else:
        if not tensorflow_installed():
            raise MissingDependencyError(
                f"the bundle '{p}' holds a Keras model, which needs TensorFlow, and TensorFlow is not installed. "
                "Install it (pip install 'fermask[cpu]'), or export the bundle to TFLite where TensorFlow is "
                "(fermask export BUNDLE -o OUT --format tflite); a pretrained model: fermask download-model NAME --force"
            )
        from ..models import load_model_file

        model = load_model_file(model_path, compile=compile)
    info.check_model(model, f"the bundle '{p}'")
    return model, info
