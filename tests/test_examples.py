"""Every example that needs no FER2013 runs, on packaged or synthetic data, so none of them rots."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
pytestmark = pytest.mark.slow


#: What TensorFlow prints unless fermask quiets it; an example, run as a user runs it, prints none of it.
TF_NOISE = ("absl::InitializeLog", "oneDNN custom operations", "triggered tf.function retracing")


def run(script: str, *args: str, cwd: Path) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "FERMASK_TF_NOTICES")}
    env["MPLBACKEND"] = "Agg"
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args], cwd=cwd, capture_output=True, text=True, env=env,
        timeout=600,
    )
    assert proc.returncode == 0, f"{script} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    noise = [line for line in proc.stderr.splitlines() if any(n in line for n in TF_NOISE)]
    assert not noise, f"{script} printed TensorFlow's noise on stderr: {noise[:3]}"
    return proc.stdout


def test_mask_a_photo(tmp_path: Path) -> None:
    out = run("mask_a_photo.py", "--style", "kn95", "--out", "m.png", cwd=tmp_path)
    assert "1 face(s) masked with ['kn95']" in out and (tmp_path / "m.png").stat().st_size > 0


def test_make_gallery(tmp_path: Path) -> None:
    run("make_gallery.py", "--out", "g", cwd=tmp_path)
    assert (tmp_path / "g" / "styles.png").exists() and (tmp_path / "g" / "styles-48px.png").exists()


def test_make_landmark_map(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    out = run("make_landmark_map.py", "--out", "lm.png", cwd=tmp_path)
    assert "68 landmarks" in out and (tmp_path / "lm.png").stat().st_size > 0


def test_write_a_mask_plugin(tmp_path: Path) -> None:
    out = run("write_a_mask_plugin.py", "--out", "v.png", cwd=tmp_path)
    assert "['visor']" in out and (tmp_path / "v.png").exists()


def test_mask_a_dataset_folder_resumes(tmp_path: Path) -> None:
    first = run("mask_a_dataset_folder.py", "--synthetic", "60", "masked", "--workers", "1", "--quiet", cwd=tmp_path)
    assert "60 masked" in first
    second = run("mask_a_dataset_folder.py", "--synthetic", "60", "masked", "--workers", "1", "--quiet", cwd=tmp_path)
    assert "0 masked" in second and "60 already done" in second
    lines = (tmp_path / "masked" / "manifest.jsonl").read_text().splitlines()
    assert sum(json.loads(x).get("status") == "masked" for x in lines) == 60


def test_train_then_predict_and_analyse_a_video(tmp_path: Path) -> None:
    out = run("train_on_fer2013.py", "--synthetic", "400", "--epochs", "1", "--out", "run", cwd=tmp_path)
    bundle = tmp_path / "run" / "bundle"
    assert (bundle / "model.keras").exists() and "Accuracy per mask style" in out
    pred = run("predict_on_a_photo.py", "--model", str(bundle), "--plot", "plots", cwd=tmp_path)
    assert "as is: 1 face(s)" in pred and "masked: 1 face(s)" in pred
    assert (tmp_path / "plots" / "scores-surgical.png").exists()
    assert "wrote plots/scores-surgical.png" in pred and "wrote plots/faces-surgical.png" in pred
    adapted = run("adapt_to_masks.py", "--teacher", str(bundle), "--epochs", "1", "--out", "adapted", cwd=tmp_path)
    assert "held-out faces: 10" in adapted and (tmp_path / "adapted" / "bundle" / "model.keras").exists()
    pytest.importorskip("imageio_ffmpeg")
    vid = run("analyse_a_video.py", "--model", str(bundle), "--out", "vid", "--stride", "5", cwd=tmp_path)
    assert "frames analysed" in vid and (tmp_path / "vid" / "frames.csv").exists()


def test_distil_a_masked_student(tmp_path: Path) -> None:
    out = run("distil_a_masked_student.py", "--synthetic", "300", "--epochs", "1", "--out", "d", cwd=tmp_path)
    assert "student, distilled" in out
    assert (tmp_path / "d" / "student_distilled" / "bundle" / "model.keras").exists()
