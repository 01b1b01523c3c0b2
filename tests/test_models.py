"""The model registry and the built-in Keras models."""

from __future__ import annotations

import importlib
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import fermask
from fermask.errors import FermaskError, UnknownNameError
from fermask.models import (
    bundle_fields,
    create_model,
    get_model_builder,
    list_models,
    model_defaults,
    register_model,
    unfreeze,
)
from fermask.models._registry import _MODELS

keras = pytest.importorskip("keras")

BUILTINS = ["happy_binary", "resnet50_head", "shallow_cnn", "vgg_fer"]

# Small but real configurations, so that every model builds and saves quickly.
TINY: dict[str, dict[str, Any]] = {
    "shallow_cnn": dict(input_shape=(16, 16, 1), filters=(4, 8), units=8),
    "happy_binary": dict(input_shape=(16, 16, 3), filters=4),
    "vgg_fer": dict(input_shape=(16, 16, 1), filters=(4, 8, 8, 8), dense_units=16),
    "resnet50_head": dict(input_shape=(32, 32, 3), backbone_size=32, head_units=8),
}


def pixels(shape: tuple[int, ...], n: int = 3, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 255, (n, *shape)).astype("float32")


@pytest.fixture
def cleanup_names():
    added: list[str] = []
    yield added
    for name in added:
        _MODELS.unregister(name)


# -- every registered model -------------------------------------------------
def test_builtins_are_registered() -> None:
    assert set(BUILTINS) <= set(list_models())


@pytest.mark.parametrize("name", list_models())
def test_model_forward_and_keras_round_trip(name: str, tmp_path: Path) -> None:
    options = TINY.get(name, {})
    model = create_model(name, **options)
    defaults = model_defaults(name)
    shape = tuple(options.get("input_shape", defaults["input_shape"]))
    assert model.name == name
    assert tuple(model.input_shape[1:]) == shape

    x = pixels(shape)
    y = np.asarray(model(x, training=False))
    if defaults["output"] == "sigmoid":
        assert y.shape == (3, 1)
        assert np.all((y > 0) & (y < 1))
    else:
        assert y.shape == (3, defaults["num_classes"])
        np.testing.assert_allclose(y.sum(axis=1), 1.0, atol=1e-5)
        assert np.all(y >= 0)

    path = tmp_path / f"{name}.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.name == name
    np.testing.assert_array_equal(np.asarray(loaded(x, training=False)), y)

    fields = bundle_fields(model)
    assert fields["input_shape"] == shape
    assert fields["output"] == defaults["output"]
    assert fields["model_name"] == name
    fermask.BundleInfo(labels=["no", "yes"] if fields["output"] == "sigmoid" else fermask.EMOTIONS,
                       **fields)


@pytest.mark.parametrize("name", ["shallow_cnn", "happy_binary"])
def test_small_models_learn(name: str) -> None:
    """A few optimiser steps on fixed data lower the loss: the graph is trainable end to end."""
    model = create_model(name, **TINY[name])
    shape = TINY[name]["input_shape"]
    x = pixels(shape, n=16, seed=1)
    if name == "happy_binary":
        y = (x.mean(axis=(1, 2, 3)) > 127).astype("float32")[:, None]
        loss = "binary_crossentropy"
    else:
        y = keras.utils.to_categorical(np.arange(16) % 7, 7)
        loss = "categorical_crossentropy"
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss=loss)
    before = model.evaluate(x, y, verbose=0)
    model.fit(x, y, epochs=15, batch_size=16, verbose=0)
    after = model.evaluate(x, y, verbose=0)
    assert after < before


def test_default_sizes_match_the_papers() -> None:
    shallow = create_model("shallow_cnn")
    assert shallow.input_shape == (None, 48, 48, 1) and shallow.output_shape == (None, 7)
    assert isinstance(shallow.layers[1], keras.layers.Rescaling)
    happy = create_model("happy_binary")
    assert happy.input_shape == (None, 64, 64, 3) and happy.output_shape == (None, 1)
    assert happy.get_layer("pad").padding == ((3, 3), (3, 3))
    assert happy.get_layer("conv").kernel_size == (7, 7)
    vgg = create_model("vgg_fer")
    convs = [layer for layer in vgg.layers if isinstance(layer, keras.layers.Conv2D)]
    assert [c.filters for c in convs] == [64, 64, 128, 128, 256, 256, 512, 512]
    assert vgg.get_layer("fc1").units == 4096 and vgg.get_layer("fc2").units == 4096


# -- options and errors ------------------------------------------------------
def test_options_override_defaults() -> None:
    m = create_model("shallow_cnn", num_classes=3, input_shape=(20, 24, 3), filters=(2, 5), units=6)
    assert m.input_shape == (None, 20, 24, 3)
    assert m.output_shape == (None, 3)
    assert m.get_layer("conv2").filters == 5
    assert m.get_layer("dense").units == 6


