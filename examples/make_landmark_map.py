"""Draw the 68 landmarks fermask finds on the packaged portrait, each with its index.

Usage:
    python examples/make_landmark_map.py [--out docs/img/landmarks-68.png]

The points come from fermask's own landmark finder
(:class:`fermask.faces.FaceAnalyzer`) on :func:`fermask.assets.example_photo`
(a public-domain NASA portrait), so the numbers are exactly the 0-based
indices a mask style reads as ``g[i]``. The colours are the groups of the
iBUG 300-W scheme, named as in ``fermask.faces``. Needs matplotlib
(``pip install 'fermask[plot]'``); runs offline in a few seconds. The
"Writing a plugin" docs page shows the file this writes.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from matplotlib import patheffects
from matplotlib.figure import Figure
from PIL import Image

from fermask.assets import example_photo
from fermask.faces import (
    EYEBROWS,
    JAW,
    LEFT_EYE,
    MOUTH,
    NOSE_BOTTOM,
    NOSE_BRIDGE,
    RIGHT_EYE,
    FaceAnalyzer,
)

# (constant name in fermask.faces, its slice, colour); LEFT_EYE is the eye on the image's left
GROUPS = [
    ("JAW", JAW, "#1f77b4"),
    ("EYEBROWS", EYEBROWS, "#2ca02c"),
    ("NOSE_BRIDGE", NOSE_BRIDGE, "#ff7f0e"),
    ("NOSE_BOTTOM", NOSE_BOTTOM, "#8c564b"),
    ("LEFT_EYE", LEFT_EYE, "#9467bd"),
    ("RIGHT_EYE", RIGHT_EYE, "#c2185b"),
    ("MOUTH", MOUTH, "#d62728"),
]
SIDE = {"LEFT_EYE": " (image left)", "RIGHT_EYE": " (image right)"}
INNER_LIPS = slice(60, 68)
MARGIN = 14  # pixels of photo kept around the landmarks
SCALE = 7.0  # display pixels per photo pixel


def label_offsets(p: np.ndarray) -> np.ndarray:
    """A unit direction per point for its label: away from its group's centre (inner lips: toward it)."""
    out = np.zeros_like(p)
    face_centre = p[JAW].mean(axis=0)
    for _, sl, _ in GROUPS:
        centre = face_centre if sl == JAW else p[sl].mean(axis=0)
        out[sl] = p[sl] - centre
    out[INNER_LIPS] = p[INNER_LIPS].mean(axis=0) - p[INNER_LIPS]
    out[NOSE_BRIDGE] = (1.0, 0.0)  # a vertical line of points: labels to its right
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return out / np.maximum(norms, 1e-9)


def draw(photo: np.ndarray, p: np.ndarray, out: Path) -> None:
    x0, y0 = np.floor(p.min(axis=0)).astype(int) - MARGIN
    x1, y1 = np.ceil(p.max(axis=0)).astype(int) + MARGIN
    x0, y0 = max(x0, 0), max(y0, 0)
    crop = photo[y0:y1, x0:x1]
    faded = (255 - 0.45 * (255 - crop.mean(axis=2))).astype(np.uint8)  # a light gray backdrop
    dpi, legend_h = 100, 0.55  # legend_h: inches below the photo for the legend
    width, height = crop.shape[1] * SCALE / dpi, crop.shape[0] * SCALE / dpi
    fig = Figure(figsize=(width, height + legend_h), dpi=dpi)  # no pyplot: no GUI backend needed
    ax = fig.add_axes((0.0, legend_h / (height + legend_h), 1.0, height / (height + legend_h)))
    ax.imshow(faded, cmap="gray", vmin=0, vmax=255, extent=(x0 - 0.5, x1 - 0.5, y1 - 0.5, y0 - 0.5))
    away = label_offsets(p)
    halo = [patheffects.withStroke(linewidth=2.5, foreground="white")]
    for name, sl, color in GROUPS:
        idx = range(sl.start, sl.stop)
        ax.plot(p[sl, 0], p[sl, 1], "o", ms=4, color=color, label=f"{name}  {sl.start}-{sl.stop - 1}{SIDE.get(name, '')}")
        for i in idx:
            dx, dy = away[i] * 11
            # offsets are in points with y up; the image's y grows downward
            ax.annotate(str(i), p[i], xytext=(dx, -dy), textcoords="offset points",
                        ha="center", va="center", fontsize=7.5, color=color, fontweight="bold",
                        path_effects=halo)
    ax.set_xlim(x0 - 0.5, x1 - 0.5)
    ax.set_ylim(y1 - 0.5, y0 - 0.5)  # image y grows downward
    ax.set_axis_off()
    fig.legend(loc="lower center", ncol=4, fontsize=8.5, frameon=False, handletextpad=0.3, columnspacing=1.2)
    fig.savefig(out, dpi=dpi)
    # 256 colours are plenty for flat labels on gray: a small file
    Image.open(out).convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(out, optimize=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="docs/img/landmarks-68.png")
    args = parser.parse_args()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    photo = np.asarray(Image.open(example_photo()).convert("RGB"))
    faces = FaceAnalyzer().find(photo)
    if len(faces) != 1:
        raise SystemExit(f"expected one face in {example_photo().name}, found {len(faces)}")
    p = faces[0].landmarks.astype(np.float64)
    draw(photo, p, out)
    print(f"wrote {out}: 68 landmarks of the face at box {faces[0].box} ({out.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main()
