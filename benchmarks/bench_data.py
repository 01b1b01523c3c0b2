"""Benchmark fermask.data on FER2013-sized SYNTHETIC data (FER2013 itself cannot be downloaded here).

Measures:
  1. reading a full-size FER-format CSV (35,887 rows): seconds and peak memory (a fresh process);
  2. masking the full set with a Masker (end to end, N workers) and reloading it from the cache;
  3. tf.data throughput (images/s) of the 48x48 gray and 224x224x3 pipelines.

Usage:
    python benchmarks/bench_data.py                 # everything, full size
    python benchmarks/bench_data.py --n 5000 --skip-mask
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

_LOAD_CHILD = r"""
import sys, time
from fermask.data import FERDataset

def status(key):  # this process's memory in MB, from /proc (VmHWM = peak resident set)
    for line in open("/proc/self/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024

base = status("VmRSS")
t = time.perf_counter()
ds = FERDataset.from_csv(sys.argv[1])
dt = time.perf_counter() - t
print(dt, base, status("VmHWM"), ds.images.nbytes / 2**20, len(ds))
"""


def bench_load(csv_path: Path) -> None:
    out = subprocess.run([sys.executable, "-c", _LOAD_CHILD, str(csv_path)], capture_output=True, text=True, check=True)
    dt, base, peak, nbytes, n = (float(v) for v in out.stdout.split())
    size = csv_path.stat().st_size / 2**20
    print(f"load CSV ({size:.0f} MB, {int(n):,} rows): {dt:.2f} s, {n / dt:,.0f} rows/s; "
          f"images array {nbytes:.1f} MB; peak RSS {peak:.0f} MB (process before loading: {base:.0f} MB)")


def bench_mask(ds: object, workers: int, cache: Path, style: str) -> None:
    import fermask

    masker = fermask.Masker(style, keep_color=True)
    t = time.perf_counter()
    out = ds.mask(masker, cache_dir=cache, workers=workers, progress=True)  # type: ignore[attr-defined]
    dt = time.perf_counter() - t
    n = len(ds)  # type: ignore[arg-type]
    print(f"mask {n:,} images (style={style}, keep_color, {workers} workers, cold cache): {dt:.1f} s, "
          f"{n / dt:,.0f} images/s; {out.notes['masking']}")
    t = time.perf_counter()
    again = ds.mask(fermask.Masker(style, keep_color=True), cache_dir=cache, workers=workers, progress=False)  # type: ignore[attr-defined]
    dt2 = time.perf_counter() - t
    assert len(again) == len(out)
    print(f"mask again (cache hit, reload {again.images.nbytes / 2**20:.0f} MB): {dt2:.2f} s")


def bench_tf(ds: object, batches: int) -> None:
    cases = [
        ("48x48x1", dict(image_size=None, color_mode="grayscale", augment=False)),
        ("48x48x1 + augment", dict(image_size=None, color_mode="grayscale", augment=True)),
        ("64x64x3 + augment", dict(image_size=64, color_mode="rgb", augment=True)),
        ("224x224x3", dict(image_size=224, color_mode="rgb", augment=False)),
        ("224x224x3 + augment", dict(image_size=224, color_mode="rgb", augment=True)),
    ]
    for name, kw in cases:
        d = ds.to_tf_dataset(64, shuffle=True, repeat=True, label_mode="categorical", **kw)  # type: ignore[attr-defined]
        it = iter(d)
        for _ in range(5):  # warm-up
            next(it)
        t = time.perf_counter()
        for _ in range(batches):
            x, _ = next(it)
        _ = x.numpy()
        dt = time.perf_counter() - t
        print(f"tf.data {name:22s}: {batches * 64 / dt:10,.0f} images/s ({batches} batches of 64)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=35887, help="rows (default: FER2013's 35,887)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--style", default="surgical")
    ap.add_argument("--batches", type=int, default=100)
    ap.add_argument("--skip-mask", action="store_true")
    ap.add_argument("--skip-tf", action="store_true")
    args = ap.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, no GPU used")
    from fermask.data import make_synthetic_fer, write_fer2013_csv

    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        ds = make_synthetic_fer(args.n, seed=0)
        print(f"make_synthetic_fer({args.n:,}): {time.perf_counter() - t:.1f} s  [{ds.source}]")
        t = time.perf_counter()
        csv_path = write_fer2013_csv(ds, Path(tmp) / "synthetic_fer2013.csv")
        print(f"write_fer2013_csv: {time.perf_counter() - t:.1f} s")
        bench_load(csv_path)
        if not args.skip_mask:
            bench_mask(ds, args.workers, Path(tmp) / "cache", args.style)
        if not args.skip_tf:
            bench_tf(ds, args.batches)


if __name__ == "__main__":
    main()
