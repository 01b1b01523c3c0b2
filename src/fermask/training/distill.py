"""Distillation: a teacher's probabilities on the unmasked faces, and a student that learns from them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ..bundle import resolve_model, to_probabilities
from ..data.dataset import FERDataset
from ..errors import DataFormatError, FermaskError
from .modeling import check_outputs, hard_loss

if TYPE_CHECKING:  # pragma: no cover
    from .config import TrainConfig

__all__ = ["check_teacher_arguments", "teacher_probabilities", "make_distiller"]


def check_teacher_arguments(teacher: Any, teacher_data: Any) -> None:
    """A teacher and its unmasked data come together, or not at all."""
    if teacher is not None and teacher_data is None:
        raise FermaskError(
            "distillation needs the unmasked images the teacher sees: pass teacher_data=<the dataset before masking> "
            "(train on its masked copy, e.g. ds.mask(masker, on_no_face='keep'))"
        )
    if teacher_data is not None and teacher is None:
        raise FermaskError("teacher_data was given without a teacher model")


def teacher_probabilities(
    teacher: Any, teacher_data: Any, student_ds: FERDataset, cfg: TrainConfig, progress: bool
) -> tuple[np.ndarray, str]:
    """The teacher's probabilities on the unmasked rows matching ``student_ds`` (joined by ``ids``), and its description.

    Raises:
        DataFormatError: The teacher's classes or ``teacher_data`` do not match
            the training data, row for row.
    """
    from ..evaluation import predict_scores

    labels = list(student_ds.label_names)
    data = FERDataset.coerce(teacher_data, label_names=labels, what="teacher")
    tmodel, tinfo, desc = resolve_model(teacher, what="teacher")
    if tinfo is not None and [s.lower() for s in tinfo.labels] != [s.lower() for s in labels]:
        raise DataFormatError(f"the teacher bundle predicts {tinfo.labels} but the data has the classes {labels}")
    output = check_outputs(tmodel, len(labels), "the teacher")
    src = _aligned_rows(data, student_ds)
    scores = predict_scores(tmodel, src, batch_size=cfg.batch_size, progress=progress)
    return to_probabilities(scores, len(labels), output=output).astype(np.float32), desc


def _aligned_rows(data: FERDataset, student_ds: FERDataset) -> FERDataset:
    """The rows of ``data`` with the ids of ``student_ds``, in its order."""
    if list(data.label_names) != list(student_ds.label_names):
        raise DataFormatError(f"teacher_data has the classes {list(data.label_names)} but the training data has {list(student_ds.label_names)}")
    pos = {int(i): j for j, i in enumerate(data.ids)}
    if len(pos) != len(data):
        raise DataFormatError("teacher_data has repeated ids; pass the unmasked dataset the masked one was made from")
    missing = [int(i) for i in student_ds.ids if int(i) not in pos]
    if missing:
        raise DataFormatError(
            f"{len(missing)} training images (ids {missing[:5]}...) have no unmasked counterpart in teacher_data; "
            "pass the dataset the masked data was made from (rows are joined by their ids)"
        )
    src = data.select(np.array([pos[int(i)] for i in student_ds.ids], dtype=np.int64))
    if not np.array_equal(src.labels, student_ds.labels):
        raise DataFormatError("teacher_data's labels differ from the training data's on the same ids; are they the same images?")
    return src


def make_distiller(keras: Any, student: Any, output: str, cfg: TrainConfig) -> Any:
    """Wrap a student in a Keras model whose loss mixes hard labels with a teacher's soft labels.

    Training batches carry ``y = {"label": hard, "teacher": teacher probabilities}``;
    the loss is ``alpha * CE(label, student) + (1 - alpha) * T^2 * KL(soft(teacher) || soft(student))``
    where ``soft(p) = softmax(log(p) / T)``. Validation batches carry plain labels
    and get the plain cross-entropy. Only the student is ever saved.
    """
    ops = keras.ops
    alpha = float(cfg.distill_alpha)
    temp = float(cfg.distill_temperature)
    ce = hard_loss(keras, output, cfg)
    kl = keras.losses.KLDivergence()

    def soften(p: Any) -> Any:
        # In-graph twin of bundle.to_probabilities: a sigmoid column p becomes [1 - p, p].
        two = ops.concatenate([1.0 - p, p], axis=-1) if output == "sigmoid" else p
        return ops.softmax(ops.log(ops.clip(two, 1e-7, 1.0)) / temp, axis=-1)

    class _Distiller(keras.Model):
        def __init__(self, student: Any) -> None:
            super().__init__(name="distiller")
            self.student = student

        def call(self, x: Any, training: bool = False) -> Any:
            return self.student(x, training=training)

        def compute_loss(self, x: Any = None, y: Any = None, y_pred: Any = None, sample_weight: Any = None, training: bool = True) -> Any:
            if isinstance(y, dict):
                loss = alpha * ce(y["label"], y_pred, sample_weight)
                if alpha < 1.0:
                    soft_t = soften(y["teacher"] if output != "sigmoid" else y["teacher"][:, 1:])
                    loss = loss + (1.0 - alpha) * temp**2 * kl(soft_t, soften(y_pred), sample_weight)
            else:
                loss = ce(y, y_pred, sample_weight)
            for extra in self.losses:
                loss = loss + ops.sum(extra)
            return loss

        def compute_metrics(self, x: Any, y: Any, y_pred: Any, sample_weight: Any = None) -> Any:
            return super().compute_metrics(x, y["label"] if isinstance(y, dict) else y, y_pred, sample_weight)

    return _Distiller(student)
