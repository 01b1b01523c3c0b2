"""Masking throughput: images/s for 48x48 gray face crops and 640x490 photos.

For each worker count, four paths are timed on the same images: in memory
(:meth:`fermask.Masker.mask_many` with its models already loaded, and a new
masker that loads them), as PNG files through
:func:`fermask.batch.mask_folder` in this process (read, mask, encode,
write, manifest), and through the ``fermask mask`` command in a new process
(start-up included). The four run in turn for ``--rounds`` rounds, because
this 2-core virtual machine's speed drifts by up to a quarter within a
minute: each folder figure is divided by the in-memory figure of its own
round, and the median ratio is printed. Every line also gives the CPU time per
image (the process and its workers), a steadier figure than wall time.

Run from the repository root::

    python benchmarks/bench_masking.py                # 4,000 crops, 200 photos, workers 1 and 2, 3 rounds
    python benchmarks/bench_masking.py --crops 35887 --photos 0 --workers 2 --rounds 1
    python benchmarks/bench_masking.py --no-folder --breakdown   # in memory only, CPU per stage
    python benchmarks/bench_masking.py --no-folder --workers 1 --photos 0 --crops 300 --png-levels
    python benchmarks/bench_masking.py --no-folder --workers 2 --photos 0 --staging
    python benchmarks/bench_masking.py --tmp /dev/shm  # files on tmpfs: the file system's cost left out
    python benchmarks/bench_masking.py --no-folder --workers 2 --photos 0 --ceiling --tmp /dev/shm

The files go to the system's temporary folder unless ``--tmp`` says where;
the script prints what creating one file costs there, since on some disks
that alone is a large part of a 48x48 crop's cost (see
:func:`file_creation_ms`).

The crops are the 200 real LFW faces bundled with scikit-image, resized to
48x48 like FER2013 and jittered (shift, mirror, brightness) to make up the
count; the photos are scikit-image's astronaut portrait scaled to 640 px wide
and cut to 640x490 (one face), mirrored every other image. Nothing here is
timed inside the test suite.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
from functools import partial
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
    """``n`` 640x490 RGB photos with one face (the astronaut, mirrored every other one)."""
    from skimage import data

    a = np.asarray(Image.fromarray(data.astronaut()).resize((640, 640), Image.BILINEAR))[:490]
    a = np.ascontiguousarray(a)
    m = np.ascontiguousarray(a[:, ::-1])
    return [a if i % 2 == 0 else m for i in range(n)]


def _cpu_seconds() -> float:
    """CPU seconds used by this process and its finished children."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _cpu_ms(fn: object, items: list, repeat: int = 1) -> float:
    """CPU milliseconds per item of ``fn(item)`` over ``items`` in this process, the best of ``repeat`` passes."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.process_time()
        for x in items:
            fn(x)  # type: ignore[operator]
        best = min(best, (time.process_time() - t0) / len(items) * 1000)
    return best


def _forget_models() -> None:
    """Drop the dlib models this process loaded, so that the next use loads them again as a new process does."""
    from fermask.faces import _dlib_models

    _dlib_models.MODELS.clear()
    _dlib_models.HOG_FREE.clear()


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


def bench_mask_many_cold(images: list[np.ndarray], workers: int) -> tuple[float, float]:
    """Images/s and CPU ms per image of a new masker's first ``mask_many``: loading dlib's models included.

    What a Python user pays for one call, as the command line pays it; the
    difference from :func:`bench_mask_many` is the fixed cost of the models.
    """
    from fermask import Masker

    _forget_models()
    c0 = _cpu_seconds()
    t0 = time.perf_counter()
    list(Masker("surgical").mask_many(images, workers=workers, progress=False, chunksize=64))
    dt = time.perf_counter() - t0
    return len(images) / dt, (_cpu_seconds() - c0) / len(images) * 1000


def _image_by_image_masker() -> object:
    """A masker that masks each image on its own, as fermask did before it staged its chunks.

    ``Masker`` masks a chunk a group at a time (read, find faces, mask); a
    subclass with its own ``__call__`` is masked image by image. This one
    changes nothing else.
    """
    from fermask import Masker

    class ImageByImage(Masker):
        def __call__(self, image, *, index=None):  # type: ignore[no-untyped-def]
            return super().__call__(image, index=index)

    globals()["ImageByImage"] = ImageByImage  # picklable by name for the pool's workers
    ImageByImage.__qualname__ = "ImageByImage"
    return ImageByImage("surgical")


def compare_staging(images: list[np.ndarray], workers: int, rounds: int = 5) -> None:
    """Images/s and CPU ms per image of ``mask_many``, staged chunks against image by image, alternating."""
    from fermask import Masker

    maskers = {"staged (Masker)": Masker("surgical"), "image by image": _image_by_image_masker()}
    rows: dict[str, list[tuple[float, float]]] = {name: [] for name in maskers}
    for _ in range(rounds):
        for name, masker in maskers.items():
            list(masker.mask_many(images[:8], workers=1, progress=False))  # type: ignore[attr-defined]
            c0 = _cpu_seconds()
            t0 = time.perf_counter()
            list(masker.mask_many(images, workers=workers, progress=False, chunksize=64))  # type: ignore[attr-defined]
            dt = time.perf_counter() - t0
            rows[name].append((len(images) / dt, (_cpu_seconds() - c0) / len(images) * 1000))
    for name, vals in rows.items():
        print(f"  workers={workers}  {name:<16} " + "  ".join(f"{r:7.1f}/s {c:.2f} ms" for r, c in vals))


def stage_breakdown(images: list[np.ndarray]) -> dict[str, float]:
    """CPU milliseconds per image for each stage of masking, in this process."""
    from fermask import Masker
    from fermask._image import load_image, to_gray

    masker = Masker("surgical")
    an = masker.analyzer
    list(masker.mask_many(images[:4], workers=1, progress=False))
    grays = [to_gray(load_image(im)) for im in images]
    faces = [an.find_in_gray(g) for g in grays]
    return {
        "load_image + to_gray": _cpu_ms(lambda im: to_gray(load_image(im)), images),
        "HOG detection": _cpu_ms(an._detect, grays),
        "68 landmarks (whole crop)": _cpu_ms(lambda g: an._landmarks(g, (0, 0, g.shape[1] - 1, g.shape[0] - 1)), grays),
        "drawing the mask": _cpu_ms(lambda i: masker.mask_faces(images[i], faces[i], i), list(range(len(images)))),
        "whole Masker call": _cpu_ms(lambda im: masker(im, index=0), images),
    }


def png_levels(crops: list[np.ndarray]) -> list[str]:
    """Time and size of fermask's PNG encoding (``encode_image``) of masked images at zlib levels 1, 6 and 9."""
    from fermask import Masker
    from fermask.batch._encode import encode_image

    masker = Masker("surgical")
    photos = {"640x490 astronaut photo": make_photos(1)[0]}
    try:
        from matplotlib import cbook

        with Image.open(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)) as im:
            photos["512x600 Grace Hopper photo"] = np.asarray(im.convert("RGB"))
    except ImportError:  # matplotlib is the plot extra
        pass
    sets = {name: [masker(img, index=0).image] for name, img in photos.items()}
    sets["48x48 crop (average of 300)"] = [r.image for r in masker.mask_many(crops[:300], workers=1, progress=False)]
    lines = []
    for name, images in sets.items():
        cells = []
        for level in (1, 6, 9):
            best = _cpu_ms(lambda img: encode_image(img, "PNG", level), images, repeat=3)  # noqa: B023 (called here)
            data = [encode_image(img, "PNG", level) for img in images]
            size = sum(len(d) for d in data) / len(images)
            cells.append(f"level {level}: {best:.2f} ms, {size:,.0f} B")
        lines.append(f"{name:<28} " + "; ".join(cells))
    return lines


