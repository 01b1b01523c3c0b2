"""``tf.data`` input pipelines for :class:`~fermask.data.FERDataset`.

The images stay uint8 in memory; each batch is gathered by index, converted
to float32 (values 0-255: fermask models scale inside themselves), turned
gray or RGB, resized and optionally augmented in a parallel ``map``, and
prefetched.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

import numpy as np

from .._choices import COLOR_MODES, LABEL_MODES, channels_of, check_choice
from ..errors import DataFormatError

__all__ = ["make_tf_dataset", "DatasetArrays", "AUGMENT_DEFAULTS", "LABEL_MODES"]


class DatasetArrays(Protocol):
    """What :func:`make_tf_dataset` reads from a dataset; a :class:`~fermask.data.FERDataset` has all of it.

    Written out here so that this module needs nothing from ``dataset.py``
    (which calls it from ``FERDataset.to_tf_dataset``): no import circle.
    """

    @property
    def images(self) -> np.ndarray: ...
    @property
    def labels(self) -> np.ndarray: ...
    @property
    def soft_labels(self) -> np.ndarray | None: ...
    @property
    def image_shape(self) -> tuple[int, int, int]: ...
    @property
    def num_classes(self) -> int: ...
    def __len__(self) -> int: ...

AUGMENT_DEFAULTS: dict[str, float] = {
    "flip": 0.5,  # probability of a horizontal flip
    "shift": 0.1,  # largest shift, as a fraction of the image side
    "rotation": 10.0,  # largest rotation, in degrees
    "brightness": 0.1,  # largest brightness change, as a fraction of 255
}
"""What ``augment=True`` does; pass a dict to change any of these (0 turns one off)."""

Fn = Callable[..., Any]


def _augment_params(augment: bool | Mapping[str, float]) -> dict[str, float] | None:
    if augment is False or augment is None:
        return None
    if augment is True:
        return dict(AUGMENT_DEFAULTS)
    if not isinstance(augment, Mapping):
        raise DataFormatError(f"augment must be True, False or a dict of {sorted(AUGMENT_DEFAULTS)}, got {augment!r}")
    unknown = set(augment) - set(AUGMENT_DEFAULTS)
    if unknown:
        raise DataFormatError(
            f"unknown augmentation(s) {sorted(unknown)}; expected some of {sorted(AUGMENT_DEFAULTS)}"
        )
    params = {k: 0.0 for k in AUGMENT_DEFAULTS}
    params.update({k: float(v) for k, v in augment.items()})
    return params


def _size(image_size: tuple[int, int] | int | None, ds: DatasetArrays) -> tuple[int, int]:
    if image_size is None:
        return ds.image_shape[0], ds.image_shape[1]
    if isinstance(image_size, (int, np.integer)):
        return int(image_size), int(image_size)
    if len(image_size) == 3:  # (h, w, c) as in a model's input_shape
        image_size = (image_size[0], image_size[1])
    if len(image_size) != 2 or min(int(v) for v in image_size) < 8:
        raise DataFormatError(f"image_size must be an int or (height, width) of at least 8, got {image_size!r}")
    return int(image_size[0]), int(image_size[1])


def _check_request(ds: DatasetArrays, batch_size: int, color_mode: str | None, label_mode: str | None) -> None:
    """Refuse what ``make_tf_dataset`` cannot build, saying what to do instead."""
    if len(ds) == 0:
        raise DataFormatError("to_tf_dataset: the dataset is empty")
    check_choice(label_mode, LABEL_MODES, "label_mode", allow_none=True)
    check_choice(color_mode, COLOR_MODES, "color_mode", allow_none=True)
    if int(batch_size) < 1:
        raise DataFormatError(f"batch_size must be at least 1, got {batch_size}")
    if label_mode is not None and (ds.labels < 0).any():
        raise DataFormatError(
            f"{int((ds.labels < 0).sum())} images have no label (e.g. Kaggle test.csv); "
            "use label_mode=None to get images only"
        )
    if label_mode == "soft" and ds.soft_labels is None:
        raise DataFormatError(
            "label_mode='soft' needs soft labels; join FER+ votes with with_ferplus(path, mode='soft'), "
            "or use label_mode='categorical'"
        )
    if label_mode == "binary" and ds.num_classes != 2:
        raise DataFormatError(
            f"label_mode='binary' needs a two-class dataset, this one has {ds.num_classes}; use ds.binary('happy')"
        )


def _to_float(tf: Any, src_c: int, out_c: int) -> Fn:
    """uint8 batches -> float32 ``(B, h, w, out_c)``, gray <-> RGB as asked."""

    def convert(x: Any) -> Any:
        x = tf.cast(x, tf.float32)
        if src_c == 1:
            x = x[..., None]
        if out_c == 1 and src_c == 3:
            x = tf.reduce_sum(x * tf.constant([0.299, 0.587, 0.114], tf.float32), axis=-1, keepdims=True)
        elif out_c == 3 and src_c == 1:
            x = tf.tile(x, [1, 1, 1, 3])
        return x

    return convert


def _resizer(tf: Any, src: tuple[int, int], out: tuple[int, int]) -> Fn:
    """Bilinear resizing from ``src`` to ``out`` (antialiased when shrinking); the identity when equal."""

    def resize(x: Any) -> Any:
        if out == src:
            return x
        return tf.clip_by_value(tf.image.resize(x, out, method="bilinear", antialias=out[0] < src[0]), 0.0, 255.0)

    return resize


def _uniform(tf: Any, rnd: Any, k: int, shape: Any, lo: float, hi: float) -> Any:
    """Stateless uniform numbers: stream ``k`` of the batch's random seed ``rnd``."""
    return tf.random.stateless_uniform(shape, seed=tf.stack([rnd, tf.constant(k, tf.int64)]), minval=lo, maxval=hi)


