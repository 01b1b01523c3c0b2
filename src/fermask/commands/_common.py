"""Command-line helpers shared by ``fermask train`` and ``fermask evaluate``: the data options and their reading."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["add_data_arguments", "load_data"]


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
    from fermask.data.load import load_fer_data
    from fermask.errors import FermaskError

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
