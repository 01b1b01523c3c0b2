"""The model registry: Keras model builders by name.

Builders are registered under a name, in code with :func:`register_model` or
by third-party packages through the ``fermask.models`` entry-point group, and
built with :func:`create_model`. Registering and listing never import
TensorFlow; only building a model does.

Every fermask model follows one contract: it takes ``float32`` pixel values
in ``0..255`` with shape ``input_shape`` and does its own scaling inside the
model, so the code that feeds it never needs to know how it was trained.
Softmax models output one probability per class; binary (``"sigmoid"``)
models output a single probability, that of the positive class.

Examples:
    >>> import fermask
    >>> fermask.list_models("resnet*")
    ['resnet50_head']
    >>> model_defaults("happy_binary")["output"]
    'sigmoid'
    >>> model = fermask.create_model("shallow_cnn", num_classes=7)  # doctest: +SKIP
    >>> model.output_shape  # doctest: +SKIP
    (None, 7)
"""

from __future__ import annotations

import difflib
import inspect
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, TypeVar, overload

from .._registry import Registry
from ..errors import FermaskError

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
    "unfreeze",
]

#: A model builder: ``builder(num_classes=..., input_shape=..., **options) -> keras.Model``.
ModelBuilder = Callable[..., Any]
B = TypeVar("B", bound=Callable[..., Any])

_ATTR = "__fermask_model__"

_MODELS: Registry[ModelBuilder] = Registry(
    "model",
    "fermask.models",
    "Add one with the @fermask.register_model('name') decorator, or from another package "
    "through the 'fermask.models' entry-point group.",
)


@dataclass(frozen=True)
class ModelDefaults:
    """What a builder makes when called without options.

    Attributes:
        input_shape: ``(height, width, channels)`` of the model's input.
        color_mode: ``"grayscale"`` (1 channel) or ``"rgb"`` (3 channels).
        output: ``"softmax"`` (one score per class) or ``"sigmoid"`` (one
            score: the probability of the positive class).
        num_classes: The default number of classes (2 for sigmoid models).
        description: One line for listings.
    """

    input_shape: tuple[int, int, int] = (48, 48, 1)
    color_mode: str = "grayscale"
    output: str = "softmax"
    num_classes: int = 7
    description: str = ""


def _check_shape(input_shape: Any, what: str = "input_shape") -> tuple[int, int, int]:
    try:
        shape = tuple(int(v) for v in input_shape)
    except (TypeError, ValueError):
        shape = ()
    if len(shape) != 3 or min(shape) < 1 or shape[2] not in (1, 3):
        raise FermaskError(
            f"{what} must be (height, width, channels) with channels 1 (grayscale) or 3 (RGB), "
            f"got {input_shape!r}; for FER2013-style crops use (48, 48, 1)"
        )
    return shape


def _make_defaults(
    input_shape: Any,
    color_mode: str | None,
    output: str,
    num_classes: int | None,
    description: str | None,
) -> ModelDefaults:
    shape = _check_shape(input_shape)
    if output not in ("softmax", "sigmoid"):
        raise ValueError(f"output must be 'softmax' or 'sigmoid', got {output!r}")
    mode = color_mode or ("grayscale" if shape[2] == 1 else "rgb")
    if mode not in ("grayscale", "rgb"):
        raise ValueError(f"color_mode must be 'grayscale' or 'rgb', got {color_mode!r}")
    n = num_classes if num_classes is not None else (2 if output == "sigmoid" else 7)
    return ModelDefaults(shape, mode, output, int(n), description or "")


@overload
def register_model(name: B) -> B: ...


@overload
def register_model(
    name: str | None = ...,
    builder: None = ...,
    *,
    input_shape: tuple[int, int, int] = ...,
    color_mode: str | None = ...,
    output: str = ...,
    num_classes: int | None = ...,
    description: str | None = ...,
    overwrite: bool = ...,
) -> Callable[[B], B]: ...


@overload
def register_model(
    name: str | None,
    builder: B,
    *,
    input_shape: tuple[int, int, int] = ...,
    color_mode: str | None = ...,
    output: str = ...,
    num_classes: int | None = ...,
    description: str | None = ...,
    overwrite: bool = ...,
) -> B: ...


