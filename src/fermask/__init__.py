"""fermask: facial-expression recognition on faces that wear masks.

The public API is re-exported here and imported lazily, so ``import fermask``
is fast and never imports TensorFlow; each name loads its module on first use.

``_LAZY`` is the one list of the public names: ``__all__`` is built from it,
and the ``TYPE_CHECKING`` block at the end repeats it for type checkers,
which ``tests/test_architecture.py`` keeps equal to it. Submodules
(``fermask.cli``, ``fermask.plots``, ...) are found on the package path, not
listed. To add a public name: one line in ``_LAZY``, one import below.

Examples:
    >>> import fermask
    >>> "surgical" in fermask.list_masks()
    True
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import TYPE_CHECKING, Any

from ._version import __version__

# The public names: name -> module that defines it (the one list; see the module docstring)
_LAZY = {
    # errors and labels
    "FermaskError": "errors",
    "ImageError": "errors",
    "NoFaceError": "errors",
    "LandmarkModelNotFound": "errors",
    "UnknownNameError": "errors",
    "DataFormatError": "errors",
    "MissingDependencyError": "errors",
    "EMOTIONS": "labels",
    "load_image": "_image",
    "crop_face": "_image",
    "import_keras": "_tf",
    # faces
    "FaceAnalyzer": "faces",
    "Face": "faces",
    "find_landmarks_model": "faces",
    # masks
    "MaskStyle": "masks",
    "register_mask": "masks",
    "get_mask": "masks",
    "list_masks": "masks",
    # masker
    "Masker": "masker",
    "MaskResult": "masker",
    # data
    "FERDataset": "data",
    "make_synthetic_fer": "data",
    # models and training
    "register_model": "models",
    "create_model": "models",
    "list_models": "models",
    "TrainConfig": "training",
    "train": "training",
    "evaluate": "evaluation",
    "adapt": "adaptation",
    "AdaptConfig": "adaptation",
    "AdaptResult": "adaptation",
    "load_bundle": "bundle",
    "save_bundle": "bundle",
    "BundleInfo": "bundle",
    # pretrained models
    "PretrainedModel": "pretrained",
    "register_pretrained": "pretrained",
    "get_pretrained": "pretrained",
    "list_pretrained": "pretrained",
    "download_model": "convert",
    "import_model": "convert",
    # prediction
    "Predictor": "predictor",
    "Prediction": "results",
}

__all__ = ["__version__", *_LAZY]


def _is_submodule(name: str) -> bool:
    """Whether ``fermask.<name>`` is a public module or package (found on the path, never listed by hand)."""
    return name.isidentifier() and not name.startswith("_") and importlib.util.find_spec(f"{__name__}.{name}") is not None


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        if _is_submodule(name):
            return importlib.import_module(f".{name}", __name__)
        raise AttributeError(f"module 'fermask' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only; the same names as _LAZY (a test checks)
    from ._image import crop_face, load_image
    from ._tf import import_keras
    from .adaptation import AdaptConfig, AdaptResult, adapt
    from .bundle import BundleInfo, load_bundle, save_bundle
    from .convert import download_model, import_model
    from .data import FERDataset, make_synthetic_fer
    from .errors import (
        DataFormatError,
        FermaskError,
        ImageError,
        LandmarkModelNotFound,
        MissingDependencyError,
        NoFaceError,
        UnknownNameError,
    )
    from .evaluation import evaluate
    from .faces import Face, FaceAnalyzer, find_landmarks_model
    from .labels import EMOTIONS
    from .masker import Masker, MaskResult
    from .masks import MaskStyle, get_mask, list_masks, register_mask
    from .models import create_model, list_models, register_model
    from .predictor import Predictor
    from .pretrained import PretrainedModel, get_pretrained, list_pretrained, register_pretrained
    from .results import Prediction
    from .training import TrainConfig, train
