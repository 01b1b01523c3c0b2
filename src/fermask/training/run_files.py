"""The files a training run writes in its ``out_dir`` (see :mod:`fermask.training`)."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .._files import write_json_atomic
from .._version import __version__
from ..errors import FermaskError
from ..plots import plot_history

if TYPE_CHECKING:  # pragma: no cover
    from ..data import FERDataset
    from ..evaluation import EvaluationReport
    from .config import TrainConfig

__all__ = ["RUN_FILES", "prepare_out_dir", "epoch_recorder", "versions", "data_info", "write_run_start", "RunRecord", "write_run_end",
           "curves_title", "run_label"]

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


def prepare_out_dir(
    out_dir: str | os.PathLike[str], overwrite: bool, inputs: Sequence[str | os.PathLike[str]] = ()
) -> Path:
    """Create the run folder; refuse one that holds a run, unless ``overwrite`` (which removes only :data:`RUN_FILES`).

    An input (a teacher bundle, data) inside one of the run's files is
    always refused: replacing that run would delete it. A symbolic link
    among the run's files is removed, never what it points to.
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise FermaskError(f"out_dir '{out}' exists and is not a folder")
    existing = [name for name in RUN_FILES if os.path.lexists(out / name)]
    for item in inputs:
        real = os.path.realpath(item)
        for name in existing:
            held = os.path.realpath(out / name)
            if real == held or real.startswith(held.rstrip(os.sep) + os.sep):
                raise FermaskError(
                    f"the input '{item}' is part of the run in '{out}' ({name}), which this run would replace; "
                    "copy it elsewhere first, or choose another out_dir"
                )
    if existing and not overwrite:
        raise FermaskError(
            f"'{out}' already holds a training run ({', '.join(existing)}); choose another out_dir, "
            "or pass overwrite=True (--overwrite) to replace that run's files (other files are left alone)"
        )
    for name in existing:
        p = out / name
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p)
        else:
            p.unlink()
    out.mkdir(parents=True, exist_ok=True)
    return out


def epoch_recorder(out: Path | None, save_model: Any) -> Any:
    """A Keras callback that, after every epoch, appends to its ``history`` and counts ``epochs_done``.

    With an ``out`` folder it also rewrites ``history.json`` and saves
    ``checkpoints/last.keras`` (to a temporary file, then renamed).
    """
    from .._tf import keras_module

    keras = keras_module()

    class EpochFiles(keras.callbacks.Callback):  # type: ignore[name-defined]
        """After every epoch: append to the history, rewrite history.json, save checkpoints/last.keras."""

        def __init__(self) -> None:
            super().__init__()
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
            if out is None:
                return
            write_json_atomic(out / "history.json", self.history)
            ckpt = out / "checkpoints"
            ckpt.mkdir(exist_ok=True)
            tmp = ckpt / "last.partial.keras"
            save_model.save(tmp)
            os.replace(tmp, ckpt / "last.keras")

    return EpochFiles()


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


def versions(keras: Any, tf: Any) -> dict[str, str]:
    """The versions of fermask, Keras and TensorFlow, for ``run.json`` and the bundle."""
    return {"fermask": __version__, "keras": keras.__version__, "tensorflow": tf.__version__}


def data_info(train_ds: FERDataset, val_ds: FERDataset | None, teacher: str | None) -> dict[str, Any]:
    """What the run trained and validated on, for ``run.json`` and the bundle."""
    return {
        "train": {"n": len(train_ds), "source": train_ds.source, "class_counts": train_ds.class_counts()},
        "validation": None if val_ds is None else {"n": len(val_ds), "source": val_ds.source, "class_counts": val_ds.class_counts()},
        "labels": list(train_ds.label_names),
        "teacher": teacher,
    }


def write_run_start(out: Path, cfg: TrainConfig, data: Mapping[str, Any], versions: Mapping[str, str], model_name: str) -> None:
    """``config.json`` and a ``run.json`` with status ``running``."""
    cfg.to_json(out / "config.json")
    write_json_atomic(out / "run.json", {"status": "running", "started": _now(), "data": data, "versions": versions, "model": model_name})


