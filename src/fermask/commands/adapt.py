"""``fermask adapt``: teach a copy of an emotion model to answer on masked faces as it does unmasked.

Examples::

    fermask adapt --faces fer2013.csv -o runs/adapted                  # teacher: fer-mini-xception
    fermask adapt --teacher runs/teacher/bundle --faces frames/ -o runs/adapted --epochs 20

``--faces`` is any face data fermask reads: a FER2013-format CSV (its labels
are ignored), a saved dataset folder, or a folder of face crops or photos.
The run folder is a training run's (``config.json``, ``run.json``,
``history.json``, ``curves.png``, ``checkpoints/``, ``bundle/``); Ctrl-C
stops it and keeps the weights. The last lines say how often the student
gives the teacher's unmasked answer on held-out masked faces, before and after.
"""

from __future__ import annotations

import argparse

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the options of ``fermask adapt``."""
    from fermask.pretrained import DEFAULT_PRETRAINED

    parser.add_argument("--teacher", default=DEFAULT_PRETRAINED, metavar="NAME_OR_BUNDLE",
                        help=f"a bundle folder or a pretrained model (default: {DEFAULT_PRETRAINED})")
    parser.add_argument("--faces", required=True, metavar="DATA",
                        help="face data: a FER2013-format CSV, a saved dataset, or a folder of face crops or photos")
    parser.add_argument("--output", "-o", required=True, metavar="DIR", help="the run folder")
    parser.add_argument("--student", metavar="MODEL", help="a registered model to train instead of a copy of the teacher")
    parser.add_argument("--epochs", type=int, default=10, help="passes over the faces, a new mask each (default: 10)")
    parser.add_argument("--batch-size", type=int, default=64, help="faces per step (default: 64)")
    parser.add_argument("--lr", type=float, default=3e-4, help="learning rate (default: 3e-4)")
    parser.add_argument("--temperature", type=float, default=2.0, help="softening of the probabilities (default: 2)")
    parser.add_argument("--unmasked-share", type=float, default=0.5,
                        help="share of faces left unmasked in each epoch (default: 0.5)")
    parser.add_argument("--validation", type=float, default=0.1, help="share of faces held out (default: 0.1)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--overwrite", action="store_true", help="replace a previous run's files in the folder")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> int:
    """Run ``fermask adapt``."""
    from fermask.adaptation import adapt
    from fermask.errors import FermaskError

    if args.epochs < 1:
        raise FermaskError(f"--epochs must be 1 or more, got {args.epochs}")
    if args.batch_size < 1:
        raise FermaskError(f"--batch-size must be 1 or more, got {args.batch_size}")
    result = adapt(
        args.teacher, args.faces, student=args.student, out_dir=args.output, epochs=args.epochs,
        batch_size=args.batch_size, learning_rate=args.lr, temperature=args.temperature,
        unmasked_share=args.unmasked_share, validation_fraction=args.validation, seed=args.seed,
        overwrite=args.overwrite, progress=not args.quiet,
    )
    a = result.agreement
    n = int(a["n_heldout"])
    print(f"agreement with the teacher's unmasked answers on {n} held-out faces:")
    print(f"  masked, the teacher itself:  {a['masked_before']:.1%}")
    print(f"  masked, the adapted student: {a['masked_after']:.1%}")
    print(f"  unmasked, the student:       {a['unmasked_after']:.1%}")
    for note in result.notes:
        print(f"note: {note}")
    print(f"wrote {result.bundle_path}; use it: fermask predict PHOTO --model {result.bundle_path}")
    return 130 if result.interrupted else 0
