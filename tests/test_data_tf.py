"""FERDataset.to_tf_dataset: shapes, dtypes, value range, label order and modes, augmentation."""

from __future__ import annotations

import numpy as np
import pytest

from fermask.data import FERDataset, make_synthetic_fer
from fermask.errors import DataFormatError

tf = pytest.importorskip("tensorflow")


@pytest.fixture(scope="module")
def ds() -> FERDataset:
    return make_synthetic_fer(70, seed=4, balanced=True)


def _first(d: object) -> tuple[np.ndarray, np.ndarray]:
    x, y = next(iter(d))  # type: ignore[call-overload]
    return x.numpy(), y.numpy()


def test_default_48_gray_int_labels_in_order(ds: FERDataset) -> None:
    d = ds.to_tf_dataset(32, shuffle=False)
    xs, ys = zip(*[(x.numpy(), y.numpy()) for x, y in d])
    x, y = np.concatenate(xs), np.concatenate(ys)
    assert [len(b) for b in ys] == [32, 32, 6]
    assert x.dtype == np.float32 and x.shape == (70, 48, 48, 1)
    assert y.dtype == np.int32 and np.array_equal(y, ds.labels)
    assert np.array_equal(x[..., 0], ds.images.astype(np.float32))  # values 0-255, not rescaled


def test_shuffle_keeps_pairs_and_reshuffles_each_epoch(ds: FERDataset) -> None:
    d = ds.to_tf_dataset(70, shuffle=True, seed=1)
    x1, y1 = _first(d)
    x2, _ = _first(d)
    assert not np.array_equal(x1, x2)
    # every (image, label) pair is intact: find each image in the dataset
    flat = ds.images.reshape(70, -1).astype(np.float32)
    for img, lab in zip(x1[:10], y1[:10]):
        (row,) = np.flatnonzero((flat == img.reshape(-1)).all(1))
        assert ds.labels[row] == lab


@pytest.mark.parametrize(("size", "mode", "shape"), [(64, "rgb", (64, 64, 3)), ((224, 224), "rgb", (224, 224, 3)),
                                                     (None, "grayscale", (48, 48, 1))])
def test_sizes_and_colour_modes(ds: FERDataset, size: object, mode: str, shape: tuple) -> None:
    x, y = _first(ds.to_tf_dataset(4, shuffle=False, image_size=size, color_mode=mode, label_mode="categorical"))
    assert x.shape == (4, *shape) and x.dtype == np.float32
    assert 0.0 <= x.min() and x.max() <= 255.0
    if shape[2] == 3:
        assert np.array_equal(x[..., 0], x[..., 2])  # gray repeated into RGB
    assert y.shape == (4, 7) and np.array_equal(y.argmax(1), ds.labels[:4])


def test_rgb_dataset_to_grayscale() -> None:
    rgb = np.zeros((2, 48, 48, 3), np.uint8)
    rgb[..., 0] = 100
    d = FERDataset.from_arrays(rgb, [0, 1]).to_tf_dataset(2, shuffle=False, color_mode="grayscale")
    x, _ = _first(d)
    assert x.shape == (2, 48, 48, 1) and np.allclose(x, 29.9, atol=0.01)


def test_binary_and_soft_labels(ds: FERDataset) -> None:
    b = ds.binary("happy")
    _, y = _first(b.to_tf_dataset(16, shuffle=False, label_mode="binary"))
    assert y.shape == (16, 1) and y.dtype == np.float32 and np.array_equal(y[:, 0], b.labels[:16])
    soft = np.full((70, 7), 1 / 7, np.float32)
    _, y = _first(ds._replace(soft_labels=soft).to_tf_dataset(8, shuffle=False, label_mode="soft"))
    assert np.allclose(y, 1 / 7)
    with pytest.raises(DataFormatError, match="with_ferplus"):
        ds.to_tf_dataset(label_mode="soft")
    with pytest.raises(DataFormatError, match="two-class"):
        ds.to_tf_dataset(label_mode="binary")


def test_unlabelled_rows_need_label_mode_none() -> None:
    unl = FERDataset.from_arrays(np.zeros((3, 48, 48), np.uint8))
    with pytest.raises(DataFormatError, match="label_mode=None"):
        unl.to_tf_dataset()
    x = next(iter(unl.to_tf_dataset(3, label_mode=None)))
    assert x.shape == (3, 48, 48, 1)


def test_augmentation_changes_images_within_range(ds: FERDataset) -> None:
    plain, _ = _first(ds.to_tf_dataset(70, shuffle=False))
    aug, y = _first(ds.to_tf_dataset(70, shuffle=False, augment=True, seed=3))
    assert np.array_equal(y, ds.labels)
    assert aug.shape == plain.shape and 0.0 <= aug.min() and aug.max() <= 255.0
    diff = np.abs(aug - plain).reshape(70, -1).mean(1)
    assert (diff > 0.5).mean() > 0.9
    flip_only, _ = _first(ds.to_tf_dataset(70, shuffle=False, augment={"flip": 1.0}))
    assert np.array_equal(flip_only, plain[:, :, ::-1, :])
    with pytest.raises(DataFormatError, match="unknown augmentation"):
        ds.to_tf_dataset(augment={"zoom": 0.1})


def test_repeat_and_keras_fit(ds: FERDataset) -> None:
    keras = pytest.importorskip("keras")
    d = ds.to_tf_dataset(16, repeat=True, label_mode="categorical")
    assert sum(1 for _ in d.take(10)) == 10  # more batches than one epoch has
    model = keras.Sequential([keras.Input((48, 48, 1)), keras.layers.Rescaling(1 / 255),
                              keras.layers.Flatten(), keras.layers.Dense(7, activation="softmax")])
    model.compile("adam", "categorical_crossentropy")
    hist = model.fit(d, steps_per_epoch=3, epochs=1, verbose=0, shuffle=False)
    assert np.isfinite(hist.history["loss"][0])


def test_extra_targets_travel_with_their_images_through_shuffling() -> None:
    # image i is filled with the value i, and its extra target is i too: any misalignment shows
    n = 90
    images = np.repeat(np.arange(n, dtype=np.uint8), 48 * 48).reshape(n, 48, 48)
    index_ds = FERDataset(images, np.arange(n) % 7)
    targets = np.stack([np.arange(n), np.arange(n) % 7], axis=1).astype(np.float32)
    d = index_ds.to_tf_dataset(16, shuffle=True, seed=5, label_mode="int", extra_targets={"teacher": targets})
    orders = []
    for _epoch in range(2):
        seen = []
        for x, y in d:
            assert sorted(y) == ["label", "teacher"]
            rows = x.numpy()[:, 0, 0, 0]
            np.testing.assert_array_equal(rows, y["teacher"].numpy()[:, 0])
            np.testing.assert_array_equal(y["label"].numpy(), y["teacher"].numpy()[:, 1])
            seen.extend(rows.astype(int))
        assert sorted(seen) == list(range(n))
        orders.append(seen)
    assert orders[0] != list(range(n)) and orders[0] != orders[1]  # shuffled, and anew each epoch


def test_extra_targets_are_checked(ds: FERDataset) -> None:
    with pytest.raises(DataFormatError, match="one row per image"):
        ds.to_tf_dataset(8, extra_targets={"teacher": np.zeros((3, 7))})
    with pytest.raises(DataFormatError, match="label_mode"):
        ds.to_tf_dataset(8, label_mode=None, extra_targets={"teacher": np.zeros((70, 7))})
    with pytest.raises(DataFormatError, match="'label'"):
        ds.to_tf_dataset(8, extra_targets={"label": np.zeros((70, 7))})