def test_create_model_accepts_a_builder_or_a_built_model() -> None:
    from fermask.models.happy import happy_binary

    m = create_model(happy_binary, **TINY["happy_binary"])
    assert m.output_shape == (None, 1)
    assert create_model(m) is m
    assert create_model(m, num_classes=2, input_shape=(16, 16, 3)) is m
    with pytest.raises(FermaskError, match="given a built model"):
        create_model(m, input_shape=(48, 48, 3))


def test_unknown_option_lists_the_valid_ones() -> None:
    with pytest.raises(FermaskError, match=r"no option 'filter'.*Did you mean 'filters'.*units"):
        create_model("shallow_cnn", filter=(8, 8))


@pytest.mark.parametrize("n", [1, 2])
def test_binary_model_maps_two_classes_to_one_sigmoid(n: int) -> None:
    m = create_model("happy_binary", num_classes=n, **TINY["happy_binary"])
    assert m.output_shape == (None, 1)


def test_binary_model_rejects_seven_classes() -> None:
    with pytest.raises(FermaskError, match=r"num_classes must be 2 \(or 1\), got 7"):
        create_model("happy_binary", num_classes=7)


@pytest.mark.parametrize("name", ["shallow_cnn", "vgg_fer", "resnet50_head"])
def test_softmax_models_need_two_classes(name: str) -> None:
    with pytest.raises(FermaskError, match="num_classes >= 2"):
        create_model(name, num_classes=1)


def test_bad_input_shapes() -> None:
    with pytest.raises(FermaskError, match="needs 3-channel input.*keep_color=True"):
        create_model("resnet50_head", input_shape=(48, 48, 1))
    with pytest.raises(FermaskError, match="at least 32x32"):
        create_model("resnet50_head", input_shape=(32, 32, 3), backbone_size=16)
    with pytest.raises(FermaskError, match="channels 1 .grayscale. or 3"):
        create_model("shallow_cnn", input_shape=(48, 48, 2))
    with pytest.raises(FermaskError, match="at least 16x16"):
        create_model("vgg_fer", input_shape=(8, 8, 1))
    with pytest.raises(FermaskError, match="dropout must be a number in"):
        create_model("shallow_cnn", dropout=1.5)


# -- resnet50_head -----------------------------------------------------------
def test_caffe_preprocess_matches_keras_preprocess_input() -> None:
    from fermask.models.layers import CaffePreprocess

    x = pixels((4, 5, 3), n=2)
    expected = keras.applications.resnet50.preprocess_input(x.copy())
    np.testing.assert_allclose(np.asarray(CaffePreprocess()(x)), expected, rtol=1e-6, atol=1e-4)


def test_resnet_resizes_inside_the_model() -> None:
    m = create_model("resnet50_head", input_shape=(40, 40, 3), backbone_size=64, head_units=None)
    assert m.get_layer("resize").output.shape[1:3] == (64, 64)
    assert m.get_layer("resnet50").input_shape[1:3] == (64, 64)
    same = create_model("resnet50_head", input_shape=(32, 32, 3), backbone_size=None, head_units=None)
    assert "resize" not in [layer.name for layer in same.layers]


def test_freeze_and_unfreeze() -> None:
    m = create_model("resnet50_head", freeze_backbone=True, **TINY["resnet50_head"])
    backbone = m.get_layer("resnet50")
    assert not backbone.trainable
    assert {w.path.split("/")[0] for w in m.trainable_weights} == {"head_dense1", "logits"}

    unfreeze(m, from_layer="conv5_block1_1_conv")
    trainable = [layer for layer in backbone.layers if layer.trainable and layer.weights]
    assert trainable and all(layer.name.startswith("conv5_") for layer in trainable)
    assert not any(isinstance(layer, keras.layers.BatchNormalization) for layer in trainable)

    unfreeze(m, keep_batchnorm_frozen=False)
    assert all(layer.trainable for layer in backbone.layers)

    with pytest.raises(FermaskError, match="Did you mean 'conv5_block1_1_conv'"):
        unfreeze(m, from_layer="conv5_block1_1_cnv")
    with pytest.raises(FermaskError, match="no backbone layer named 'resnet50'"):
        unfreeze(create_model("happy_binary", **TINY["happy_binary"]))


