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
from typing import Any

from .._choices import OPTIMIZERS, SCHEDULES
from .config import TrainConfig, TrainResult, resolve_config
from ..plots import plot_history
from .distill import check_teacher_arguments, make_distiller, teacher_probabilities
from .fitting import config_callbacks, final_metrics, fit, monitored, validation_report
from .modeling import build_model, compile_model
from .pipeline import fit_pipelines, label_mode, prepare_data
from .run_files import RUN_FILES, data_info, epoch_recorder, prepare_out_dir, versions, write_run_end, write_run_start
from .strategy import is_chief, resolve_strategy, strategy_scope

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
    notes: list[str] = []

    from .._tf import keras_module, tf_module

    keras, tf = keras_module(), tf_module()
    strategy = resolve_strategy(strategy)
    # only the chief of a multi-worker run writes files
    out = prepare_out_dir(out_dir, overwrite) if out_dir is not None and is_chief(strategy) else None
    keras.utils.set_random_seed(int(cfg.seed))
    if cfg.deterministic:
        tf.config.experimental.enable_op_determinism()

    with strategy_scope(strategy):
        net, model_name, shape, output = build_model(cfg, model, train_ds.num_classes, notes)
        teacher_probs, teacher_desc = None, None
        if teacher is not None:
            teacher_probs, teacher_desc = teacher_probabilities(teacher, teacher_data, train_ds, cfg, progress)
        fit_model = make_distiller(keras, net, output, cfg) if teacher is not None else net
        compile_model(keras, fit_model, output, cfg, len(train_ds), distilling=teacher is not None)

    train_tf, val_tf = fit_pipelines(train_ds, val_ds, cfg, shape, label_mode(output, train_ds), teacher_probs)
    monitor = monitored(cfg, val_tf is not None)
    recorder = epoch_recorder(out, net)
    all_callbacks = [recorder, *config_callbacks(keras, cfg, monitor, progress), *callbacks]
    data_desc = data_info(train_ds, val_ds, teacher_desc)
    run_versions = versions(keras, tf)
    if out is not None:
        write_run_start(out, cfg, data_desc, run_versions, model_name)

    interrupted, seconds = fit(fit_model, train_tf, val_tf, cfg, all_callbacks, recorder, progress, notes)
    history = recorder.history
    final = final_metrics(history, recorder.epochs_done, seconds, interrupted, cfg, monitor)
    report = validation_report(net, val_ds, model_name, cfg, history, final) if val_ds is not None and not interrupted else None

    bundle_path = None
    if out is not None:
        bundle_path = write_run_end(
            out, net, model_name=model_name, cfg=cfg, train_ds=train_ds, masking=masking, data=data_desc,
            versions=run_versions, history=history, metrics=final, report=report, interrupted=interrupted, notes=notes,
        )
    return TrainResult(
        model=net, history=history, metrics=final, config=cfg, out_dir=out, bundle_path=bundle_path,
        evaluation=report, interrupted=interrupted, notes=notes,
    )
