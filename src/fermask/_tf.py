"""Importing Keras with the TensorFlow backend, with a clear error when absent.

Only the modules that need Keras call :func:`keras_module`; masking and data
reading never do, so ``import fermask`` stays free of TensorFlow.
"""

from __future__ import annotations

import os
from types import ModuleType

from .errors import MissingDependencyError

__all__ = ["keras_module", "tf_module"]


def _quiet_env() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")


def tf_module() -> ModuleType:
    """Import and return ``tensorflow``, or raise a helpful error."""
    _quiet_env()
    try:
        import tensorflow as tf
    except ImportError as exc:
        raise MissingDependencyError(
            "this feature needs TensorFlow (the Keras backend fermask uses), which could not be "
            f"imported ({exc}). Install it with: pip install 'fermask[cpu]' (CPU build) or "
            "pip install 'fermask[tensorflow]' (full build, GPU support on Linux)"
        ) from None
    return tf


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