def write_pngs(images: list[np.ndarray], folder: Path) -> None:
    """Save ``images`` as PNG files, 1,000 to a sub-folder."""
    for i, img in enumerate(images):
        sub = folder / f"{i // 1000:03d}"
        sub.mkdir(parents=True, exist_ok=True)
        Image.fromarray(img).save(sub / f"{i:05d}.png")


def _settle() -> None:
    """Write dirty pages to disk, so a timed run does not pay for the writes of the one before."""
    if hasattr(os, "sync"):
        os.sync()


def bench_folder(src: Path, out: Path, n: int, workers: int) -> tuple[float, float, str]:
    """End-to-end folder run in this process: PNG files in, masked PNGs and manifest out.

    Returns images/s, CPU ms per image (this process and its workers), and the summary.
    """
    from fermask import Masker
    from fermask.batch import mask_folder

    _settle()
    c0 = _cpu_seconds()
    t0 = time.perf_counter()
    summary = mask_folder([src], out, Masker("surgical"), workers=workers, progress=False)
    dt = time.perf_counter() - t0
    cpu_ms = (_cpu_seconds() - c0) / n * 1000
    return n / dt, cpu_ms, summary.line().split(" -> ")[0]


def bench_cli(src: Path, out: Path, n: int, workers: int) -> tuple[float, float, str]:
    """``fermask mask IN -o OUT -j W -q`` in a new process, start-up included.

    Returns images/s, CPU ms per image (the command and its workers), and its summary line.
    """
    import subprocess

    cmd = [sys.executable, "-m", "fermask", "mask", str(src), "-o", str(out), "--style", "surgical",
           "-j", str(workers), "-q"]
    _settle()
    c0 = _cpu_seconds()
    t0 = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    dt = time.perf_counter() - t0
    cpu_ms = (_cpu_seconds() - c0) / n * 1000
    return n / dt, cpu_ms, done.stdout.strip().split(" -> ")[0]


