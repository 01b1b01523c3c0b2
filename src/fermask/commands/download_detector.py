"""``fermask download-detector``: fetch BlazeFace, the face detector that finds masked faces.

Examples::

    fermask download-detector
    fermask download-detector --from mediapipe-0.10.14-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl

The files come from the ``mediapipe==0.10.14`` wheel on PyPI (Apache-2.0),
fetched with ``pip download`` for a fixed platform so any machine can fetch
it; only the two BlazeFace models and the licence are kept, each checked
against its pinned sha256, in fermask's cache. MediaPipe is not installed.
Without these files the default ``hybrid`` detector falls back to dlib's HOG
detector with a warning.
"""

from __future__ import annotations

import argparse

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the options of ``fermask download-detector``."""
    parser.add_argument("--from", dest="source", metavar="WHEEL", default=None,
                        help="take the files from this local copy of the mediapipe wheel instead of pip download")
    parser.add_argument("--force", action="store_true", help="fetch again even when checked files are there")
    parser.add_argument("--quiet", "-q", action="store_true", help="no pip output")


def run(args: argparse.Namespace) -> int:
    """Run ``fermask download-detector``."""
    from fermask.faces import _detector_files as files

    if not args.force and args.source is None:
        try:
            files.find_detector_files()
        except files.DetectorFilesError:
            pass
        else:
            print(f"the BlazeFace detector files are already in {files.detector_dir()} (pass --force to fetch again)")
            return 0
    folder = files.download_detector(source_wheel=args.source, force=True, progress=not args.quiet)
    print(f"saved the BlazeFace detector files (mediapipe=={files.MEDIAPIPE_VERSION}, {files.LICENCE}) to {folder}")
    return 0
