"""``happy_binary``: the Coursera "HappyModel" for happy-vs-not."""

from __future__ import annotations

from typing import Any

from .._tf import keras_module
from ._registry import register_model
from ._common import check_min_size, sigmoid_units

__all__ = ["happy_binary"]


@register_model(
    "happy_binary",
    output="sigmoid",
    description="happy vs. not: one 7x7 convolution, one sigmoid unit (64x64 RGB)",
)
def happy_binary(
    num_classes: int = 2,
    input_shape: tuple[int, int, int] = (64, 64, 3),
    *,
    filters: int = 32,
    kernel_size: int = 7,
    padding: int = 3,
) -> Any:
    """The "HappyModel" of the Coursera convolutional-networks course.

    Rescaling(1/255) → ZeroPadding2D(3) → Conv2D(32, 7×7) → BatchNorm →
    ReLU → MaxPool → Flatten → Dense(1, sigmoid). The report used it for
    happy-vs-not on masked faces (78.7% train / 63% dev accuracy).

    The model has a single sigmoid output, the probability of the positive
    class (``labels[1]`` of a bundle); ``num_classes`` is 2 (or 1).

    Args:
        num_classes: 2 or 1; both give one sigmoid unit.
        input_shape: ``(height, width, channels)``; 1 or 3 channels.
        filters: Filters of the convolution.
        kernel_size: Side of the convolution kernel.
        padding: Zero padding on each side before the convolution.

    Returns:
        An uncompiled ``keras.Model`` named ``"happy_binary"``.

    Examples:
        >>> import fermask
        >>> fermask.create_model("happy_binary").output_shape  # doctest: +SKIP
        (None, 1)
    """
    keras = keras_module()
    layers = keras.layers
    units = sigmoid_units("happy_binary", num_classes)
    check_min_size("happy_binary", input_shape, max(2, kernel_size - 2 * padding + 2), "the convolution and pool")

    inputs = keras.Input(shape=input_shape, name="pixels")
    x = layers.Rescaling(1.0 / 255, name="rescale")(inputs)
    x = layers.ZeroPadding2D(padding, name="pad")(x)
    x = layers.Conv2D(filters, kernel_size, name="conv")(x)
    x = layers.BatchNormalization(axis=-1, name="bn")(x)
    x = layers.ReLU(name="relu")(x)
    x = layers.MaxPooling2D(2, name="pool")(x)
    x = layers.Flatten(name="flatten")(x)
    outputs = layers.Dense(units, activation="sigmoid", name="probability", dtype="float32")(x)
    return keras.Model(inputs, outputs, name="happy_binary")
