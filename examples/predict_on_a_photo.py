"""Predict the emotion of every face in a photo, with and without a simulated mask.

Usage:
    python examples/predict_on_a_photo.py [PHOTO] [--model BUNDLE_OR_NAME] [--plot out/]

Without PHOTO it uses the portrait that ships with fermask. Without --model it
uses the pretrained ``fer-mini-xception`` (run ``fermask download-model``
first); a bundle is what ``fermask.train`` writes (see ``train_on_fer2013.py``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from fermask import Predictor
from fermask.assets import example_photo


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photo", nargs="?", default=str(example_photo()))
    parser.add_argument("--model", default="fer-mini-xception",
                        help="a bundle folder or a downloaded pretrained model (default: fer-mini-xception)")
    parser.add_argument("--plot", default=None, help="folder for the bar chart and annotated photo")
    args = parser.parse_args()

    for simulate in (None, "surgical"):
        predictor = Predictor.load(args.model, simulate_mask=simulate, keep_masked_images=True)
        faces = predictor.predict(args.photo)
        print(f"{'masked' if simulate else 'as is':>7}: {len(faces)} face(s)")
        for p in faces:
            best = ", ".join(f"{k} {v:.2f}" for k, v in sorted(p.scores.items(), key=lambda kv: -kv[1])[:3])
            print(f"  face {p.index} at {p.box}: {p.label}  ({best})")
        if faces and args.plot:
            from fermask.plots import annotate_image, plot_face_scores, save_figure

            out = Path(args.plot)
            out.mkdir(parents=True, exist_ok=True)
            tag = simulate or "plain"
            for png in (save_figure(plot_face_scores(faces), out / f"scores-{tag}.png"),
                        save_figure(annotate_image(faces.masked_image if simulate else args.photo, faces),
                                    out / f"faces-{tag}.png")):
                print(f"  wrote {png}")
    print("top emotion:", faces.top_emotion(default=None))


if __name__ == "__main__":
    main()
