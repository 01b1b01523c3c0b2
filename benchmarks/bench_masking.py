"""Masking throughput: images/s for 48x48 gray face crops and 512 px photos.

Measures :meth:`fermask.Masker.mask_many` with 1 and 2 worker processes on
in-memory images, then an end-to-end ``fermask mask``-style folder run
(:func:`fermask.batch.mask_folder`: read PNGs, mask, write PNGs, manifest).

Run from the repository root::

    python benchmarks/bench_masking.py                # 4,000 crops, 200 photos
    python benchmarks/bench_masking.py --crops 1000 --photos 50 --workers 1 2

The crops are the 200 real LFW faces bundled with scikit-image, resized to
48x48 like FER2013 and jittered (shift, mirror, brightness) to make up the
count; the photos are scikit-image's 512x512 astronaut portrait, mirrored
every other image. Nothing here is timed inside the test suite.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image


def make_crops(n: int, seed: int = 0) -> list[np.ndarray]:
    """``n`` 48x48 gray uint8 face crops from the LFW subset, jittered."""
    from skimage import data

    faces = data.lfw_subset()  # 200 x 25 x 25 float in 0..1
    base = [np.asarray(Image.fromarray((f * 255).round().astype(np.uint8)).resize((52, 52), Image.BILINEAR))
            for f in faces]
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        img = base[i % len(base)]
        dx, dy = rng.integers(0, 5, size=2)
        crop = img[dy:dy + 48, dx:dx + 48]
        if rng.random() < 0.5:
            crop = crop[:, ::-1]
        gain = rng.uniform(0.8, 1.2)
        out.append(np.ascontiguousarray(np.clip(crop * gain, 0, 255).astype(np.uint8)))
    return out


def make_photos(n: int) -> list[np.ndarray]:
    """``n`` 512x512 RGB photos (the astronaut, mirrored every other one)."""
    from skimage import data

    a = np.ascontiguousarray(data.astronaut())
    m = np.ascontiguousarray(a[:, ::-1])
    return [a if i % 2 == 0 else m for i in range(n)]


def _cpu_seconds() -> float:
    """CPU seconds used by this process and its finished children."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def bench_mask_many(images: list[np.ndarray], workers: int, repeat: int = 2) -> tuple[float, float, int]:
    """Best images/s over ``repeat`` runs (pool start-up included), CPU ms per image, number masked.

    The CPU time (this process and its workers) is what the work costs; on a
    machine shared with other jobs it is a steadier figure than wall time.
    """
    from fermask import Masker

    masker = Masker("surgical")
    list(masker.mask_many(images[:8], workers=1, progress=False))  # load the dlib models
    best = 0.0
    cpu_ms = float("inf")
    masked = 0
    for _ in range(repeat):
        c0 = _cpu_seconds()
        t0 = time.perf_counter()
        results = list(masker.mask_many(images, workers=workers, progress=False, chunksize=64))
        dt = time.perf_counter() - t0
        cpu_ms = min(cpu_ms, (_cpu_seconds() - c0) / len(images) * 1000)
        masked = sum(r.masked for r in results)
        best = max(best, len(images) / dt)
    return best, cpu_ms, masked


def stage_breakdown(images: list[np.ndarray]) -> dict[str, float]:
    """CPU milliseconds per image for each stage of masking, in this process."""
    from fermask import Masker
    from fermask._image import load_image, to_gray

    masker = Masker("surgical")
    an = masker.analyzer
    list(masker.mask_many(images[:4], workers=1, progress=False))

    def cpu_ms(fn: object, items: list) -> float:
        t0 = time.process_time()
        for x in items:
            fn(x)  # type: ignore[operator]
        return (time.process_time() - t0) / len(items) * 1000

    grays = [to_gray(load_image(im)) for im in images]
    faces = [an.find_in_gray(g) for g in grays]
    return {
        "load_image + to_gray": cpu_ms(lambda im: to_gray(load_image(im)), images),
        "HOG detection": cpu_ms(an._detect, grays),
        "68 landmarks (whole crop)": cpu_ms(lambda g: an._landmarks(g, (0, 0, g.shape[1] - 1, g.shape[0] - 1)), grays),
        "drawing the mask": cpu_ms(lambda i: masker.mask_faces(images[i], faces[i], i), list(range(len(images)))),
        "whole Masker call": cpu_ms(lambda im: masker(im, index=0), images),
    }


def bench_folder(images: list[np.ndarray], workers: int) -> tuple[float, str]:
    """End-to-end folder run: PNG files in, masked PNGs and manifest out."""
    from fermask import Masker
    from fermask.batch import mask_folder

    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "in"
        for i, img in enumerate(images):
            sub = src / f"{i // 1000:03d}"
            sub.mkdir(parents=True, exist_ok=True)
            Image.fromarray(img).save(sub / f"{i:05d}.png")
        t0 = time.perf_counter()
        summary = mask_folder([src], Path(tmp) / "out", Masker("surgical"), workers=workers, progress=False)
        dt = time.perf_counter() - t0
    return len(images) / dt, summary.line().split(" -> ")[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--crops", type=int, default=4000, help="number of 48x48 crops (default 4000)")
    parser.add_argument("--photos", type=int, default=200, help="number of 512 px photos (default 200)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="worker counts (default 1 2)")
    parser.add_argument("--no-folder", action="store_true", help="skip the end-to-end folder run")
    parser.add_argument("--breakdown", action="store_true", help="also print CPU ms per stage for the crops")
    args = parser.parse_args(argv)

    import dlib

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs "
          f"(affinity {len(os.sched_getaffinity(0))}), Python {sys.version.split()[0]}, dlib {dlib.__version__}")
    print("load average before: %.2f %.2f %.2f (other work on the machine slows every figure)" % os.getloadavg())
    crops = make_crops(args.crops)
    photos = make_photos(args.photos)
    for w in args.workers:
        rate, cpu, masked = bench_mask_many(crops, w)
        print(f"mask_many  48x48 gray crops  workers={w}: {rate:8.1f} images/s  CPU {cpu:.2f} ms/image  "
              f"({masked}/{len(crops)} masked; all 35,887 FER2013 images: {35887 / rate:.0f} s)")
    for w in args.workers:
        rate, cpu, masked = bench_mask_many(photos, w)
        print(f"mask_many  512x512 photos    workers={w}: {rate:8.1f} images/s  CPU {cpu:.2f} ms/image  "
              f"({masked}/{len(photos)} masked)")
    if args.breakdown:
        for stage, ms in stage_breakdown(crops[:1000]).items():
            print(f"  crops, CPU per image: {stage:<22} {ms:6.3f} ms")
    if not args.no_folder:
        for w in args.workers:
            rate, line = bench_folder(crops, w)
            print(f"mask_folder 48x48 PNG files  workers={w}: {rate:8.1f} images/s  ({line})")
    print("load average after:  %.2f %.2f %.2f" % os.getloadavg())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
