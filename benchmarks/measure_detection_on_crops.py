"""Count the faces dlib finds on 48x48 crops of real faces, and the plausible landmarks under ``face_policy="auto"``.

The crops are those of the test suite (``tests/conftest.py``, fixture
``lfw_crops48``): the first 100 faces of scikit-image's ``lfw_subset`` (25x25
gray images of Labeled Faces in the Wild), scaled up to 48x48 with bilinear
resampling. They are *not* FER2013 images; they only have FER2013's size.

For each detector setting the script prints how many crops have at least one
detection. It then runs ``FaceAnalyzer(face_policy="auto")`` (the Masker's
default) and counts the crops with plausible landmarks by the rule of
``tests/test_masks.py::test_landmarks_found_on_97_percent_of_real_crops``:
exactly one face, the eyes' mean height above the mouth's, and the nose tip
between the outer eye corners and inside the image.

Needs scikit-image (the ``dev`` extra) and the landmark model::

    python benchmarks/measure_detection_on_crops.py
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
from PIL import Image

EYES = list(range(36, 48))


def crops(n: int) -> np.ndarray:
    """The first ``n`` faces of scikit-image's LFW subset as 48x48 gray uint8 (as ``tests/conftest.py``)."""
    from skimage import data

    faces = data.lfw_subset()[:n]
    out = np.empty((len(faces), 48, 48), dtype=np.uint8)
    for i, f in enumerate(faces):
        img = Image.fromarray((f * 255).round().astype(np.uint8))
        out[i] = np.asarray(img.resize((48, 48), Image.BILINEAR))
    return out


def plausible(lm: np.ndarray, side: int) -> bool:
    """The landmark check of ``tests/test_masks.py``."""
    eyes_y = lm[EYES, 1].mean()
    mouth_y = lm[48:68, 1].mean()
    nose_x = lm[30, 0]
    return bool(eyes_y < mouth_y and lm[36, 0] < nose_x < lm[45, 0] and 0 <= nose_x < side)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=100, help="LFW faces used (default: 100, as the test)")
    parser.add_argument("--cnn", action="store_true", help="also count dlib's CNN detector (slower)")
    args = parser.parse_args()

    from fermask.faces import FaceAnalyzer

    images = crops(args.n)
    n = len(images)
    print(f"{n} crops: scikit-image lfw_subset()[:{args.n}], 25x25 scaled to 48x48 (bilinear)")
    settings: list[tuple[str, int, float]] = [
        ("hog", 0, 0.1), ("hog", 1, 0.1), ("hog", 1, 0.0), ("hog", 2, 0.1),
    ]
    if args.cnn:
        settings += [("cnn", 1, 0.1)]
    for detector, up, min_score in settings:
        analyzer = FaceAnalyzer(face_policy="detect", detector=detector, upsample=up, min_score=min_score)  # type: ignore[arg-type]
        found = sum(1 for img in images if analyzer.detect(img))
        default = "  (fermask's default for images under 400 px)" if (detector, up, min_score) == ("hog", 1, 0.1) else ""
        print(f"detector={detector} upsample={up} min_score={min_score}: a face detected in {found}/{n}{default}")

    auto = FaceAnalyzer(face_policy="auto")
    good = detected = 0
    for img in images:
        faces = auto.find(img)
        if len(faces) == 1:
            detected += faces[0].detected
            good += plausible(faces[0].landmarks, img.shape[1])
    print(f"face_policy='auto': plausible landmarks on {good}/{n} "
          f"({detected} from a detection, the rest from the whole frame)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
