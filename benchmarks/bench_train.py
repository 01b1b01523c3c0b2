"""End-to-end speed of ``fermask.train`` and ``fermask.evaluate`` (synthetic FER-format data, not FER2013).

This times the library calls as a user makes them (data pipeline, callbacks,
final validation report included). For the raw throughput of each model
(NumPy fit vs tf.data, XLA, bf16) and peak memory see ``bench_training.py``.

Run:  python benchmarks/bench_train.py [--n 5000] [--epochs 2]

Prints, for each model, the seconds per epoch and images per second of
``fermask.train`` (steady state: the first epoch, which traces the graph, is
reported apart) and of ``fermask.evaluate``.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5000, help="training images (default 5000, the report's subset)")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--models", default="shallow_cnn,happy_binary,resnet50_head")
    args = parser.parse_args()

    import keras

    import fermask
    from fermask.data import make_synthetic_fer

    ds = make_synthetic_fer(args.n + args.n // 9, seed=0)
    train_ds, dev = ds.split(fraction=0.1, seed=0)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; keras {keras.__version__}")
    print(f"data: {len(train_ds)} train / {len(dev)} dev synthetic 48x48 images (not FER2013)")
    print(f"{'model':<16}{'first epoch s':>14}{'epoch s':>10}{'train img/s':>13}{'eval img/s':>12}")
    for name in args.models.split(","):
        data = train_ds.binary("happy") if name == "happy_binary" else train_ds
        val = dev.binary("happy") if name == "happy_binary" else dev
        opts = {"backbone_size": 96, "weights": None} if name == "resnet50_head" else {}
        epochs = 1 if name == "resnet50_head" else args.epochs
        times: list[float] = []

        class Clock(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):  # noqa: ANN001
                self.t = time.perf_counter()

            def on_epoch_end(self, epoch, logs=None):  # noqa: ANN001
                times.append(time.perf_counter() - self.t)

        result = fermask.train(data, model=name, model_options=opts, epochs=epochs, batch_size=64,
                               progress=False, callbacks=[Clock()])
        t = time.perf_counter()
        fermask.evaluate(result.model, val)
        t_eval = time.perf_counter() - t
        steady = times[1:] or times
        per_epoch = sum(steady) / len(steady)
        note = " (backbone 96px, 1 epoch: includes tracing)" if name == "resnet50_head" else ""
        print(f"{name:<16}{times[0]:>14.1f}{per_epoch:>10.1f}{len(data) / per_epoch:>13.0f}{len(val) / t_eval:>12.0f}{note}")


if __name__ == "__main__":
    main()
