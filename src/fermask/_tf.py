"""Importing Keras with the TensorFlow backend, with a clear error when absent.

Only the modules that need Keras call :func:`keras_module`; masking and data
reading never do, so ``import fermask`` stays free of TensorFlow.
"""

from __future__ import annotations

import logging
import os
from types import ModuleType

from ._runtime import import_tensorflow, tensorflow_installed
from .errors import MissingDependencyError

__all__ = ["keras_module", "import_keras", "tf_module", "require_tensorflow", "INSTALL_TENSORFLOW"]

#: How to install TensorFlow, for the one-line errors of the features that need it.
INSTALL_TENSORFLOW = (
    "pip install 'fermask[cpu]' (CPU build) or pip install 'fermask[tensorflow]' (full build, GPU support on Linux)"
)


class _KerasRetracingFilter(logging.Filter):
    """Drops TensorFlow's retracing warning about Keras' own step functions, and no other record.

    Keras builds a new ``tf.function`` for each model's ``fit``, ``evaluate``
    and ``predict``; TensorFlow counts them together by their code and, from
    the sixth model in one process (a teacher, a plain and a distilled student,
    each trained and evaluated), warns "triggered tf.function retracing" with
    advice that a user cannot follow. Retracing of the user's own functions is
    still reported.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not ("triggered tf.function retracing" in message and "TensorFlowTrainer" in message)


def tf_module() -> ModuleType:
    """Import and return ``tensorflow``, or raise a helpful error."""
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")  # TF_CPP_MIN_LOG_LEVEL is import_tensorflow's to set
    try:
        tf = import_tensorflow()
    except ImportError as exc:
        raise MissingDependencyError(
            "this feature needs TensorFlow (the Keras backend fermask uses), which could not be "
            f"imported ({exc}). Install it with: {INSTALL_TENSORFLOW}"
        ) from None
    logger = logging.getLogger("tensorflow")
    if not any(isinstance(f, _KerasRetracingFilter) for f in logger.filters):
        logger.addFilter(_KerasRetracingFilter())
    return tf


def require_tensorflow(feature: str) -> None:
    """Fail in one line when TensorFlow is not installed, before ``feature`` starts (nothing is imported).

    A light install (``fermask[lite]``) runs TFLite bundles on LiteRT; training,
    adapting and exporting build Keras models and need TensorFlow.

    Args:
        feature: What the user asked for (``"fermask train"``), for the message.

    Raises:
        MissingDependencyError: TensorFlow cannot be found; the message says what to install.
    """
    if not tensorflow_installed():
        raise MissingDependencyError(
            f"{feature} needs TensorFlow, which is not installed (a light install, fermask[lite], only runs "
            f"TFLite models). Install it with: {INSTALL_TENSORFLOW}"
        )


def keras_module() -> ModuleType:
    """Import and return ``keras`` on the TensorFlow backend, or raise a helpful error."""
    tf_module()
    import keras

    if keras.backend.backend() != "tensorflow":
        raise MissingDependencyError(
            f"fermask needs Keras' TensorFlow backend, but KERAS_BACKEND is "
            f"{keras.backend.backend()!r}; set KERAS_BACKEND=tensorflow before importing keras"
        )
    return keras


def import_keras() -> ModuleType:
    """Import Keras as fermask does: on TensorFlow, without TensorFlow's start-up notices.

    ``import keras`` in your own code, before fermask has imported TensorFlow,
    lets TensorFlow print its start-up notices (absl's and oneDNN's lines) on
    stderr. This sets ``TF_CPP_MIN_LOG_LEVEL=2`` and ``KERAS_BACKEND=tensorflow``
    unless you set them, imports TensorFlow with those notices dropped (any
    other line it prints is kept), and returns ``keras``.

    Returns:
        The ``keras`` module, on the TensorFlow backend.

    Raises:
        MissingDependencyError: TensorFlow is not installed, or Keras runs on another backend.

    Examples:
        >>> import fermask
        >>> keras = fermask.import_keras()  # doctest: +SKIP
        >>> keras.backend.backend()  # doctest: +SKIP
        'tensorflow'
    """
    return keras_module()
