"""``fermask demo``: mask the packaged example photo, predict the face's emotion bare and masked, write pictures.

Examples::

    fermask demo                   # writes ./fermask-demo/astronaut_masked.png
    fermask demo -o demo_out --style n95 --color blue

Writes ``astronaut_masked.png`` and ``astronaut_side_by_side.png`` (the photo
and its masked copy next to each other) into the output folder. The photo is
a public-domain NASA portrait shipped inside fermask, so masking needs no
download and no TensorFlow.

When the default pretrained model is downloaded (``fermask download-model``),
or ``--model`` names a bundle, the demo also predicts the emotion of the
face bare and masked, prints both, and draws them side by side in
``astronaut_emotions.png`` (with ``fermask[plot]``). Without ``--model``,
the masked face is answered by ``fer-mini-xception-masked`` when it is
downloaded and the mask classifier counts the face as masked
(``--masked-model`` chooses another, ``none`` none). The face is the one
found before masking, so detection plays no part.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path
from typing import Any

from fermask.errors import FermaskError

from ._common import add_masker_arguments, build_masker, default_masked_model, plural

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the options of ``fermask demo``."""
    parser.description = (
        "Mask the face in the packaged example photo (a public-domain NASA portrait), predict its emotion bare and "
        "masked, and write the pictures: a copy of the photo (astronaut.jpg), astronaut_masked.png, astronaut_side_by_side.png and, with a model, "
        "astronaut_emotions.png. Masking needs no download; predicting needs a model: the default pretrained "
        "one once downloaded (fermask download-model), or --model."
    )
    parser.add_argument("--output", "-o", default="fermask-demo", metavar="DIR",
                        help="folder for the results (default: ./fermask-demo)")
    parser.add_argument("--model", "-m", metavar="BUNDLE",
                        help="also predict with this bundle or pretrained model "
                        "(default: fer-mini-xception when downloaded)")
    parser.add_argument("--masked-model", metavar="BUNDLE",
                        help="a second model that answers the masked face when the mask classifier counts it as "
                        "masked (default without --model: fer-mini-xception-masked when downloaded; 'none': no "
                        "second model)")
    add_masker_arguments(parser)


def run(args: argparse.Namespace) -> int:
    """Run ``fermask demo``."""
    from PIL import Image

    from fermask._image import load_image, to_rgb
    from fermask.assets import example_photo

    masker = build_masker(args)
    photo = example_photo()
    original = load_image(photo)
    result = masker(original, index=0)
    if not result.masked or result.image is None:
        raise FermaskError(f"no face was masked in the example photo {str(photo)!r}: {result.reason}")
    out = Path(args.output)
    if out.exists() and not out.is_dir():
        raise FermaskError(f"the output path {str(out)!r} exists and is not a folder; choose another -o")
    out.mkdir(parents=True, exist_ok=True)
    photo_path = out / photo.name  # the photo itself, for trying the other commands on
    masked_path = out / "astronaut_masked.png"
    pair_path = out / "astronaut_side_by_side.png"
    shutil.copyfile(photo, photo_path)
    Image.fromarray(result.image).save(masked_path)
    _captioned_pair(to_rgb(original), to_rgb(result.image), ("original", f"masked: {result.style}")).save(pair_path)
    n = len(result.faces)
    print(f"masked {plural(n, 'face')} with style {result.style!r} in {photo.name}")
    print(f"wrote {photo_path} (the photo, to try other commands on)")
    print(f"wrote {masked_path}")
    print(f"wrote {pair_path}")
    _predict(args, original, result, out)
    return 0