def register_model(
    name: str | Callable[..., Any] | None = None,
    builder: Callable[..., Any] | None = None,
    *,
    input_shape: tuple[int, int, int] = (48, 48, 1),
    color_mode: str | None = None,
    output: str = "softmax",
    num_classes: int | None = None,
    description: str | None = None,
    overwrite: bool = False,
) -> Any:
    """Register a model builder; use as a decorator or call with the builder.

    A builder is a function ``builder(num_classes, input_shape, **options)``
    returning a Keras model that takes pixel values ``0..255`` and scales them
    itself. It should import Keras inside its body (``fermask._tf.keras_module()``)
    so that registering it stays free of TensorFlow.

    Args:
        name: The registry name (case-insensitive); defaults to the
            function's name. A bare ``@register_model`` works too.
        builder: The builder, for a plain call; omit it to get a decorator.
        input_shape: The default ``(height, width, channels)``.
        color_mode: ``"grayscale"`` or ``"rgb"``; derived from the channels
            when omitted.
        output: ``"softmax"`` or ``"sigmoid"`` (binary model, one unit).
        num_classes: The default number of classes (7, or 2 for sigmoid).
        description: One line shown in listings.
        overwrite: Replace an entry registered under the same name.

    Returns:
        The builder itself (unchanged), or a decorator returning it.

    Raises:
        ValueError: The name is taken (without ``overwrite``) or an argument
            is invalid.

    Examples:
        >>> import fermask
        >>> @fermask.register_model("tiny_dense", description="a toy")
        ... def tiny_dense(num_classes=7, input_shape=(48, 48, 1)):
        ...     from fermask._tf import keras_module
        ...     keras = keras_module()
        ...     return keras.Sequential([
        ...         keras.Input(input_shape), keras.layers.Rescaling(1 / 255),
        ...         keras.layers.Flatten(), keras.layers.Dense(num_classes, activation="softmax"),
        ...     ], name="tiny_dense")
        >>> "tiny_dense" in fermask.list_models()
        True
        >>> from fermask.models import _MODELS; _MODELS.unregister("tiny_dense")
    """
    if callable(name) and builder is None:  # bare @register_model
        builder, name = name, None
    defaults = _make_defaults(input_shape, color_mode, output, num_classes, description)

    def add(fn: B) -> B:
        if not callable(fn):
            raise TypeError(f"a model builder must be callable, got {type(fn).__name__}")
        key = name if isinstance(name, str) else getattr(fn, "__name__", None)
        if not key:
            raise ValueError("pass a name to register_model for a builder without __name__")
        try:
            setattr(fn, _ATTR, defaults)
        except (AttributeError, TypeError):  # builtins, bound methods: keep defaults aside
            _EXTERNAL_DEFAULTS[str(key).strip().lower()] = defaults
        _MODELS.register(str(key), fn, overwrite=overwrite)
        return fn

    if builder is None:
        return add
    return add(builder)


_EXTERNAL_DEFAULTS: dict[str, ModelDefaults] = {}


def list_models(pattern: str | None = None) -> list[str]:
    """Names of the registered models, sorted, optionally filtered.

    Args:
        pattern: A shell-style pattern such as ``"resnet*"``.

    Returns:
        The matching names (built-ins and installed plugins).

    Examples:
        >>> list_models("happy*")
        ['happy_binary']
    """
    return _MODELS.names(pattern)


def get_model_builder(name: str) -> ModelBuilder:
    """The builder registered under ``name``.

    Raises:
        UnknownNameError: No such model; the message suggests close names.

    Examples:
        >>> get_model_builder("shallow_cnn").__name__
        'shallow_cnn'
    """
    return _MODELS.get(name)


