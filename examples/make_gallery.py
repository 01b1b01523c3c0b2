"""Draw every registered mask style on a real face, at full resolution and at 48x48.

Usage:
    python examples/make_gallery.py [--out docs/img]

Writes ``styles.png`` (the photo, one column per style) and
``styles-48px.png`` (FER2013-sized gray crops, gray and colour output). The
docs' gallery page shows these files; they are generated, never hand-made.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from fermask import Masker, list_masks
from fermask.assets import example_photo

FACE = (130, 40, 320, 240)  # the face region of the packaged portrait
CROP48 = (170, 70, 275, 185)


def label(img: Image.Image, text: str) -> Image.Image:
    out = Image.new("RGB", (img.width, img.height + 18), "white")
    out.paste(img, (0, 18))
    ImageDraw.Draw(out).text((4, 3), text, fill="black")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="docs/img")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    photo = np.asarray(Image.open(example_photo()).convert("RGB"))
    crop = np.asarray(Image.fromarray(photo).crop(CROP48).convert("L").resize((48, 48), Image.BILINEAR))
    styles = list_masks()

    tiles = []
    for name in styles:
        res = Masker(name)(photo)
        tiles.append(label(Image.fromarray(res.image).crop(FACE), name))
    w, h = tiles[0].size
    sheet = Image.new("RGB", (w * len(tiles), h), "white")
    for i, t in enumerate(tiles):
        sheet.paste(t, (i * w, 0))
    sheet.save(out / "styles.png")

    small = []
    for name in styles:
        gray = Masker(name, face_policy="full_frame")(crop).image
        color = Masker(name, face_policy="full_frame", keep_color=True)(crop).image
        col = Image.new("RGB", (96, 192 + 18), "white")
        col.paste(Image.fromarray(gray).convert("RGB").resize((96, 96), Image.NEAREST), (0, 18))
        col.paste(Image.fromarray(color).resize((96, 96), Image.NEAREST), (0, 18 + 96))
        ImageDraw.Draw(col).text((4, 3), name, fill="black")
        small.append(col)
    sheet48 = Image.new("RGB", (100 * len(small), 210), "white")
    for i, t in enumerate(small):
        sheet48.paste(t, (i * 100, 0))
    sheet48.save(out / "styles-48px.png")
    print(f"wrote {out / 'styles.png'} and {out / 'styles-48px.png'} ({len(styles)} styles)")


if __name__ == "__main__":
    main()