def file_creation_ms(folder: Path, n: int = 500) -> float:
    """CPU milliseconds to create, write and rename one small file in ``folder`` (what a folder run pays per image).

    On some file systems this is far from free: on the development machine's
    disk (ext4 without a journal) a new file costs 0.25-0.9 ms of kernel time
    for minutes after many files were deleted, as the kernel skips the inodes
    freed recently (``recently_deleted`` in ``find_inode_bit``, seen with
    ``perf``); on tmpfs it costs 0.01 ms.
    """
    probe = folder / ".probe"
    probe.mkdir(parents=True, exist_ok=True)
    data = bytes(1200)
    t0 = time.process_time()
    for i in range(n):
        tmp = probe / f".{i}.partial"
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, probe / f"{i}.png")
    ms = (time.process_time() - t0) / n * 1000
    for i in range(n):
        (probe / f"{i}.png").unlink()
    probe.rmdir()
    return ms


def _idat(png: bytes) -> bytes:
    """The compressed pixel data of a PNG file (its IDAT chunks, joined)."""
    out, i = [], 8
    while i + 8 <= len(png):
        n = int.from_bytes(png[i:i + 4], "big")
        if png[i + 4:i + 8] == b"IDAT":
            out.append(png[i + 8:i + 8 + n])
        i += 12 + n
    return b"".join(out)


def _start_up_cpu() -> tuple[float, float]:
    """CPU seconds of a new ``python`` importing what a folder run needs, and of loading dlib's models once."""
    import subprocess

    from fermask import Masker

    before = _cpu_seconds()
    subprocess.run([sys.executable, "-c", "import fermask.cli, fermask.batch, fermask.masker"], check=True)
    imports = _cpu_seconds() - before
    _forget_models()
    t0 = time.process_time()
    Masker("surgical").warm()
    return imports, time.process_time() - t0


