"""The model registry: one entry per name, a builder and its defaults.

Registering and reading never import TensorFlow. A registry entry is a
:class:`ModelEntry`: the builder plus its :class:`ModelDefaults`. The default
``input_shape`` and ``num_classes`` are read from the builder's signature
(so a builder states them once); ``output``, ``color_mode`` and
``description`` come from :func:`register_model`. A builder found through the
``fermask.models`` entry-point group becomes an entry the same way.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, TypeVar, overload

from .._choices import COLOR_MODES, OUTPUTS, check_choice, color_mode_of
from .._registry import Registry
from ..errors import FermaskError, InvalidTypeError, InvalidValueError, UnknownNameError
from ..pretrained import list_pretrained

__all__ = [
    "ModelBuilder",
    "ModelDefaults",
    "ModelEntry",
    "register_model",
    "list_models",
    "get_model_builder",
    "model_defaults",
    "model_entry",
    "check_shape",
]

#: A model builder: ``builder(num_classes=..., input_shape=..., **options) -> keras.Model``.
ModelBuilder = Callable[..., Any]
B = TypeVar("B", bound=Callable[..., Any])


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


@dataclass(frozen=True)
class ModelEntry:
    """One registered model: its builder and what it makes by default."""

    builder: ModelBuilder
    defaults: ModelDefaults

    @classmethod
    def of(
        cls,
        builder: ModelBuilder,
        *,
        input_shape: Any = None,
        color_mode: str | None = None,
        output: str = "softmax",
        num_classes: int | None = None,
        description: str | None = None,
    ) -> ModelEntry:
        """An entry for ``builder``; ``None`` arguments are read from its signature.

        Raises:
            FermaskError: A bad ``input_shape``.
            ValueError: A bad ``output`` or ``color_mode``.
        """
        if not callable(builder):
            raise InvalidTypeError(f"a model builder must be callable, got {type(builder).__name__}")
        check_choice(output, OUTPUTS, "output")
        sig_shape, sig_classes = _signature_defaults(builder)
        shape = check_shape(input_shape) if input_shape is not None else sig_shape
        mode = color_mode or color_mode_of(shape[2])
        check_choice(mode, COLOR_MODES, "color_mode")
        n = num_classes if num_classes is not None else sig_classes
        if n is None:
            n = 2 if output == "sigmoid" else 7
        return cls(builder, ModelDefaults(shape, mode, output, int(n), description or ""))


def check_shape(input_shape: Any, what: str = "input_shape") -> tuple[int, int, int]:
    """``input_shape`` as ``(height, width, 1 or 3)``, or a :class:`~fermask.FermaskError`."""
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


def _signature_defaults(builder: ModelBuilder) -> tuple[tuple[int, int, int], int | None]:
    """The ``input_shape`` (valid, else ``(48, 48, 1)``) and int ``num_classes`` defaults of a builder."""
    shape: tuple[int, int, int] = ModelDefaults.input_shape
    n: int | None = None
    try:
        params = inspect.signature(builder).parameters
    except (TypeError, ValueError):  # pragma: no cover - no signature
        return shape, n
    given = params["input_shape"].default if "input_shape" in params else inspect.Parameter.empty
    if given is not inspect.Parameter.empty:
        try:
            shape = check_shape(given)
        except FermaskError:
            pass
    classes = params["num_classes"].default if "num_classes" in params else None
    if isinstance(classes, int) and not isinstance(classes, bool):
        n = classes
    return shape, n


class _ModelRegistry(Registry[ModelEntry]):
    """A :class:`~fermask._registry.Registry` whose entries are :class:`ModelEntry`.

    A bare builder (an entry-point plugin) becomes an entry with the defaults
    of its signature. Registering the same builder again under its name
    replaces its defaults; another builder needs ``overwrite``.
    """

    def register(self, name: str, obj: Any = None, *, overwrite: bool = False, source: str = "code") -> Any:
        if obj is None:
            return super().register(name, obj, overwrite=overwrite, source=source)
        entry = obj if isinstance(obj, ModelEntry) else ModelEntry.of(obj)
        old = self._entries.get(name.strip().lower()) if isinstance(name, str) else None
        same = old is not None and old.builder is entry.builder
        return super().register(name, entry, overwrite=overwrite or same, source=source)

    def entry_of(self, builder: ModelBuilder) -> ModelEntry:
        """The registered entry of a builder function, else one with its signature's defaults."""
        self._load_plugins()
        found = [e for e in self._entries.values() if e.builder is builder]
        return found[0] if found else ModelEntry.of(builder)


