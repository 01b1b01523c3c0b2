"""``fermask models``: list the model architectures ``fermask train`` builds.

Examples::

    fermask models
    fermask models 'resnet*'
    fermask models --json

Shows each registered architecture (built-in, or from a plugin package)
with its default input, output and description: the names ``fermask train
--model`` takes. Pretrained models, which come with their weights, are
listed by ``fermask pretrained``.
"""

from __future__ import annotations

import argparse
from typing import Any

from ._common import add_listing_arguments, print_listing

__all__ = ["add_arguments", "run", "model_rows"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the options of ``fermask models``."""
    add_listing_arguments(parser, "resnet*", "model")


def model_rows(pattern: str | None = None) -> list[dict[str, Any]]:
    """Name, default input, output and description of each registered architecture.

    A plugin model whose defaults cannot be read is listed with the error as
    its description instead of stopping the listing.
    """
    from fermask.models import list_models, model_defaults

    rows: list[dict[str, Any]] = []
    for name in list_models(pattern):
        try:
            d = model_defaults(name)
        except Exception as exc:  # a broken plugin must not hide the others
            rows.append({"name": name, "input": "?", "output": "?",
                         "description": f"(cannot be loaded: {type(exc).__name__}: {exc})"})
            continue
        output = "sigmoid, yes/no" if d["output"] == "sigmoid" else f"softmax, {d['num_classes']} classes"
        rows.append({"name": name, "input": "x".join(str(v) for v in d["input_shape"]), "output": output,
                     "description": d["description"]})
    return rows


def run(args: argparse.Namespace) -> int:
    """Run ``fermask models``."""
    rows = model_rows(args.pattern)
    if args.json or rows:
        print_listing(rows, ["name", "input", "output"], args.json)
        if args.json:
            return 0
    else:
        print(f"no model matches {args.pattern!r}; fermask models lists them all" if args.pattern
              else "no models registered")
    from fermask.models import list_models

    trained = ", ".join(list_models(pretrained=True)) or "none registered"
    print(f"train one: fermask train --data fer2013.csv --model NAME --out runs/NAME; "
          f"models that come trained ({trained}): fermask pretrained")
    return 0