def ceiling(images: list[np.ndarray], tmp_root: str | None = None) -> list[str]:
    """The highest share of the in-memory rate that a folder run of ``images`` could reach, from what it must add.

    A folder run does the in-memory run's masking plus, for each image, read
    and decode a PNG file, encode the masked image and write it; and once, a
    new interpreter's imports and loading dlib's models. Each is timed here in
    this process (CPU ms per image). The ceiling divides the masking CPU by the
    sum, as if the start-up overlapped masking perfectly and the run kept no
    manifest: no folder run on this machine can do better. It is given for
    fermask's own reader and encoder (Pillow), and for the least any PNG
    reader and writer must do (read the bytes and inflate them; deflate the
    pixels at the same zlib level).
    """
    import zlib

    from fermask import Masker
    from fermask._choices import DEFAULT_PNG_LEVEL
    from fermask._image import load_image
    from fermask.batch._encode import encode_image

    cpu_ms = partial(_cpu_ms, repeat=3)

    def read(path: Path) -> bytes:
        with open(path, "rb") as f:
            return f.read()

    masker = Masker("surgical")
    masker.mask_batch(images[:8])
    chunks = [(i, images[i:i + 64]) for i in range(0, len(images), 64)]
    mask_ms = cpu_ms(lambda c: masker.mask_batch(c[1], indices=list(range(c[0], c[0] + len(c[1])))), chunks)
    mask_ms *= len(chunks) / len(images)  # cpu_ms gives ms per chunk
    masked = [r.image for r in masker.mask_batch(images[:1000])]
    with tempfile.TemporaryDirectory(dir=tmp_root) as tmp:
        write_pngs(images[:1000], Path(tmp) / "in")
        paths = sorted((Path(tmp) / "in").rglob("*.png"))
        pngs = [read(p) for p in paths]
        raws = [zlib.decompress(_idat(d)) for d in pngs]
        costs = {
            "read + decode": (cpu_ms(load_image, paths), cpu_ms(lambda p: zlib.decompress(_idat(read(p))), paths)),
            "encode": (cpu_ms(lambda m: encode_image(m, "PNG", DEFAULT_PNG_LEVEL), masked),
                       cpu_ms(lambda r: zlib.compress(r, DEFAULT_PNG_LEVEL), raws)),
        }
        write_ms = file_creation_ms(Path(tmp))
    imports, models = _start_up_cpu()
    start_ms = (imports + models) / len(images) * 1000
    first = (f"masking {mask_ms:.3f} ms/image (mask_batch, chunks of 64); write + rename {write_ms:.3f} ms; "
             f"start-up {imports:.2f} s imports + {models:.2f} s models = {start_ms:.3f} ms/image over {len(images)}")
    lines = [first]
    for k, name in enumerate(("fermask's reader and encoder", "the least a PNG reader and writer do")):
        added = sum(c[k] for c in costs.values()) + write_ms + start_ms
        parts = ", ".join(f"{stage} {c[k]:.3f} ms" for stage, c in costs.items())
        lines.append(f"{name}: {parts}; ceiling {mask_ms / (mask_ms + added):.1%} of in memory")
    return lines


