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

__all__ = ["add_arguments", "run", "add_data_arguments", "load_data"]


def add_data_arguments(parser: argparse.ArgumentParser) -> None:
    """Options shared by ``train`` and ``evaluate``: what data, which view of it, masking."""
    parser.add_argument("--data", metavar="PATH", required=True,
                        help="fer2013.csv, icml_face_data.csv, train.csv, the folder layout, or a saved dataset")
    parser.add_argument("--mask", metavar="STYLE", nargs="+",
                        help="mask the faces first: one or more style names, or 'random' (cached on disk)")
    parser.add_argument("--keep-color", action="store_true", help="keep the mask in colour (3-channel images)")
    parser.add_argument("--binary", metavar="CLASS", help="a two-class view: CLASS against the rest (e.g. happy)")
    parser.add_argument("--cap", metavar="CLASS=N", action="append", default=[],
                        help="keep at most N images of CLASS (repeatable), e.g. --cap happy=3500")
    parser.add_argument("--limit", type=int, default=None, help="use a stratified random subset of this many images")
    parser.add_argument("--workers", type=int, default=None, help="masking worker processes")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bars")


def load_data(args: argparse.Namespace, seed: int = 0) -> tuple[Any, Any]:
    """``(unmasked, masked or None)`` with --limit, --cap and --binary applied."""
    from fermask.errors import FermaskError
    from fermask.reproduce import load_fer_data

    ds = load_fer_data(args.data, progress=not args.quiet)
    if args.limit:
        ds = ds.subset(min(args.limit, len(ds)), seed=seed)
    if args.cap:
        caps: dict[str, int] = {}
        for item in args.cap:
            name, sep, n = item.partition("=")
            if not sep or not n.strip().isdigit():
                raise FermaskError(f"--cap expects CLASS=N, e.g. happy=3500, got {item!r}")
            caps[name.strip()] = int(n)
        ds = ds.cap(caps, seed=seed)
    if args.binary:
        ds = ds.binary(args.binary)
    masked = None
    if args.mask:
        from fermask import Masker

        style = args.mask[0] if len(args.mask) == 1 else list(args.mask)
        masker = Masker(style, keep_color=args.keep_color, seed=seed)
        masked = ds.mask(masker, workers=args.workers, progress=not args.quiet)
    return ds, masked


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the options of ``fermask train``."""
    add_data_arguments(parser)
    parser.add_argument("--out", metavar="DIR", required=True, help="run folder (bundle, config, history, curves)")
    parser.add_argument("--config", metavar="JSON", help="a config.json of an earlier run (other options override it)")
    parser.add_argument("--model", help="registered model name (see: python -c 'import fermask; print(fermask.list_models())')")
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--lr", "--learning-rate", dest="learning_rate", type=float)
    parser.add_argument("--optimizer", choices=["adam", "adamw", "sgd", "rmsprop", "nadam"])
    parser.add_argument("--schedule", choices=["constant", "cosine", "plateau"])
    parser.add_argument("--augment", action="store_true", default=None, help="random flips, shifts, rotations, brightness")
    parser.add_argument("--class-weights", choices=["balanced"], help="weigh classes by inverse frequency")
    parser.add_argument("--early-stopping", type=int, metavar="PATIENCE")
    parser.add_argument("--label-smoothing", type=float)
    parser.add_argument("--seed", type=int)
    parser.add_argument("--deterministic", action="store_true", default=None, help="bit-for-bit repeatable ops (slower)")
    parser.add_argument("--val", metavar="FRACTION", type=float, default=None,
                        help="hold out this fraction for validation (default: PublicTest rows if present, else 0.1)")
    parser.add_argument("--teacher", metavar="BUNDLE",
                        help="distillation: a bundle that sees the unmasked faces (needs --mask)")
    parser.add_argument("--alpha", dest="distill_alpha", type=float, help="distillation: weight of the true labels (default 0.5)")
    parser.add_argument("--temperature", dest="distill_temperature", type=float, help="distillation: temperature (default 4)")
    parser.add_argument("--strategy", choices=["mirrored", "multi_worker_mirrored"],
                        help="tf.distribute strategy: several GPUs (mirrored) or machines (multi_worker_mirrored)")
    parser.add_argument("--overwrite", action="store_true", help="replace a previous run in --out")


_FIELDS = ("model", "epochs", "batch_size", "learning_rate", "optimizer", "schedule", "augment", "class_weights",
           "early_stopping", "label_smoothing", "seed", "deterministic", "distill_alpha", "distill_temperature")


def run(args: argparse.Namespace) -> int:
    """Train; print where the bundle is and the final metrics."""
    from dataclasses import replace

    from fermask.errors import FermaskError
    from fermask.training import TrainConfig, train

    cfg = TrainConfig.from_json(args.config) if args.config else TrainConfig()
    changes = {f: getattr(args, f) for f in _FIELDS if getattr(args, f, None) is not None}
    cfg = replace(cfg, **changes)
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
    print(f"bundle: {result.bundle_path}")
    print(f"epochs: {m.get('epochs_run')}  validation accuracy: {acc:.4f}" if acc is not None else f"epochs: {m.get('epochs_run')}")
    for note in result.notes:
        print(f"note: {note}")
    return 130 if result.interrupted else 0
