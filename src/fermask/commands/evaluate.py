"""``fermask evaluate``: a trained bundle on FER2013-format data, as a JSON and Markdown report.

Examples::

    fermask evaluate runs/shallow/bundle --data fer2013.csv --usage PrivateTest --mask surgical
    fermask evaluate runs/shallow/bundle --data fer2013.csv --usage PrivateTest \\
        --mask cloth gas --heldout-styles cloth gas --out reports/heldout
    fermask evaluate runs/happy/bundle --data fer2013.csv --binary happy --mask surgical --keep-color

Prints the Markdown report; with ``--out`` also writes ``evaluation.json``,
``evaluation.md`` and ``evaluation_confusion.png`` (the plot needs
``fermask[plot]``).
"""

from __future__ import annotations

import argparse

from ._common import add_data_arguments, int_option, load_data

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the options of ``fermask evaluate``."""
    parser.add_argument("bundle", metavar="BUNDLE", help="a model bundle folder written by fermask train")
    add_data_arguments(parser)
    parser.add_argument("--usage", metavar="NAME",
                        help="evaluate only these rows of the Usage column: PrivateTest, PublicTest, Training or Test")
    parser.add_argument("--heldout-styles", metavar="STYLE", nargs="+", default=[],
                        help="mask styles the model did not see in training (reported apart)")
    parser.add_argument("--batch-size", type=int_option(), default=64, metavar="N",
                        help="images per prediction step; changes speed and memory, not results (default: 64)")
    parser.add_argument("--out", metavar="DIR", help="write evaluation.json/.md/_confusion.png here")


def run(args: argparse.Namespace) -> int:
    """Evaluate and print the report."""
    from fermask.errors import FermaskError
    from fermask.evaluation import evaluate

    ds, masked = load_data(args)
    data = masked if masked is not None else ds
    if args.usage:
        if not (data.usage == args.usage).any():
            found = sorted(set(data.usage.tolist()) - {""})
            raise FermaskError(f"no rows with Usage {args.usage!r}; this data has: {', '.join(found) or 'no Usage column'}")
        data = data.select(data.usage == args.usage)
    report = evaluate(args.bundle, data, batch_size=args.batch_size, heldout_styles=args.heldout_styles,
                      progress=not args.quiet)
    print(report.to_markdown())
    if args.out:
        shown = f"{args.bundle}" + (f", {args.usage} rows" if args.usage else "")
        paths = report.save(args.out, name=shown)  # the plot's title says what was evaluated
        print("written: " + ", ".join(str(p) for p in paths.values()))
    return 0
