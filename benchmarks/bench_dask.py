"""Masking on a Dask cluster: images/s with 1 and 2 worker processes, against local workers.

Masks ``--n`` 48x48 gray face crops (the jittered LFW crops of
``bench_masking.py``) with :meth:`fermask.Masker.mask_many`:

* locally, ``workers=1`` (this process) and ``workers=2`` (a process pool,
  start-up included, as in ``bench_masking.py``);
* on a ``dask.distributed.LocalCluster`` of 1 and 2 worker processes
  (``threads_per_worker=1``) through ``executor=client.get_executor()``.
  The cluster's start and its workers' first task (importing fermask and
  loading the landmark model) are timed and reported apart; the images/s
  figure is the masking alone, best of ``--repeat`` runs.

Every run's results are checked against the local ``workers=1`` run
(pixels, styles): the script says whether they are byte-identical.

Run from the repository root (needs ``pip install 'fermask[dask]'``)::

    python benchmarks/bench_dask.py                      # 2,000 crops, 1 and 2 workers
    python benchmarks/bench_dask.py --n 500 --workers 1 2 4 --chunksize 16 64

Nothing here is timed inside the test suite.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_masking import make_crops  # noqa: E402


def _warm_up() -> int:
    """Run on each Dask worker: import fermask and load the dlib models once."""
    from fermask import Masker

    img = np.full((48, 48), 128, np.uint8)
    list(Masker("surgical").mask_many([img], workers=1, progress=False))
    return os.getpid()


def _fingerprint(results: list[Any]) -> list[tuple[bytes, tuple[str, ...], str | None]]:
    return [(r.image.tobytes() if r.image is not None else b"", tuple(r.styles), r.reason) for r in results]


def _timed(images: list[np.ndarray], repeat: int, **options: Any) -> tuple[float, float, list[Any]]:
    """Best images/s of ``repeat`` ``mask_many`` runs with ``options``, this process's CPU ms per image, results.

    This process's CPU time is the client's share of the work: sending the
    chunks and receiving the results (and, for a LocalCluster, its scheduler,
    which runs here); with ``workers=1`` it is all the masking.
    """
    from fermask import Masker

    masker = Masker("random", color="random", seed=0)
    best, cpu_ms, results = 0.0, float("inf"), []
    for _ in range(repeat):
        c0, t0 = time.process_time(), time.perf_counter()
        results = list(masker.mask_many(images, progress=False, **options))
        best = max(best, len(images) / (time.perf_counter() - t0))
        cpu_ms = min(cpu_ms, (time.process_time() - c0) / len(images) * 1000)
    return best, cpu_ms, results


def bench_dask(images: list[np.ndarray], workers: int, chunksizes: list[int], repeat: int,
               reference: list[Any]) -> None:
    """Start a LocalCluster of ``workers`` processes, warm it up, time the masking, compare with ``reference``."""
    from distributed import Client, LocalCluster

    t0 = time.perf_counter()
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
    client = Client(cluster)
    started = time.perf_counter() - t0
    try:
        t0 = time.perf_counter()
        pids = client.run(_warm_up)
        warm = time.perf_counter() - t0
        print(f"dask LocalCluster  workers={workers}: cluster start {started:.1f} s, first task on each worker "
              f"(import fermask, load the landmark model) {warm:.1f} s, {len(set(pids.values()))} worker processes")
        for chunksize in chunksizes:
            rate, cpu, results = _timed(images, repeat, executor=client.get_executor(), chunksize=chunksize)
            same = _fingerprint(results) == reference
            print(f"mask_many  dask executor     workers={workers} chunksize={chunksize:<4}: {rate:8.1f} images/s  "
                  f"client CPU {cpu:.2f} ms/image  (byte-identical to local workers=1: {same})")
    finally:
        client.close()
        cluster.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=2000, help="number of 48x48 crops (default 2000)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="worker counts (default 1 2)")
    parser.add_argument("--chunksize", type=int, nargs="+", default=[64], help="images per task (default 64)")
    parser.add_argument("--repeat", type=int, default=2, help="timed runs per setting; the best counts (default 2)")
    args = parser.parse_args(argv)

    import dask
    import dlib

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs "
          f"(affinity {len(os.sched_getaffinity(0))}), Python {sys.version.split()[0]}, dlib {dlib.__version__}, "
          f"dask {dask.__version__}")
    print("load average before: %.2f %.2f %.2f (other work on the machine slows every figure)" % os.getloadavg())
    crops = make_crops(args.n)
    _warm_up()  # this process's dlib models, for the local runs
    reference: list[Any] = []
    for w in args.workers:
        for chunksize in args.chunksize:
            rate, cpu, results = _timed(crops, args.repeat, workers=w, chunksize=chunksize)
            if not reference:
                reference = _fingerprint(results)
            masked = sum(r.masked for r in results)
            same = _fingerprint(results) == reference
            print(f"mask_many  local             workers={w} chunksize={chunksize:<4}: {rate:8.1f} images/s  "
                  f"client CPU {cpu:.2f} ms/image  ({masked}/{len(crops)} masked; "
                  f"byte-identical to the first local run: {same})")
    for w in args.workers:
        bench_dask(crops, w, args.chunksize, args.repeat, reference)
    print("load average after:  %.2f %.2f %.2f" % os.getloadavg())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