def _captioned_pair(left: Any, right: Any, captions: tuple[str, str]) -> Any:
    """Two RGB images of one size side by side, 8 px apart, each under a caption band (a PIL image)."""
    from PIL import Image, ImageDraw, ImageFont

    h, w = left.shape[:2]
    band = max(28, h // 14)
    canvas = Image.new("RGB", (2 * w + 8, h + band), "white")
    canvas.paste(Image.fromarray(left), (0, band))
    canvas.paste(Image.fromarray(right), (w + 8, band))
    try:
        font: Any = ImageFont.load_default(size=int(band * 0.6))
    except (TypeError, OSError):  # Pillow < 10.1 or no FreeType: the small bitmap font
        font = ImageFont.load_default()
    draw = ImageDraw.Draw(canvas)
    for i, text in enumerate(captions):
        draw.text((i * (w + 8) + w / 2, band / 2), text, fill="black", font=font, anchor="mm")
    return canvas


def _models(args: argparse.Namespace) -> tuple[str, str, str | None] | None:
    """The model to load, its shown name, and the model for masked faces; ``None`` (with a hint) when there is none."""
    from fermask.pretrained import DEFAULT_PRETRAINED, PRETRAINED_PREFIX, download_command, pretrained_state

    model = args.model
    if model is None:
        if pretrained_state(DEFAULT_PRETRAINED) == "missing":  # a damaged one is refused when it loads, with the fix
            print(f"to predict its emotion too: {download_command(DEFAULT_PRETRAINED)}, then fermask demo again")
            return None
        model = DEFAULT_PRETRAINED
    ref = model if args.model is not None else PRETRAINED_PREFIX + model  # the default: the registered model
    return ref, model, default_masked_model(args.model, args.masked_model)


def _predict(args: argparse.Namespace, original: Any, result: Any, out: Path) -> None:
    """Predict the face's emotion bare and masked when a model is at hand; draw both side by side."""
    chosen = _models(args)
    if chosen is None:
        return
    ref, model, masked = chosen
    from fermask.predictor import Predictor

    if sys.stderr.isatty():
        pair = f" (masked faces: {masked.removeprefix('pretrained:')})" if masked else ""
        print(f"loading model {model}{pair} ...", file=sys.stderr, flush=True)
    bare_predictor = Predictor.load(ref)
    predictor = Predictor.load(ref, masked=masked) if masked else bare_predictor
    bare = bare_predictor.predict(original, faces=result.faces)
    preds = predictor.predict(result.image, faces=result.faces)
    for what, found, shown in (("bare", bare, ""), ("masked", preds, " (found before masking)")):
        for p in found:
            ranked = ", ".join(f"{k} {v:.2f}" for k, v in sorted(p.scores.items(), key=lambda kv: -kv[1])[:3])
            print(f"predicted with {_answered_by(p, model)} on the {what} face {p.index}{shown}: {ranked}")
    try:
        from fermask.plots import save_figure

        png = save_figure(_side_by_side(bare, original, preds, result.image, model), out / "astronaut_emotions.png")
    except FermaskError as exc:  # matplotlib missing
        print(f"no plot: {exc}")
    else:
        print(f"wrote {png}")


def _answered_by(pred: Any, model: str) -> str:
    """The name of the model that answered ``pred`` (the second one for a face counted as masked)."""
    name = pred.model or model
    return str(name).removeprefix("pretrained:")


def _side_by_side(bare: Any, original: Any, masked: Any, masked_image: Any, model: str) -> Any:
    """The first face bare (left) and masked (right): its crop above its scores, titled with the model that answered."""
    from fermask._image import crop_face
    from fermask.errors import MissingDependencyError
    from fermask.plots import plot_scores

    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise MissingDependencyError("drawing the demo's scores needs matplotlib: pip install 'fermask[plot]'") from None
    fig = Figure(figsize=(9.0, 6.0), layout="constrained")
    axes = fig.subplots(2, 2, height_ratios=[1.2, 1])
    for col, (what, preds, image) in enumerate((("bare", bare, original), ("masked", masked, masked_image))):
        top, bottom = axes[0][col], axes[1][col]
        top.set_axis_off()
        if not preds:
            top.set_title(f"{what}: no face found")
            bottom.set_axis_off()
            continue
        p = preds[0]
        top.imshow(crop_face(image, p.box, 0.2), vmin=0, vmax=255)
        top.set_title(f"{what} · {_answered_by(p, model)}")
        plot_scores(p, ax=bottom, title=f"{p.label} ({p.score:.0%}){p.mask_note}")
    return fig
