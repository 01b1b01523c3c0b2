"""Training throughput of fermask's built-in models, and peak memory of a full epoch.

For each built-in model this measures training samples per second on this
machine for:

* ``numpy fit``    - the plain way: ``model.fit(x_float32, y)`` on NumPy arrays
                     with a default ``compile()``;
* ``tf.data``      - fermask's input pipeline: uint8 images in a ``tf.data``
                     pipeline (``FERDataset.to_tf_dataset`` when available,
                     else an equivalent map/batch/prefetch pipeline);
* ``+spe``         - the same with ``compile(steps_per_execution=8)``;
* ``+xla``, ``+bf16`` (with ``--extra-variants``) - ``+spe`` plus
                     ``jit_compile=True``, and also under ``mixed_bfloat16``.

Throughput is the median rate between callback ticks after the first
execution, so graph tracing and XLA compilation are not counted and a burst
of load from other processes does not decide the figure. First, in two child
processes, one full epoch of ``shallow_cnn`` on 35,887 synthetic 48x48 faces
(FER2013's size) is trained each way and the peak resident memory
(``resource.getrusage(...).ru_maxrss``) of each child is reported.

The synthetic images are made by ``fermask.data.make_synthetic_fer`` (not
FER2013); the figures are speeds, not accuracies.

Run:
    python benchmarks/bench_training.py            # ~7 min on a 2-core CPU
    python benchmarks/bench_training.py --quick    # a smoke run, ~1 min
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

FULL_SIZE = 35_887

# model -> (create_model options, batch size, measured steps)
PLAN: dict[str, tuple[dict[str, Any], int, int]] = {
    "shallow_cnn": ({}, 64, 40),
    "happy_binary": ({}, 64, 40),
    "vgg_fer": ({}, 64, 16),
    "resnet50_head@64": ({"backbone_size": 64}, 32, 16),
    "resnet50_head@224": ({"backbone_size": 224}, 16, 4),
}
VARIANTS = ("numpy fit", "tf.data", "+spe")
EXTRA_VARIANTS = ("+xla", "+bf16")
SPE = 8


def _keras() -> Any:
    from fermask._tf import keras_module

    return keras_module()


class Ticks:
    """A Keras callback recording (step, time) at the end of every execution."""

    def __new__(cls) -> Any:
        keras = _keras()

        class _Ticks(keras.callbacks.Callback):
            def __init__(self) -> None:
                super().__init__()
                self.marks: list[tuple[int, float]] = []

            def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
                self.marks.append((int(batch), time.perf_counter()))

        return _Ticks()


def throughput(marks: list[tuple[int, float]], batch_size: int) -> float:
    """Median samples/s over the executions after the first one (which traces the graph).

    The median of per-execution rates, not total/time, so that a burst of
    load from another process on a shared machine does not decide the figure.
    """
    rates = [
        (s1 - s0) * batch_size / (t1 - t0)
        for (s0, t0), (s1, t1) in zip(marks, marks[1:])
        if s1 > s0 and t1 > t0
    ]
    if not rates:
        raise RuntimeError("not enough steps to time; raise the step count")
    return float(np.median(rates))


def make_data(n: int, seed: int = 0) -> Any:
    from fermask.data import make_synthetic_fer

    return make_synthetic_fer(n, seed=seed)


def model_arrays(ds: Any, shape: tuple[int, int, int]) -> np.ndarray:
    """uint8 images at a model's input size and channels (done once, outside the timing)."""
    from PIL import Image

    h, w, c = shape
    imgs = ds.images
    if imgs.shape[1:3] != (h, w):
        imgs = np.stack([np.asarray(Image.fromarray(im).resize((w, h), Image.BILINEAR)) for im in imgs])
    if c == 3 and imgs.ndim == 3:
        imgs = np.repeat(imgs[..., None], 3, axis=-1)
    if c == 1 and imgs.ndim == 3:
        imgs = imgs[..., None]
    return imgs


def targets(labels: np.ndarray, output: str) -> np.ndarray:
    if output == "sigmoid":
        return (labels == 3).astype("float32")[:, None]  # happy vs. not
    return np.eye(7, dtype="float32")[labels]


