"""``fermask adapt``: teach a copy of an emotion model to answer on masked faces as it does unmasked.

Examples::

    fermask adapt --faces fer2013.csv -o runs/adapted                  # teacher: fer-mini-xception
    fermask adapt --teacher runs/teacher/bundle --faces frames/ -o runs/adapted --epochs 20

``--faces`` is any face data fermask reads: a FER2013-format CSV (its labels
are ignored), a saved dataset folder, or a folder of face crops or photos.
``--config`` reads an :class:`~fermask.AdaptConfig` saved with its
``to_json``; the other options override its fields. The run folder is a
training run's (``config.json``, ``run.json``, ``history.json``,
``curves.png``, ``checkpoints/``, ``bundle/``); Ctrl-C stops it and keeps
the weights. The last lines say how often the student
gives the teacher's unmasked answer on held-out masked faces, before and after.
"""

from __future__ import annotations

import argparse

from ._common import (
    check_out_dir,
    float_option,
    int_option,
    learning_rate_option,
    plural,
    seed_option,
    validation_option,
    written_line,
)

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the options of ``fermask adapt`` (the defaults are :class:`~fermask.AdaptConfig`'s)."""
    from fermask.pretrained import DEFAULT_PRETRAINED
    from fermask.training.config import AdaptConfig

    d = AdaptConfig()
    parser.add_argument("--teacher", default=DEFAULT_PRETRAINED, metavar="NAME_OR_BUNDLE",
                        help=f"a bundle folder or a pretrained model (default: {DEFAULT_PRETRAINED})")
    parser.add_argument("--faces", required=True, metavar="DATA",
                        help="face data: a FER2013-format CSV, a saved dataset, or a folder of face crops or photos")
    parser.add_argument("--output", "-o", required=True, metavar="DIR", help="the run folder")
    parser.add_argument("--config", metavar="JSON", help="an AdaptConfig saved as JSON (other options override it)")
    parser.add_argument("--student", metavar="MODEL", help="a registered model to train instead of a copy of the teacher")
    parser.add_argument("--epochs", type=int_option(), help=f"passes over the faces, a new mask each (default: {d.epochs})")
    parser.add_argument("--batch-size", type=int_option(), help=f"faces per step (default: {d.batch_size})")
    parser.add_argument("--lr", dest="learning_rate", type=learning_rate_option, help=f"learning rate (default: {d.learning_rate:g})")
    parser.add_argument("--temperature", type=float_option(low=0, high=100, low_open=True), help=f"softening of the probabilities (default: {d.temperature:g})")
    parser.add_argument("--unmasked-share", type=float_option(low=0, high=1, high_open=True),
                        help=f"share of faces left unmasked in each epoch (default: {d.unmasked_share:g})")
    parser.add_argument("--validation", dest="validation_fraction", type=validation_option,
                        help=f"share of faces held out (default: {d.validation_fraction:g})")
    parser.add_argument("--seed", type=seed_option, help=f"(default: {d.seed})")
    parser.add_argument("--overwrite", action="store_true", help="replace a previous run's files in the folder")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bars")


_FIELDS = ("student", "epochs", "batch_size", "learning_rate", "temperature", "unmasked_share", "validation_fraction", "seed")


def run(args: argparse.Namespace) -> int:
    """Run ``fermask adapt``: the options make one :class:`~fermask.AdaptConfig`."""
    from fermask._tf import require_tensorflow

    check_out_dir(args.output, "--output")
    require_tensorflow("fermask adapt")

    from fermask.adaptation import adapt
    from fermask.training.config import resolve_adapt_config

    changes = {f: getattr(args, f) for f in _FIELDS if getattr(args, f, None) is not None}
    config, _ = resolve_adapt_config(args.config or None, overrides=changes)
    result = adapt(args.teacher, args.faces, config, out_dir=args.output, overwrite=args.overwrite, progress=not args.quiet)
    a = result.agreement
    n = int(a["n_heldout"])
    print(f"agreement with the teacher's unmasked answers on {plural(n, 'held-out face')}:")
    print(f"  masked, the teacher itself:  {a['masked_before']:.1%}")
    print(f"  masked, the adapted student: {a['masked_after']:.1%}")
    print(f"  unmasked, the student:       {a['unmasked_after']:.1%}")
    for note in result.notes:
        print(f"note: {note}")
    if result.out_dir is not None:
        print(written_line(result.out_dir))
    print(f"the bundle is {result.bundle_path}; use it: fermask predict PHOTO --model {result.bundle_path}")
    return 130 if result.interrupted else 0
