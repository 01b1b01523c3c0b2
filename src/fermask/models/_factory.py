"""Building registered models: :func:`create_model` and what goes with a built model."""

from __future__ import annotations

import inspect
from typing import Any

from .._choices import color_mode_of, did_you_mean, output_kind
from ..errors import FermaskError
from ._registry import ModelBuilder, check_shape, model_entry

__all__ = ["create_model", "bundle_fields", "register_custom_objects", "unfreeze"]


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


def _check_built(model: Any, num_classes: int | None, input_shape: Any, options: dict[str, Any]) -> Any:
    """A built model passed to :func:`create_model`: returned as it is, if nothing asks for another."""
    fields = bundle_fields(model)
    units = int(model.output_shape[-1])
    if options or (input_shape is not None and check_shape(input_shape) != fields["input_shape"]) or (
        num_classes is not None and units != (1 if fields["output"] == "sigmoid" else num_classes)
    ):
        raise FermaskError(
            f"create_model was given a built model ({model.name!r}, input {fields['input_shape']}, "
            f"{units} outputs) together with options or a different input_shape/num_classes; "
            "pass a registered name to build a new model, or the model alone to use it as it is"
        )
    return model


def create_model(
    name: str | ModelBuilder,
    num_classes: int | None = None,
    input_shape: tuple[int, int, int] | None = None,
    **options: Any,
) -> Any:
    """Build a registered model.

    Args:
        name: A registered name (see :func:`list_models`), a builder
            function, or an already built Keras model (returned as it is).
        num_classes: Number of classes; ``None`` uses the model's default
            (7 for the emotion models; binary models take 2 or 1 and always
            have one sigmoid unit).
        input_shape: ``(height, width, channels)``; ``None`` uses the
            model's default (see :func:`model_defaults`).
        **options: Builder options (filters, dropout, weights, ...); an
            unknown option is an error that lists the valid ones.

    Returns:
        A ``keras.Model`` named after its registry entry, taking ``float32``
        pixel values ``0..255``. It is not compiled.

    Raises:
        UnknownNameError: No model has this name.
        FermaskError: A bad option, input shape or class count.

    Examples:
        >>> import fermask
        >>> m = fermask.create_model("happy_binary")  # doctest: +SKIP
        >>> m.input_shape, m.output_shape  # doctest: +SKIP
        ((None, 64, 64, 3), (None, 1))
    """
    if hasattr(name, "layers") and hasattr(name, "input_shape"):  # already a Keras model
        return _check_built(name, num_classes, input_shape, options)
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