def _defaults_of(builder: ModelBuilder, key: str | None = None) -> ModelDefaults:
    found = getattr(builder, _ATTR, None)
    if isinstance(found, ModelDefaults):
        return found
    if key and key in _EXTERNAL_DEFAULTS:
        return _EXTERNAL_DEFAULTS[key]
    # a plugin registered only through its entry point: read its signature
    shape: Any = (48, 48, 1)
    n: int | None = None
    try:
        params = inspect.signature(builder).parameters
        if "input_shape" in params and params["input_shape"].default is not inspect.Parameter.empty:
            shape = params["input_shape"].default
        if "num_classes" in params and isinstance(params["num_classes"].default, int):
            n = params["num_classes"].default
    except (TypeError, ValueError):  # pragma: no cover - no signature
        pass
    try:
        return _make_defaults(shape, None, "softmax", n, None)
    except (FermaskError, ValueError):
        return ModelDefaults()


def model_defaults(name: str) -> dict[str, Any]:
    """The defaults of a registered model, for building a bundle description.

    Args:
        name: A registered model name.

    Returns:
        A dict with ``input_shape``, ``color_mode``, ``output``,
        ``num_classes`` and ``description``.

    Examples:
        >>> model_defaults("shallow_cnn")["input_shape"]
        (48, 48, 1)
    """
    key = str(name).strip().lower()
    return asdict(_defaults_of(_MODELS.get(name), key))


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
        close = difflib.get_close_matches(bad, accepted, n=1, cutoff=0.6)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise FermaskError(
            f"model {name!r} has no option {bad!r}.{hint} "
            f"Its options are: {', '.join(accepted) or '(none)'}"
        )


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
        built: Any = name
        fields = bundle_fields(built)
        units = int(built.output_shape[-1])
        if options or (input_shape is not None and _check_shape(input_shape) != fields["input_shape"]) or (
            num_classes is not None and units != (1 if fields["output"] == "sigmoid" else num_classes)
        ):
            raise FermaskError(
                f"create_model was given a built model ({built.name!r}, input {fields['input_shape']}, "
                f"{units} outputs) together with options or a different input_shape/num_classes; "
                "pass a registered name to build a new model, or the model alone to use it as it is"
            )
        return built
    if callable(name) and not isinstance(name, str):
        builder: ModelBuilder = name
        label = getattr(builder, "__name__", "model")
        defaults = _defaults_of(builder)
    else:
        builder = _MODELS.get(name)
        label = str(name).strip().lower()
        defaults = _defaults_of(builder, label)
    if num_classes is None:
        num_classes = defaults.num_classes
    if isinstance(num_classes, bool) or not isinstance(num_classes, int):
        raise FermaskError(f"num_classes must be an integer, got {num_classes!r}")
    shape = _check_shape(defaults.input_shape if input_shape is None else input_shape)
    _check_options(label, builder, options)
    register_custom_objects()
    return builder(num_classes=num_classes, input_shape=shape, **options)


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
    shape = _check_shape(in_shape[1:], "the model's input shape")
    units = int(out_shape[-1])
    return {
        "input_shape": shape,
        "color_mode": "grayscale" if shape[2] == 1 else "rgb",
        "output": "sigmoid" if units == 1 else "softmax",
        "model_name": name or model.name,
    }


def register_custom_objects() -> None:
    """Register fermask's custom Keras layers for ``keras.models.load_model``.

    Imports Keras. Call it before loading a ``.keras`` file written by a
    fermask model outside :func:`fermask.load_bundle` (which calls it).

    Examples:
        >>> register_custom_objects()  # doctest: +SKIP
    """
    from . import layers  # noqa: F401  - defining the classes registers them


def unfreeze(model: Any, from_layer: str | int | None = None, **kwargs: Any) -> Any:
    """Make a ``resnet50_head`` backbone trainable again (second training stage).

    See :func:`fermask.models.resnet.unfreeze`.
    """
    from .resnet import unfreeze as _unfreeze

    return _unfreeze(model, from_layer=from_layer, **kwargs)


# Built-in families. Their modules import Keras only inside the builders.
from . import happy, resnet, shallow, vgg  # noqa: E402,F401

# A Keras model loader that imported this package after Keras needs the
# custom layers now (fermask.load_bundle does `import fermask.models`).
if "keras" in sys.modules:
    register_custom_objects()
