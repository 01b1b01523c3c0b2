"""The registered pretrained models, and their bundles in fermask's user cache.

Entries are registered in code (:func:`register_pretrained`) or by plugins
through the ``fermask.pretrained`` entry-point group; a downloaded entry's
bundle is ``models/<name>/`` in the user cache (:func:`pretrained_dir`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from .._files import BUNDLE_INFO_FILE, BUNDLE_MODEL_FILE, TFLITE_MODEL_FILE, cache_dir, sha256_file, write_json_atomic
from .._registry import Registry
from ..errors import InvalidTypeError, UnknownNameError
from ._entry import PretrainedModel

__all__ = [
    "register_pretrained",
    "get_pretrained",
    "list_pretrained",
    "pretrained_dir",
    "is_downloaded",
    "pretrained_state",
    "damaged_files",
    "record_file_hashes",
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


FILES_KEY = "files_sha256"
"""The key, under ``extra`` in a downloaded bundle's ``fermask.json``, recording the sha256 of each of its model files."""

_MODEL_FILES = (BUNDLE_MODEL_FILE, TFLITE_MODEL_FILE)

_DIGESTS: dict[tuple[str, int, int], str] = {}
"""sha256 of files hashed in this process, by (path, size, mtime_ns): a bundle is hashed once per process."""

PretrainedState = Literal["missing", "downloaded", "damaged"]


def _digest(path: Path) -> str:
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    if key not in _DIGESTS:
        _DIGESTS[key] = sha256_file(path)
    return _DIGESTS[key]


def record_file_hashes(folder: Path) -> dict[str, str]:
    """Record the sha256 of a bundle's model files in its ``fermask.json`` (``extra["files_sha256"]``).

    Called on a freshly made pretrained bundle, before it takes its name;
    :func:`pretrained_state` checks the files against the record each time
    the model is used.

    Args:
        folder: The bundle folder.

    Returns:
        The recorded ``{file name: sha256}``.
    """
    digests = {n: sha256_file(folder / n) for n in _MODEL_FILES if (folder / n).is_file()}
    info_path = folder / BUNDLE_INFO_FILE
    info = json.loads(info_path.read_text(encoding="utf-8"))
    info.setdefault("extra", {})[FILES_KEY] = digests
    write_json_atomic(info_path, info)
    return digests


def damaged_files(name: str) -> list[str]:
    """The model files of a downloaded pretrained bundle that are missing or differ from their recorded sha256.

    A bundle downloaded before the sha256 were recorded has no record: its
    files are not checked (``[]``).
    """
    folder = pretrained_dir(name)
    try:
        info = json.loads((folder / BUNDLE_INFO_FILE).read_text(encoding="utf-8"))
        recorded = info["extra"].get(FILES_KEY) or {}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return []
    bad = []
    for file_name, want in sorted(recorded.items()):
        try:
            ok = _digest(folder / str(file_name)) == want
        except OSError:
            ok = False
        if not ok:
            bad.append(str(file_name))
    return bad


def pretrained_state(name: str) -> PretrainedState:
    """``"downloaded"``, ``"missing"`` (not downloaded, or made from other weights) or ``"damaged"``.

    ``"damaged"``: a model file was changed, replaced or removed since the
    download (its sha256 is not the recorded one); ``fermask download-model
    NAME --force`` fetches it again.
    """
    if not _made_from_pinned_weights(name):
        return "missing"
    return "damaged" if damaged_files(name) else "downloaded"


def is_downloaded(name: str) -> bool:
    """Whether the bundle of a pretrained model is in the cache, made from pinned weights, and undamaged.

    See :func:`pretrained_state`, which also tells a damaged bundle from a
    missing one.
    """
    return pretrained_state(name) == "downloaded"


def _made_from_pinned_weights(name: str) -> bool:
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
