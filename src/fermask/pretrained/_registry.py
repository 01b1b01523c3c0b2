"""The registered pretrained models, and their bundles in fermask's user cache.

Entries are registered in code (:func:`register_pretrained`) or by plugins
through the ``fermask.pretrained`` entry-point group; a downloaded entry's
bundle is ``models/<name>/`` in the user cache (:func:`pretrained_dir`).
"""

from __future__ import annotations

import json
from pathlib import Path

from .._files import BUNDLE_INFO_FILE, BUNDLE_MODEL_FILE, TFLITE_MODEL_FILE, cache_dir
from .._registry import Registry
from ..errors import InvalidTypeError, UnknownNameError
from ._entry import PretrainedModel

__all__ = [
    "register_pretrained",
    "get_pretrained",
    "list_pretrained",
    "pretrained_dir",
    "is_downloaded",
    "download_command",
]

_REGISTRY: Registry[PretrainedModel] = Registry(
    "pretrained model",
    "fermask.pretrained",
    "Register one with fermask.pretrained.register_pretrained(PretrainedModel(...)) or through the "
    "'fermask.pretrained' entry-point group.",
)


def register_pretrained(entry: PretrainedModel, *, overwrite: bool = False) -> PretrainedModel:
    """Register a pretrained model under ``entry.name``.

    Args:
        entry: The model's description.
        overwrite: Replace an entry of the same name.

    Returns:
        ``entry``.

    Raises:
        TypeError: ``entry`` is not a :class:`PretrainedModel`.
        ValueError: The name is taken and ``overwrite`` is false.
    """
    if not isinstance(entry, PretrainedModel):
        raise InvalidTypeError(f"register_pretrained takes a PretrainedModel, got {type(entry).__name__}")
    return _REGISTRY.register(entry.name, entry, overwrite=overwrite)


def get_pretrained(name: str) -> PretrainedModel:
    """The entry registered under ``name``.

    Raises:
        UnknownNameError: No such entry (the message lists close names), or
            a plugin registered something that is not a :class:`PretrainedModel`.
    """
    entry = _REGISTRY.get(name)
    if not isinstance(entry, PretrainedModel):
        raise UnknownNameError(
            f"the pretrained model {name!r} comes from {_REGISTRY.source(name)}, which gave a "
            f"{type(entry).__name__}, not a fermask.pretrained.PretrainedModel; ask its author to fix it"
        )
    return entry


def list_pretrained(pattern: str | None = None) -> list[str]:
    """Sorted names of the registered pretrained models (optionally filtered, ``"fer-*"``)."""
    return _REGISTRY.names(pattern)


def pretrained_dir(name: str) -> Path:
    """The bundle folder of a pretrained model in the user cache (it may not exist yet)."""
    return cache_dir("models", get_pretrained(name).name)


def download_command(name: str) -> str:
    """The command that downloads a pretrained model."""
    return f"fermask download-model {name}"


def is_downloaded(name: str) -> bool:
    """Whether the bundle of a pretrained model is in the cache, made from pinned weights.

    The bundle is made either from the entry's Keras weights (``model.keras``,
    with a float32 ``model.tflite`` beside it) or from its publisher's TFLite
    file (``model.tflite`` alone; see :class:`~fermask.pretrained.TFLiteWeights`).
    """
    entry = get_pretrained(name)
    folder = pretrained_dir(name)
    try:
        info = json.loads((folder / BUNDLE_INFO_FILE).read_text(encoding="utf-8"))
        model_file = TFLITE_MODEL_FILE if info.get("model_format") == "tflite" else BUNDLE_MODEL_FILE
        pinned = {entry.sha256} | ({entry.tflite.sha256} if entry.tflite is not None else set())
        return (folder / model_file).is_file() and info["extra"]["provenance"]["sha256"] in pinned
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False
