"""``fermask import-model``: make a fermask bundle from your own Keras FER model.

Examples::

    fermask import-model emotion_model.hdf5 -o bundles/mine --input 64x64x1 --scale symmetric
    fermask import-model happy.h5 -o bundles/happy --labels not_happy,happy --scale unit

``--scale`` (required) says how the model expects its pixels: ``none`` (0-255),
``unit`` (x/255), ``symmetric`` ((x/255 - 0.5)*2) or ``FACTOR,OFFSET``
(pixel * FACTOR + OFFSET). The scaling is built into the bundle, which takes
0-255 pixels like every fermask model. After the import the model is tried
on a face and on blank images, and a warning says when its answers look like
the wrong scale (saturated, or blind to its input).
"""

from __future__ import annotations

import argparse

from ._common import check_out_dir, float_option

__all__ = ["add_arguments", "run"]


def _shape(text: str) -> tuple[int, int, int]:
    parts = text.lower().replace("×", "x").split("x")
    try:
        h, w, c = (int(p) for p in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected HEIGHTxWIDTHxCHANNELS such as 64x64x1 or 48x48x3, got {text!r}"
        ) from None
    return h, w, c


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the options of ``fermask import-model``."""
    parser.add_argument("file", metavar="FILE", help="a Keras model file (.h5, .hdf5 or .keras)")
    parser.add_argument("--output", "-o", required=True, metavar="BUNDLE", help="the bundle folder to write")
    parser.add_argument("--labels", metavar="A,B,...",
                        help="class names in output order (default: the 7 FER2013 emotions for 7 outputs)")
    parser.add_argument("--input", type=_shape, metavar="HxWxC",
                        help="the input the model takes, checked against the file (e.g. 64x64x1)")
    parser.add_argument("--scale", default=None, metavar="SCALE",
                        help="required: the pixels the model expects: none (0-255), unit (x/255), symmetric "
                             "((x/255-0.5)*2) or FACTOR,OFFSET (pixel*FACTOR+OFFSET). Read it in the preprocessing "
                             "code of the project that trained the model, or try each on a photo whose emotion "
                             "you know")
    parser.add_argument("--face-margin", type=float_option(low=0, high=1), default=0.0, metavar="F",
                        help="border added around face boxes, as a fraction of their size (default: 0)")
    parser.add_argument("--force", action="store_true", help="replace an existing bundle folder")


def run(args: argparse.Namespace) -> int:
    """Run ``fermask import-model``."""
    from fermask.convert import import_model, missing_scale_message
    from fermask.errors import FermaskError
    from fermask.pretrained import scale_factors

    if args.scale is None:  # not argparse's required=True: the message lists the scales and how to find the right one
        raise FermaskError(missing_scale_message("--scale"))
    scale_factors(args.scale)  # a bad --scale fails before TensorFlow loads
    check_out_dir(args.output, "--output")
    labels = [x.strip() for x in args.labels.split(",")] if args.labels else None
    path = import_model(args.file, args.output, labels=labels, input_shape=args.input, scale=args.scale,
                        face_margin=args.face_margin, overwrite=args.force)
    print(f"wrote the bundle {path}; try it: fermask predict PHOTO --model {path}")
    return 0
