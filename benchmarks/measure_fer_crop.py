"""Measure how much larger ``fer``'s face crop is than dlib's HOG box (sets fer-mini-xception's face margin).

``fer`` crops a face from OpenCV's Haar-cascade box, made square and grown by
10 px on each side. fermask crops from dlib's HOG box grown by a fraction of
its size on each side (the bundle's ``face_margin``). This script finds both
boxes on the same faces (scikit-image's astronaut portrait and LFW faces
upscaled onto a gray canvas), keeps the faces where each detector finds
exactly one face, and prints the ratio of fer's crop side to dlib's box
width, and the margin per side that matches it.

Needs the peer's files (never a fermask dependency)::

    pip install --no-deps --target /tmp/fer_pkgs fer==25.10.3 "opencv-python-headless<5"
    PYTHONPATH=/tmp/fer_pkgs python benchmarks/measure_fer_crop.py
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np
from PIL import Image


def faces(n_lfw: int) -> list[np.ndarray]:
    from skimage import data

    out = [data.astronaut()]
    for f in data.lfw_subset()[:n_lfw]:
        img = Image.fromarray((f * 255).round().astype(np.uint8)).resize((150, 150), Image.BICUBIC)
        canvas = np.full((300, 300), 128, np.uint8)
        canvas[75:225, 75:225] = np.asarray(img)
        out.append(np.stack([canvas] * 3, axis=-1))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lfw-n", type=int, default=60, help="LFW faces used (default: 60)")
    args = parser.parse_args()
    import cv2
    import fer

    from fermask.faces import FaceAnalyzer

    cascade = cv2.CascadeClassifier(os.path.join(os.path.dirname(fer.__file__), "data",
                                                 "haarcascade_frontalface_default.xml"))
    hog = FaceAnalyzer(face_policy="detect", detector="hog")
    ratios, dys = [], []
    images = faces(args.lfw_n)
    for img in images:
        gray = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
        haar = cascade.detectMultiScale(gray, scaleFactor=1.1, minNeighbors=5, minSize=(50, 50))
        found = hog.detect(img)
        if len(haar) != 1 or len(found) != 1:
            continue
        x, y, w, h = (int(v) for v in haar[0])
        left, top, right, bottom = found[0][0]
        width = right - left
        ratios.append((max(w, h) + 20) / width)  # fer: square box + 10 px per side
        dys.append(((y + h / 2) - (top + bottom) / 2) / width)
    r = np.array(ratios)
    q1, med, q3 = np.percentile(r, [25, 50, 75])
    print(f"faces where both detectors found exactly one face: {len(r)} of {len(images)}")
    print(f"fer crop side / dlib HOG box width: median {med:.3f} (IQR {q1:.3f}-{q3:.3f})")
    print(f"matching face_margin per side: {(med - 1) / 2:.3f}")
    print(f"fer crop centre above dlib's by {-np.median(dys):.3f} box widths (median)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