def pipeline(ds: Any, images: np.ndarray, y: np.ndarray, batch_size: int, output: str,
             shape: tuple[int, int, int]) -> tuple[Any, str]:
    """fermask's tf.data pipeline: FERDataset.to_tf_dataset if present, else the same by hand."""
    tf = __import__("tensorflow")
    if hasattr(ds, "to_tf_dataset"):
        try:
            if output == "sigmoid":
                ds = ds.binary("happy")
            tfds = ds.to_tf_dataset(
                batch_size, shuffle=True, image_size=shape[:2],
                color_mode="grayscale" if shape[2] == 1 else "rgb",
                label_mode="binary" if output == "sigmoid" else "categorical",
                repeat=True, drop_remainder=True,
            )
            return tfds, "FERDataset.to_tf_dataset"
        except ImportError:  # the data package's tf.data module is not there yet
            pass
    src = tf.data.Dataset.from_tensor_slices((images, y))
    src = src.shuffle(min(len(images), 10_000), seed=0, reshuffle_each_iteration=True).repeat()
    src = src.batch(batch_size, drop_remainder=True, num_parallel_calls=tf.data.AUTOTUNE)
    src = src.map(lambda a, b: (tf.cast(a, tf.float32), b), num_parallel_calls=tf.data.AUTOTUNE)
    return src.prefetch(tf.data.AUTOTUNE), "tf.data (uint8 -> float32 map, prefetch)"


