"""The model registry: Keras model builders by name.

Builders are registered under a name, in code with :func:`register_model` or
by third-party packages through the ``fermask.models`` entry-point group, and
built with :func:`create_model`. Registering and listing never import
TensorFlow; only building a model does.

Models and pretrained weights share one namespace: :func:`list_models` lists
the architectures, ``list_models(pretrained=True)`` the pretrained models
(:mod:`fermask.pretrained`), and ``create_model(name, pretrained=True)``
loads a downloaded pretrained model, as timm's ``create_model`` does.

Every fermask model follows one contract: it takes ``float32`` pixel values
in ``0..255`` with shape ``input_shape`` and does its own scaling inside the
model, so the code that feeds it never needs to know how it was trained.
Softmax models output one probability per class; binary (``"sigmoid"``)
models output a single probability, that of the positive class.

The registry (entries, defaults) lives in ``fermask.models._registry``,
building in ``fermask.models._factory``; this package re-exports both and
registers the built-in families.

Examples:
    >>> import fermask
    >>> fermask.list_models("resnet*")
    ['resnet50_head']
    >>> fermask.list_models("fer-*", pretrained=True)
    ['fer-mini-xception']
    >>> model_defaults("happy_binary")["output"]
    'sigmoid'
    >>> model = fermask.create_model("shallow_cnn", num_classes=7)  # doctest: +SKIP
    >>> model.output_shape  # doctest: +SKIP
    (None, 7)
"""

from __future__ import annotations

import sys

from ._factory import (
    bundle_fields,
    create_model,
    load_model_file,
    register_custom_objects,
    trainable_copy,
    unfreeze,
)
from ._registry import (
    ModelBuilder,
    ModelDefaults,
    get_model_builder,
    list_models,
    model_defaults,
    register_model,
)

# Built-in families register themselves; their modules import Keras only inside the builders.
from . import happy, resnet, shallow, vgg  # noqa: E402,F401,I001

__all__ = [
    "ModelBuilder",
    "ModelDefaults",
    "register_model",
    "create_model",
    "list_models",
    "get_model_builder",
    "model_defaults",
    "bundle_fields",
    "register_custom_objects",
    "load_model_file",
    "unfreeze",
    "trainable_copy",
]

# A Keras model loader that imported this package after Keras needs the
# custom layers now (fermask.load_bundle does `import fermask.models`).
if "keras" in sys.modules:
    register_custom_objects()
