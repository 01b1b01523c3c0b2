"""Mask the faces in a photo and save the result.

Usage:
    python examples/mask_a_photo.py [PHOTO] [--style surgical] [--out masked.png]

Without PHOTO it masks the portrait that ships with fermask.
"""

from __future__ import annotations

import argparse

from PIL import Image

from fermask import Masker
from fermask.assets import example_photo


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photo", nargs="?", default=str(example_photo()))
    parser.add_argument("--style", default="surgical")
    parser.add_argument("--color", default=None)
    parser.add_argument("--out", default="masked.png")
    args = parser.parse_args()

    result = Masker(args.style, color=args.color)(args.photo)
    if not result.masked:
        raise SystemExit(f"{args.photo}: {result.reason}")
    Image.fromarray(result.image).save(args.out)
    print(f"{len(result.faces)} face(s) masked with {result.styles} -> {args.out}")


if __name__ == "__main__":
    main()
