"""Write ``tests/data/tiny_tflite_bundle``: a small 48x48 gray 7-emotion TFLite bundle for the no-TensorFlow tests.

Its weights are random (seeded); it exists so that the light path (LiteRT, no
TensorFlow, no Keras) can be tested in an environment without TensorFlow.
Run from the repository root, with TensorFlow installed::

    python tests/data/make_tiny_bundle.py
"""

from __future__ import annotations

from pathlib import Path


def main() -> None:
    """Build the model, convert it and save the bundle beside this file."""
    import keras
    import tensorflow as tf

    from fermask.bundle import BundleInfo, save_tflite_bundle
    from fermask.labels import EMOTIONS

    keras.utils.set_random_seed(7)
    model = keras.Sequential([
        keras.Input((48, 48, 1)), keras.layers.Rescaling(1 / 255),
        keras.layers.Conv2D(8, 5, strides=3, activation="relu"), keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(7, activation="softmax", kernel_initializer=keras.initializers.RandomNormal(stddev=2.0, seed=7)),
    ])
    content = tf.lite.TFLiteConverter.from_keras_model(model).convert()
    info = BundleInfo(labels=list(EMOTIONS), input_shape=(48, 48, 1), face_margin=0.1,
                      extra={"provenance": {"made_by": "tests/data/make_tiny_bundle.py", "weights": "random, seed 7"}})
    print(save_tflite_bundle(Path(__file__).with_name("tiny_tflite_bundle"), content, info))


if __name__ == "__main__":
    main()