def bench_model(key: str, ds: Any, quick: bool, variants: tuple[str, ...]) -> dict[str, Any]:
    import fermask
    from fermask.models import model_defaults

    keras = _keras()
    name = key.split("@")[0]
    options, bs, measured = PLAN[key]
    if quick:
        measured = max(2, measured // 4)
    defaults = model_defaults(name)
    shape, output = tuple(defaults["input_shape"]), defaults["output"]
    loss = "binary_crossentropy" if output == "sigmoid" else "categorical_crossentropy"
    images = model_arrays(ds, shape)
    y = targets(ds.labels, output)
    row: dict[str, Any] = {"model": key, "batch": bs}
    for variant in variants:
        keras.mixed_precision.set_global_policy("mixed_bfloat16" if variant == "+bf16" else "float32")
        keras.utils.set_random_seed(0)
        model = fermask.create_model(name, **options)
        spe = SPE if variant in ("+spe", "+xla", "+bf16") else 1
        spe = min(spe, measured)
        jit = variant in ("+xla", "+bf16") and row.get("_xla_ok", True)
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=loss,
                      steps_per_execution=spe, jit_compile=jit)
        ticks = Ticks()
        total = spe * (1 + max(1, measured // spe))  # one execution to trace, then the timed ones
        t0 = time.perf_counter()
        try:
            if variant == "numpy fit":
                n = total * bs
                x = images[:n].astype("float32")
                model.fit(x, y[:n], batch_size=bs, epochs=1, verbose=0, callbacks=[ticks])
            else:
                tfds, how = pipeline(ds, images, y, bs, output, shape)
                row["pipeline"] = how
                model.fit(tfds, steps_per_epoch=total, epochs=1, verbose=0, callbacks=[ticks])
            row[variant] = round(throughput(ticks.marks, bs), 1)
        except Exception as exc:  # report, keep benchmarking the rest
            row[variant] = f"failed: {type(exc).__name__}"
            if variant == "+xla":
                row["_xla_ok"] = False
        row[f"{variant} wall_s"] = round(time.perf_counter() - t0, 1)
        print(f"  {key:18s} {variant:10s} {row[variant]} samples/s "
              f"({row[f'{variant} wall_s']} s incl. tracing)", flush=True)
    keras.mixed_precision.set_global_policy("float32")
    row.pop("_xla_ok", None)
    return row


def memory_child(mode: str, n: int, bs: int) -> None:
    """One epoch of shallow_cnn on n synthetic faces; prints JSON with peak RSS."""
    import fermask

    _keras()  # import TensorFlow before measuring
    ds = make_data(n, seed=1)
    y = targets(ds.labels, "softmax")
    model = fermask.create_model("shallow_cnn")
    model.compile(optimizer="adam", loss="categorical_crossentropy",
                  steps_per_execution=1 if mode == "numpy" else SPE)
    t0 = time.perf_counter()
    if mode == "numpy":
        x = ds.images[..., None].astype("float32")
        model.fit(x, y, batch_size=bs, epochs=1, verbose=0)
    else:
        tfds, _ = pipeline(ds, ds.images[..., None], y, bs, "softmax", (48, 48, 1))
        model.fit(tfds, steps_per_epoch=n // bs, epochs=1, verbose=0)
    wall = time.perf_counter() - t0
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    hwm_kib = None
    try:  # the kernel's own high-water mark of this process, as a cross-check
        for line in open("/proc/self/status", encoding="ascii"):
            if line.startswith("VmHWM:"):
                hwm_kib = int(line.split()[1])
    except OSError:
        pass
    print(json.dumps({"mode": mode, "n": n, "epoch_s": round(wall, 1),
                      "peak_rss_mib": round(peak_kib / 1024, 1),
                      "vmhwm_mib": None if hwm_kib is None else round(hwm_kib / 1024, 1)}))


def run_memory(n: int, bs: int) -> list[dict[str, Any]]:
    rows = []
    for mode in ("numpy", "pipeline"):
        out = subprocess.run(
            [sys.executable, __file__, "--memory-child", mode, "--n", str(n), "--batch-size", str(bs)],
            capture_output=True, text=True,
        )
        lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
        if out.returncode != 0 or not lines:
            print(out.stderr[-2000:], file=sys.stderr)
            rows.append({"mode": mode, "error": f"exit {out.returncode}"})
            continue
        rows.append(json.loads(lines[-1]))
        print(f"  shallow_cnn full epoch [{mode}]: {rows[-1]}", flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="few steps and a small memory run (smoke test)")
    p.add_argument("--models", nargs="*", default=list(PLAN), help=f"subset of {list(PLAN)}")
    p.add_argument("--skip-memory", action="store_true")
    p.add_argument("--extra-variants", action="store_true",
                   help="also time jit_compile=True (+xla) and mixed_bfloat16 (+bf16); slow on CPU")
    p.add_argument("--json", help="also write the results to this file")
    p.add_argument("--memory-child", choices=["numpy", "pipeline"], help=argparse.SUPPRESS)
    p.add_argument("--n", type=int, default=FULL_SIZE, help=argparse.SUPPRESS)
    p.add_argument("--batch-size", type=int, default=64, help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    if args.memory_child:
        memory_child(args.memory_child, args.n, args.batch_size)
        return 0

    started = time.perf_counter()
    results: dict[str, Any] = {"throughput": [], "memory": [], "loadavg_start": os.getloadavg()}
    # Memory first, while this parent is still small: Linux keeps ru_maxrss across fork+exec,
    # so a child started from a big parent would report the parent's peak.
    if not args.skip_memory:
        print("peak memory of one shallow_cnn epoch (child processes)", flush=True)
        results["memory"] = run_memory(4096 if args.quick else args.n, args.batch_size)

    tf = __import__("tensorflow")
    import fermask

    print(f"fermask {fermask.__version__}, TF {tf.__version__}, keras {_keras().__version__}, "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"GPUs: {len(tf.config.list_physical_devices('GPU'))}", flush=True)
    variants = VARIANTS + (EXTRA_VARIANTS if args.extra_variants else ())
    ds = make_data(2048 if not args.quick else 512)
    for key in args.models:
        if key not in PLAN:
            p.error(f"unknown model {key!r}; choose from {list(PLAN)}")
        results["throughput"].append(bench_model(key, ds, args.quick, variants))

    print("\nTraining throughput, samples/s (higher is better)")
    print("| model | batch | " + " | ".join(variants) + " | best pipeline / numpy fit |")
    print("|---|---|" + "---|" * (len(variants) + 1))
    for row in results["throughput"]:
        base = row.get("numpy fit")
        others = [row[v] for v in variants[1:] if isinstance(row.get(v), float)]
        ratio = f"{max(others) / base:.2f}x" if isinstance(base, float) and others else "n/a"
        print(f"| {row['model']} | {row['batch']} | " + " | ".join(str(row.get(v)) for v in variants)
              + f" | {ratio} |")
    if results["memory"]:
        print("\nOne epoch of shallow_cnn on synthetic 48x48 faces (peak RSS of the process)")
        print("| input | samples | epoch s | peak RSS MiB (ru_maxrss) | VmHWM MiB |\n|---|---|---|---|---|")
        for r in results["memory"]:
            print(f"| {r['mode']} | {r.get('n')} | {r.get('epoch_s')} | {r.get('peak_rss_mib')} "
                  f"| {r.get('vmhwm_mib')} |")
    results["loadavg_end"] = os.getloadavg()
    print(f"\ntotal {time.perf_counter() - started:.0f} s; load average (1, 5, 15 min) at start "
          f"{results['loadavg_start']}, at end {results['loadavg_end']}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(results, fh, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
