"""``vgg_fer``: the VGG variant of Khaireddin & Chen (2021) for FER2013."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .._tf import keras_module
from ._registry import register_model
from ._common import as_tuple, check_min_size, check_rate, softmax_classes

__all__ = ["vgg_fer"]


@register_model(
    "vgg_fer",
    description="VGG variant of Khaireddin & Chen 2021 (the paper reports 73.28% on FER2013)",
)
def vgg_fer(
    num_classes: int = 7,
    input_shape: tuple[int, int, int] = (48, 48, 1),
    *,
    filters: Sequence[int] = (64, 128, 256, 512),
    dense_units: int = 4096,
    dropout: float = 0.2,
    stage_dropout: float = 0.0,
) -> Any:
    """A VGG network tuned for FER2013, after Khaireddin & Chen (2021).

    Source: Yousif Khaireddin and Zhuofa Chen, "Facial Emotion Recognition:
    State of the Art Performance on FER2013", arXiv:2105.03588 (2021). The
    paper reports 73.28% single-network test accuracy on (unmasked) FER2013,
    reached with its own training recipe (SGD with Nesterov momentum, a
    learning-rate schedule, data augmentation, ten-crop testing and a long
    run). fermask has not reproduced that figure: it is the paper's number.

    Architecture, written for Keras from the paper's description: four
    convolutional stages, each two blocks of Conv2D(3×3, same padding) →
    ReLU → BatchNorm followed by a 2×2 max pool; then two fully connected
    ReLU layers with dropout and a softmax classifier. Pixels are
    scaled by 1/255 inside the model.

    Args:
        num_classes: Number of emotions (softmax units), at least 2.
        input_shape: ``(height, width, channels)``, at least 16×16 (four
            2×2 pools); 1 or 3 channels.
        filters: Filters of the stages (two convolutions each).
        dense_units: Units of each of the two hidden dense layers. The
            paper's 4096 gives ~40M parameters at 48×48; smaller values
            train faster on a CPU.
        dropout: Dropout rate after each hidden dense layer.
        stage_dropout: Dropout rate after each convolutional stage (0 = none).

    Returns:
        An uncompiled ``keras.Model`` named ``"vgg_fer"``.

    Examples:
        >>> import fermask
        >>> m = fermask.create_model("vgg_fer", dense_units=512)  # doctest: +SKIP
        >>> m.output_shape  # doctest: +SKIP
        (None, 7)
    """
    keras = keras_module()
    layers = keras.layers
    n = softmax_classes("vgg_fer", num_classes)
    stages = as_tuple(filters, "vgg_fer filters")
    (units,) = as_tuple(dense_units, "vgg_fer dense_units")
    rate = check_rate(dropout)
    stage_rate = check_rate(stage_dropout, "stage_dropout")
    check_min_size("vgg_fer", input_shape, 2 ** len(stages), f"{len(stages)} 2x2 max pools")

    inputs = keras.Input(shape=input_shape, name="pixels")
    x = layers.Rescaling(1.0 / 255, name="rescale")(inputs)
    for s, f in enumerate(stages, start=1):
        for b in "ab":
            x = layers.Conv2D(f, 3, padding="same", name=f"conv{s}{b}")(x)
            x = layers.ReLU(name=f"relu{s}{b}")(x)
            x = layers.BatchNormalization(name=f"bn{s}{b}")(x)
        x = layers.MaxPooling2D(2, name=f"pool{s}")(x)
        if stage_rate:
            x = layers.Dropout(stage_rate, name=f"drop{s}")(x)
    x = layers.Flatten(name="flatten")(x)
    for i in (1, 2):
        x = layers.Dense(units, activation="relu", name=f"fc{i}")(x)
        x = layers.Dropout(rate, name=f"drop_fc{i}")(x)
    x = layers.Dense(n, name="logits")(x)
    outputs = layers.Softmax(name="probabilities", dtype="float32")(x)
    return keras.Model(inputs, outputs, name="vgg_fer")
