"""Training: a saved configuration, a model bundle, history, learning curves, distillation.

:func:`train` fits a registered model (or one you built) on a
:class:`~fermask.FERDataset` or on ``(images, labels)`` arrays, following a
:class:`TrainConfig`. With an ``out_dir`` a run writes::

    out_dir/
        config.json          the TrainConfig (TrainConfig.from_json repeats the run)
        run.json             status (running / finished / interrupted), data, versions, metrics
        history.json         loss and metrics per epoch (rewritten after every epoch)
        curves.png           learning curves (needs the ``plot`` extra)
        checkpoints/last.keras   the model after the last finished epoch
        bundle/              model.keras + fermask.json: what Predictor.load needs
        evaluation.json/.md  the final model on the validation data (when given)

Ctrl-C during fitting stops the run cleanly: the bundle is written from the
current weights, marked ``"interrupted": true`` in its ``extra`` and in
``run.json``, and :func:`train` returns a result with ``interrupted=True``
(it does not re-raise). ``checkpoints/last.keras`` always holds a whole model
from the last finished epoch; it is written to a temporary file and renamed.

Examples:
    >>> import fermask
    >>> cfg = fermask.TrainConfig(model="shallow_cnn", epochs=30, learning_rate=1e-3, augment=True)
    >>> cfg.to_dict()["schedule"]
    'constant'
    >>> result = fermask.train(masked_train, cfg, validation=masked_dev, out_dir="runs/shallow")  # doctest: +SKIP
    >>> fermask.Predictor.load(result.bundle_path)  # doctest: +SKIP
"""

from __future__ import annotations

import difflib
import json
import math
import os
import shutil
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from ._files import lenient_json_default, write_json_atomic
from .errors import DataFormatError, FermaskError, missing_dependency

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

    from .data import FERDataset
    from .evaluation import EvaluationReport

__all__ = ["TrainConfig", "TrainResult", "train", "plot_history", "RUN_FILES"]

OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop", "nadam")
SCHEDULES = ("constant", "cosine", "plateau")

#: The files and folders a run writes in its ``out_dir`` (the only ones ``overwrite=True`` removes).
RUN_FILES = (
    "config.json",
    "run.json",
    "history.json",
    "curves.png",
    "checkpoints",
    "bundle",
    "evaluation.json",
    "evaluation.md",
    "evaluation_confusion.png",
)


