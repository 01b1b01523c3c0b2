"""``fermask demo``: mask the packaged example photo with the default style.

Examples::

    fermask demo                   # writes ./fermask-demo/astronaut_masked.png
    fermask demo -o demo_out --style n95 --color blue

Writes ``astronaut_masked.png`` and ``astronaut_side_by_side.png`` (the photo
and its masked copy next to each other) into the output folder. The photo is
a public-domain NASA portrait shipped inside fermask, so the demo needs no
download and no TensorFlow.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ._common import add_masker_arguments, build_masker

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the options of ``fermask demo``."""
    parser.add_argument("--output", "-o", default="fermask-demo", metavar="DIR",
                        help="folder for the results (default: ./fermask-demo)")
    add_masker_arguments(parser)


def run(args: argparse.Namespace) -> int:
    """Run ``fermask demo``."""
    import numpy as np
    from PIL import Image

    from fermask._image import load_image, to_rgb
    from fermask.assets import example_photo
    from fermask.errors import FermaskError

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
    return 0
