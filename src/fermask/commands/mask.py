"""``fermask mask``: mask the faces in image files and folders.

Examples::

    fermask mask photo.jpg -o masked/
    fermask mask photos/ more/face.png -o masked/ --style random --seed 1 --workers 2
    fermask mask fer_pngs/ -o fer_masked/ --style surgical,n95 --color random
    fermask mask /shared/photos/ -o /shared/masked/ --dask tcp://10.0.0.5:8786

Folders are searched recursively for .jpg, .jpeg, .png, .bmp and .webp files
(any case). Outputs mirror the inputs' relative paths under OUTDIR, as PNG
unless ``--format same``. ``OUTDIR/manifest.jsonl`` gets one line per input
(masked / no_face / error, with the reason); rerunning the same command
resumes. The exit status is 0 when the run finished (even if some files
failed: they are in the manifest), 1 with ``--strict`` when any file failed,
2 for bad arguments (an unwritable OUTDIR, or one another run is writing
to, included), 130 when interrupted (the message gives the command that
resumes).

``--dask SCHEDULER_ADDRESS`` masks on a Dask cluster instead of local
processes (``pip install 'fermask[dask]'``). The workers are sent the input
*paths* and read the files themselves, so they must see the inputs at the same
paths (a shared filesystem); they need fermask and the landmark model (their
own copy, found as on any machine, or a shared one named by ``--landmarks``). This
process writes the outputs and the manifest. The outputs are byte-identical
to a local run's.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import sys
from concurrent.futures import Executor

from fermask._choices import DEFAULT_PNG_LEVEL, OUTPUT_FORMATS
from fermask.errors import FermaskError

from ._common import add_masker_arguments, build_masker, int_option, plural, workers_option

__all__ = ["add_arguments", "run", "build_masker", "resume_command"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the options of ``fermask mask``."""
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="image files or folders (searched recursively)")
    parser.add_argument("--output", "-o", required=True, metavar="OUTDIR",
                        help="folder for the masked images and manifest.jsonl")
    add_masker_arguments(parser)
    parser.add_argument("--workers", "-j", type=workers_option, default=1,
                        help="worker processes (default: 1)")
    parser.add_argument("--dask", metavar="SCHEDULER_ADDRESS", default=None,
                        help="mask on the Dask cluster whose scheduler is at this address, e.g. "
                             "tcp://10.0.0.5:8786, in place of --workers (needs fermask[dask]; the workers "
                             "read the input paths, so they must see the same files)")
    parser.add_argument("--dask-timeout", type=int_option(), default=30, metavar="SECONDS",
                        help="seconds to wait for the Dask scheduler to answer (default: 30)")
    parser.add_argument("--format", choices=OUTPUT_FORMATS, default="png", dest="output_format",
                        help="png (lossless, default) or same (keep each input's suffix)")
    parser.add_argument("--png-level", type=int_option(0, 9, "0 is fastest, 9 makes the smallest files"), default=DEFAULT_PNG_LEVEL, metavar="0-9",
                        help=f"zlib level of PNG outputs: 0 fastest and largest, 9 slowest and smallest; "
                             f"the pixels are the same at every level (default: {DEFAULT_PNG_LEVEL})")
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
        "fermask mask 'my photos' -o out --style random --seed 0 --detector hybrid --face-policy auto --workers 2 --format png --png-level 1"
        >>> line = resume_command(parser.parse_args(["in", "-o", "out", "--dask", "tcp://10.0.0.5:8786"]))
        >>> line.split(" --workers ")[1]
        '1 --dask tcp://10.0.0.5:8786 --dask-timeout 30 --format png --png-level 1'
    """
    words = ["fermask", "mask", *args.inputs, "-o", args.output, "--style", args.style]
    for flag, value in [("--color", args.color), ("--pattern", args.pattern), ("--seed", args.seed),
                        ("--detector", args.detector), ("--face-policy", args.face_policy),
                        ("--landmarks", args.landmarks), ("--workers", args.workers),
                        ("--dask", args.dask), ("--dask-timeout", args.dask_timeout if args.dask else None),
                        ("--format", args.output_format), ("--png-level", args.png_level)]:
        if value is not None:
            words += [flag, str(value)]
    words += [flag for flag, on in [("--keep-color", args.keep_color), ("--strict", args.strict),
                                    ("--quiet", args.quiet)] if on]
    return shlex.join(words)


def _executor(args: argparse.Namespace) -> contextlib.AbstractContextManager[Executor | None]:
    """The Dask cluster's executor with ``--dask`` (closed at the end), else ``None``: local workers."""
    if args.dask is None:
        return contextlib.nullcontext(None)
    from fermask._dask import check_address, dask_executor

    check_address(args.dask)  # before any work: a malformed address leaves no half-made client behind
    if args.workers > 1:
        raise FermaskError(
            f"--dask and --workers {args.workers} cannot be combined: with --dask the cluster's workers "
            "do the masking (add Dask workers to go faster); leave out --workers"
        )
    return dask_executor(args.dask, timeout=args.dask_timeout)


def run(args: argparse.Namespace) -> int:
    """Run ``fermask mask``."""
    from fermask.batch import MANIFEST_NAME, mask_folder

    connect = _executor(args)
    masker = build_masker(args)
    try:
        with connect as executor:
            summary = mask_folder(
                args.inputs,
                args.output,
                masker,
                workers=args.workers,
                executor=executor,
                progress=not args.quiet,
                output_format=args.output_format,
                force=args.force,
                png_level=args.png_level,
            )
    except KeyboardInterrupt:
        print(f"fermask mask: interrupted; the finished images are kept and recorded in "
              f"{os.path.join(args.output, MANIFEST_NAME)}. To resume, run:\n  {resume_command(args)}", file=sys.stderr)
        return 130
    for path, reason in summary.error_inputs[:10]:
        print(f"error: {reason}" if path in reason else f"error: {path}: {reason}", file=sys.stderr)
    if len(summary.error_inputs) > 10:
        print(f"... and {plural(len(summary.error_inputs) - 10, 'more error')} (see {summary.manifest})", file=sys.stderr)
    print(summary.line())
    return 1 if (args.strict and summary.errors) else 0