_MODELS = _ModelRegistry(
    "model",
    "fermask.models",
    "Add one with the @fermask.register_model('name') decorator, or from another package "
    "through the 'fermask.models' entry-point group.",
)


@overload
def register_model(name: B) -> B: ...


@overload
def register_model(
    name: str | None = ...,
    builder: None = ...,
    *,
    input_shape: tuple[int, int, int] | None = ...,
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
    input_shape: tuple[int, int, int] | None = ...,
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
    input_shape: tuple[int, int, int] | None = None,
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
    so that registering it stays free of TensorFlow. Its default
    ``input_shape`` and ``num_classes`` are read from its signature.

    Args:
        name: The registry name (case-insensitive); defaults to the
            function's name. A bare ``@register_model`` works too.
        builder: The builder, for a plain call; omit it to get a decorator.
        input_shape: The default ``(height, width, channels)``; ``None``
            reads the builder's signature (else ``(48, 48, 1)``).
        color_mode: ``"grayscale"`` or ``"rgb"``; derived from the channels
            when omitted.
        output: ``"softmax"`` or ``"sigmoid"`` (binary model, one unit).
        num_classes: The default number of classes; ``None`` reads the
            builder's signature (else 7, or 2 for sigmoid).
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
        >>> from fermask.models._registry import _MODELS; _MODELS.unregister("tiny_dense")
    """
    if callable(name) and builder is None:  # bare @register_model
        builder, name = name, None
    def add(fn: B) -> B:
        entry = ModelEntry.of(
            fn, input_shape=input_shape, color_mode=color_mode, output=output,
            num_classes=num_classes, description=description,
        )
        key = name if isinstance(name, str) else getattr(fn, "__name__", None)
        if not key:
            raise InvalidValueError("pass a name to register_model for a builder without __name__")
        _MODELS.register(str(key), entry, overwrite=overwrite)
        return fn

    if builder is None:
        return add
    return add(builder)


def model_entry(name: str | ModelBuilder) -> ModelEntry:
    """The :class:`ModelEntry` registered under ``name``, or the entry of a builder function.

    A builder that is registered gets its registered defaults; any other
    callable gets those of its signature.

    Raises:
        UnknownNameError: No such model; the message suggests close names,
            and for a pretrained model's name says to pass ``pretrained=True``.
    """
    if callable(name) and not isinstance(name, str):
        return _MODELS.entry_of(name)
    try:
        return _MODELS.get(name)
    except UnknownNameError as exc:
        key = str(name).strip().lower()
        if key in list_pretrained():
            raise UnknownNameError(
                f"{key!r} is a pretrained model, not an architecture fermask builds: its network comes with its "
                f"weights. Load it with create_model({key!r}, pretrained=True) (or Predictor.load({key!r}) to "
                f"predict); list_models() names the architectures, list_models(pretrained=True) the pretrained models"
            ) from None
        raise UnknownNameError(
            f"{exc} Pretrained models (create_model(name, pretrained=True)): {', '.join(list_pretrained()) or '(none)'}."
        ) from None


def list_models(pattern: str | None = None, *, pretrained: bool = False) -> list[str]:
    """Names of the registered models, sorted, optionally filtered.

    One namespace, two kinds of names: architectures, which
    :func:`~fermask.create_model` builds with fresh weights, and pretrained
    models (:mod:`fermask.pretrained`), which ``create_model(name,
    pretrained=True)`` loads with their weights.

    Args:
        pattern: A shell-style pattern such as ``"resnet*"``.
        pretrained: List the pretrained models (the names
            ``create_model(name, pretrained=True)`` takes) instead of the
            architectures; the same as :func:`fermask.pretrained.list_pretrained`.

    Returns:
        The matching names (built-ins and installed plugins).

    Examples:
        >>> list_models("happy*")
        ['happy_binary']
        >>> list_models("fer-*", pretrained=True)
        ['fer-mini-xception']
    """
    if pretrained:
        return list_pretrained(pattern)
    return _MODELS.names(pattern)


def get_model_builder(name: str) -> ModelBuilder:
    """The builder registered under ``name``.

    Raises:
        UnknownNameError: No such model; the message suggests close names.

    Examples:
        >>> get_model_builder("shallow_cnn").__name__
        'shallow_cnn'
    """
    return model_entry(name).builder


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
        >>> model_defaults("happy_binary")["output"], model_defaults("happy_binary")["num_classes"]
        ('sigmoid', 2)
    """
    return asdict(model_entry(name).defaults)
