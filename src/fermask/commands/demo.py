"""``fermask demo``: mask the packaged example photo with the default style.

Examples::

    fermask demo                   # writes ./fermask-demo/astronaut_masked.png
    fermask demo -o demo_out --style n95 --color blue

Writes ``astronaut_masked.png`` and ``astronaut_side_by_side.png`` (the photo
and its masked copy next to each other) into the output folder. The photo is
a public-domain NASA portrait shipped inside fermask, so masking needs no
download and no TensorFlow.

When the default pretrained model is downloaded (``fermask download-model``),
or ``--model`` names a bundle, the demo also predicts the emotion of the
masked face, prints it, and draws ``astronaut_emotions.png`` (with
``fermask[plot]``). The face is the one found before masking: the default
HOG detector often misses masked faces.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from fermask.errors import FermaskError

from ._common import add_masker_arguments, build_masker

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the options of ``fermask demo``."""
    parser.add_argument("--output", "-o", default="fermask-demo", metavar="DIR",
                        help="folder for the results (default: ./fermask-demo)")
    parser.add_argument("--model", "-m", metavar="BUNDLE",
                        help="also predict with this bundle or pretrained model "
                        "(default: fer-mini-xception when downloaded)")
    add_masker_arguments(parser)


def run(args: argparse.Namespace) -> int:
    """Run ``fermask demo``."""
    import numpy as np
    from PIL import Image

    from fermask._image import load_image, to_rgb
    from fermask.assets import example_photo

    masker = build_masker(args)
    photo = example_photo()
    original = load_image(photo)
    result = masker(original, index=0)
    if not result.masked or result.image is None:
        raise FermaskError(f"no face was masked in the example photo {str(photo)!r}: {result.reason}")
    out = Path(args.output)
    if out.exists() and not out.is_dir():
        raise FermaskError(f"the output path {str(out)!r} exists and is not a folder; choose another -o")
    out.mkdir(parents=True, exist_ok=True)
    masked_path = out / "astronaut_masked.png"
    pair_path = out / "astronaut_side_by_side.png"
    Image.fromarray(result.image).save(masked_path)
    gap = np.full((original.shape[0], 8, 3), 255, dtype=np.uint8)
    pair = np.concatenate([to_rgb(original), gap, to_rgb(result.image)], axis=1)
    Image.fromarray(pair).save(pair_path)
    n = len(result.faces)
    print(f"masked {n} face{'s' if n != 1 else ''} with style {result.style!r} in {photo.name}")
    print(f"wrote {masked_path}")
    print(f"wrote {pair_path}")
    _predict(args, result, out)
    return 0


def _predict(args: argparse.Namespace, result: Any, out: Path) -> None:
    """Predict the masked face's emotion when a model is at hand, and say what happened."""
    from fermask.pretrained import DEFAULT_PRETRAINED, PRETRAINED_PREFIX, download_command, pretrained_state

    model = args.model
    if model is None:
        if pretrained_state(DEFAULT_PRETRAINED) == "missing":  # a damaged one is refused when it loads, with the fix
            print(f"to predict its emotion too: {download_command(DEFAULT_PRETRAINED)}, then fermask demo again")
            return
        model = DEFAULT_PRETRAINED
    from fermask.predictor import Predictor

    ref = model if args.model is not None else PRETRAINED_PREFIX + model  # the default: the registered model
    if sys.stderr.isatty():
        print(f"loading model {model} ...", file=sys.stderr, flush=True)
    preds = Predictor.load(ref).predict(result.image, faces=result.faces)
    for p in preds:
        ranked = sorted(p.scores.items(), key=lambda kv: -kv[1])[:3]
        shown = ", ".join(f"{k} {v:.2f}" for k, v in ranked)
        print(f"predicted with {model} on the masked face {p.index} (found before masking): {shown}")
    try:
        from fermask.plots import plot_face_scores, save_figure

        png = save_figure(plot_face_scores(preds, result.image), out / "astronaut_emotions.png")
    except FermaskError as exc:  # matplotlib missing
        print(f"no plot: {exc}")
    else:
        print(f"wrote {png}")
