"""``fermask reproduce``: the report's experiment suite on masked FER2013.

Examples::

    fermask reproduce --data ~/data/fer2013.csv               # 5,000 images, as the report
    fermask reproduce --data ~/data/fer2013.csv --full --out repro-full
    fermask reproduce --data fer2013/ --quick                 # smoke run, minutes
    fermask reproduce --data ~/data/fer2013.csv --face-policy detect   # only detected faces, as MaskTheFace

The table is marked SYNTHETIC by itself when the data is fermask's synthetic
data (see ``fermask.reproduce.synthetic_origin``); ``--note`` adds free text.

Without ``--data`` (or with a path that does not exist) it prints where to get
FER2013 and which formats it accepts, and exits with status 2.
"""

from __future__ import annotations

import argparse

from fermask._choices import FACE_POLICIES

from ._common import int_option, plural, seed_option, workers_option

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the options of ``fermask reproduce``."""
    parser.add_argument("--data", metavar="PATH",
                        help="FER2013: fer2013.csv, icml_face_data.csv, train.csv or the folder layout")
    parser.add_argument("--full", action="store_true", help="mask and use every training image (default: 5,000)")
    parser.add_argument("--out", metavar="DIR", default="fermask-reproduce",
                        help="output folder (default: fermask-reproduce)")
    parser.add_argument("--epochs", type=int_option(), default=None,
                        help="epochs for every experiment (default: 30 shallow CNN, 10 ResNet50, 20 binary)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 1 epoch, tiny ResNet input; the numbers mean nothing")
    parser.add_argument("--experiments", metavar="NAMES",
                        help="comma-separated subset of: shallow_cnn, resnet50_head, happy_capped, happy_binary")
    parser.add_argument("--resnet-weights", metavar="PATH|imagenet|none", default="imagenet",
                        help="ResNet50 weights: imagenet (download), a local no-top .h5 file, or none (from scratch)")
    parser.add_argument("--face-policy", choices=FACE_POLICIES, default="auto",
                        help="auto: a crop where no face is detected is masked as one whole-frame face; "
                             "detect: only detected faces are masked, the rest dropped (as MaskTheFace did); "
                             "full_frame: every image is one face (default: auto)")
    parser.add_argument("--workers", type=workers_option, default=None, help="masking worker processes (default: all CPUs)")
    parser.add_argument("--seed", type=seed_option, default=0, help="seed of subset, masking, split and training (default: 0)")
    parser.add_argument("--overwrite", action="store_true", help="replace a previous reproduction in --out")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bars")
    parser.add_argument("--note", metavar="TEXT", default=None,
                        help="free text printed at the top of the table (synthetic data is marked without it)")
    # for tests and trials; not shown in --help
    parser.add_argument("--limit", type=int_option(), default=None, help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    """Run the suite; print the table. Exit status 1 when an experiment failed."""
    import sys

    from fermask.data.load import load_fer_data
    from fermask.reproduce import reproduce

    data = load_fer_data(args.data, progress=not args.quiet)  # fails first, before any heavy import
    weights = None if str(args.resnet_weights).lower() == "none" else args.resnet_weights
    exps = [x.strip() for x in args.experiments.split(",") if x.strip()] if args.experiments else None
    result = reproduce(
        data,
        out_dir=args.out,
        full=args.full,
        epochs=args.epochs,
        quick=args.quick,
        experiments=exps,
        resnet_weights=weights,
        face_policy=args.face_policy,
        workers=args.workers,
        seed=args.seed,
        limit=args.limit,
        note=args.note,
        overwrite=args.overwrite,
        progress=not args.quiet,
    )
    print(result.markdown)
    print(f"Written: {result.out_dir / 'results.md'} and results.json; run folders under {result.out_dir}/")
    if result.failed:
        print(f"fermask reproduce: {plural(len(result.failed), 'experiment')} failed: {', '.join(result.failed)}", file=sys.stderr)
        return 1
    return 0