def _flip(tf: Any, x: Any, rnd: Any, p: float) -> Any:
    """Flip each image horizontally with probability ``p``."""
    flip = _uniform(tf, rnd, 1, [tf.shape(x)[0]], 0.0, 1.0) < p
    return tf.where(flip[:, None, None, None], tf.reverse(x, axis=[2]), x)


def _shift_rotate(tf: Any, x: Any, rnd: Any, shift: float, rotation: float) -> Any:
    """Rotate each image by up to ``rotation`` degrees and shift it by up to ``shift`` of its side."""
    b = tf.shape(x)[0]
    size_h = tf.cast(tf.shape(x)[1], tf.float32)
    size_w = tf.cast(tf.shape(x)[2], tf.float32)
    ang = _uniform(tf, rnd, 2, [b], -1.0, 1.0) * (rotation * np.pi / 180.0)
    tx = _uniform(tf, rnd, 3, [b], -1.0, 1.0) * shift * size_w
    ty = _uniform(tf, rnd, 4, [b], -1.0, 1.0) * shift * size_h
    c, s = tf.cos(ang), tf.sin(ang)
    cx, cy = (size_w - 1.0) / 2.0, (size_h - 1.0) / 2.0
    # output pixel (x, y) samples input (a0 x + a1 y + a2, b0 x + b1 y + b2)
    a2 = cx - c * cx - s * cy - tx
    b2 = cy + s * cx - c * cy - ty
    zeros = tf.zeros_like(c)
    transforms = tf.stack([c, s, a2, -s, c, b2, zeros, zeros], axis=1)
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=x,
        transforms=transforms,
        output_shape=tf.shape(x)[1:3],
        fill_value=0.0,
        interpolation="BILINEAR",
        fill_mode="NEAREST",
    )


def _brighten(tf: Any, x: Any, rnd: Any, amount: float) -> Any:
    """Add up to ``amount * 255`` (either sign) to each image."""
    delta = _uniform(tf, rnd, 5, [tf.shape(x)[0]], -1.0, 1.0) * (amount * 255.0)
    return tf.clip_by_value(x + delta[:, None, None, None], 0.0, 255.0)


def _augmenter(tf: Any, aug: Mapping[str, float]) -> Fn:
    """``(x, rnd) -> x``: the augmentations of ``aug`` that are switched on, in a fixed order."""

    def augment(x: Any, rnd: Any) -> Any:
        if aug["flip"] > 0:
            x = _flip(tf, x, rnd, aug["flip"])
        if aug["shift"] > 0 or aug["rotation"] > 0:
            x = _shift_rotate(tf, x, rnd, aug["shift"], aug["rotation"])
        if aug["brightness"] > 0:
            x = _brighten(tf, x, rnd, aug["brightness"])
        return x

    return augment


def _labeler(tf: Any, ds: DatasetArrays, label_mode: str | None) -> Fn | None:
    """``idx -> y`` in ``label_mode``'s encoding, or ``None`` for images only."""
    if label_mode is None:
        return None
    if label_mode == "soft":
        soft = tf.constant(ds.soft_labels)
        return lambda idx: tf.gather(soft, idx)
    labels = tf.constant(ds.labels.astype(np.int32))
    if label_mode == "categorical":
        return lambda idx: tf.one_hot(tf.gather(labels, idx), ds.num_classes, dtype=tf.float32)
    if label_mode == "binary":
        return lambda idx: tf.cast(tf.gather(labels, idx), tf.float32)[:, None]
    return lambda idx: tf.gather(labels, idx)


def _extra_targets(tf: Any, ds: DatasetArrays, extra_targets: Mapping[str, Any] | None, label_mode: str | None) -> dict[str, Any]:
    """``extra_targets`` as tensors to gather by row index, checked: one row per image, beside the labels."""
    if not extra_targets:
        return {}
    if label_mode is None:
        raise DataFormatError(
            "extra_targets travel in y beside the labels, but label_mode=None gives images only; "
            "pass a label_mode such as 'categorical'"
        )
    out: dict[str, Any] = {}
    for name, values in extra_targets.items():
        arr = np.asarray(values)
        if name == "label":
            raise DataFormatError("extra_targets cannot be named 'label' (y['label'] holds the labels); choose another name")
        if arr.ndim == 0 or len(arr) != len(ds):
            raise DataFormatError(
                f"extra_targets[{name!r}] must have one row per image ({len(ds)}), got shape {arr.shape}"
            )
        out[str(name)] = tf.constant(arr)
    return out


