"""The accepted values of every option, and one way to check them.

Each option that takes one of a few names (colour modes, face detectors, face
policies, optimizers, ...) lists its values here once. Library code checks a
value with :func:`check_choice`, which always raises
:class:`~fermask.errors.InvalidChoiceError`; the command line passes the same
tuples to ``argparse`` as ``choices=``. Close-match suggestions ("did you
mean") are built by :func:`did_you_mean` alone.

Examples:
    >>> check_choice("rgb", COLOR_MODES, "color_mode")
    'rgb'
    >>> check_choice("gray", COLOR_MODES, "color_mode")
    Traceback (most recent call last):
    ...
    fermask.errors.InvalidChoiceError: color_mode must be 'grayscale' or 'rgb', got 'gray'. Did you mean 'grayscale'?
    >>> did_you_mean("adma", OPTIMIZERS)
    " Did you mean 'adam'?"
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from typing import Any, Literal, TypeVar, get_args

from .errors import InvalidChoiceError

__all__ = [
    "COLOR_MODES",
    "ColorMode",
    "OutputFormat",
    "Detector",
    "Policy",
    "DETECTORS",
    "FACE_POLICIES",
    "OUTPUTS",
    "OUTPUT_FORMATS",
    "OPTIMIZERS",
    "SCHEDULES",
    "InvalidChoiceError",
    "channels_of",
    "color_mode_of",
    "output_kind",
    "check_choice",
    "did_you_mean",
    "one_of",
    "NO_FACE_POLICIES",
    "FERPLUS_MODES",
    "LABEL_MODES",
    "ON_ERROR_POLICIES",
    "MODEL_FORMATS",
    "QUANTIZATIONS",
    "EXPORT_FORMATS",
    "SERVING_FORMATS",
]

ColorMode = Literal["grayscale", "rgb"]
#: Colour of a model's or dataset's images: 1 channel or 3.
COLOR_MODES: tuple[ColorMode, ...] = get_args(ColorMode)
Detector = Literal["hybrid", "hog", "blazeface", "cnn", "auto"]
#: Face detectors: dlib's HOG (fast), dlib's CNN (finds turned faces), or HOG then CNN.
DETECTORS: tuple[Detector, ...] = get_args(Detector)
Policy = Literal["auto", "detect", "full_frame"]
#: What to do when no face is found: ``auto`` (detect, else the whole frame
#: for small crops), ``detect`` (only detected faces) or ``full_frame``.
FACE_POLICIES: tuple[Policy, ...] = get_args(Policy)
#: A model's last layer: one probability per class, or one unit (binary).
OUTPUTS = ("softmax", "sigmoid")
OutputFormat = Literal["png", "same"]
#: What ``fermask mask`` writes: PNG (lossless), or each input's own format.
OUTPUT_FORMATS: tuple[OutputFormat, ...] = get_args(OutputFormat)
#: zlib level of the PNG files ``fermask mask`` writes: 1 encodes a photo 3-4x faster than Pillow's default
#: of 6, for files 8-11 % larger (7 % for a 48x48 crop); PNG is lossless, the pixels are the same at every
#: level. Measured in docs/guide/cli.md ("PNG level"); this is the one place in the code that states it.
DEFAULT_PNG_LEVEL = 1
#: Optimizers :func:`fermask.train` builds by name.
OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop", "nadam")
#: Learning-rate schedules of :class:`fermask.TrainConfig`.
SCHEDULES = ("constant", "cosine", "plateau")
#: What :meth:`fermask.data.FERDataset.mask` does with an image where no face was found.
NO_FACE_POLICIES = ("drop", "keep")
#: How FER+ votes become labels: the majority category, or vote shares as soft labels.
FERPLUS_MODES = ("majority", "soft")
#: The label encodings :meth:`fermask.data.FERDataset.to_tf_dataset` offers (``None``: images only).
LABEL_MODES = ("int", "categorical", "soft", "binary")
#: What :meth:`fermask.Predictor.predict_many` does with an input it cannot read: raise, or record the error.
ON_ERROR_POLICIES = ("raise", "record")
#: The model files a bundle can hold: a Keras model (``model.keras``) or a TFLite model (``model.tflite``).
MODEL_FORMATS = ("keras", "tflite")
#: How a TFLite bundle's model was quantized (``"none"``, float32, is stored as ``None`` in ``fermask.json``).
QUANTIZATIONS = ("none", "float16", "dynamic", "int8")
#: What :func:`fermask.export.export_model` writes: a TFLite bundle, a SavedModel or an ONNX model (each with fermask.json).
EXPORT_FORMATS = ("tflite", "savedmodel", "onnx")
#: Exports for other runtimes (TensorFlow Serving, onnxruntime): fermask writes them but does not load them.
SERVING_FORMATS = tuple(f for f in EXPORT_FORMATS if f not in MODEL_FORMATS)

V = TypeVar("V")


def did_you_mean(value: object, choices: Iterable[str], *, n: int = 1, cutoff: float = 0.6) -> str:
    """``" Did you mean 'x'?"`` for the names closest to ``value``, or ``""``.

    Args:
        value: What the user gave.
        choices: The accepted names.
        n: How many suggestions at most.
        cutoff: Similarity (0..1) a name needs to be suggested.
    """
    close = difflib.get_close_matches(str(value), list(choices), n=n, cutoff=cutoff)
    return f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""


def one_of(choices: Sequence[object]) -> str:
    """``'a', 'b' or 'c'``: the accepted values, for messages."""
    quoted = [repr(c) for c in choices]
    return quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"


def check_choice(
    value: V,
    choices: Sequence[Any],
    what: str,
    *,
    allow_none: bool = False,
) -> V:
    """Return ``value`` if it is one of ``choices``; otherwise raise :class:`~fermask.errors.InvalidChoiceError`.

    The message names the option, the accepted values, what was received
    and the closest accepted name.

    Args:
        value: The value to check.
        choices: The accepted values.
        what: The option's name, for the message (``"color_mode"``).
        allow_none: Also accept ``None`` (the option's "not set").

    Raises:
        InvalidChoiceError: ``value`` is not accepted (a :class:`~fermask.FermaskError`,
            a ``ValueError`` and a :class:`~fermask.errors.DataFormatError`).
    """
    if (allow_none and value is None) or value in choices:
        return value
    accepted = [*choices, None] if allow_none else list(choices)
    names = [c for c in choices if isinstance(c, str)]
    hint = did_you_mean(value, names)
    raise InvalidChoiceError(f"{what} must be {one_of(accepted)}, got {value!r}" + (f".{hint}" if hint else ""))


def color_mode_of(channels: int) -> ColorMode:
    """The colour mode of images with ``channels`` channels: 1 is ``"grayscale"``, else ``"rgb"``.

    Examples:
        >>> color_mode_of(1), color_mode_of(3)
        ('grayscale', 'rgb')
    """
    return "grayscale" if int(channels) == 1 else "rgb"


def channels_of(color_mode: str) -> int:
    """The number of channels of a colour mode: ``"grayscale"`` 1, ``"rgb"`` 3."""
    return 1 if check_choice(color_mode, COLOR_MODES, "color_mode") == "grayscale" else 3


def output_kind(units: int) -> str:
    """``"sigmoid"`` for a model with one output unit (a yes/no model), else ``"softmax"``.

    Examples:
        >>> output_kind(1), output_kind(7)
        ('sigmoid', 'softmax')
    """
    return "sigmoid" if int(units) == 1 else "softmax"