# =========================================================================== configuration
@dataclass
class TrainConfig:
    """Everything that determines a training run; saved with its results.

    Attributes:
        model: A registered model name (see :func:`fermask.list_models`).
        model_options: Builder options, e.g. ``{"filters": [16, 32]}``.
        optimizer: ``"adam"``, ``"adamw"``, ``"sgd"`` (momentum 0.9),
            ``"rmsprop"`` or ``"nadam"``.
        learning_rate: The (initial) learning rate.
        schedule: ``"constant"``, ``"cosine"`` (cosine decay to 0 over all
            steps) or ``"plateau"`` (divide by 10 after ``plateau_patience``
            epochs without improvement of the monitored value).
        plateau_patience: Epochs without improvement before a plateau step.
        weight_decay: Weight decay for ``"adamw"`` (ignored otherwise).
        batch_size: Images per step (the global batch under a distribution strategy).
        epochs: Passes over the training data.
        class_weights: ``None``, ``"balanced"`` (``n / (k * count)``) or a dict
            ``{class name or index: weight}`` (missing classes weigh 1).
        augment: ``False``, ``True`` (random flips, shifts, rotations,
            brightness) or a dict of those amounts (see
            :data:`fermask.data.tfdata.AUGMENT_DEFAULTS`).
        early_stopping: Patience in epochs, or ``None`` for no early
            stopping; the best weights are restored when it stops.
        monitor: The value early stopping and the plateau schedule watch:
            ``"auto"`` is ``val_loss`` with validation data, else ``loss``.
        label_smoothing: Label smoothing of the cross-entropy, in ``[0, 1)``.
        seed: Seeds Python, numpy, TensorFlow, shuffling, augmentation and
            the validation split.
        deterministic: Also call ``tf.config.experimental.enable_op_determinism()``
            for bit-for-bit repeatable runs on the same machine (slower; it
            affects the whole process).
        image_size: ``(height, width)`` of the model input; ``None`` takes the
            model's default.
        color_mode: ``"grayscale"`` or ``"rgb"``; ``None`` takes the model's default.
        validation_fraction: When :func:`train` gets no validation data, hold
            out this share of the training data (stratified, seeded);
            ``None`` trains without validation.
        jit_compile: Compile steps with XLA (often faster on GPUs).
        steps_per_execution: Steps run per call into TensorFlow (raise it
            for small models on GPUs).
        run_eagerly: Run steps eagerly, without building a TensorFlow graph:
            for debugging, and faster for smoke runs of a few steps of a big
            model (tracing ResNet50's training step takes ~30 s on a CPU).
        distill_alpha: Distillation only: weight of the hard-label loss; the
            teacher's soft-label loss gets ``1 - distill_alpha``.
        distill_temperature: Distillation only: the softening temperature ``T``.
    """

    model: str = "shallow_cnn"
    model_options: dict[str, Any] = field(default_factory=dict)
    optimizer: str = "adam"
    learning_rate: float = 1e-3
    schedule: str = "constant"
    plateau_patience: int = 3
    weight_decay: float = 1e-4
    batch_size: int = 64
    epochs: int = 20
    class_weights: str | dict[str, float] | None = None
    augment: bool | dict[str, float] = False
    early_stopping: int | None = None
    monitor: str = "auto"
    label_smoothing: float = 0.0
    seed: int = 0
    deterministic: bool = False
    image_size: tuple[int, int] | None = None
    color_mode: str | None = None
    validation_fraction: float | None = None
    jit_compile: bool = False
    steps_per_execution: int = 1
    run_eagerly: bool = False
    distill_alpha: float = 0.5
    distill_temperature: float = 4.0

    def __post_init__(self) -> None:
        self.optimizer = str(self.optimizer).strip().lower()
        self.schedule = str(self.schedule).strip().lower()
        if self.optimizer not in OPTIMIZERS:
            raise FermaskError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {self.optimizer!r}")
        if self.schedule not in SCHEDULES:
            raise FermaskError(f"schedule must be one of {', '.join(SCHEDULES)}, got {self.schedule!r}")
        _positive(self.learning_rate, "learning_rate", float)
        _positive(self.batch_size, "batch_size", int)
        _positive(self.epochs, "epochs", int)
        _positive(self.steps_per_execution, "steps_per_execution", int)
        _positive(self.plateau_patience, "plateau_patience", int)
        if self.early_stopping is not None:
            _positive(self.early_stopping, "early_stopping (a patience in epochs, or None)", int)
        if not 0.0 <= float(self.label_smoothing) < 1.0:
            raise FermaskError(f"label_smoothing must lie in [0, 1), got {self.label_smoothing!r}")
        if not 0.0 <= float(self.distill_alpha) <= 1.0:
            raise FermaskError(f"distill_alpha must lie in [0, 1], got {self.distill_alpha!r}")
        _positive(self.distill_temperature, "distill_temperature", float)
        cw = self.class_weights
        if not (cw is None or cw == "balanced" or isinstance(cw, Mapping)):
            raise FermaskError(f"class_weights must be None, 'balanced' or a dict {{class: weight}}, got {cw!r}")
        if isinstance(cw, Mapping):
            self.class_weights = {str(k): float(v) for k, v in cw.items()}
        if self.image_size is not None:
            size = (self.image_size, self.image_size) if isinstance(self.image_size, int) else tuple(self.image_size)
            if len(size) != 2 or min(int(v) for v in size) < 8:
                raise FermaskError(f"image_size must be (height, width) of at least 8 pixels, got {self.image_size!r}")
            self.image_size = (int(size[0]), int(size[1]))
        if self.color_mode not in (None, "grayscale", "rgb"):
            raise FermaskError(f"color_mode must be 'grayscale', 'rgb' or None, got {self.color_mode!r}")
        if self.validation_fraction is not None and not 0.0 < float(self.validation_fraction) < 1.0:
            raise FermaskError(f"validation_fraction must lie strictly between 0 and 1, got {self.validation_fraction!r}")
        self.model_options = dict(self.model_options or {})

    # -- serialisation --------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (tuples become lists)."""
        d = asdict(self)
        if d["image_size"] is not None:
            d["image_size"] = list(d["image_size"])
        return json.loads(json.dumps(d, default=lenient_json_default))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainConfig:
        """Build a config from :meth:`to_dict`'s output.

        Raises:
            FermaskError: An unknown key (the message suggests the closest one).
        """
        known = [f.name for f in fields(cls)]
        for key in data:
            if key not in known:
                close = difflib.get_close_matches(str(key), known, n=1)
                hint = f" Did you mean {close[0]!r}?" if close else ""
                raise FermaskError(f"TrainConfig has no field {key!r}.{hint} Its fields are: {', '.join(known)}")
        return cls(**dict(data))

    def to_json(self, path: str | os.PathLike[str] | None = None) -> str:
        """The config as JSON text; also written to ``path`` when given."""
        text = json.dumps(self.to_dict(), indent=2, sort_keys=True)
        if path is not None:
            Path(path).write_text(text + "\n", encoding="utf-8")
        return text

    @classmethod
    def from_json(cls, source: str | os.PathLike[str]) -> TrainConfig:
        """Read a config from a JSON file (such as a run's ``config.json``) or JSON text.

        Examples:
            >>> cfg = TrainConfig(epochs=3, augment=True)
            >>> TrainConfig.from_json(cfg.to_json()) == cfg
            True
        """
        text = str(source)
        if not text.lstrip().startswith("{"):
            path = Path(source)
            if not path.is_file():
                raise FermaskError(f"no config file at '{path}' (expected a JSON file written by TrainConfig.to_json)")
            text = path.read_text(encoding="utf-8")
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DataFormatError(f"the training config is not valid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise DataFormatError("the training config must be a JSON object")
        return cls.from_dict(data)


def _positive(value: Any, name: str, kind: type) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0
    if kind is int:
        ok = ok and float(value).is_integer()
    if not ok:
        raise FermaskError(f"{name} must be a positive {'integer' if kind is int else 'number'}, got {value!r}")


# =========================================================================== result
@dataclass
class TrainResult:
    """What :func:`train` returns.

    Attributes:
        model: The trained Keras model (for distillation: the student).
        history: ``{metric: [value per epoch]}``.
        metrics: Final metrics (see :func:`train`).
        config: The configuration used.
        out_dir: The run folder, or ``None`` when nothing was written.
        bundle_path: The bundle folder (load it with ``Predictor.load``), or ``None``.
        evaluation: The final model's :class:`~fermask.evaluation.EvaluationReport`
            on the validation data, or ``None``.
        interrupted: ``True`` when Ctrl-C stopped the fit early.
        notes: Remarks, e.g. that the learning-curve plot needs ``fermask[plot]``.
    """

    model: Any
    history: dict[str, list[float]]
    metrics: dict[str, Any]
    config: TrainConfig
    out_dir: Path | None = None
    bundle_path: Path | None = None
    evaluation: EvaluationReport | None = None
    interrupted: bool = False
    notes: list[str] = field(default_factory=list)

    def __repr__(self) -> str:
        acc = self.metrics.get("val_accuracy", self.metrics.get("accuracy"))
        acc_s = f"{acc:.4f}" if isinstance(acc, float) else "n/a"
        return (
            f"TrainResult(model={getattr(self.model, 'name', '?')!r}, epochs={self.metrics.get('epochs_run')}, "
            f"accuracy={acc_s}, bundle={str(self.bundle_path) if self.bundle_path else None!r}, "
            f"interrupted={self.interrupted})"
        )


# =========================================================================== data helpers
def _as_dataset(data: Any, labels: Sequence[str] | None, what: str) -> FERDataset:
    from .data import FERDataset

    if isinstance(data, FERDataset):
        if labels is not None and [str(x) for x in labels] != list(data.label_names):
            raise DataFormatError(f"labels={list(labels)} differ from the {what} dataset's classes {list(data.label_names)}")
        return data
    if isinstance(data, (tuple, list)) and len(data) == 2:
        x, y = np.asarray(data[0]), np.asarray(data[1])
        if x.dtype != np.uint8:
            if not np.issubdtype(x.dtype, np.number):
                raise DataFormatError(f"{what} images must be numbers, got dtype {x.dtype}")
            if x.size and float(np.nanmax(x)) <= 1.0:
                raise DataFormatError(
                    f"the {what} images look scaled to 0-1, but fermask models take pixel values 0-255 and "
                    "scale inside the model; pass the original uint8 images (or x * 255)"
                )
            x = np.clip(np.rint(x), 0, 255).astype(np.uint8)
        if y.ndim == 2 and y.shape[1] > 1:  # one-hot labels
            y = y.argmax(axis=1)
        y = y.reshape(-1).astype(np.int64)
        if labels is None:
            from .labels import EMOTIONS

            k = int(y.max()) + 1 if y.size else 0
            if k > len(EMOTIONS):
                raise DataFormatError(f"the {what} labels go up to {k - 1}; pass labels=[...] naming the {k} classes")
            labels = EMOTIONS if k > 2 else ("negative", "positive")
        return FERDataset.from_arrays(x, y, label_names=tuple(labels), source=f"{what} arrays")
    raise DataFormatError(
        f"{what} data must be a FERDataset or an (images, labels) pair of arrays, got {type(data).__name__}"
    )


def _resolve_class_weights(cfg: TrainConfig, ds: FERDataset) -> np.ndarray | None:
    if cfg.class_weights is None:
        return None
    k = ds.num_classes
    if cfg.class_weights == "balanced":
        w = np.ones(k, dtype=np.float32)
        for i, v in ds.class_weights().items():
            w[i] = v
        return w
    w = np.ones(k, dtype=np.float32)
    assert isinstance(cfg.class_weights, dict)
    for key, v in cfg.class_weights.items():
        idx = int(key) if str(key).lstrip("-").isdigit() else ds._class_of(key)
        if not 0 <= idx < k:
            raise FermaskError(f"class_weights names class {key!r}, but the data has classes 0-{k - 1} {list(ds.label_names)}")
        w[idx] = float(v)
    return w


_LabelMode = Literal["categorical", "soft", "binary"]


def _label_mode(output: str, ds: FERDataset) -> _LabelMode:
    if output == "sigmoid":
        return "binary"
    return "soft" if ds.soft_labels is not None else "categorical"


def _pipeline(
    ds: FERDataset,
    cfg: TrainConfig,
    shape: tuple[int, int, int],
    label_mode: _LabelMode,
    *,
    training: bool,
    class_weights: np.ndarray | None = None,
    teacher_probs: np.ndarray | None = None,
) -> Any:
    """A tf.data pipeline of ``(x, y[, w])``; ``y`` is ``{"label", "teacher"}`` for distillation."""
    from ._tf import tf_module
    from .data import FERDataset

    tf = tf_module()
    color_mode: Literal["grayscale", "rgb"] = "grayscale" if shape[2] == 1 else "rgb"
    out = ds.to_tf_dataset(
        batch_size=cfg.batch_size,
        image_size=(shape[0], shape[1]),
        color_mode=color_mode,
        seed=cfg.seed,
        shuffle=training,
        augment=cfg.augment if training else False,
        label_mode=label_mode,
    )
    if teacher_probs is not None:
        # Same length, seed and batch size: the same shuffled order, batch for batch.
        carrier = FERDataset(
            np.zeros((len(ds), 8, 8), np.uint8),
            ds.labels,
            soft_labels=teacher_probs,
            label_names=ds.label_names,
        )
        targets = carrier.to_tf_dataset(
            batch_size=cfg.batch_size,
            image_size=(8, 8),
            color_mode="grayscale",
            seed=cfg.seed,
            shuffle=training,
            augment=False,
            label_mode="soft",
        )
        out = tf.data.Dataset.zip((out, targets)).map(lambda a, b: (a[0], {"label": a[1], "teacher": b[1]}))
    if class_weights is not None:
        wv = tf.constant(class_weights, tf.float32)

        def add_weights(x: Any, y: Any) -> Any:
            lab = y["label"] if isinstance(y, dict) else y
            idx = tf.cast(lab[:, 0] > 0.5, tf.int32) if label_mode == "binary" else tf.argmax(lab, axis=-1, output_type=tf.int32)
            return x, y, tf.gather(wv, idx)

        out = out.map(add_weights)
    return out.prefetch(tf.data.AUTOTUNE)


# =========================================================================== model helpers
def _input_shape(cfg: TrainConfig, defaults: Mapping[str, Any]) -> tuple[int, int, int]:
    h, w, c = defaults["input_shape"]
    if cfg.image_size is not None:
        h, w = cfg.image_size
    if cfg.color_mode is not None:
        c = 1 if cfg.color_mode == "grayscale" else 3
    return int(h), int(w), int(c)


def _check_outputs(model: Any, k: int, what: str) -> str:
    units = int(model.output_shape[-1])
    if units == 1:
        if k != 2:
            raise DataFormatError(
                f"{what} has one sigmoid output (a yes/no model) but the data has {k} classes; "
                "make a two-class dataset with ds.binary('happy')"
            )
        return "sigmoid"
    if units != k:
        raise DataFormatError(f"{what} has {units} outputs but the data has {k} classes")
    return "softmax"


def _optimizer(keras: Any, cfg: TrainConfig, steps_per_epoch: int) -> Any:
    lr: Any = float(cfg.learning_rate)
    if cfg.schedule == "cosine":
        lr = keras.optimizers.schedules.CosineDecay(lr, decay_steps=max(1, steps_per_epoch * cfg.epochs))
    if cfg.optimizer == "adam":
        return keras.optimizers.Adam(lr)
    if cfg.optimizer == "adamw":
        return keras.optimizers.AdamW(lr, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "sgd":
        return keras.optimizers.SGD(lr, momentum=0.9)
    if cfg.optimizer == "rmsprop":
        return keras.optimizers.RMSprop(lr)
    return keras.optimizers.Nadam(lr)


def _hard_loss(keras: Any, output: str, cfg: TrainConfig) -> Any:
    if output == "sigmoid":
        return keras.losses.BinaryCrossentropy(label_smoothing=cfg.label_smoothing)
    return keras.losses.CategoricalCrossentropy(label_smoothing=cfg.label_smoothing)


def _make_distiller(keras: Any, student: Any, output: str, cfg: TrainConfig) -> Any:
    """Wrap a student in a Keras model whose loss mixes hard labels with a teacher's soft labels.

    Training batches carry ``y = {"label": hard, "teacher": teacher probabilities}``;
    the loss is ``alpha * CE(label, student) + (1 - alpha) * T^2 * KL(soft(teacher) || soft(student))``
    where ``soft(p) = softmax(log(p) / T)``. Validation batches carry plain labels
    and get the plain cross-entropy. Only the student is ever saved.
    """
    ops = keras.ops
    alpha = float(cfg.distill_alpha)
    temp = float(cfg.distill_temperature)
    hard_loss = _hard_loss(keras, output, cfg)
    kl = keras.losses.KLDivergence()

    def two_class(p: Any) -> Any:
        return ops.concatenate([1.0 - p, p], axis=-1) if output == "sigmoid" else p

    def soften(p: Any) -> Any:
        return ops.softmax(ops.log(ops.clip(two_class(p), 1e-7, 1.0)) / temp, axis=-1)

    class _Distiller(keras.Model):
        def __init__(self, student: Any) -> None:
            super().__init__(name="distiller")
            self.student = student

        def call(self, x: Any, training: bool = False) -> Any:
            return self.student(x, training=training)

        def compute_loss(self, x: Any = None, y: Any = None, y_pred: Any = None, sample_weight: Any = None, training: bool = True) -> Any:
            if isinstance(y, dict):
                loss = alpha * hard_loss(y["label"], y_pred, sample_weight)
                if alpha < 1.0:
                    soft_t = soften(y["teacher"] if output != "sigmoid" else y["teacher"][:, 1:])
                    loss = loss + (1.0 - alpha) * temp**2 * kl(soft_t, soften(y_pred), sample_weight)
            else:
                loss = hard_loss(y, y_pred, sample_weight)
            for extra in self.losses:
                loss = loss + ops.sum(extra)
            return loss

        def compute_metrics(self, x: Any, y: Any, y_pred: Any, sample_weight: Any = None) -> Any:
            return super().compute_metrics(x, y["label"] if isinstance(y, dict) else y, y_pred, sample_weight)

    return _Distiller(student)


def _teacher_probs(teacher: Any, labels: Sequence[str], data: FERDataset, student_ds: FERDataset, cfg: TrainConfig, progress: bool) -> tuple[np.ndarray, str]:
    """The teacher's probabilities on the unmasked rows matching ``student_ds`` (joined by ``ids``)."""
    from .evaluation import predict_scores

    if isinstance(teacher, (str, os.PathLike)):
        from .bundle import load_bundle

        tmodel, tinfo = load_bundle(teacher)
        if [s.lower() for s in tinfo.labels] != [s.lower() for s in labels]:
            raise DataFormatError(f"the teacher bundle predicts {tinfo.labels} but the data has the classes {list(labels)}")
        desc = f"bundle '{teacher}'"
    else:
        tmodel = getattr(teacher, "model", teacher)
        if not hasattr(tmodel, "predict"):
            raise FermaskError(f"teacher must be a Keras model, a bundle folder or a Predictor, got {type(teacher).__name__}")
        desc = f"model '{getattr(tmodel, 'name', 'teacher')}'"
    _check_outputs(tmodel, len(labels), "the teacher")
    if list(data.label_names) != list(labels):
        raise DataFormatError(f"teacher_data has the classes {list(data.label_names)} but the training data has {list(labels)}")
    pos = {int(i): j for j, i in enumerate(data.ids)}
    if len(pos) != len(data):
        raise DataFormatError("teacher_data has repeated ids; pass the unmasked dataset the masked one was made from")
    missing = [int(i) for i in student_ds.ids if int(i) not in pos]
    if missing:
        raise DataFormatError(
            f"{len(missing)} training images (ids {missing[:5]}...) have no unmasked counterpart in teacher_data; "
            "pass the dataset the masked data was made from (rows are joined by their ids)"
        )
    rows = np.array([pos[int(i)] for i in student_ds.ids], dtype=np.int64)
    src = data.select(rows)
    if not np.array_equal(src.labels, student_ds.labels):
        raise DataFormatError("teacher_data's labels differ from the training data's on the same ids; are they the same images?")
    scores = predict_scores(tmodel, src, batch_size=cfg.batch_size, progress=progress).astype(np.float32)
    if scores.shape[1] == 1:
        scores = np.concatenate([1.0 - scores, scores], axis=1)
    return scores, desc


# =========================================================================== callbacks and files
def _callbacks_module() -> Any:
    from ._tf import keras_module

    keras = keras_module()

    class EpochFiles(keras.callbacks.Callback):  # type: ignore[name-defined]
        """After every epoch: append to the history, rewrite history.json, save checkpoints/last.keras."""

        def __init__(self, out: Path | None, save_model: Any, write: bool) -> None:
            super().__init__()
            self.out = out
            self.save_model = save_model
            self.write = write
            self.history: dict[str, list[float]] = {}
            self.epochs_done = 0

        def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            for k, v in (logs or {}).items():
                try:
                    self.history.setdefault(k, []).append(float(v))
                except (TypeError, ValueError):
                    pass
            lr = getattr(getattr(self.model, "optimizer", None), "learning_rate", None)
            if lr is not None:
                try:
                    self.history.setdefault("learning_rate", []).append(float(np.asarray(lr)))
                except (TypeError, ValueError):
                    pass
            self.epochs_done = epoch + 1
            if self.out is None or not self.write:
                return
            write_json_atomic(self.out / "history.json", self.history)
            ckpt = self.out / "checkpoints"
            ckpt.mkdir(exist_ok=True)
            tmp = ckpt / "last.partial.keras"
            self.save_model.save(tmp)
            os.replace(tmp, ckpt / "last.keras")

    return EpochFiles


def _prepare_out_dir(out_dir: str | os.PathLike[str], overwrite: bool) -> Path:
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise FermaskError(f"out_dir '{out}' exists and is not a folder")
    existing = [name for name in RUN_FILES if (out / name).exists()]
    if existing and not overwrite:
        raise FermaskError(
            f"'{out}' already holds a training run ({', '.join(existing)}); choose another out_dir, "
            "or pass overwrite=True (--overwrite) to replace that run's files (other files are left alone)"
        )
    for name in existing:
        p = out / name
        if p.is_dir():
            shutil.rmtree(p)
        else:
            p.unlink()
    out.mkdir(parents=True, exist_ok=True)
    return out


def _is_chief(strategy: Any) -> bool:
    """Whether this process writes the run's files (only one worker of a multi-worker run does)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None:
        return True
    task_type = getattr(resolver, "task_type", None)
    task_id = getattr(resolver, "task_id", 0) or 0
    if task_type in (None, "chief"):
        return True
    if task_type == "worker" and task_id == 0:
        return "chief" not in resolver.cluster_spec().as_dict()
    return False


def _resolve_strategy(strategy: Any) -> Any:
    if strategy is None or not isinstance(strategy, str):
        return strategy
    from ._tf import tf_module

    tf = tf_module()
    key = strategy.strip().lower().replace("-", "_")
    if key == "mirrored":
        return tf.distribute.MirroredStrategy()
    if key in ("multi_worker", "multi_worker_mirrored", "multiworker"):
        return tf.distribute.MultiWorkerMirroredStrategy()
    if key in ("default", "none"):
        return tf.distribute.get_strategy()
    raise FermaskError(
        f"unknown strategy {strategy!r}; pass 'mirrored', 'multi_worker_mirrored' or a tf.distribute.Strategy object"
    )


# =========================================================================== plots
def plot_history(history: Mapping[str, Sequence[float]], *, title: str | None = None) -> Figure:
    """Learning curves: loss and accuracy per epoch, training and validation (needs the ``plot`` extra).

    Args:
        history: ``{metric: [value per epoch]}``, as in ``TrainResult.history``
            or a run's ``history.json``.
        title: A title over the figure.

    Returns:
        A matplotlib ``Figure`` (no window is opened).

    Examples:
        >>> fig = plot_history({"loss": [1.2, 0.9], "val_loss": [1.3, 1.1],
        ...                     "accuracy": [0.4, 0.6], "val_accuracy": [0.35, 0.5]})
        >>> len(fig.axes)
        2
    """
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise missing_dependency("matplotlib", "plot", "plotting learning curves") from None
    panels = [k for k in ("loss", "accuracy") if k in history]
    if not panels:
        raise DataFormatError(f"the history has neither 'loss' nor 'accuracy' (keys: {sorted(history)})")
    fig = Figure(figsize=(5 * len(panels), 3.5), layout="constrained")
    for i, key in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), i + 1)
        for prefix, name, style in (("", "training", "-"), ("val_", "validation", "--")):
            vals = history.get(prefix + key)
            if vals:
                ax.plot(range(1, len(vals) + 1), vals, style, marker="o" if len(vals) < 30 else None, label=name)
        ax.set_xlabel("epoch")
        ax.set_ylabel(key)
        if key == "accuracy":
            ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    return fig


# =========================================================================== train
def train(
    data: Any,
    config: TrainConfig | Mapping[str, Any] | str | os.PathLike[str] | None = None,
    *,
    out_dir: str | os.PathLike[str] | None = None,
    validation: Any = None,
    model: Any = None,
    strategy: Any = None,
    teacher: Any = None,
    teacher_data: Any = None,
    masking: dict[str, Any] | None = None,
    labels: Sequence[str] | None = None,
    overwrite: bool = False,
    progress: bool = True,
    callbacks: Sequence[Any] = (),
    **overrides: Any,
) -> TrainResult:
    """Train a model and (with ``out_dir``) write its bundle, config, history and curves.

    Args:
        data: The training data: a :class:`~fermask.FERDataset` (masked or
            not) or an ``(images, labels)`` pair of arrays (uint8 or 0-255
            floats; integer or one-hot labels).
        config: A :class:`TrainConfig`, its dict, or the path of a
            ``config.json`` (to repeat a run). ``None`` uses the defaults.
        out_dir: The run folder (see the module docs); ``None`` writes nothing.
            A folder that already holds a run is refused unless ``overwrite``.
        validation: Validation data (a FERDataset or an arrays pair), or a
            fraction of ``data`` to hold out (stored in the config as
            ``validation_fraction``), or ``None``.
        model: A registered model name (same as the ``model`` config field),
            or a ready Keras model to train instead of building
            ``config.model`` (e.g. a second fine-tuning stage), whose input
            takes pixel values 0-255.
        strategy: A ``tf.distribute`` strategy (or ``"mirrored"`` /
            ``"multi_worker_mirrored"``); the model is built and compiled in
            its scope. ``batch_size`` is then the global batch.
        teacher: Distillation: a Keras model, a bundle folder or a Predictor
            that sees the *unmasked* faces; ``data`` holds the *masked* ones.
        teacher_data: Distillation: the unmasked dataset ``data`` was masked
            from (rows are joined by ``ids``).
        masking: The Masker configuration to record in the bundle; defaults to
            ``data.masking``.
        labels: Class names for array data (default: the seven emotions).
        overwrite: Replace a previous run's files in ``out_dir``.
        progress: Show Keras progress bars.
        callbacks: Extra Keras callbacks (e.g. ``keras.callbacks.TensorBoard``).
        **overrides: Any :class:`TrainConfig` field, overriding ``config``
            (``train(ds, epochs=5, model="happy_binary")``).

    Returns:
        A :class:`TrainResult`. Its ``metrics`` hold ``epochs_run``,
        ``loss``/``accuracy`` of the last epoch as Keras reported them
        (with dropout and augmentation active) and, with validation data,
        ``val_loss``/``val_accuracy``/``val_macro_f1`` of the final model.

    Raises:
        FermaskError: A bad config, data that does not fit the model, or an
            ``out_dir`` that already holds a run.

    Examples:
        >>> import fermask
        >>> from fermask.data import make_synthetic_fer
        >>> train_ds, dev = make_synthetic_fer(700, seed=0).split(fraction=0.1)  # doctest: +SKIP
        >>> result = fermask.train(train_ds, validation=dev, epochs=5, out_dir="runs/demo")  # doctest: +SKIP
        >>> result.metrics["val_accuracy"] > 1 / 7  # doctest: +SKIP
        True
    """
    # ---- configuration
    if config is None:
        cfg = TrainConfig()
    elif isinstance(config, TrainConfig):
        cfg = config
    elif isinstance(config, Mapping):
        cfg = TrainConfig.from_dict(config)
    elif isinstance(config, (str, os.PathLike)):
        cfg = TrainConfig.from_json(config)
    else:
        raise FermaskError(f"config must be a TrainConfig, a dict or a config.json path, got {type(config).__name__}")
    if isinstance(model, str):  # a registry name: the config's model
        overrides["model"] = model
        model = None
    if overrides:
        known = {f.name for f in fields(TrainConfig)}
        for key in overrides:
            if key not in known:
                close = difflib.get_close_matches(key, sorted(known), n=1)
                hint = f" Did you mean {close[0]!r}?" if close else ""
                raise FermaskError(f"train() got an unexpected argument {key!r}.{hint}")
        cfg = replace(cfg, **overrides)
    if isinstance(validation, float):
        cfg = replace(cfg, validation_fraction=validation)
        validation = None
    notes: list[str] = []

    # ---- data
    train_ds = _as_dataset(data, labels, "training")
    if len(train_ds) == 0:
        raise DataFormatError("the training data is empty")
    if (train_ds.labels < 0).any():
        raise DataFormatError(f"{int((train_ds.labels < 0).sum())} training images have no label (-1); drop them first")
    val_ds = None if validation is None else _as_dataset(validation, list(train_ds.label_names), "validation")
    if val_ds is None and cfg.validation_fraction is not None:
        train_ds, val_ds = train_ds.split(fraction=cfg.validation_fraction, seed=cfg.seed)
    if val_ds is not None and list(val_ds.label_names) != list(train_ds.label_names):
        raise DataFormatError(f"validation classes {list(val_ds.label_names)} differ from training classes {list(train_ds.label_names)}")
    k = train_ds.num_classes
    names = list(train_ds.label_names)
    if teacher is not None and teacher_data is None:
        raise FermaskError(
            "distillation needs the unmasked images the teacher sees: pass teacher_data=<the dataset before masking> "
            "(train on its masked copy, e.g. ds.mask(masker, on_no_face='keep'))"
        )
    if teacher_data is not None and teacher is None:
        raise FermaskError("teacher_data was given without a teacher model")

    # ---- TensorFlow setup
    from ._tf import keras_module, tf_module

    keras = keras_module()
    tf = tf_module()
    from .models import bundle_fields, create_model, model_defaults

    strategy = _resolve_strategy(strategy)
    # ---- output folder (only the chief of a multi-worker run writes)
    chief = strategy is None or _is_chief(strategy)
    out = _prepare_out_dir(out_dir, overwrite) if out_dir is not None and chief else None
    writer = out is not None

    keras.utils.set_random_seed(int(cfg.seed))
    if cfg.deterministic:
        tf.config.experimental.enable_op_determinism()

    scope = strategy.scope() if strategy is not None else _NullScope()
    with scope:
        if model is None:
            defaults = model_defaults(cfg.model)
            shape = _input_shape(cfg, defaults)
            num = k if defaults["output"] == "softmax" else 2
            net = create_model(cfg.model, num_classes=num, input_shape=shape, **cfg.model_options)
            model_name = cfg.model
        else:
            net = model
            model_name = getattr(model, "name", "model")
            shape = tuple(int(v) for v in model.input_shape[1:])  # type: ignore[assignment]
            notes.append(f"a prebuilt model ({model_name!r}) was trained; config.model alone does not rebuild it")
        output = _check_outputs(net, k, f"the model {model_name!r}")
        label_mode = _label_mode(output, train_ds)
        steps = max(1, math.ceil(len(train_ds) / cfg.batch_size))
        teacher_probs = None
        teacher_desc = None
        if teacher is not None:
            tdata = _as_dataset(teacher_data, names, "teacher")
            teacher_probs, teacher_desc = _teacher_probs(teacher, names, tdata, train_ds, cfg, progress)
            fit_model = _make_distiller(keras, net, output, cfg)
            loss = None
        else:
            fit_model = net
            loss = _hard_loss(keras, output, cfg)
        metrics: list[Any] = [keras.metrics.BinaryAccuracy(name="accuracy") if output == "sigmoid" else keras.metrics.CategoricalAccuracy(name="accuracy")]
        fit_model.compile(
            optimizer=_optimizer(keras, cfg, steps),
            loss=loss,
            metrics=metrics,
            jit_compile=bool(cfg.jit_compile),
            steps_per_execution=int(cfg.steps_per_execution),
            run_eagerly=bool(cfg.run_eagerly),
        )

    cw = _resolve_class_weights(cfg, train_ds)
    train_tf = _pipeline(train_ds, cfg, shape, label_mode, training=True, class_weights=cw, teacher_probs=teacher_probs)
    val_tf = None
    if val_ds is not None:
        val_mode: _LabelMode = "categorical" if label_mode == "soft" and val_ds.soft_labels is None else label_mode
        val_tf = _pipeline(val_ds, cfg, shape, val_mode, training=False)

    monitor = cfg.monitor if cfg.monitor != "auto" else ("val_loss" if val_tf is not None else "loss")
    EpochFiles = _callbacks_module()
    recorder = EpochFiles(out, net, writer)
    all_callbacks: list[Any] = [recorder]
    if cfg.early_stopping is not None:
        all_callbacks.append(keras.callbacks.EarlyStopping(monitor=monitor, patience=int(cfg.early_stopping), restore_best_weights=True, verbose=1 if progress else 0))
    if cfg.schedule == "plateau":
        all_callbacks.append(keras.callbacks.ReduceLROnPlateau(monitor=monitor, factor=0.1, patience=cfg.plateau_patience, verbose=1 if progress else 0))

    all_callbacks.extend(callbacks)
    data_info = {
        "train": {"n": len(train_ds), "source": train_ds.source, "class_counts": train_ds.class_counts()},
        "validation": None if val_ds is None else {"n": len(val_ds), "source": val_ds.source, "class_counts": val_ds.class_counts()},
        "labels": names,
        "teacher": teacher_desc,
    }
    versions = {"fermask": _version(), "keras": keras.__version__, "tensorflow": tf.__version__}
    if writer and out is not None:
        cfg.to_json(out / "config.json")
        write_json_atomic(out / "run.json", {"status": "running", "started": _now(), "data": data_info, "versions": versions, "model": model_name})

    # ---- fit
    interrupted = False
    t0 = time.perf_counter()
    verbose = (1 if sys.stdout.isatty() else 2) if progress else 0
    try:
        fit_model.fit(train_tf, validation_data=val_tf, epochs=int(cfg.epochs), callbacks=all_callbacks, verbose=verbose, shuffle=False)
    except KeyboardInterrupt:
        interrupted = True
        notes.append(
            f"interrupted by the user after {recorder.epochs_done} finished epoch(s); the bundle holds the weights "
            "at the moment of the interruption, checkpoints/last.keras those of the last finished epoch"
        )
    seconds = time.perf_counter() - t0
    history = recorder.history

    # ---- metrics
    final: dict[str, Any] = {"epochs_run": recorder.epochs_done, "fit_seconds": round(seconds, 2), "interrupted": interrupted}
    for key in ("loss", "accuracy"):
        if history.get(key):
            final[key] = history[key][-1]
    if history.get("val_loss") and cfg.early_stopping is not None:
        best = int(np.argmin(history["val_loss"])) if monitor == "val_loss" else None
        if best is not None:
            final["best_epoch"] = best + 1
    report = None
    if val_ds is not None and not interrupted:
        from .evaluation import predict_scores, report_from_predictions

        scores = predict_scores(net, val_ds, batch_size=cfg.batch_size)
        report = report_from_predictions(
            val_ds.labels, scores, names, styles=val_ds.styles, model=f"model '{model_name}'", data=f"{val_ds.source} (n={len(val_ds)})"
        )
        final["val_accuracy"] = report.accuracy
        final["val_macro_f1"] = report.macro_f1
        if report.top2_accuracy is not None:
            final["val_top2_accuracy"] = report.top2_accuracy
        if history.get("val_loss"):
            final["val_loss_last_epoch"] = history["val_loss"][-1]

    # ---- files
    bundle_path = None
    if writer and out is not None:
        from .bundle import BundleInfo, save_bundle

        extra = {"interrupted": interrupted, "data": data_info, "versions": versions}
        if teacher_desc:
            extra["distilled_from"] = teacher_desc
        fields_ = bundle_fields(net, name=model_name)
        info = BundleInfo(
            labels=names,
            masking=masking if masking is not None else train_ds.masking,
            train_config=cfg.to_dict(),
            metrics=final,
            extra=extra,
            **fields_,
        )
        bundle_path = save_bundle(out / "bundle", net, info)
        write_json_atomic(out / "history.json", history)
        if report is not None:
            report.save(out, stem="evaluation")
        if history:
            try:
                fig = plot_history(history, title=f"{model_name} ({train_ds.source[:60]})")
            except FermaskError:
                notes.append("curves.png was not drawn: plotting needs matplotlib, pip install 'fermask[plot]'")
            else:
                fig.savefig(out / "curves.png", dpi=100)
        write_json_atomic(
            out / "run.json",
            {
                "status": "interrupted" if interrupted else "finished",
                "finished": _now(),
                "data": data_info,
                "versions": versions,
                "model": model_name,
                "metrics": final,
                "notes": notes,
            },
        )
    return TrainResult(
        model=net,
        history=history,
        metrics=final,
        config=cfg,
        out_dir=out,
        bundle_path=bundle_path,
        evaluation=report,
        interrupted=interrupted,
        notes=notes,
    )


class _NullScope:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: Any) -> None:
        return None


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


def _version() -> str:
    from ._version import __version__

    return __version__
