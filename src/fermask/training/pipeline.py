"""The data side of a training run: checked datasets, class weights, label modes and tf.data pipelines."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from .._choices import color_mode_of
from ..data.dataset import FERDataset
from ..errors import DataFormatError, FermaskError

if TYPE_CHECKING:  # pragma: no cover
    from .config import TrainConfig

__all__ = ["LabelMode", "prepare_data", "resolve_class_weights", "label_mode", "input_pipeline", "fit_pipelines"]

LabelMode = Literal["categorical", "soft", "binary"]


def prepare_data(
    data: Any, validation: Any, cfg: TrainConfig, labels: Sequence[str] | None = None
) -> tuple[FERDataset, FERDataset | None]:
    """The training and validation datasets, checked (validation held out by ``cfg.validation_fraction`` if none given).

    Raises:
        DataFormatError: Empty or unlabelled training data, or validation
            classes that differ from the training classes.
    """
    train_ds = FERDataset.coerce(data, label_names=labels, what="training")
    if len(train_ds) == 0:
        raise DataFormatError("the training data is empty")
    if (train_ds.labels < 0).any():
        raise DataFormatError(f"{int((train_ds.labels < 0).sum())} training images have no label (-1); drop them first")
    val_ds = None if validation is None else FERDataset.coerce(validation, label_names=list(train_ds.label_names), what="validation")
    if val_ds is None and cfg.validation_fraction is not None:
        train_ds, val_ds = train_ds.split(fraction=cfg.validation_fraction, seed=cfg.seed)
    if val_ds is not None and list(val_ds.label_names) != list(train_ds.label_names):
        raise DataFormatError(f"validation classes {list(val_ds.label_names)} differ from training classes {list(train_ds.label_names)}")
    return train_ds, val_ds


def resolve_class_weights(cfg: TrainConfig, ds: FERDataset) -> np.ndarray | None:
    """One weight per class from ``cfg.class_weights`` (``None``, ``"balanced"`` or a dict), or ``None``."""
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


def label_mode(output: str, ds: FERDataset) -> LabelMode:
    """How a dataset's labels feed a model with this ``output``: binary, soft or categorical."""
    if output == "sigmoid":
        return "binary"
    return "soft" if ds.soft_labels is not None else "categorical"


def input_pipeline(
    ds: FERDataset,
    cfg: TrainConfig,
    shape: tuple[int, int, int],
    label_mode: LabelMode,
    *,
    training: bool,
    class_weights: np.ndarray | None = None,
    teacher_probs: np.ndarray | None = None,
) -> Any:
    """A tf.data pipeline of ``(x, y[, w])``; ``y`` is ``{"label", "teacher"}`` for distillation.

    The teacher's probabilities travel in each batch beside its labels,
    gathered with the same row indices as its images, so shuffling cannot
    separate a face from its teacher target.
    """
    from .._tf import tf_module

    tf = tf_module()
    out = ds.to_tf_dataset(
        batch_size=cfg.batch_size,
        image_size=(shape[0], shape[1]),
        color_mode=color_mode_of(shape[2]),
        seed=cfg.seed,
        shuffle=training,
        augment=cfg.augment if training else False,
        label_mode=label_mode,
        extra_targets=None if teacher_probs is None else {"teacher": teacher_probs},
    )
    if class_weights is not None:
        wv = tf.constant(class_weights, tf.float32)

        def add_weights(x: Any, y: Any) -> Any:
            lab = y["label"] if isinstance(y, dict) else y
            idx = tf.cast(lab[:, 0] > 0.5, tf.int32) if label_mode == "binary" else tf.argmax(lab, axis=-1, output_type=tf.int32)
            return x, y, tf.gather(wv, idx)

        out = out.map(add_weights)
    return out.prefetch(tf.data.AUTOTUNE)


def fit_pipelines(
    train_ds: FERDataset,
    val_ds: FERDataset | None,
    cfg: TrainConfig,
    shape: tuple[int, int, int],
    mode: LabelMode,
    teacher_probs: np.ndarray | None = None,
) -> tuple[Any, Any]:
    """The training pipeline (class weights, teacher targets) and the validation one (or ``None``)."""
    cw = resolve_class_weights(cfg, train_ds)
    train_tf = input_pipeline(train_ds, cfg, shape, mode, training=True, class_weights=cw, teacher_probs=teacher_probs)
    if val_ds is None:
        return train_tf, None
    val_mode: LabelMode = "categorical" if mode == "soft" and val_ds.soft_labels is None else mode
    return train_tf, input_pipeline(val_ds, cfg, shape, val_mode, training=False)