def compare_paths(name: str, images: list[np.ndarray], workers: int, rounds: int, tmp_root: str | None = None) -> None:
    """In memory, folder run and command line, interleaved for ``rounds`` rounds; medians and ranges.

    This machine's speed drifts by a quarter over tens of seconds, so each
    folder figure is compared with the in-memory run just before it, and the
    median of those ratios is given. The input PNGs are written once and
    synced to disk before each timed run.
    """
    rows: dict[str, list[tuple[float, float]]] = {"memory": [], "memory_cold": [], "folder": [], "cli": []}
    with tempfile.TemporaryDirectory(dir=tmp_root) as tmp:
        src = Path(tmp) / "in"
        write_pngs(images, src)
        print(f"files in {tmp}: creating one costs {file_creation_ms(Path(tmp)):.3f} ms of CPU")
        for r in range(rounds):
            rate, cpu, _ = bench_mask_many(images, workers, repeat=1)
            rows["memory"].append((rate, cpu))
            rows["memory_cold"].append(bench_mask_many_cold(images, workers))
            rows["folder"].append(bench_folder(src, Path(tmp) / f"folder{r}", len(images), workers)[:2])
            rows["cli"].append(bench_cli(src, Path(tmp) / f"cli{r}", len(images), workers)[:2])
    labels = {"memory": "Masker.mask_many, in memory", "memory_cold": "in memory, a new Masker (models loaded)",
              "folder": "mask_folder, PNG files",
              "cli": "fermask mask, PNG files (start-up included)"}
    for key, label in labels.items():
        rates = sorted(x[0] for x in rows[key])
        cpus = sorted(x[1] for x in rows[key])
        share = ""
        if key != "memory":
            ratios = [x[0] / m[0] for x, m in zip(rows[key], rows["memory"])]
            share = f"  {statistics.median(ratios):6.1%} of in memory (range {min(ratios):.0%}-{max(ratios):.0%})"
        print(f"{name}  workers={workers}  {label:<44} {statistics.median(rates):8.1f} images/s "
              f"(range {rates[0]:.1f}-{rates[-1]:.1f})  CPU {statistics.median(cpus):.2f} ms/image{share}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--crops", type=int, default=4000, help="number of 48x48 crops (default 4000)")
    parser.add_argument("--photos", type=int, default=200, help="number of 640x490 photos (default 200; 0: none)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="worker counts (default 1 2)")
    parser.add_argument("--no-folder", action="store_true", help="in memory only (no folder or command-line runs)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="rounds of in memory / folder / command line, interleaved (default 3)")
    parser.add_argument("--tmp", default=None,
                        help="folder for the input and output files (default: the system's temporary folder); "
                             "/dev/shm takes the file system's cost out")
    parser.add_argument("--png-levels", action="store_true",
                        help="also print the time and size of PNG outputs at zlib levels 1, 6 and 9")
    parser.add_argument("--staging", action="store_true",
                        help="also compare mask_many's staged chunks with masking image by image (5 rounds)")
    parser.add_argument("--breakdown", action="store_true", help="also print CPU ms per stage for the crops")
    parser.add_argument("--ceiling", action="store_true",
                        help="also print the highest share of the in-memory rate a folder run of the crops could reach")
    args = parser.parse_args(argv)

    import dlib

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs "
          f"(affinity {len(os.sched_getaffinity(0))}), Python {sys.version.split()[0]}, dlib {dlib.__version__}")
    print("load average before: %.2f %.2f %.2f (other work on the machine slows every figure)" % os.getloadavg())
    crops = make_crops(args.crops)
    photos = make_photos(args.photos)
    for name, images in (("48x48 crops   ", crops), ("640x490 photos", photos)):
        for w in args.workers if images else []:
            if args.no_folder:
                rate, cpu, masked = bench_mask_many(images, w)
                print(f"{name}  workers={w}  Masker.mask_many: {rate:8.1f} images/s  CPU {cpu:.2f} ms/image  "
                      f"({masked}/{len(images)} masked)")
            else:
                compare_paths(name, images, w, args.rounds, args.tmp)
    if args.staging:
        for w in args.workers:
            compare_staging(crops, w)
    if args.png_levels:
        for line in png_levels(crops):
            print(f"  PNG encoding, CPU per image and size: {line}")
    if args.breakdown:
        for stage, ms in stage_breakdown(crops[:1000]).items():
            print(f"  crops, CPU per image: {stage:<22} {ms:6.3f} ms")
    if args.ceiling:
        for line in ceiling(crops, args.tmp):
            print(f"  folder run ceiling, crops: {line}")
    print("load average after:  %.2f %.2f %.2f" % os.getloadavg())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
