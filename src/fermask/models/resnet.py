"""``resnet50_head``: an ImageNet ResNet50 backbone with a classification head."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .._choices import did_you_mean
from .._tf import keras_module
from ..errors import FermaskError
from ._registry import register_model
from ._common import as_tuple, check_channels, check_rate, softmax_classes

__all__ = ["resnet50_head", "unfreeze", "IMAGENET_NOTOP_FILE", "IMAGENET_NOTOP_URL"]

#: The file Keras downloads for ``weights="imagenet"`` (backbone without its top).
IMAGENET_NOTOP_FILE = "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"
#: Where Keras downloads it from.
IMAGENET_NOTOP_URL = (
    "https://storage.googleapis.com/tensorflow/keras-applications/resnet/" + IMAGENET_NOTOP_FILE
)
BACKBONE_NAME = "resnet50"


def _backbone_size(value: Any, input_shape: tuple[int, int, int]) -> tuple[int, int]:
    if value is None:
        size = (input_shape[0], input_shape[1])
    else:
        size = as_tuple(value, "resnet50_head backbone_size")  # type: ignore[assignment]
        if len(size) == 1:
            size = (size[0], size[0])
        if len(size) != 2:
            raise FermaskError(f"backbone_size must be an int or (height, width), got {value!r}")
    if min(size) < 32:
        raise FermaskError(
            f"ResNet50 needs images of at least 32x32 pixels, got backbone_size={value!r} "
            f"(input_shape={input_shape}); pass backbone_size=32 or larger (224 is the ImageNet size)"
        )
    return size


def _make_backbone(keras: Any, weights: Any, size: tuple[int, int]) -> Any:
    shape = (size[0], size[1], 3)
    if weights is None or weights == "imagenet":
        source: Any = weights
    else:
        path = Path(os.fspath(weights)).expanduser()
        if not path.is_file():
            raise FermaskError(
                f"weights must be None, 'imagenet' or the path of a ResNet50 weights file, got "
                f"{weights!r}, which is not a file. The ImageNet file Keras uses is "
                f"{IMAGENET_NOTOP_FILE} ({IMAGENET_NOTOP_URL})"
            )
        source = str(path)
    try:
        return keras.applications.ResNet50(
            include_top=False, weights=source, input_shape=shape, name=BACKBONE_NAME
        )
    except FermaskError:
        raise
    except Exception as exc:
        if source == "imagenet":
            raise FermaskError(
                "could not download the ImageNet weights of ResNet50 "
                f"({type(exc).__name__}: {exc}). On a machine without internet access, download "
                f"{IMAGENET_NOTOP_URL} elsewhere and pass its local path: "
                f"create_model('resnet50_head', weights='/path/to/{IMAGENET_NOTOP_FILE}') "
                f"(or copy it to ~/.keras/models/ so that weights='imagenet' finds it), "
                "or use weights=None to train from scratch"
            ) from None
        raise FermaskError(
            f"could not load the ResNet50 weights from {source!r} ({type(exc).__name__}: {exc}); "
            f"expected a weights file of ResNet50 without its top, such as {IMAGENET_NOTOP_FILE}"
        ) from None


@register_model(
    "resnet50_head",
    description="Keras ResNet50 backbone (optional ImageNet weights) + dense head, RGB input",
)
def resnet50_head(
    num_classes: int = 7,
    input_shape: tuple[int, int, int] = (48, 48, 3),
    *,
    weights: str | os.PathLike[str] | None = None,
    backbone_size: int | Sequence[int] | None = 224,
    freeze_backbone: bool = False,
    pooling: str = "avg",
    head_units: int | Sequence[int] | None = 256,
    dropout: float = 0.3,
) -> Any:
    """A ResNet50 backbone with a small classification head, as in the report.

    The model takes the masked face with its coloured mask as 3 channels
    (pixel values 0..255). Inside the model a ``Resizing`` layer brings it
    to ``backbone_size`` and a :class:`~fermask.models.layers.CaffePreprocess`
    layer applies ``keras.applications.resnet50.preprocess_input`` (RGB→BGR
    and ImageNet mean subtraction), so ImageNet weights see what they expect.
    The head is global pooling → [Dense → ReLU → Dropout]* → Dense → Softmax.

    Fine-tune in two stages: train with ``freeze_backbone=True`` (only the
    head learns), then call :func:`unfreeze` and recompile with a small
    learning rate (the report used 1e-4).

    Args:
        num_classes: Number of emotions (softmax units), at least 2.
        input_shape: ``(height, width, 3)``: ResNet50 needs RGB input; mask
            grayscale faces with ``keep_color=True`` to get 3 channels.
        weights: ``None`` (random initialisation), ``"imagenet"`` (downloaded
            by Keras, needs internet once) or the path of a weights file such
            as ``resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5``.
        backbone_size: Side (or ``(height, width)``) the input is resized to
            inside the model; at least 32. 224 is the ImageNet size; 96 or 64
            cost far less on a CPU. ``None`` keeps the input size.
        freeze_backbone: Make the backbone's weights non-trainable (its batch
            normalisation then runs in inference mode).
        pooling: ``"avg"`` or ``"max"`` global pooling of the last feature map.
        head_units: Hidden dense layer size(s) of the head; ``None`` or ``()``
            for none.
        dropout: Dropout rate after each hidden dense layer.

    Returns:
        An uncompiled ``keras.Model`` named ``"resnet50_head"``; the backbone
        is its layer ``"resnet50"``.

    Raises:
        FermaskError: Not 3 channels, a too small backbone size, a missing
            weights file, or ImageNet weights that could not be downloaded.

    Examples:
        >>> import fermask
        >>> m = fermask.create_model("resnet50_head", backbone_size=64,
        ...                          freeze_backbone=True)  # doctest: +SKIP
        >>> m.get_layer("resnet50").trainable  # doctest: +SKIP
        False
    """
    keras = keras_module()
    from .layers import CaffePreprocess

    layers = keras.layers
    n = softmax_classes("resnet50_head", num_classes)
    check_channels(
        "resnet50_head", input_shape, 3,
        "the ResNet50 backbone and its ImageNet weights take RGB images; mask grayscale faces "
        "with keep_color=True to keep the mask's colour",
    )
    size = _backbone_size(backbone_size, input_shape)
    if pooling not in ("avg", "max"):
        raise FermaskError(f"pooling must be 'avg' or 'max', got {pooling!r}")
    hidden = () if not head_units else as_tuple(head_units, "resnet50_head head_units")
    rate = check_rate(dropout)

    backbone = _make_backbone(keras, weights, size)
    backbone.trainable = not freeze_backbone

    inputs = keras.Input(shape=input_shape, name="pixels")
    x = inputs
    if size != (input_shape[0], input_shape[1]):
        x = layers.Resizing(size[0], size[1], interpolation="bilinear", name="resize")(x)
    x = CaffePreprocess(name="caffe_preprocess")(x)
    x = backbone(x)
    pool = layers.GlobalAveragePooling2D if pooling == "avg" else layers.GlobalMaxPooling2D
    x = pool(name="pool")(x)
    for i, units in enumerate(hidden, start=1):
        x = layers.Dense(units, activation="relu", name=f"head_dense{i}")(x)
        x = layers.Dropout(rate, name=f"head_dropout{i}")(x)
    x = layers.Dense(n, name="logits")(x)
    outputs = layers.Softmax(name="probabilities", dtype="float32")(x)
    return keras.Model(inputs, outputs, name="resnet50_head")


def unfreeze(
    model: Any,
    from_layer: str | int | None = None,
    *,
    keep_batchnorm_frozen: bool = True,
    backbone: str = BACKBONE_NAME,
) -> Any:
    """Make a frozen backbone trainable again, for the fine-tuning stage.

    Recompile the model afterwards (Keras reads ``trainable`` at compile
    time), usually with a learning rate 10-100× smaller.

    Args:
        model: A model from ``resnet50_head`` (or any model whose backbone
            is the nested layer named ``backbone``).
        from_layer: The first backbone layer to unfreeze, by name (e.g.
            ``"conv5_block1_1_conv"``) or index; the layers before it stay
            frozen. ``None`` unfreezes the whole backbone.
        keep_batchnorm_frozen: Keep batch-normalisation layers frozen (and
            in inference mode), as Keras' transfer-learning guide advises for
            small datasets.
        backbone: The name of the nested backbone layer.

    Returns:
        The same model, changed in place.

    Raises:
        FermaskError: No such backbone or layer.

    Examples:
        >>> m = fermask.create_model("resnet50_head", freeze_backbone=True)  # doctest: +SKIP
        >>> _ = unfreeze(m, from_layer="conv5_block1_1_conv")  # doctest: +SKIP
        >>> m.compile(optimizer=keras.optimizers.Adam(1e-5), loss="categorical_crossentropy")  # doctest: +SKIP
    """
    try:
        net = model.get_layer(backbone)
    except (ValueError, AttributeError):
        raise FermaskError(
            f"the model {getattr(model, 'name', model)!r} has no backbone layer named {backbone!r}; "
            "unfreeze works on models built by 'resnet50_head'"
        ) from None
    sub = list(getattr(net, "layers", []))
    start = 0
    if from_layer is not None:
        if isinstance(from_layer, int) and not isinstance(from_layer, bool):
            if not -len(sub) <= from_layer < len(sub):
                raise FermaskError(
                    f"from_layer={from_layer} is out of range: the backbone has {len(sub)} layers"
                )
            start = from_layer % len(sub)
        else:
            names = [layer.name for layer in sub]
            if from_layer not in names:
                raise FermaskError(
                    f"the backbone has no layer named {from_layer!r}.{did_you_mean(from_layer, names, n=3)} "
                    "Its stages start at conv2_block1_1_conv, conv3_block1_1_conv, conv4_block1_1_conv, conv5_block1_1_conv"
                )
            start = names.index(from_layer)
    keras = keras_module()
    net.trainable = True
    for i, layer in enumerate(sub):
        frozen = i < start or (
            keep_batchnorm_frozen and isinstance(layer, keras.layers.BatchNormalization)
        )
        layer.trainable = not frozen
    return model
