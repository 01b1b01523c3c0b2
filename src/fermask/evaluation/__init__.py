"""Evaluation: accuracy, top-2, per-class precision/recall/F1, confusion matrix, accuracy per mask style.

:func:`evaluate` runs a model (or a bundle) over a dataset and returns an
:class:`EvaluationReport`; :func:`report_from_predictions` builds the same
report from labels and scores you already have. Every metric is computed with
numpy (no scikit-learn needed).

Conventions:

* The confusion matrix has one row per **true** class and one column per
  **predicted** class.
* Precision of a class that is never predicted is 0, and so is the F1 of a
  class whose precision and recall are both 0 (scikit-learn's
  ``zero_division=0``).
* Macro-F1 averages the F1 of every class that occurs among the true *or* the
  predicted labels (a class absent from both is left out).
* Accuracy per mask style groups images by :attr:`FERDataset.styles`
  (``""`` shows as ``"(unmasked)"``). Styles named in ``heldout_styles`` are
  marked as not seen in training, and their pooled accuracy is reported
  beside that of the seen styles: the check that a model has not merely
  learnt one mask type.

Examples:
    >>> import numpy as np
    >>> from fermask.evaluation import report_from_predictions
    >>> r = report_from_predictions([0, 1, 1, 2], np.eye(3)[[0, 1, 2, 2]], labels=["a", "b", "c"])
    >>> r.accuracy, round(r.macro_f1, 3)
    (0.75, 0.778)
    >>> r.confusion[1]
    [0, 1, 1]

One module per job: :mod:`.metrics` (the numpy metrics), :mod:`.report`
(:class:`EvaluationReport`, :func:`report_from_predictions`) and :mod:`.run`
(:func:`evaluate`, :func:`predict_scores`: running a model). This package
re-exports their public names.
"""

from __future__ import annotations

from .metrics import confusion_matrix, per_class_scores, top_k_accuracy
from .report import UNMASKED, EvaluationReport, plot_confusion_matrix, report_from_predictions
from .run import evaluate, predict_scores

__all__ = [
    "EvaluationReport",
    "evaluate",
    "report_from_predictions",
    "confusion_matrix",
    "per_class_scores",
    "top_k_accuracy",
    "plot_confusion_matrix",
    "UNMASKED",
]
