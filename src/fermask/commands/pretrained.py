"""``fermask pretrained``: list the pretrained models and which are downloaded (or damaged since).

Examples::

    fermask pretrained
    fermask pretrained --json
"""

from __future__ import annotations

import argparse
import json

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the options of ``fermask pretrained``."""
    parser.add_argument("--json", action="store_true", help="one JSON object per model")


def run(args: argparse.Namespace) -> int:
    """Run ``fermask pretrained``."""
    from fermask.pretrained import (
        DEFAULT_PRETRAINED,
        download_command,
        get_pretrained,
        damaged_files,
        list_pretrained,
        pretrained_dir,
        pretrained_state,
        scale_factors,
    )

    for name in list_pretrained():
        e = get_pretrained(name)
        state = pretrained_state(name)
        have = state == "downloaded"
        if args.json:
            print(json.dumps({
                "name": name, "downloaded": have, "damaged": state == "damaged",
                "path": str(pretrained_dir(name)) if state != "missing" else None,
                "default": name == DEFAULT_PRETRAINED, "summary": e.summary, "source": e.source.describe(),
                "sha256": e.sha256, "licence": e.licence, "trained_on": e.trained_on,
                "labels": list(e.labels), "input_shape": list(e.input_shape),
                "scale": list(scale_factors(e.scale)), "face_margin": e.face_margin,
            }))
            continue
        flag = " (default)" if name == DEFAULT_PRETRAINED else ""
        print(f"{name}{flag}: {e.summary}")
        print(f"  input {'x'.join(map(str, e.input_shape))}, labels: {', '.join(e.labels)}")
        print(f"  weights: {e.source.describe()}, licence {e.licence}")
        if e.trained_on:
            print(f"  trained on: {e.trained_on}")
        if e.notes:
            print(f"  note: {e.notes}")
        if state == "damaged":
            print(f"  damaged: {pretrained_dir(name)} ({', '.join(damaged_files(name))} changed since the download; "
                  f"fetch it again: {download_command(name)} --force)")
        else:
            print(f"  downloaded: {pretrained_dir(name)}" if have else f"  not downloaded: {download_command(name)}")
    return 0
