"""``fermask train``: train a model on FER2013-format data and write a bundle.

Examples::

    fermask train --data fer2013.csv --model shallow_cnn --epochs 30 --out runs/shallow
    fermask train --data fer2013.csv --mask surgical --keep-color --model resnet50_head --out runs/resnet
    fermask train --data fer2013.csv --binary happy --model happy_binary --out runs/happy
    fermask train --data fer2013.csv --config runs/shallow/config.json --out runs/again
    fermask train --data fer2013.csv --mask surgical --teacher runs/unmasked/bundle --out runs/student

Validation: the PublicTest rows when the data has a Usage column, otherwise a
seeded 10% split (``--val 0.2`` changes the fraction). Ctrl-C stops training
and still writes a usable bundle, marked interrupted (exit status 130).
"""

from __future__ import annotations

import argparse
from typing import Any

from fermask._choices import OPTIMIZERS, SCHEDULES

from ._common import (
    add_data_arguments,
    float_option,
    int_option,
    learning_rate_option,
    load_data,
    seed_option,
    validation_option,
    written_line,
)

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the options of ``fermask train`` (the defaults are :class:`~fermask.TrainConfig`'s)."""
    from fermask.training.config import TrainConfig

    d = TrainConfig()
    add_data_arguments(parser)
    parser.add_argument("--out", metavar="DIR", required=True, help="run folder (bundle, config, history, curves)")
    parser.add_argument("--config", metavar="JSON", help="a config.json of an earlier run (other options override it)")
    parser.add_argument("--model", metavar="NAME",
                        help=f"registered model to train (default: {d.model}; list them with: fermask models)")
    parser.add_argument("--epochs", type=int_option(), metavar="N",
                        help=f"passes over the training data (default: {d.epochs})")
    parser.add_argument("--batch-size", type=int_option(), metavar="N",
                        help=f"images per step; the global batch over all GPUs (default: {d.batch_size})")
    parser.add_argument("--lr", "--learning-rate", dest="learning_rate", type=learning_rate_option, metavar="RATE",
                        help=f"(initial) learning rate, above 0 and at most 1 (default: {d.learning_rate:g})")
    parser.add_argument("--optimizer", choices=OPTIMIZERS,
                        help=f"optimizer; sgd uses momentum 0.9 (default: {d.optimizer})")
    parser.add_argument("--schedule", choices=SCHEDULES,
                        help="learning-rate schedule: constant, cosine (decays to 0 over all steps) or plateau "
                             f"(divided by 10 after {d.plateau_patience} epochs without improvement) "
                             f"(default: {d.schedule})")
    parser.add_argument("--augment", action="store_true", default=None,
                        help="random flips, shifts, rotations, brightness (default: off)")
    parser.add_argument("--class-weights", choices=["balanced"],
                        help="weigh classes by inverse frequency (default: every class weighs 1)")
    parser.add_argument("--early-stopping", type=int_option(), metavar="PATIENCE",
                        help="stop after PATIENCE epochs without improvement of the validation loss and keep the "
                             "best weights (default: off, every epoch runs)")
    parser.add_argument("--label-smoothing", type=float_option(low=0, high=1, high_open=True), metavar="F",
                        help=f"label smoothing of the cross-entropy, 0 to below 1 (default: {d.label_smoothing:g})")
    parser.add_argument("--seed", type=seed_option,
                        help=f"seeds the weights, shuffling, augmentation, --limit and the validation split "
                             f"(default: {d.seed})")
    parser.add_argument("--deterministic", action="store_true", default=None,
                        help="bit-for-bit repeatable ops on the same machine (slower; default: off)")
    parser.add_argument("--val", metavar="FRACTION", type=validation_option, default=None,
                        help="hold out this fraction for validation (default: PublicTest rows if present, else 0.1)")
    parser.add_argument("--teacher", metavar="BUNDLE",
                        help="distillation: a bundle that sees the unmasked faces (needs --mask)")
    parser.add_argument("--alpha", dest="distill_alpha", type=float_option(low=0, high=1), metavar="A",
                        help=f"distillation: weight of the true labels (default: {d.distill_alpha:g})")
    parser.add_argument("--temperature", dest="distill_temperature", type=float_option(low=0, high=100, low_open=True),
                        metavar="T", help=f"distillation: temperature (default: {d.distill_temperature:g})")
    parser.add_argument("--strategy", choices=["mirrored", "multi_worker_mirrored"],
                        help="tf.distribute strategy: several GPUs (mirrored) or machines (multi_worker_mirrored) "
                             "(default: none, one device)")
    parser.add_argument("--overwrite", action="store_true", help="replace a previous run in --out")


_FIELDS = ("model", "epochs", "batch_size", "learning_rate", "optimizer", "schedule", "augment", "class_weights",
           "early_stopping", "label_smoothing", "seed", "deterministic", "distill_alpha", "distill_temperature")


def run(args: argparse.Namespace) -> int:
    """Train; print where the bundle is and the final metrics."""
    from fermask._tf import require_tensorflow

    require_tensorflow("fermask train")

    from fermask.errors import FermaskError
    from fermask.training import train
    from fermask.training.config import resolve_config

    changes = {f: getattr(args, f) for f in _FIELDS if getattr(args, f, None) is not None}
    cfg, _, _ = resolve_config(args.config or None, overrides=changes)
    if args.teacher and not args.mask:
        raise FermaskError("--teacher needs --mask: the student learns on masked faces, the teacher sees them unmasked")
    ds, masked = load_data(args, seed=cfg.seed)
    data = masked if masked is not None else ds
    validation: Any = None
    if args.val is not None:
        validation = float(args.val)
    elif (data.usage == "PublicTest").any() and (data.usage == "Training").any():
        validation = data.select(data.usage == "PublicTest")
        data = data.select(data.usage == "Training")
    else:
        validation = 0.1
    result = train(
        data,
        cfg,
        out_dir=args.out,
        validation=validation,
        teacher=args.teacher,
        teacher_data=ds if args.teacher else None,
        strategy=args.strategy,
        overwrite=args.overwrite,
        progress=not args.quiet,
    )
    m = result.metrics
    acc = m.get("val_accuracy")
    if result.out_dir is not None:  # a multi-worker run's workers other than the chief write nothing
        print(written_line(result.out_dir))
    print(f"bundle: {result.bundle_path}")
    print(f"epochs: {m.get('epochs_run')}  validation accuracy: {acc:.4f}" if acc is not None else f"epochs: {m.get('epochs_run')}")
    for note in result.notes:
        print(f"note: {note}")
    return 130 if result.interrupted else 0
