"""Multi-worker training: two worker processes on 127.0.0.1 train together with MultiWorkerMirroredStrategy.

Each process runs ``tests/_multi_worker_job.py`` with its own ``TF_CONFIG``
(a two-worker cluster over localhost gRPC, CPU only) and its own ``out_dir``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from fermask.training import RUN_FILES

pytestmark = pytest.mark.skipif(importlib.util.find_spec("tensorflow") is None, reason="needs TensorFlow")

JOB = Path(__file__).with_name("_multi_worker_job.py")
TIMEOUT_S = 240


def _free_ports(n: int) -> list[int]:
    """``n`` distinct TCP ports that are free on 127.0.0.1 right now."""
    sockets = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _tail(path: Path, chars: int = 3000) -> str:
    return path.read_text(errors="replace")[-chars:] if path.exists() else "(no output)"


def _run_workers(tmp_path: Path, n: int = 2) -> list[Path]:
    """Start ``n`` workers, wait for all (``TIMEOUT_S``), fail with their stderr if any fails; the result files."""
    cluster = {"worker": [f"127.0.0.1:{port}" for port in _free_ports(n)]}
    results = [tmp_path / f"result{i}.npz" for i in range(n)]
    logs = [tmp_path / f"worker{i}.log" for i in range(n)]
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for i in range(n):
            env = {
                **os.environ,
                "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": i}}),
                "CUDA_VISIBLE_DEVICES": "",
                "TF_CPP_MIN_LOG_LEVEL": "2",
            }
            with open(logs[i], "wb") as log:
                cmd = [sys.executable, str(JOB), str(tmp_path / f"w{i}"), str(results[i])]
                procs.append(subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT))
        deadline = time.monotonic() + TIMEOUT_S
        # poll all: when one worker dies the others would wait for it in a collective
        while any(p.poll() is None for p in procs) and all(p.poll() in (None, 0) for p in procs):
            if time.monotonic() > deadline:
                pytest.fail(f"the workers ran over {TIMEOUT_S} s:\n" + "\n".join(_tail(log) for log in logs))
            time.sleep(0.2)
        codes = [p.poll() for p in procs]
        if codes != [0] * n:
            pytest.fail(f"worker exit codes {codes}:\n" + "\n".join(f"--- worker {i}\n{_tail(log)}" for i, log in enumerate(logs)))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    return results


def _weights(npz: np.lib.npyio.NpzFile, prefix: str) -> list[np.ndarray]:
    count = sum(1 for k in npz.files if k.startswith(prefix + "_"))
    return [npz[f"{prefix}_{i}"] for i in range(count)]


@pytest.mark.slow
def test_multi_worker_mirrored_trains_on_two_processes(tmp_path: Path) -> None:
    result0, result1 = _run_workers(tmp_path)

    # only the chief (worker 0, there is no "chief" task) writes the run's files
    chief_dir, other_dir = tmp_path / "w0", tmp_path / "w1"
    for name in ("config.json", "run.json", "history.json", "bundle", "checkpoints", "evaluation.json"):
        assert (chief_dir / name).exists(), name
    assert json.loads((chief_dir / "run.json").read_text())["status"] == "finished"
    assert len(json.loads((chief_dir / "history.json").read_text())["loss"]) == 2
    assert not other_dir.exists() or not any(other_dir.iterdir())
    assert not any((other_dir / name).exists() for name in RUN_FILES)

    # both workers end with the same model, the one the chief saved, and it has trained
    w0, w1 = np.load(result0), np.load(result1)
    final0, final1, bundle = _weights(w0, "final"), _weights(w1, "final"), _weights(w0, "bundle")
    assert not _weights(w1, "bundle")
    assert len(final0) == len(final1) == len(bundle) > 0
    for a, b, c in zip(final0, final1, bundle):
        assert a.shape == b.shape == c.shape
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)  # batch-norm statistics included
        np.testing.assert_allclose(a, c, rtol=0, atol=1e-6)
    changed = [float(np.abs(a - b).max()) for a, b in zip(final0, _weights(w0, "initial"))]
    assert max(changed) > 1e-3, changed

    # the logged metrics are averaged over both workers: the same on each
    metrics0 = json.loads(result0.with_suffix(".json").read_text())
    metrics1 = json.loads(result1.with_suffix(".json").read_text())
    assert metrics0["epochs_run"] == metrics1["epochs_run"] == 2
    for key in ("loss", "accuracy", "val_accuracy"):
        assert metrics0[key] == pytest.approx(metrics1[key], abs=1e-6), key