def test_resnet_loads_weights_from_a_local_file(tmp_path: Path) -> None:
    source = keras.applications.ResNet50(include_top=False, weights=None, input_shape=(32, 32, 3))
    path = tmp_path / "backbone.weights.h5"
    source.save_weights(path)
    m = create_model("resnet50_head", weights=path, **TINY["resnet50_head"])
    got = m.get_layer("resnet50").get_layer("conv1_conv").kernel
    np.testing.assert_array_equal(np.asarray(got), np.asarray(source.get_layer("conv1_conv").kernel))


def test_resnet_missing_weights_file(tmp_path: Path) -> None:
    with pytest.raises(FermaskError, match="not a file.*resnet50_weights_tf_dim_ordering"):
        create_model("resnet50_head", weights=tmp_path / "nope.h5", **TINY["resnet50_head"])


def test_resnet_imagenet_offline_says_how_to_pass_a_file(monkeypatch: pytest.MonkeyPatch) -> None:
    resnet_impl = importlib.import_module("keras.src.applications.resnet")

    def offline(*args: Any, **kwargs: Any) -> str:
        raise Exception("URL fetch failure on https://storage.googleapis.com/x: None -- no network")

    monkeypatch.setattr(resnet_impl.file_utils, "get_file", offline)
    with pytest.raises(FermaskError, match="could not download the ImageNet weights.*weights='/path/to/"):
        create_model("resnet50_head", weights="imagenet", **TINY["resnet50_head"])


# -- the registry ------------------------------------------------------------
def test_register_as_decorator_plain_call_and_bare(cleanup_names: list[str]) -> None:
    @register_model("toy_dense", input_shape=(8, 8, 1), description="toy")
    def toy_dense(num_classes: int = 7, input_shape: tuple[int, int, int] = (8, 8, 1),
                  *, width: int = 4) -> Any:
        inputs = keras.Input(input_shape)
        x = keras.layers.Rescaling(1 / 255)(inputs)
        x = keras.layers.Dense(width)(keras.layers.Flatten()(x))
        return keras.Model(inputs, keras.layers.Dense(num_classes, activation="softmax")(x),
                           name="toy_dense")

    cleanup_names.append("toy_dense")
    assert get_model_builder("TOY_DENSE") is toy_dense
    m = create_model("toy_dense", num_classes=3, width=2)
    assert m.input_shape == (None, 8, 8, 1) and m.output_shape == (None, 3)
    assert model_defaults("toy_dense")["description"] == "toy"

    def other(num_classes: int = 2, input_shape: tuple[int, int, int] = (4, 4, 3)) -> Any:
        raise AssertionError("not called")

    assert register_model("toy_plain", other, output="sigmoid") is other
    cleanup_names.append("toy_plain")
    assert model_defaults("toy_plain")["output"] == "sigmoid"
    assert model_defaults("toy_plain")["num_classes"] == 2

    @register_model
    def toy_bare(num_classes: int = 7, input_shape: tuple[int, int, int] = (48, 48, 1)) -> Any:
        raise AssertionError("not called")

    cleanup_names.append("toy_bare")
    assert "toy_bare" in list_models("toy_*")

    with pytest.raises(ValueError, match="already registered"):
        register_model("toy_bare", other)


def test_unknown_name_suggests_and_lists() -> None:
    with pytest.raises(UnknownNameError) as info:
        create_model("shalow_cnn")
    msg = str(info.value)
    assert "Did you mean 'shallow_cnn'" in msg
    for name in BUILTINS:
        assert name in msg
    assert "register_model" in msg and "fermask.models" in msg


def test_list_models_pattern() -> None:
    assert list_models("resnet*") == ["resnet50_head"]
    assert list_models("*_binary") == ["happy_binary"]
    assert list_models("nothing*") == []


def test_plugin_from_entry_points(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                  cleanup_names: list[str], fake_distribution: Any) -> None:
    (tmp_path / "fermask_toy_plugin.py").write_text(textwrap.dedent("""
        def build(num_classes=5, input_shape=(12, 12, 1)):
            import keras
            inputs = keras.Input(input_shape)
            x = keras.layers.Flatten()(keras.layers.Rescaling(1 / 255)(inputs))
            out = keras.layers.Dense(num_classes, activation="softmax")(x)
            return keras.Model(inputs, out, name="toy_plugin")
    """))
    fake_distribution(
        "fermask-toy-plugin", "0.1",
        "[fermask.models]\n"
        "toy_plugin = fermask_toy_plugin:build\n"
        "toy_broken = fermask_no_such_module_xyz:build\n",
    )
    cleanup_names.extend(["toy_plugin", "toy_broken"])
    with pytest.warns(RuntimeWarning, match="toy_broken.*could not be loaded"):
        _MODELS.reload_plugins()
    assert "toy_plugin" in list_models()
    assert "toy_broken" not in list_models()
    assert _MODELS.source("toy_plugin").startswith("plugin")
    # defaults read from the plugin's signature
    assert model_defaults("toy_plugin")["input_shape"] == (12, 12, 1)
    m = create_model("toy_plugin")
    assert m.output_shape == (None, 5)


