"""Draw every registered mask style on a real face, at full resolution and at 48x48.

Usage:
    python examples/make_gallery.py [--out docs/img] [--tilt 20]

Writes ``styles.png`` (the photo, one column per style),
``styles-48px.png`` (FER2013-sized gray crops, gray and colour output),
``styles-tilted.png`` (the photo turned ``--tilt`` degrees in the image plane)
and ``styles-turned.png`` (a real face in near profile: scikit-image's
``camera`` photograph, CC0, found with dlib's CNN detector). The last two
start with a tile showing the 68 landmarks the masks follow. The docs'
gallery page shows these files; they are generated, never hand-made.
``styles-turned.png`` needs scikit-image (a dev dependency); without it that
file is skipped, with a message.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from fermask import Masker, list_masks
from fermask.assets import example_photo
from fermask.faces import Face, FaceAnalyzer

FACE = (130, 40, 320, 240)  # the face region of the packaged portrait
CROP48 = (170, 70, 275, 185)
FACE_CENTRE = (222, 130)  # the portrait is tilted about this point, so FACE still frames the face
TURNED_FACE = (130, 60, 320, 260)  # the face region of scikit-image's camera photograph


def label(img: Image.Image, text: str) -> Image.Image:
    out = Image.new("RGB", (img.width, img.height + 18), "white")
    out.paste(img, (0, 18))
    ImageDraw.Draw(out).text((4, 3), text, fill="black")
    return out


def with_landmarks(image: np.ndarray, faces: list[Face]) -> Image.Image:
    """The image with every face's 68 landmarks drawn as small red dots."""
    img = Image.fromarray(image).convert("RGB")
    draw = ImageDraw.Draw(img)
    for face in faces:
        for x, y in face.landmarks:
            draw.ellipse((x - 1.5, y - 1.5, x + 1.5, y + 1.5), fill=(230, 0, 0))
    return img


def style_row(image: np.ndarray, faces: list[Face], box: tuple[int, int, int, int], first: str) -> Image.Image:
    """One labelled tile per style (masks kept in colour), after a tile of the landmarks."""
    tiles = [label(with_landmarks(image, faces).crop(box), first)]
    for name in list_masks():
        res = Masker(name, keep_color=True).mask_faces(image, faces, index=0)
        tiles.append(label(Image.fromarray(res.image).convert("RGB").crop(box), name))
    w, h = tiles[0].size
    sheet = Image.new("RGB", (w * len(tiles), h), "white")
    for i, t in enumerate(tiles):
        sheet.paste(t, (i * w, 0))
    return sheet


def tilted_sheet(photo: np.ndarray, angle: float, out: Path) -> None:
    """Every style on the portrait turned ``angle`` degrees (counter-clockwise) in the image plane."""
    turned = Image.fromarray(photo).rotate(angle, resample=Image.BICUBIC, center=FACE_CENTRE, fillcolor="white")
    image = np.asarray(turned)
    faces = FaceAnalyzer(detector="hog").find(image)  # HOG's box, as the gallery was first drawn (hybrid's differs by ~1 %)
    if len(faces) != 1:
        raise SystemExit(f"expected one face in the portrait tilted {angle} degrees, found {len(faces)}")
    style_row(image, faces, FACE, f"tilted {angle:g} deg: landmarks").save(out)


def turned_sheet(out: Path) -> bool:
    """Every style on a real face seen nearly from the side; ``False`` without scikit-image."""
    try:
        from skimage import data
    except ImportError:
        return False
    image = np.ascontiguousarray(data.camera())  # CC0, photographer Lav Varshney; gray 512x512
    # dlib's HOG detector finds no face in this photo; its CNN detector finds one
    faces = FaceAnalyzer(detector="cnn", face_policy="detect").find(image)
    if len(faces) != 1:
        raise SystemExit(f"expected one face in scikit-image's camera photo, found {len(faces)}")
    style_row(image, faces, TURNED_FACE, "turned: landmarks").save(out)
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="docs/img")
    parser.add_argument("--tilt", type=float, default=20.0,
                        help="degrees the portrait is turned in the image plane for styles-tilted.png (default: 20)")
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

    tilted_sheet(photo, args.tilt, out / "styles-tilted.png")
    print(f"wrote {out / 'styles-tilted.png'} (the portrait tilted {args.tilt:g} degrees)")
    if turned_sheet(out / "styles-turned.png"):
        print(f"wrote {out / 'styles-turned.png'} (a face in near profile)")
    else:
        print("skipped styles-turned.png: it needs scikit-image (pip install scikit-image)")


if __name__ == "__main__":
    main()
