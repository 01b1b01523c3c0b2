"""Running a model over a dataset: :func:`evaluate` and :func:`predict_scores`.

:func:`evaluate` resolves a model, a bundle or a Predictor, checks that the
data's classes are the model's, runs the model and hands the scores to
:func:`~fermask.evaluation.report.report_from_predictions`.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .._choices import color_mode_of
from ..bundle import BundleInfo, resolve_model
from ..errors import DataFormatError, FermaskError
from ..labels import EMOTIONS
from .report import EvaluationReport, report_from_predictions

if TYPE_CHECKING:  # pragma: no cover
    from ..data import FERDataset

__all__ = ["evaluate", "predict_scores"]


def _known_labels(model: Any, info: BundleInfo | None, labels: Sequence[str] | None) -> list[str] | None:
    """The class names the model's outputs stand for, when something says so.

    ``labels`` if given, else the bundle's, else the FER2013 emotions for a
    model with seven outputs; ``None`` when nothing tells.
    """
    if labels is not None:
        return [str(x) for x in labels]
    if info is not None:
        return list(info.labels)
    try:
        units = int(model.output_shape[-1])
    except (AttributeError, TypeError, ValueError, IndexError):
        return None
    return list(EMOTIONS) if units == len(EMOTIONS) else None


def _dataset(data: Any, known: list[str] | None) -> FERDataset:
    """A FERDataset as it is, or (images, labels) arrays named after the model's classes."""
    from ..data import FERDataset

    if isinstance(data, FERDataset):  # its own names are checked against the model's below
        return data
    return FERDataset.coerce(data, label_names=known, what="evaluation")


def predict_scores(model: Any, ds: FERDataset, *, batch_size: int = 64, progress: bool = False) -> np.ndarray:
    """Run a model over a dataset, fed at the model's input size and colour mode.

    Returns:
        The model's raw outputs, ``(N, K)`` (or ``(N, 1)`` for a sigmoid model).
    """
    shape = model.input_shape
    if isinstance(shape, list):
        raise FermaskError("a fermask model has exactly one input")
    h, w, c = shape[1], shape[2], shape[3]
    tfds = ds.to_tf_dataset(
        batch_size,
        shuffle=False,
        image_size=(h, w),
        color_mode=color_mode_of(c),
        label_mode=None,
    )
    # Keras' bar is for terminals: redrawn into a log it leaves one line of control codes
    return np.asarray(model.predict(tfds, verbose=1 if progress and sys.stdout.isatty() else 0))


def evaluate(
    model_or_bundle: Any,
    dataset: Any,
    *,
    batch_size: int = 64,
    heldout_styles: Sequence[str] | None = None,
    labels: Sequence[str] | None = None,
    progress: bool = False,
) -> EvaluationReport:
    """Evaluate a model on a labelled dataset.

    Args:
        model_or_bundle: A Keras model (taking pixel values 0-255), a bundle
            folder written by :func:`fermask.train`, or a
            :class:`~fermask.Predictor`.
        dataset: A :class:`~fermask.FERDataset` (its ``styles`` give the
            per-style accuracy) or an ``(images, labels)`` tuple of arrays.
        batch_size: Images per batch.
        heldout_styles: Mask styles the model did not see in training; their
            accuracy is reported apart.
        labels: Class names, when neither a bundle nor the dataset gives them.
        progress: Show Keras' progress bar.

    Returns:
        An :class:`EvaluationReport`; save it with ``report.save(folder)`` or
        ``report.to_json(path)`` / ``report.to_markdown()``.

    Raises:
        DataFormatError: The dataset's classes do not match the model's.

    Examples:
        >>> import fermask
        >>> report = fermask.evaluate("runs/shallow/bundle", dev, heldout_styles=["cloth"])  # doctest: +SKIP
        >>> print(report.to_markdown())  # doctest: +SKIP
    """
    model, info, desc = resolve_model(model_or_bundle, what="evaluate's model")
    ds = _dataset(dataset, _known_labels(model, info, labels))
    names = list(ds.label_names)
    if info is not None:
        if [s.lower() for s in info.labels] != [s.lower() for s in names]:
            raise DataFormatError(
                f"the model was trained on the classes {info.labels} but the data has {names}; "
                "evaluate it on data with the same classes (e.g. ds.binary('happy') for a happy-vs-not model)"
            )
        names = list(info.labels)
    if labels is not None:
        names = [str(x) for x in labels]
    scores = predict_scores(model, ds, batch_size=batch_size, progress=progress)
    return report_from_predictions(
        ds.labels,
        scores,
        names,
        styles=ds.styles,
        heldout_styles=heldout_styles,
        model=desc,
        data=f"{ds.source} (n={len(ds)})",
    )
