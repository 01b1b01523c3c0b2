"""fermask's custom Keras layers, registered for ``.keras`` save and load.

Importing this module imports Keras; :func:`fermask.models.register_custom_objects`
and the builders that need these layers import it lazily.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .._tf import keras_module
from ..errors import InvalidValueError

keras = keras_module()

__all__ = ["CaffePreprocess", "IMAGENET_BGR_MEAN", "StridedPointwiseConv2D", "is_strided_pointwise"]

#: Per-channel ImageNet means (B, G, R) subtracted by Keras' ``"caffe"`` preprocessing.
IMAGENET_BGR_MEAN = (103.939, 116.779, 123.68)

# Keras is imported at run time through ``keras_module()`` (a ``ModuleType``), so
# a type checker cannot see ``keras.layers.Layer`` as a class; the base is typed
# ``Any`` on purpose.
_Layer: Any = keras.layers.Layer


@keras.saving.register_keras_serializable(package="fermask")
class CaffePreprocess(_Layer):
    """``keras.applications.resnet50.preprocess_input`` as a layer.

    Takes RGB pixel values ``0..255``, reverses the channels to BGR and
    subtracts the ImageNet mean of each channel, without scaling, as the
    original ResNet50 weights expect ("caffe" mode).

    Args:
        mean: Per-channel means in BGR order.
        **kwargs: Standard layer arguments (``name``, ``dtype``).

    Examples:
        >>> import numpy as np
        >>> layer = CaffePreprocess()  # doctest: +SKIP
        >>> np.asarray(layer(np.full((1, 1, 1, 3), 255.0, "float32")))[0, 0, 0]  # doctest: +SKIP
        array([151.061, 138.22 , 131.32 ], dtype=float32)
    """

    def __init__(self, mean: Sequence[float] = IMAGENET_BGR_MEAN, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.mean = tuple(float(m) for m in mean)
        if len(self.mean) != 3:
            raise InvalidValueError(f"mean needs 3 values (B, G, R), got {mean!r}")

    def call(self, inputs: Any) -> Any:
        ops = keras.ops
        x = ops.cast(inputs, self.compute_dtype)
        bgr = ops.flip(x, axis=-1)
        return bgr - ops.convert_to_tensor(self.mean, dtype=self.compute_dtype)

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config["mean"] = list(self.mean)
        return config


_Conv2D: Any = keras.layers.Conv2D


@keras.saving.register_keras_serializable(package="fermask")
class StridedPointwiseConv2D(_Conv2D):
    """A 1x1 ``Conv2D`` with strides, computed as "take every s-th pixel, then a 1x1 convolution".

    The two are the same function with the same weights (a 1x1 kernel reads
    one pixel, and such a convolution never pads). This form exists because
    TensorFlow 2.21's oneDNN kernels crash the process (a segmentation fault)
    when they compute the gradient of a strided 1x1 convolution over an odd
    image size, as in mini-Xception's shortcuts: :func:`fermask.models.trainable_copy`
    swaps these layers in before training.
    """

    def call(self, inputs: Any) -> Any:
        ops = keras.ops
        sh, sw = self.strides
        x = inputs[:, ::sh, ::sw, :]
        out = ops.conv(x, self.kernel, strides=1, padding="valid", data_format="channels_last")
        if self.use_bias:
            out = out + self.bias
        return self.activation(out) if self.activation is not None else out


def is_strided_pointwise(layer: Any) -> bool:
    """Whether ``layer`` is a plain ``Conv2D`` with a 1x1 kernel and strides over 1 (channels last)."""
    return (
        type(layer) is keras.layers.Conv2D
        and tuple(layer.kernel_size) == (1, 1)
        and tuple(layer.strides) != (1, 1)
        and tuple(layer.dilation_rate) == (1, 1)
        and layer.data_format == "channels_last"
        and getattr(layer, "groups", 1) == 1
    )