def _index_batches(
    tf: Any, n: int, batch_size: int, *, shuffle: bool, repeat: bool, seed: int, drop_remainder: bool
) -> Any:
    """Batches of row indices, each zipped with a random seed for its augmentation."""
    order = tf.data.Dataset.range(n)
    if shuffle:
        order = order.shuffle(n, seed=seed, reshuffle_each_iteration=True)
    if repeat:
        order = order.repeat()
    order = order.batch(int(batch_size), drop_remainder=drop_remainder)
    rand = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
    return tf.data.Dataset.zip((order, rand))


def make_tf_dataset(
    ds: DatasetArrays,
    *,
    batch_size: int = 64,
    shuffle: bool = True,
    augment: bool | Mapping[str, float] = False,
    image_size: tuple[int, int] | int | None = None,
    color_mode: str | None = None,
    label_mode: str | None = "int",
    seed: int = 0,
    repeat: bool = False,
    drop_remainder: bool = False,
    extra_targets: Mapping[str, Any] | None = None,
) -> Any:
    """Build a ``tf.data.Dataset`` of ``(x, y)`` batches.

    Args:
        ds: The dataset (a :class:`~fermask.data.FERDataset`, or anything
            with the arrays :class:`DatasetArrays` names).
        batch_size: Images per batch.
        shuffle: Reshuffle every epoch (seeded).
        augment: ``True`` for :data:`AUGMENT_DEFAULTS` (random horizontal
            flips, shifts, rotations and brightness), or a dict of those keys.
        image_size: Output ``(height, width)`` or side; ``None`` keeps the
            dataset's size. Images are resized bilinearly.
        color_mode: ``"grayscale"`` (1 channel) or ``"rgb"`` (3 channels);
            ``None`` keeps the dataset's.
        label_mode: ``"int"`` (int32 ``(B,)``), ``"categorical"`` (one-hot
            float32 ``(B, K)``), ``"soft"`` (the FER+ distributions, float32
            ``(B, K)``), ``"binary"`` (float32 ``(B, 1)``, two-class datasets)
            or ``None`` (batches of ``x`` only).
        seed: Seed of the shuffling and the augmentation.
        repeat: Repeat forever (use ``steps_per_epoch`` in ``fit``).
        drop_remainder: Drop the last, smaller batch.
        extra_targets: More per-image targets to carry with the labels,
            ``{name: array with one row per image}`` (e.g. a teacher's
            probabilities for distillation). ``y`` then becomes
            ``{"label": labels, name: rows, ...}``, each batch's rows gathered
            with the same indices as its images, so any shuffling keeps
            them aligned.

    Returns:
        A ``tf.data.Dataset``; ``x`` is float32 ``(B, h, w, c)`` with values 0-255.

    Examples:
        >>> import numpy as np
        >>> from fermask.data import make_synthetic_fer
        >>> ds = make_synthetic_fer(64)
        >>> teacher = np.full((64, 7), 1 / 7, np.float32)
        >>> tfds = make_tf_dataset(ds, batch_size=32, label_mode="categorical", extra_targets={"teacher": teacher})  # doctest: +SKIP
        >>> sorted(next(iter(tfds))[1])  # doctest: +SKIP
        ['label', 'teacher']
    """
    from .._tf import tf_module

    _check_request(ds, batch_size, color_mode, label_mode)
    aug = _augment_params(augment)
    h, w = _size(image_size, ds)
    src_h, src_w, src_c = ds.image_shape
    out_c = src_c if color_mode is None else channels_of(color_mode)
    augment_first = h * w >= src_h * src_w  # augment at the smaller resolution

    tf = tf_module()
    images = tf.constant(ds.images)
    to_float = _to_float(tf, src_c, out_c)
    resize = _resizer(tf, (src_h, src_w), (h, w))
    augmenter = _augmenter(tf, aug) if aug is not None else None
    label_of = _labeler(tf, ds, label_mode)
    extras = _extra_targets(tf, ds, extra_targets, label_mode)

    def prepare(idx: Any, rnd: Any) -> Any:
        x = to_float(tf.gather(images, idx))
        if augmenter is not None and augment_first:
            x = augmenter(x, rnd)
        x = resize(x)
        if augmenter is not None and not augment_first:
            x = augmenter(x, rnd)
        x = tf.ensure_shape(x, [None, h, w, out_c])
        if label_of is None:
            return x
        if not extras:
            return x, label_of(idx)
        return x, {"label": label_of(idx), **{name: tf.gather(v, idx) for name, v in extras.items()}}

    batches = _index_batches(
        tf, len(ds), batch_size, shuffle=shuffle, repeat=repeat, seed=seed, drop_remainder=drop_remainder
    )
    return batches.map(prepare, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)
