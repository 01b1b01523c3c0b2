"""Adapt an emotion model to masked faces, without labels, and compare it with the teacher.

Usage:
    python examples/adapt_to_masks.py [--teacher BUNDLE_OR_NAME] [--faces DATA] [--epochs N] [--out runs/adapted]

Without --faces it uses the 100 faces of scikit-image's LFW subset (too few
to adapt a model well: it shows the mechanics). Without --teacher it uses the
pretrained ``fer-mini-xception`` (run ``fermask download-model`` first).
"""

from __future__ import annotations

import argparse

import numpy as np

import fermask


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--teacher", default="fer-mini-xception")
    parser.add_argument("--faces", default=None, help="face data: a FER2013 CSV, a saved dataset, a folder of faces")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--out", default="runs/adapted")
    args = parser.parse_args()

    faces = args.faces
    if faces is None:
        from skimage import data

        faces = (data.lfw_subset()[:100] * 255).round().astype(np.uint8)
    config = fermask.AdaptConfig(epochs=args.epochs, batch_size=16)  # or keywords: adapt(..., epochs=..., batch_size=16)
    result = fermask.adapt(args.teacher, faces, config, out_dir=args.out, overwrite=True, progress=False)
    a = result.agreement
    print(f"held-out faces: {int(a['n_heldout'])}")
    print(f"teacher on masked faces agrees with itself unmasked: {a['masked_before']:.0%}")
    print(f"adapted student on the same masked faces:            {a['masked_after']:.0%}")
    print(f"adapted student on the unmasked faces:               {a['unmasked_after']:.0%}")
    written = sorted(p.name + ("/" if p.is_dir() else "") for p in result.out_dir.iterdir())
    print(f"wrote {result.out_dir}/: {', '.join(written)}")
    print(f"bundle: {result.bundle_path}")


if __name__ == "__main__":
    main()