# -- imports and loading -----------------------------------------------------
def test_registry_does_not_import_tensorflow() -> None:
    code = (
        "import sys, fermask; names = fermask.list_models(); "
        "from fermask.models import model_defaults; model_defaults('resnet50_head'); "
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'TF imported'; "
        "print(','.join(names))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "shallow_cnn" in out.stdout


@pytest.mark.slow
def test_bundle_with_custom_layer_loads_in_a_fresh_process(tmp_path: Path) -> None:
    """The registry is read first (no Keras yet), then the custom layers are registered and loaded."""
    model = create_model("resnet50_head", **TINY["resnet50_head"])
    info = fermask.BundleInfo(labels=fermask.EMOTIONS, **bundle_fields(model))
    fermask.save_bundle(tmp_path / "bundle", model, info)
    x = pixels(TINY["resnet50_head"]["input_shape"], n=2)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", np.asarray(model(x, training=False)))
    code = textwrap.dedent(f"""
        import sys, numpy as np, fermask
        assert "resnet50_head" in fermask.list_models() and "keras" not in sys.modules
        from fermask.models import register_custom_objects
        register_custom_objects()
        model, info = fermask.load_bundle({str(tmp_path / 'bundle')!r})
        assert info.model_name == "resnet50_head", info
        x = np.load({str(tmp_path / 'x.npy')!r})
        np.testing.assert_array_equal(np.asarray(model(x, training=False)), np.load({str(tmp_path / 'y.npy')!r}))
        print("ok")
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "ok" in out.stdout


def test_trainable_copy_computes_the_same_and_trains(tmp_path: Path) -> None:
    """Strided 1x1 convolutions become StridedPointwiseConv2D: same outputs, same weights, trainable, saved and loaded.

    TensorFlow 2.21's oneDNN kernels crash the process when training a strided
    1x1 Conv2D over an odd image size (as in mini-Xception); the copy avoids that form.
    """
    from fermask.models import trainable_copy
    from fermask.models.layers import StridedPointwiseConv2D

    keras.utils.set_random_seed(0)
    inp = keras.Input((17, 17, 3))
    h = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(inp)
    inner = keras.Model(inp, keras.layers.Add()([
        keras.layers.Conv2D(6, 1, strides=2, padding="same")(h),
        keras.layers.MaxPooling2D(3, strides=2, padding="same")(keras.layers.Conv2D(6, 3, padding="same")(h)),
    ]), name="inner")
    outer_in = keras.Input((17, 17, 3))
    model = keras.Model(outer_in, keras.layers.Dense(2, activation="softmax")(
        keras.layers.GlobalAveragePooling2D()(inner(keras.layers.Rescaling(1 / 255)(outer_in)))))
    copy = trainable_copy(model)
    swapped = [layer for layer in copy.get_layer("inner").layers if isinstance(layer, StridedPointwiseConv2D)]
    assert len(swapped) == 1 and swapped[0].strides == (2, 2)
    x = np.random.default_rng(0).uniform(0, 255, (8, 17, 17, 3)).astype("float32")
    np.testing.assert_allclose(copy.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)
    copy.compile(optimizer="adam", loss="categorical_crossentropy")
    copy.fit(x, np.eye(2, dtype="float32")[np.arange(8) % 2], epochs=1, verbose=0)
    copy.save(tmp_path / "copy.keras")
    again = keras.models.load_model(tmp_path / "copy.keras", compile=False)
    np.testing.assert_allclose(again.predict(x, verbose=0), copy.predict(x, verbose=0), atol=1e-6)


def test_models_and_pretrained_models_share_one_namespace() -> None:
    from fermask.pretrained import list_pretrained

    assert list_models(pretrained=True) == list_pretrained() and "fer-mini-xception" in list_models(pretrained=True)
    assert not set(list_models()) & set(list_models(pretrained=True))
    with pytest.raises(UnknownNameError, match=r"'fer-mini-xception' is a pretrained model.*pretrained=True"):
        create_model("fer-mini-xception")
    with pytest.raises(UnknownNameError, match=r"architecture 'shallow_cnn' has no pretrained weights.*leave out"):
        create_model("shallow_cnn", pretrained=True)
    with pytest.raises(UnknownNameError, match=r"unknown pretrained model 'fer-mini-xeption'.*Did you mean"):
        create_model("fer-mini-xeption", pretrained=True)
    with pytest.raises(UnknownNameError, match=r"Pretrained models \(create_model\(name, pretrained=True\)\): .*fer-mini"):
        create_model("no_such_model")
