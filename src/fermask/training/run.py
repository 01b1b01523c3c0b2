"""The one sequence of a training run, shared by :func:`~fermask.train` and :func:`~fermask.adapt`.

:func:`run_training` does, in this order: seed, prepare the run folder, let
the job build its network (inside the strategy's scope), wrap it in the
distiller when it learns from a teacher, compile, let the job build its input
pipelines, record each epoch, write ``config.json`` and ``run.json``, fit
(Ctrl-C stops it cleanly), let the job measure the result, and write the
bundle, history, curves and final ``run.json``.

What differs between kinds of run is a :class:`RunJob`'s three steps:
``build`` (network and data), ``inputs`` (tf.data pipelines) and ``measure``
(final metrics, report, bundle fields). A new kind of run is a new job, not
a new copy of the sequence.

Examples:
    >>> from fermask.training.run import RunModel
    >>> RunModel(net=None, name="student", output="softmax", train_ds=None, teacher="model 'teacher'").distilling
    True
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from .distill import make_distiller
from .fitting import config_callbacks, fit, monitored
from .modeling import compile_model
from .run_files import RunRecord, data_info, epoch_recorder, prepare_out_dir, versions, write_run_end, write_run_start
from .strategy import is_chief, resolve_strategy, strategy_scope

if TYPE_CHECKING:  # pragma: no cover
    from ..data import FERDataset
    from ..evaluation import EvaluationReport
    from .config import TrainConfig

__all__ = ["RunModel", "Fitted", "Measured", "RunJob", "FinishedRun", "run_training"]


@dataclass
class RunModel:
    """What a job's ``build`` step gives the run: the network and the data it learns from.

    Attributes:
        net: The network to train and save.
        name: Its name in the bundle and ``run.json``.
        output: ``"softmax"`` or ``"sigmoid"``.
        train_ds: The training data (its size sets the steps per epoch).
        val_ds: The validation data, or ``None``.
        teacher: A description of the teacher whose probabilities come with
            each training batch (``y["teacher"]``), or ``None``: the run then
            fits the network itself rather than a distiller around it.
    """

    net: Any
    name: str
    output: str
    train_ds: FERDataset
    val_ds: FERDataset | None = None
    teacher: str | None = None

    @property
    def distilling(self) -> bool:
        """Whether the network learns from a teacher's targets."""
        return self.teacher is not None


@dataclass
class Fitted:
    """What fitting gave: the history, epochs done, seconds, whether Ctrl-C stopped it, the monitored value."""

    history: dict[str, list[float]]
    epochs_done: int
    seconds: float
    interrupted: bool
    monitor: str


@dataclass
class Measured:
    """What a job's ``measure`` step gives the run to write.

    Attributes:
        metrics: The final metrics (``run.json``, the bundle).
        report: An evaluation report to save beside the bundle, or ``None``.
        bundle: :class:`~fermask.BundleInfo` fields to set (``masking``,
            ``face_margin``); ``masking`` defaults to the training data's.
        extra: Metadata for the bundle's ``extra``.
    """

    metrics: dict[str, Any]
    report: EvaluationReport | None = None
    bundle: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


class RunJob(Protocol):
    """The steps that make one kind of run (plain training, adaptation) differ from another."""

    def build(self, notes: list[str]) -> RunModel:
        """The network and its data; called after seeding, inside the strategy's scope."""
        ...

    def inputs(self, model: RunModel) -> tuple[Any, Any]:
        """The training and validation tf.data pipelines (validation may be ``None``)."""
        ...

    def measure(self, model: RunModel, fitted: Fitted) -> Measured:
        """The final metrics (and report, bundle fields, extra metadata) of the fitted network."""
        ...


@dataclass
class FinishedRun:
    """What :func:`run_training` returns: the run's record and where it was written (``None``: nowhere)."""

    record: RunRecord
    out_dir: Path | None
    bundle_path: Path | None


def _seed(keras: Any, tf: Any, cfg: TrainConfig) -> None:
    keras.utils.set_random_seed(int(cfg.seed))
    if cfg.deterministic:
        tf.config.experimental.enable_op_determinism()


def run_training(
    cfg: TrainConfig,
    job: RunJob,
    *,
    out_dir: str | os.PathLike[str] | None = None,
    overwrite: bool = False,
    strategy: Any = None,
    progress: bool = True,
    callbacks: Sequence[Any] = (),
    inputs: Sequence[str | os.PathLike[str]] = (),
) -> FinishedRun:
    """Run one training run: the sequence in the module docs, with ``job``'s steps in their places.

    Args:
        cfg: The run's configuration (seed, optimizer, epochs, distillation
            weights); written to ``config.json``.
        job: Builds the network and its inputs, and measures the result.
        out_dir: The run folder; ``None`` writes nothing. Only the chief of
            a multi-worker run writes.
        overwrite: Replace a previous run's files in ``out_dir``.
        strategy: A ``tf.distribute`` strategy, its name, or ``None``.
        progress: Keras progress bars.
        callbacks: Extra Keras callbacks, after the epoch recorder and the
            config's early stopping and schedule.
        inputs: Files the run reads (a teacher bundle): refused when they
            lie inside the run ``out_dir`` would replace.

    Returns:
        A :class:`FinishedRun`.

    Raises:
        FermaskError: ``out_dir`` already holds a run (without ``overwrite``),
            or a job step refuses its data.
    """
    from .._tf import keras_module, tf_module

    keras, tf = keras_module(), tf_module()
    strategy = resolve_strategy(strategy)
    out = prepare_out_dir(out_dir, overwrite, inputs) if out_dir is not None and is_chief(strategy) else None
    _seed(keras, tf, cfg)
    notes: list[str] = []
    with strategy_scope(strategy):
        model = job.build(notes)
        fit_model = make_distiller(keras, model.net, model.output, cfg) if model.distilling else model.net
        compile_model(keras, fit_model, model.output, cfg, len(model.train_ds), distilling=model.distilling)
    train_tf, val_tf = job.inputs(model)

    monitor = monitored(cfg, val_tf is not None)
    recorder = epoch_recorder(out, model.net)
    data = data_info(model.train_ds, model.val_ds, model.teacher)
    run_versions = versions(keras, tf)
    if out is not None:
        write_run_start(out, cfg, data, run_versions, model.name)
    all_callbacks = [recorder, *config_callbacks(keras, cfg, monitor, progress), *callbacks]
    interrupted, seconds = fit(fit_model, train_tf, val_tf, cfg, all_callbacks, recorder, progress, notes)
    fitted = Fitted(recorder.history, recorder.epochs_done, seconds, interrupted, monitor)

    measured = job.measure(model, fitted)
    record = RunRecord(
        net=model.net, model_name=model.name, config=cfg, data=data, versions=run_versions, history=fitted.history,
        metrics=measured.metrics, interrupted=interrupted, notes=notes, report=measured.report,
        bundle=_bundle_fields(model, measured.bundle), extra=measured.extra,
    )
    bundle_path = write_run_end(out, record) if out is not None else None
    return FinishedRun(record, out, bundle_path)


def _bundle_fields(model: RunModel, fields: Mapping[str, Any]) -> dict[str, Any]:
    """The job's bundle fields, the training data's masking unless the job names one."""
    out = dict(fields)
    if out.get("masking") is None:
        out["masking"] = model.train_ds.masking
    return out
