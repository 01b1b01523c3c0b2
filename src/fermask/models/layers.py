"""fermask's custom Keras layers, registered for ``.keras`` save and load.

Importing this module imports Keras; :func:`fermask.models.register_custom_objects`
and the builders that need these layers import it lazily.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .._tf import keras_module

keras = keras_module()

__all__ = ["CaffePreprocess", "IMAGENET_BGR_MEAN"]

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
            raise ValueError(f"mean needs 3 values (B, G, R), got {mean!r}")

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
