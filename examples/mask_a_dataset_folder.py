"""Mask every image in a folder tree, with a manifest and resumable runs.

Usage:
    python examples/mask_a_dataset_folder.py INPUT_DIR OUTPUT_DIR [--style random] [--workers 2]
    python examples/mask_a_dataset_folder.py --synthetic 300 OUTPUT_DIR

With ``--synthetic N`` it first writes N *synthetic* FER-format faces (not
FER2013) as PNG files in the Kaggle folder layout, then masks them. Run it
twice: the second run finds every output done and skips it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from fermask import Masker
from fermask.batch import mask_folder
from fermask.data import make_synthetic_fer, write_image_folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", help="INPUT_DIR OUTPUT_DIR, or OUTPUT_DIR with --synthetic")
    parser.add_argument("--synthetic", type=int, default=0, help="mask N synthetic faces instead")
    parser.add_argument("--style", default="random")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args()

    if args.synthetic:
        (out,) = args.paths
        source = Path(f"{Path(out).resolve()}-synthetic-source")
        if not source.exists():
            write_image_folder(make_synthetic_fer(args.synthetic, seed=0), source)
            print(f"wrote {args.synthetic} synthetic faces (not FER2013) to {source}")
    else:
        source, out = map(Path, args.paths)

    masker = Masker(args.style.split(","), seed=0, face_policy="auto")
    summary = mask_folder([source], out, masker, workers=args.workers, progress=not args.quiet)
    print(summary.line())
    print(f"manifest: {Path(out) / 'manifest.jsonl'}")


if __name__ == "__main__":
    main()