@dataclass
class RunRecord:
    """What a finished run produced: everything :func:`write_run_end` writes.

    Attributes:
        net: The trained network (for distillation: the student), saved in the bundle.
        model_name: Its name, for the bundle, ``run.json`` and the curves' title.
        config: The run's :class:`~fermask.TrainConfig`.
        data: What it trained and validated on (:func:`data_info`).
        versions: fermask, Keras and TensorFlow versions (:func:`versions`).
        history: ``{metric: [value per epoch]}``.
        metrics: The final metrics.
        interrupted: ``True`` when Ctrl-C stopped the fit.
        notes: Remarks about the run (:func:`write_run_end` may add one).
        report: The final model's evaluation on the validation data, or ``None``.
        bundle: :class:`~fermask.BundleInfo` fields this run sets beyond those
            the network and the data determine (``masking``, ``face_margin``).
        extra: Metadata added to the bundle's ``extra`` (e.g. where an adapted
            model came from).
    """

    net: Any
    model_name: str
    config: TrainConfig
    data: Mapping[str, Any]
    versions: Mapping[str, str]
    history: dict[str, list[float]]
    metrics: dict[str, Any]
    interrupted: bool = False
    notes: list[str] = field(default_factory=list)
    report: EvaluationReport | None = None
    bundle: Mapping[str, Any] = field(default_factory=dict)
    extra: Mapping[str, Any] = field(default_factory=dict)


def write_run_end(out: Path, record: RunRecord) -> Path:
    """The bundle, ``history.json``, the evaluation, ``curves.png`` and the final ``run.json``; returns the bundle folder.

    The bundle's labels come from ``record.data``, its ``extra`` holds the
    data, versions, ``interrupted``, the teacher (``distilled_from``) and
    ``record.extra``. A remark goes to ``record.notes`` when the curves cannot
    be drawn.
    """
    from ..bundle import BundleInfo, save_bundle
    from ..models import bundle_fields

    r = record
    extra: dict[str, Any] = {"interrupted": r.interrupted, "data": r.data, "versions": r.versions}
    if r.data.get("teacher"):
        extra["distilled_from"] = r.data["teacher"]
    extra.update(r.extra)
    fields: dict[str, Any] = {"labels": list(r.data["labels"]), **bundle_fields(r.net, name=r.model_name), **r.bundle}
    info = BundleInfo(train_config=r.config.to_dict(), metrics=r.metrics, extra=extra, **fields)
    bundle_path = save_bundle(out / "bundle", r.net, info)
    write_json_atomic(out / "history.json", r.history)
    if r.report is not None:
        r.report.save(out, stem="evaluation", name=run_label(out, r))
    if r.history:
        try:
            fig = plot_history(r.history, title=curves_title(out, r))
        except FermaskError:
            r.notes.append("curves.png was not drawn: plotting needs matplotlib, pip install 'fermask[plot]'")
        else:
            fig.savefig(out / "curves.png", dpi=100)
    status = "interrupted" if r.interrupted else "finished"
    write_json_atomic(
        out / "run.json",
        {"status": status, "finished": _now(), "data": r.data, "versions": r.versions, "model": r.model_name,
         "metrics": r.metrics, "notes": r.notes},
    )
    return bundle_path


def run_label(out: Path, record: RunRecord) -> str:
    """A run named by its folder and model (``run teacher: shallow_cnn``; the model alone when they are the same)."""
    run_name = out.resolve().name
    return record.model_name if run_name == record.model_name else f"run {run_name}: {record.model_name}"


def curves_title(out: Path, record: RunRecord) -> str:
    """The title of a run's ``curves.png``: which run and model (and teacher), then what it trained on.

    The run is named by its folder, so a teacher's curves and its students'
    (``runs/distil/teacher``, ``runs/distil/student``) tell themselves apart.

    Examples:
        >>> from types import SimpleNamespace
        >>> r = SimpleNamespace(model_name="shallow_cnn", data={"train": {"source": "fer2013.csv | masked"},
        ...                                                     "teacher": "bundle 'runs/distil/teacher/bundle'"})
        >>> print(curves_title(Path("runs/distil/student"), r))
        run student: shallow_cnn, distilled from bundle 'runs/distil/teacher/bundle'
        trained on fer2013.csv | masked
    """
    head = run_label(out, record)
    if record.data.get("teacher"):
        head += f", distilled from {record.data['teacher']}"
    return f"{head}\ntrained on {record.data['train']['source']}"
