"""One worker of ``test_multi_worker_training.py``, run as a script (not a test module).

Usage: ``python _multi_worker_job.py OUT_DIR RESULT.npz`` with ``TF_CONFIG`` set.
It trains a small ``shallow_cnn`` on synthetic data with
``strategy="multi_worker_mirrored"`` and saves, in ``RESULT.npz``, this
worker's weights before (``initial_i``) and after (``final_i``) training, and
for the chief the weights of the bundle it wrote (``bundle_i``); its metrics
go to ``RESULT.json``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def main(out_dir: str, result_path: str) -> None:
    import numpy as np

    import fermask
    from fermask._tf import keras_module
    from fermask.data import make_synthetic_fer

    keras = keras_module()
    initial: list[np.ndarray] = []

    class InitialWeights(keras.callbacks.Callback):  # type: ignore[name-defined]
        def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
            initial.extend(np.array(w) for w in self.model.get_weights())

    train_ds, dev = make_synthetic_fer(64, seed=0, balanced=True).split(fraction=0.25, seed=0)
    result = fermask.train(
        train_ds,
        validation=dev,
        out_dir=out_dir,
        strategy="multi_worker_mirrored",
        model="shallow_cnn",
        model_options={"filters": (4, 8), "units": 16},
        epochs=2,
        batch_size=16,
        learning_rate=1e-2,
        seed=0,
        progress=False,
        callbacks=[InitialWeights()],
    )
    arrays = {f"initial_{i}": w for i, w in enumerate(initial)}
    arrays.update({f"final_{i}": np.asarray(w) for i, w in enumerate(result.model.get_weights())})
    if result.bundle_path is not None:
        bundle = keras.models.load_model(Path(result.bundle_path) / "model.keras", compile=False)
        arrays.update({f"bundle_{i}": np.asarray(w) for i, w in enumerate(bundle.get_weights())})
    np.savez(result_path, **arrays)
    Path(result_path).with_suffix(".json").write_text(json.dumps(result.metrics))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
