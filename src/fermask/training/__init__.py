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

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._choices import OPTIMIZERS, SCHEDULES
from ..data.dataset import FERDataset
from ..plots import plot_history
from .config import TrainConfig, TrainResult, resolve_config
from .distill import check_teacher_arguments, teacher_probabilities
from .fitting import final_metrics, validation_report
from .modeling import build_model
from .pipeline import fit_pipelines, label_mode, prepare_data
from .run import Fitted, Measured, RunModel, run_training
from .run_files import RUN_FILES

__all__ = ["TrainConfig", "TrainResult", "train", "plot_history", "RUN_FILES", "OPTIMIZERS", "SCHEDULES"]


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
    cfg, model, validation = resolve_config(config, model=model, validation=validation, overrides=overrides)
    train_ds, val_ds = prepare_data(data, validation, cfg, labels)
    check_teacher_arguments(teacher, teacher_data)
    job = _TrainJob(cfg, model, train_ds, val_ds, teacher, teacher_data, masking, progress)
    run = run_training(cfg, job, out_dir=out_dir, overwrite=overwrite, strategy=strategy, progress=progress, callbacks=callbacks)
    r = run.record
    return TrainResult(
        model=r.net, history=r.history, metrics=r.metrics, config=cfg, out_dir=run.out_dir, bundle_path=run.bundle_path,
        evaluation=r.report, interrupted=r.interrupted, notes=r.notes,
    )


@dataclass
class _TrainJob:
    """:func:`train`'s steps in the shared run sequence (:func:`~fermask.training.run.run_training`)."""

    cfg: TrainConfig
    model: Any
    train_ds: FERDataset
    val_ds: FERDataset | None
    teacher: Any
    teacher_data: Any
    masking: dict[str, Any] | None
    progress: bool
    shape: tuple[int, int, int] = (0, 0, 0)
    teacher_probs: np.ndarray | None = None

    def build(self, notes: list[str]) -> RunModel:
        """Build ``cfg.model`` (or adopt the given model); with a teacher, its probabilities on the unmasked faces."""
        net, name, self.shape, output = build_model(self.cfg, self.model, self.train_ds.num_classes, notes)
        teacher_desc = None
        if self.teacher is not None:
            self.teacher_probs, teacher_desc = teacher_probabilities(
                self.teacher, self.teacher_data, self.train_ds, self.cfg, self.progress
            )
        return RunModel(net, name, output, self.train_ds, self.val_ds, teacher=teacher_desc)

    def inputs(self, model: RunModel) -> tuple[Any, Any]:
        """The training pipeline (class weights, teacher targets in each batch) and the validation one."""
        mode = label_mode(model.output, self.train_ds)
        return fit_pipelines(self.train_ds, self.val_ds, self.cfg, self.shape, mode, self.teacher_probs)

    def measure(self, model: RunModel, fitted: Fitted) -> Measured:
        """The final metrics and, unless interrupted, the evaluation on the validation data."""
        final = final_metrics(fitted.history, fitted.epochs_done, fitted.seconds, fitted.interrupted, self.cfg, fitted.monitor)
        report = None
        if self.val_ds is not None and not fitted.interrupted:
            report = validation_report(model.net, self.val_ds, model.name, self.cfg, fitted.history, final)
        return Measured(final, report, bundle={"masking": self.masking})
