"""Pretrained models by name: where their weights come from and where they are kept.

A pretrained entry (:class:`PretrainedModel`) says where a model's weights
are published, their sha256, their licence, the data they were trained on
and how they become a fermask bundle (labels, input size, colour mode, the
pixel scaling the model expects, face margin). :func:`fermask.download_model`
fetches the weights, checks them and writes the bundle into fermask's user
cache (``models/<name>/``, beside the landmark model); from then on
``Predictor.load(name)``, ``create_model(name, pretrained=True)``,
``list_models(pretrained=True)`` and every command that takes a bundle know
the name. A name and a path are told apart in one place,
:func:`locate_bundle`: ``"pretrained:NAME"`` is always the registered model,
and a plain name that is also an existing folder is refused, never guessed.

An entry may also name its publisher's own TFLite file
(:class:`TFLiteWeights`, pinned by its own sha256): where TensorFlow is not
installed, :func:`fermask.download_model` makes the bundle of that file,
which runs on LiteRT.

fermask registers one entry, ``fer-mini-xception`` (with ``fer``'s quantized
TFLite model as its TFLite file). Third-party packages add
entries through the ``fermask.pretrained`` entry-point group, whose objects
are :class:`PretrainedModel` instances::

    [project.entry-points."fermask.pretrained"]
    my-model = "my_package.models:MY_MODEL"

The package is one job per module: ``_entry`` (what an entry is: its
weights source, :class:`PretrainedModel`, the pixel scalings), ``_registry``
(the registered entries and their bundles in the user cache), ``_locate``
(:func:`locate_bundle`: a name or a path), ``_fetch`` (fetching the weights
and checking their sha256) and ``_builtin`` (the entry fermask ships and
:data:`DEFAULT_PRETRAINED`). This module re-exports the public names.

This package reads and writes files only; it never imports TensorFlow.

Examples:
    >>> from fermask.pretrained import get_pretrained, list_pretrained
    >>> "fer-mini-xception" in list_pretrained()
    True
    >>> get_pretrained("fer-mini-xception").input_shape
    (64, 64, 1)
"""

from __future__ import annotations

from ._builtin import DEFAULT_MASKED_PRETRAINED, DEFAULT_PRETRAINED  # registers the built-in entries
from ._entry import SCALES, PackageFile, PretrainedModel, PyPIFile, TFLiteWeights, URLFile, WeightsSource, scale_factors
from ._fetch import MAX_MEMBER_BYTES, ChecksumError, FetchedWeights, fetch_weights, scratch_dir
from ._locate import PRETRAINED_PREFIX, AmbiguousNameError, locate_bundle
from ._registry import (
    download_command,
    get_pretrained,
    damaged_files,
    is_downloaded,
    list_pretrained,
    pretrained_dir,
    pretrained_state,
    record_file_hashes,
    register_pretrained,
)

__all__ = [
    "PretrainedModel",
    "PyPIFile",
    "URLFile",
    "PackageFile",
    "WeightsSource",
    "TFLiteWeights",
    "FetchedWeights",
    "ChecksumError",
    "AmbiguousNameError",
    "DEFAULT_PRETRAINED",
    "DEFAULT_MASKED_PRETRAINED",
    "PRETRAINED_PREFIX",
    "SCALES",
    "scale_factors",
    "register_pretrained",
    "get_pretrained",
    "list_pretrained",
    "pretrained_dir",
    "is_downloaded",
    "pretrained_state",
    "damaged_files",
    "record_file_hashes",
    "MAX_MEMBER_BYTES",
    "locate_bundle",
    "fetch_weights",
    "scratch_dir",
    "download_command",
]
