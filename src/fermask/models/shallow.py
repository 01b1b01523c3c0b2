"""``shallow_cnn``: the report's shallow convolutional network."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .._tf import keras_module
from ..errors import InvalidValueError
from ._registry import register_model
from ._common import as_tuple, check_min_size, check_rate, softmax_classes

__all__ = ["shallow_cnn"]


@register_model(
    "shallow_cnn",
    description="the report's two-convolution network (48x48 gray)",
)
def shallow_cnn(
    num_classes: int = 7,
    input_shape: tuple[int, int, int] = (48, 48, 1),
    *,
    filters: Sequence[int] = (32, 64),
    kernel_size: int = 3,
    units: int = 128,
    dropout: float = 0.5,
) -> Any:
    """The shallow CNN of the masked-FER report.

    Rescaling(1/255) → Conv2D → ReLU → Conv2D → ReLU → BatchNorm → MaxPool →
    Flatten → Dense → BatchNorm → ReLU → Dropout → Dense → Softmax. The
    report trained it with Adam and categorical cross-entropy; it overfits
    quickly (the report saw ~100% train and 17% dev accuracy at first).

    Args:
        num_classes: Number of emotions (softmax units), at least 2.
        input_shape: ``(height, width, channels)``; 1 or 3 channels.
        filters: Filters of the two convolutions.
        kernel_size: Side of the square convolution kernels.
        units: Units of the hidden dense layer.
        dropout: Dropout rate before the output layer.

    Returns:
        An uncompiled ``keras.Model`` named ``"shallow_cnn"``.

    Examples:
        >>> import fermask
        >>> m = fermask.create_model("shallow_cnn", filters=(16, 32), units=64)  # doctest: +SKIP
        >>> m.output_shape  # doctest: +SKIP
        (None, 7)
    """
    keras = keras_module()
    layers = keras.layers
    n = softmax_classes("shallow_cnn", num_classes)
    f = as_tuple(filters, "shallow_cnn filters")
    if len(f) != 2:
        raise InvalidValueError(f"shallow_cnn has two convolutions: give 2 filter counts, got {filters!r}")
    (units_,) = as_tuple(units, "shallow_cnn units")
    (k,) = as_tuple(kernel_size, "shallow_cnn kernel_size")
    rate = check_rate(dropout)
    check_min_size("shallow_cnn", input_shape, 2 * (k - 1) + 2, "two unpadded convolutions and a 2x2 pool")

    inputs = keras.Input(shape=input_shape, name="pixels")
    x = layers.Rescaling(1.0 / 255, name="rescale")(inputs)
    x = layers.Conv2D(f[0], k, name="conv1")(x)
    x = layers.ReLU(name="relu1")(x)
    x = layers.Conv2D(f[1], k, name="conv2")(x)
    x = layers.ReLU(name="relu2")(x)
    x = layers.BatchNormalization(name="bn_conv")(x)
    x = layers.MaxPooling2D(2, name="pool")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(units_, name="dense")(x)
    x = layers.BatchNormalization(name="bn_dense")(x)
    x = layers.ReLU(name="relu_dense")(x)
    x = layers.Dropout(rate, name="dropout")(x)
    x = layers.Dense(n, name="logits")(x)
    outputs = layers.Softmax(name="probabilities", dtype="float32")(x)
    return keras.Model(inputs, outputs, name="shallow_cnn")
