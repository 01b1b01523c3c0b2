"""Model bundles: a trained Keras model plus everything needed to use it.

A bundle is a folder::

    my_run/bundle/
        model.keras     the Keras model (its input takes pixel values 0-255)
        fermask.json    labels, input shape, colour mode, face crop,
                        masking configuration, training config, metrics

or, for a TFLite bundle (``model_format="tflite"``, written by
:func:`save_tflite_bundle` or ``fermask export``)::

    my_model/
        model.tflite    the TFLite model, run by LiteRT (no TensorFlow needed)
        fermask.json    as above, plus the quantization, if any

A bundle made from a pretrained model with TensorFlow present may hold both
files (``model_format="keras"``): Keras runs it where TensorFlow is
installed, the float32 ``model.tflite`` everywhere else.

:class:`~fermask.Predictor` loads a bundle with no other arguments.
``fermask.json`` is plain JSON so that other tools can read it.

Examples:
    >>> from fermask.bundle import BundleInfo
    >>> info = BundleInfo(labels=["angry", "happy"], input_shape=(48, 48, 1))
    >>> info.color_mode
    'grayscale'
"""

from __future__ import annotations

from .._runtime import TFLiteModel
from ._info import (
    BUNDLE_FORMAT,
    BUNDLE_VERSION,
    INFO_FILE,
    MAX_FACE_MARGIN,
    MODEL_FILE,
    TFLITE_MODEL_FILE,
    BundleInfo,
    output_kind,
    to_probabilities,
)
from ._io import (
    ResolvedModel,
    load_bundle,
    model_file_name,
    read_bundle_info,
    resolve_model,
    save_bundle,
    save_tflite_bundle,
)

__all__ = [
    "BundleInfo",
    "ResolvedModel",
    "TFLiteModel",
    "save_bundle",
    "save_tflite_bundle",
    "load_bundle",
    "model_file_name",
    "read_bundle_info",
    "resolve_model",
    "output_kind",
    "to_probabilities",
    "BUNDLE_FORMAT",
    "TFLITE_MODEL_FILE",
]
