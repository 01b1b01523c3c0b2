"""Fitting: the callbacks of a config, ``fit`` that stops cleanly on Ctrl-C, and the final metrics."""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .multi_worker import multi_worker_fit

if TYPE_CHECKING:  # pragma: no cover
    from ..data import FERDataset
    from ..evaluation import EvaluationReport
    from .config import TrainConfig

__all__ = ["monitored", "config_callbacks", "fit", "final_metrics", "validation_report"]


def monitored(cfg: TrainConfig, has_validation: bool) -> str:
    """The value early stopping and the plateau schedule watch (``"auto"``: ``val_loss`` with validation data)."""
    if cfg.monitor != "auto":
        return cfg.monitor
    return "val_loss" if has_validation else "loss"


def config_callbacks(keras: Any, cfg: TrainConfig, monitor: str, progress: bool) -> list[Any]:
    """Early stopping and the plateau schedule, as the config asks."""
    out: list[Any] = []
    if cfg.early_stopping is not None:
        out.append(keras.callbacks.EarlyStopping(monitor=monitor, patience=int(cfg.early_stopping), restore_best_weights=True, verbose=1 if progress else 0))
    if cfg.schedule == "plateau":
        out.append(keras.callbacks.ReduceLROnPlateau(monitor=monitor, factor=0.1, patience=cfg.plateau_patience, verbose=1 if progress else 0))
    return out


def fit(fit_model: Any, train_tf: Any, val_tf: Any, cfg: TrainConfig, callbacks: Sequence[Any], recorder: Any, progress: bool, notes: list[str]) -> tuple[bool, float]:
    """Fit; Ctrl-C stops it and adds a note. Returns ``(interrupted, seconds)``."""
    interrupted = False
    t0 = time.perf_counter()
    verbose = (1 if sys.stdout.isatty() else 2) if progress else 0
    try:
        with multi_worker_fit(fit_model, train_tf) as extra_callbacks:
            fit_model.fit(
                train_tf, validation_data=val_tf, epochs=int(cfg.epochs), callbacks=[*extra_callbacks, *callbacks], verbose=verbose, shuffle=False
            )
    except KeyboardInterrupt:
        interrupted = True
        notes.append(
            f"interrupted by the user after {recorder.epochs_done} finished epoch(s); the bundle holds the weights "
            "at the moment of the interruption, checkpoints/last.keras those of the last finished epoch"
        )
    return interrupted, time.perf_counter() - t0


def final_metrics(history: Mapping[str, list[float]], epochs_done: int, seconds: float, interrupted: bool, cfg: TrainConfig, monitor: str) -> dict[str, Any]:
    """``epochs_run``, ``fit_seconds``, ``interrupted``, the last epoch's ``loss``/``accuracy`` and ``best_epoch``."""
    final: dict[str, Any] = {"epochs_run": epochs_done, "fit_seconds": round(seconds, 2), "interrupted": interrupted}
    for key in ("loss", "accuracy"):
        if history.get(key):
            final[key] = history[key][-1]
    if history.get("val_loss") and cfg.early_stopping is not None and monitor == "val_loss":
        final["best_epoch"] = int(np.argmin(history["val_loss"])) + 1
    return final


def validation_report(
    net: Any, val_ds: FERDataset, model_name: str, cfg: TrainConfig, history: Mapping[str, list[float]], final: dict[str, Any]
) -> EvaluationReport:
    """Evaluate the final model on the validation data; add ``val_accuracy``, ``val_macro_f1``, ... to ``final``."""
    from ..evaluation import predict_scores, report_from_predictions

    scores = predict_scores(net, val_ds, batch_size=cfg.batch_size)
    report = report_from_predictions(
        val_ds.labels, scores, list(val_ds.label_names), styles=val_ds.styles, model=f"model '{model_name}'", data=f"{val_ds.source} (n={len(val_ds)})"
    )
    final["val_accuracy"] = report.accuracy
    final["val_macro_f1"] = report.macro_f1
    if report.top2_accuracy is not None:
        final["val_top2_accuracy"] = report.top2_accuracy
    if history.get("val_loss"):
        final["val_loss_last_epoch"] = history["val_loss"][-1]
    return report
