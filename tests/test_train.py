"""Training: config round trip, learning on synthetic data, bundle contents, Ctrl-C, distillation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import fermask
from fermask.data import FERDataset, make_synthetic_fer
from fermask.errors import DataFormatError, FermaskError
from fermask.training import TrainConfig, train

keras = pytest.importorskip("keras")

CHANCE = 1 / 7


def tiny_cnn(num_classes: int = 7, input_shape: tuple[int, int, int] = (48, 48, 1)) -> Any:
    """A small net without batch normalisation: learns the synthetic signal in a few epochs."""
    from fermask._tf import keras_module

    k = keras_module()
    L = k.layers
    return k.Sequential(
        [
            k.Input(input_shape),
            L.Rescaling(1 / 255),
            L.Conv2D(8, 3, activation="relu"),
            L.MaxPooling2D(2),
            L.Conv2D(16, 3, activation="relu"),
            L.MaxPooling2D(2),
            L.Flatten(),
            L.Dense(num_classes, activation="softmax" if num_classes > 1 else "sigmoid"),
        ],
        name="tiny_cnn",
    )


@pytest.fixture(scope="module")
def registered_tiny():
    from fermask.models._registry import _MODELS

    fermask.register_model("test_tiny_cnn", tiny_cnn, description="test model", overwrite=True)
    yield "test_tiny_cnn"
    _MODELS.unregister("test_tiny_cnn")


@pytest.fixture(scope="module")
def split_data() -> tuple[FERDataset, FERDataset]:
    ds = make_synthetic_fer(840, seed=0, balanced=True)
    return ds.split(fraction=1 / 6, seed=0)


# ----------------------------------------------------------------------------- config
def test_config_round_trip_through_json(tmp_path: Path) -> None:
    cfg = TrainConfig(
        model="vgg_fer",
        model_options={"dropout": 0.4},
        optimizer="SGD",
        learning_rate=0.01,
        schedule="cosine",
        batch_size=8,
        epochs=3,
        class_weights={"happy": 0.5, "disgust": 4},
        augment={"flip": 0.5, "rotation": 5.0},
        early_stopping=2,
        label_smoothing=0.1,
        seed=7,
        image_size=(40, 40),
        color_mode="rgb",
    )
    path = tmp_path / "config.json"
    cfg.to_json(path)
    again = TrainConfig.from_json(path)
    assert again == cfg
    assert again.optimizer == "sgd"  # normalised
    assert again.image_size == (40, 40)
    assert TrainConfig.from_dict(json.loads(path.read_text())) == cfg


@pytest.mark.parametrize(
    "bad",
    [
        {"optimizer": "adagrad-x"},
        {"schedule": "linear"},
        {"learning_rate": 0},
        {"batch_size": 0},
        {"epochs": 1.5},
        {"label_smoothing": 1.0},
        {"class_weights": "auto"},
        {"early_stopping": 0},
        {"image_size": (4, 4)},
        {"color_mode": "bgr"},
    ],
)
def test_config_rejects_bad_values(bad: dict[str, Any]) -> None:
    with pytest.raises(FermaskError):
        TrainConfig(**bad)


def test_config_unknown_field_suggests_name() -> None:
    with pytest.raises(FermaskError, match="learning_rate"):
        TrainConfig.from_dict({"learnig_rate": 0.1})
    with pytest.raises(FermaskError, match="epochs"):
        train(make_synthetic_fer(14), epoch=3)


# ----------------------------------------------------------------------------- learning
@pytest.mark.slow
def test_training_beats_chance_and_writes_a_loadable_bundle(tmp_path: Path, split_data, registered_tiny: str) -> None:
    tr, dev = split_data
    out = tmp_path / "run"
    result = train(tr, validation=dev, model=registered_tiny, epochs=5, batch_size=32, learning_rate=3e-3,
                   out_dir=out, progress=False)
    # 7 balanced classes: chance is 14%; a working pipeline reaches far more on the synthetic signal
    assert result.metrics["val_accuracy"] > CHANCE + 0.3
    assert result.evaluation is not None and result.evaluation.n == len(dev)
    assert result.metrics["epochs_run"] == 5 and not result.interrupted
    for name in ("config.json", "run.json", "history.json", "curves.png", "checkpoints/last.keras",
                 "bundle/model.keras", "bundle/fermask.json", "evaluation.json", "evaluation.md"):
        assert (out / name).is_file(), name
    history = json.loads((out / "history.json").read_text())
    assert len(history["loss"]) == 5 and len(history["val_accuracy"]) == 5
    assert history["loss"][-1] < history["loss"][0]
    assert json.loads((out / "run.json").read_text())["status"] == "finished"
    assert TrainConfig.from_json(out / "config.json") == result.config

    info = fermask.bundle.read_bundle_info(out / "bundle")
    assert info.labels == list(fermask.EMOTIONS)
    assert info.input_shape == (48, 48, 1) and info.color_mode == "grayscale" and info.output == "softmax"
    assert info.model_name == registered_tiny
    assert info.train_config["epochs"] == 5 and info.train_config["learning_rate"] == 3e-3
    assert info.metrics["val_accuracy"] == pytest.approx(result.metrics["val_accuracy"])
    assert "not FER2013" in info.extra["data"]["train"]["source"]

    # the bundle alone is enough for a Predictor, and it agrees with the trained model;
    # loading it warns that it learned from synthetic faces
    with pytest.warns(UserWarning, match="trained on synthetic data"):
        pred = fermask.Predictor.load(out / "bundle")
    crops = dev.images[:16]
    p_bundle = pred.predict_crops(list(crops))
    p_model = result.model.predict(crops[..., None].astype("float32"), verbose=0)
    np.testing.assert_allclose(p_bundle, p_model, atol=1e-5)

    # a second run into the same folder is refused, then replaced with overwrite=True
    with pytest.raises(FermaskError, match="already holds a training run"):
        train(tr, model=registered_tiny, epochs=1, out_dir=out, progress=False)
    (out / "my_notes.txt").write_text("keep me")
    train(tr.subset(70), model=registered_tiny, epochs=1, out_dir=out, overwrite=True, progress=False)
    assert (out / "my_notes.txt").read_text() == "keep me"
    assert len(json.loads((out / "history.json").read_text())["loss"]) == 1
    assert not (out / "evaluation.json").exists()  # no validation this time: the old one is gone


@pytest.mark.slow
def test_same_seed_repeats_the_run(split_data, registered_tiny: str) -> None:
    tr, _ = split_data
    small = tr.subset(140, seed=1)
    # the model is built by name inside train(), after seeding: same seed, same weights, same order
    runs = [train(small, model=registered_tiny, epochs=2, batch_size=32, augment=True, seed=s, progress=False)
            for s in (3, 3, 4)]
    assert runs[0].history["loss"] == pytest.approx(runs[1].history["loss"], rel=1e-4)
    assert runs[0].history["loss"] != pytest.approx(runs[2].history["loss"], rel=1e-4)


def test_arrays_sigmoid_model_class_weights_and_validation_fraction(split_data) -> None:
    tr, _ = split_data
    binary = tr.subset(210, seed=2).binary("happy")
    x, y = binary.images.astype(np.float32), binary.labels
    result = train((x, y), model=tiny_cnn(1), labels=binary.label_names, epochs=1, batch_size=32,
                   class_weights="balanced", validation=0.2, progress=False)
    assert result.config.validation_fraction == 0.2
    assert result.evaluation is not None and result.evaluation.labels == ["not happy", "happy"]
    assert result.evaluation.top2_accuracy is None
    assert 0.0 <= result.metrics["val_accuracy"] <= 1.0


def test_bad_data_is_refused_clearly(split_data) -> None:
    tr, _ = split_data
    with pytest.raises(DataFormatError, match="0-255"):
        train((tr.images[:20] / 255.0, tr.labels[:20]), model=tiny_cnn(), epochs=1, progress=False)
    with pytest.raises(DataFormatError, match="sigmoid"):
        train(tr.subset(35), model=tiny_cnn(1), epochs=1, progress=False)
    with pytest.raises(DataFormatError, match="2 outputs|outputs"):
        train(tr.subset(35), model=tiny_cnn(2), epochs=1, progress=False)
    with pytest.raises(FermaskError, match="teacher_data"):
        train(tr.subset(35), model=tiny_cnn(), teacher=tiny_cnn(), epochs=1, progress=False)


class _StopAt(keras.callbacks.Callback):
    """Simulates Ctrl-C in the middle of an epoch."""

    def __init__(self, epoch: int) -> None:
        super().__init__()
        self.epoch = epoch
        self.current = 0

    def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
        self.current = epoch

    def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
        if self.current == self.epoch and batch == 1:
            raise KeyboardInterrupt


def test_ctrl_c_leaves_checkpoint_and_marked_bundle(tmp_path: Path, split_data) -> None:
    tr, dev = split_data
    out = tmp_path / "run"
    result = train(tr.subset(140, seed=4), validation=dev.subset(28), model=tiny_cnn(), epochs=5, batch_size=16,
                   out_dir=out, callbacks=[_StopAt(1)], progress=False)
    assert result.interrupted and result.metrics["epochs_run"] == 1
    assert (out / "checkpoints" / "last.keras").is_file()
    assert json.loads((out / "run.json").read_text())["status"] == "interrupted"
    info = fermask.bundle.read_bundle_info(out / "bundle")
    assert info.extra["interrupted"] is True
    ckpt = keras.models.load_model(out / "checkpoints" / "last.keras")
    assert ckpt.output_shape == (None, 7)
    with pytest.warns(UserWarning, match="synthetic"):
        fermask.Predictor.load(out / "bundle")  # usable


def test_mirrored_strategy_on_one_cpu(split_data) -> None:
    tf = pytest.importorskip("tensorflow")
    tr, _ = split_data
    strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
    result = train(tr.subset(70, seed=5).binary("happy"), model="happy_binary", epochs=1, batch_size=16,
                   progress=False, strategy=strategy, model_options={"filters": 4})
    assert result.metrics["epochs_run"] == 1
    assert result.model.output_shape == (None, 1)


# ----------------------------------------------------------------------------- distillation
def test_distillation_pipeline_keeps_teacher_targets_aligned(split_data) -> None:
    from fermask.training.pipeline import input_pipeline as _pipeline

    tr, _ = split_data
    ds = tr.subset(100, seed=6)
    onehot = np.eye(7, dtype=np.float32)[ds.labels]
    cfg = TrainConfig(batch_size=16, augment=True, seed=11)
    tfds = _pipeline(ds, cfg, (48, 48, 1), "categorical", training=True, teacher_probs=onehot)
    for _epoch in range(2):
        seen = 0
        for _x, y in tfds:
            np.testing.assert_array_equal(y["label"].numpy(), y["teacher"].numpy())
            seen += y["label"].shape[0]
        assert seen == len(ds)


def _fake_masked(ds: FERDataset) -> FERDataset:
    """A cheap stand-in for masking: the lower half of each face covered by a flat grey."""
    images = ds.images.copy()
    images[:, 26:, 6:42] = 150
    out = ds.select(np.arange(len(ds)))
    out.images = images
    out.styles = np.full(len(ds), "flat")
    return out


@pytest.mark.slow
def test_distillation_student_learns_from_teacher(split_data) -> None:
    tr, dev = split_data
    teacher = train(tr, model=tiny_cnn(), epochs=5, batch_size=32, learning_rate=3e-3, progress=False).model
    masked_tr = _fake_masked(tr)
    # alpha=0: the student sees only the teacher's soft labels, never the true ones
    student = train(masked_tr, validation=_fake_masked(dev), model=tiny_cnn(), teacher=teacher, teacher_data=tr,
                    epochs=4, batch_size=32, learning_rate=3e-3, distill_alpha=0.0, distill_temperature=2.0,
                    progress=False)
    assert student.metrics["val_accuracy"] > CHANCE + 0.15
    assert student.model.name == "tiny_cnn"  # only the student is returned


def test_distillation_refuses_unaligned_teacher_data(split_data) -> None:
    tr, _ = split_data
    small = tr.subset(40, seed=8)
    other = tr.subset(40, seed=9)
    with pytest.raises(DataFormatError, match="no unmasked counterpart|differ"):
        train(_fake_masked(small), model=tiny_cnn(), teacher=tiny_cnn(), teacher_data=other, epochs=1, progress=False)


def test_plot_history_needs_loss_or_accuracy() -> None:
    pytest.importorskip("matplotlib")
    from fermask.training import plot_history

    fig = plot_history({"loss": [2.0, 1.0], "accuracy": [0.2, 0.5], "val_accuracy": [0.1, 0.3]})
    ax = fig.axes[1]
    assert [len(line.get_xdata()) for line in ax.get_lines()] == [2, 2]
    with pytest.raises(DataFormatError):
        plot_history({"lr": [0.1]})


def test_plot_history_titles_fit_and_epochs_are_whole_numbers() -> None:
    pytest.importorskip("matplotlib")
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from fermask.training import plot_history
    from fermask.training.run_files import RunRecord, curves_title

    source = "SYNTHETIC FER-format data (fermask.data.make_synthetic_fer; not FER2013): n=200, seed=0 | masked"
    records = {name: RunRecord(net=None, model_name="shallow_cnn", config=TrainConfig(), history={}, metrics={},
                               versions={}, data={"train": {"source": source}, **extra})
               for name, extra in (("teacher", {}), ("student", {"teacher": "bundle 'runs/distil/teacher/bundle'"}))}
    titles = {name: curves_title(Path("runs/distil") / name, r) for name, r in records.items()}
    assert titles["teacher"] != titles["student"]
    assert "teacher" in titles["teacher"].splitlines()[0] and "distilled from" in titles["student"]
    for title in titles.values():
        fig = plot_history({"loss": [2.0, 1.0], "val_loss": [2.1, 1.5], "accuracy": [0.2, 0.5]}, title=title)
        canvas = FigureCanvasAgg(fig)
        canvas.draw()
        text = fig.get_suptitle()
        assert source in text.replace("\n", " ")  # nothing cut off
        [suptitle] = [t for t in fig.texts if t.get_text() == text]
        extent = suptitle.get_window_extent(canvas.get_renderer())
        assert extent.x0 >= 0 and extent.x1 <= fig.bbox.width and extent.y1 <= fig.bbox.height
        for ax in fig.axes:
            ticks = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
            assert ticks and all(t.isdigit() for t in ticks), ticks
    one = plot_history({"loss": [2.0], "val_loss": [2.1], "accuracy": [0.2], "val_accuracy": [0.3]})
    FigureCanvasAgg(one).draw()
    for ax in one.axes:  # a single epoch sits at 1, with whole-number ticks around it
        lo, hi = ax.get_xlim()
        shown = [t.get_text() for t in ax.get_xticklabels() if t.get_text() and lo <= t.get_position()[0] <= hi]
        assert shown == ["1"], shown
