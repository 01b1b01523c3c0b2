"""``fermask mask``: mask the faces in image files and folders.

Examples::

    fermask mask photo.jpg -o masked/
    fermask mask photos/ more/face.png -o masked/ --style random --seed 1 --workers 2
    fermask mask fer_pngs/ -o fer_masked/ --style surgical,n95 --color random

Folders are searched recursively for .jpg, .jpeg, .png, .bmp and .webp files
(any case). Outputs mirror the inputs' relative paths under OUTDIR, as PNG
unless ``--format same``. ``OUTDIR/manifest.jsonl`` gets one line per input
(masked / no_face / error, with the reason); rerunning the same command
resumes. The exit status is 0 when the run finished (even if some files
failed: they are in the manifest), 1 with ``--strict`` when any file failed,
2 for bad arguments (an unwritable OUTDIR, or one another run is writing
to, included), 130 when interrupted (the message gives the command that
resumes).
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys

from fermask._choices import OUTPUT_FORMATS

from ._common import add_masker_arguments, build_masker

__all__ = ["add_arguments", "run", "positive_int", "build_masker", "resume_command"]


def positive_int(text: str) -> int:
    """An argparse type: an integer of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the options of ``fermask mask``."""
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="image files or folders (searched recursively)")
    parser.add_argument("--output", "-o", required=True, metavar="OUTDIR",
                        help="folder for the masked images and manifest.jsonl")
    add_masker_arguments(parser)
    parser.add_argument("--workers", "-j", type=positive_int, default=1,
                        help="worker processes (default: 1)")
    parser.add_argument("--format", choices=OUTPUT_FORMATS, default="png", dest="output_format",
                        help="png (lossless, default) or same (keep each input's suffix)")
    parser.add_argument("--force", action="store_true",
                        help="redo every input, even those done by an earlier run or with other options")
    parser.add_argument("--strict", action="store_true", help="exit with status 1 if any file failed")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bar")


def resume_command(args: argparse.Namespace) -> str:
    """The command line that resumes this run: the same inputs and options, without ``--force``.

    ``--force`` is left out: the folder's configuration is this run's now,
    and keeping it would redo the inputs already done.

    Examples:
        >>> parser = argparse.ArgumentParser()
        >>> add_arguments(parser)
        >>> resume_command(parser.parse_args(["my photos", "-o", "out", "--style", "random", "--force", "-j", "2"]))
        "fermask mask 'my photos' -o out --style random --seed 0 --detector hog --face-policy auto --workers 2 --format png"
    """
    words = ["fermask", "mask", *args.inputs, "-o", args.output, "--style", args.style]
    for flag, value in [("--color", args.color), ("--pattern", args.pattern), ("--seed", args.seed),
                        ("--detector", args.detector), ("--face-policy", args.face_policy),
                        ("--landmarks", args.landmarks), ("--workers", args.workers),
                        ("--format", args.output_format)]:
        if value is not None:
            words += [flag, str(value)]
    words += [flag for flag, on in [("--keep-color", args.keep_color), ("--strict", args.strict),
                                    ("--quiet", args.quiet)] if on]
    return shlex.join(words)


def run(args: argparse.Namespace) -> int:
    """Run ``fermask mask``."""
    from fermask.batch import MANIFEST_NAME, mask_folder

    masker = build_masker(args)
    try:
        summary = mask_folder(
            args.inputs,
            args.output,
            masker,
            workers=args.workers,
            progress=not args.quiet,
            output_format=args.output_format,
            force=args.force,
        )
    except KeyboardInterrupt:
        print(f"fermask mask: interrupted; the finished images are kept and recorded in "
              f"{os.path.join(args.output, MANIFEST_NAME)}. To resume, run:\n  {resume_command(args)}", file=sys.stderr)
        return 130
    for path, reason in summary.error_inputs[:10]:
        print(f"error: {reason}" if path in reason else f"error: {path}: {reason}", file=sys.stderr)
    if len(summary.error_inputs) > 10:
        print(f"... and {len(summary.error_inputs) - 10} more errors (see {summary.manifest})", file=sys.stderr)
    print(summary.line())
    return 1 if (args.strict and summary.errors) else 0
