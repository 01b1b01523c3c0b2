"""FERDataset operations: counts, subsets, splits, caps, weights, binary view, save/load, synthetic data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from fermask.data import FERDataset, make_synthetic_fer
from fermask.errors import DataFormatError
from fermask.labels import EMOTIONS


def _ds(counts: dict[str, int], usage: str = "") -> FERDataset:
    labels = np.concatenate([np.full(c, EMOTIONS.index(k)) for k, c in counts.items()])
    images = (np.arange(len(labels)) % 256).astype(np.uint8)[:, None, None] * np.ones((1, 48, 48), np.uint8)
    return FERDataset.from_arrays(images, labels, usage=[usage] * len(labels))


def test_from_arrays_validates() -> None:
    with pytest.raises(DataFormatError, match="uint8"):
        FERDataset.from_arrays(np.zeros((2, 48, 48), np.float32), [0, 1])
    with pytest.raises(DataFormatError, match="shape \\(2,\\)"):
        FERDataset.from_arrays(np.zeros((2, 48, 48), np.uint8), [0])
    with pytest.raises(DataFormatError, match="label 7 is out of range"):
        FERDataset.from_arrays(np.zeros((2, 48, 48), np.uint8), [0, 7])
    ds = FERDataset.from_arrays(np.zeros((2, 48, 48, 1), np.uint8), None)
    assert ds.images.shape == (2, 48, 48) and ds.labels.tolist() == [-1, -1]


def test_select_and_getitem_keep_every_column() -> None:
    ds = make_synthetic_fer(20, seed=1)
    part = ds[[3, 1]]
    assert np.array_equal(part.images, ds.images[[3, 1]])
    assert part.labels.tolist() == ds.labels[[3, 1]].tolist()
    assert part.usage.tolist() == ds.usage[[3, 1]].tolist() and part.ids.tolist() == [3, 1]
    assert len(ds[5]) == 1 and ds[-1].ids.tolist() == [19]
    assert len(ds[2:7]) == 5
    with pytest.raises(IndexError):
        ds[20]


def test_subset_is_exact_stratified_and_seeded() -> None:
    ds = _ds({"angry": 40, "disgust": 4, "happy": 56})
    sub = ds.subset(25, seed=3)
    assert len(sub) == 25
    assert sub.class_counts() == {**dict.fromkeys(EMOTIONS, 0), "angry": 10, "disgust": 1, "happy": 14}
    assert np.array_equal(sub.ids, ds.subset(25, seed=3).ids)
    assert not np.array_equal(sub.ids, ds.subset(25, seed=4).ids)
    assert np.all(np.diff(sub.ids) > 0)  # original order
    flat = ds.subset(30, stratify=False, seed=0)
    assert len(flat) == 30 and len(set(flat.ids.tolist())) == 30
    with pytest.raises(DataFormatError, match="between 1 and the dataset size 100"):
        ds.subset(101)


def test_split_fraction_exact_stratified_disjoint() -> None:
    ds = _ds({"angry": 50, "happy": 30, "sad": 20})
    train, dev = ds.split(fraction=0.1, seed=0)
    assert len(dev) == 10 and len(train) == 90
    assert dev.class_counts()["angry"] == 5 and dev.class_counts()["happy"] == 3 and dev.class_counts()["sad"] == 2
    assert not set(train.ids.tolist()) & set(dev.ids.tolist())
    assert sorted(train.ids.tolist() + dev.ids.tolist()) == list(range(100))
    with pytest.raises(DataFormatError, match="strictly between 0 and 1"):
        ds.split(fraction=1.5)


def test_split_that_empties_a_class_is_an_error() -> None:
    ds = _ds({"angry": 50, "disgust": 1})
    with pytest.raises(DataFormatError, match="disgust empty in 'dev'"):
        ds.split(fraction=0.1)
    train, dev = ds.split(fraction=0.1, allow_empty=True)
    assert len(dev) == 5


def test_split_by_usage() -> None:
    ds = FERDataset.concat([
        _ds({"angry": 8, "happy": 6}, "Training"),
        _ds({"angry": 2, "happy": 1}, "PublicTest"),
        _ds({"angry": 1, "happy": 2}, "PrivateTest"),
    ])
    train, public, private = ds.usage_split()
    assert (len(train), len(public), len(private)) == (14, 3, 3)
    assert (train.usage == "Training").all() and private.class_counts()["happy"] == 2
    parts = ds.split(by="usage")
    assert list(parts) == ["Training", "PublicTest", "PrivateTest"]
    with pytest.raises(DataFormatError, match="no Usage column"):
        _ds({"angry": 3, "happy": 3}).split(by="usage")
    lopsided = FERDataset.concat([_ds({"angry": 3, "happy": 3}, "Training"), _ds({"angry": 2}, "PublicTest")])
    with pytest.raises(DataFormatError, match=r"happy empty in 'PublicTest'.*Usage column puts none there; use split\(fraction"):
        lopsided.split(by="usage")


def test_split_returns_one_type_per_form() -> None:
    from fermask.data import TrainDevSplit

    ds = FERDataset.concat([_ds({"angry": 8, "happy": 6}, "Training"), _ds({"angry": 2, "happy": 2}, "PublicTest")])
    pair = ds.split(fraction=0.25, seed=3)
    assert type(pair) is TrainDevSplit and pair.train is pair[0] and pair.dev is pair[1]
    assert (len(pair.train), len(pair.dev)) == (14, 4)
    parts = ds.split(by="usage")
    assert type(parts) is dict and all(isinstance(v, FERDataset) for v in parts.values())
    for both in ({"by": "usage", "fraction": 0.1}, {}):
        with pytest.raises(DataFormatError, match="exactly one of by='usage' or fraction"):
            ds.split(**both)  # type: ignore[call-overload]


def test_cap_per_class_and_global() -> None:
    ds = _ds({"angry": 10, "happy": 40, "sad": 5})
    capped = ds.cap({"happy": 12}, seed=1)
    assert capped.class_counts()["happy"] == 12 and capped.class_counts()["angry"] == 10
    assert capped.class_counts() == ds.cap({"Happiness": 12}, seed=1).class_counts()  # synonyms work
    assert ds.cap(7).class_counts() == {**dict.fromkeys(EMOTIONS, 0), "angry": 7, "happy": 7, "sad": 5}
    with pytest.raises(DataFormatError, match="unknown emotion name 'joy'"):
        ds.cap({"joy": 3})


def test_class_weights_balance_the_loss() -> None:
    ds = _ds({"angry": 10, "happy": 30})
    w = ds.class_weights()
    assert set(w) == {0, 3}
    assert w[0] == pytest.approx(2.0) and w[3] == pytest.approx(40 / 60)
    assert w[0] * 10 == pytest.approx(w[3] * 30)


def test_binary_view() -> None:
    ds = _ds({"angry": 3, "happy": 2, "neutral": 4})
    b = ds.binary("happy")
    assert b.label_names == ("not happy", "happy")
    assert b.class_counts() == {"not happy": 7, "happy": 2}
    assert np.array_equal(b.labels == 1, ds.labels == 3)
    both = ds.binary(["happy", "neutral"])
    assert both.class_counts()["happy or neutral"] == 6


def test_summary_and_plot(tmp_path: Path) -> None:
    ds = make_synthetic_fer(200, seed=0)
    text = ds.summary()
    assert "3 happy" in text and "Training" in text and text.splitlines()[-1].split()[-1] == "200"
    plt = pytest.importorskip("matplotlib.pyplot")
    ax = ds.plot_class_counts()
    heights = [p.get_height() for p in ax.patches]
    assert heights == list(ds.class_counts().values())
    # the long default title (the data's source) and the rotated labels stay inside the figure
    fig = ax.figure
    fig.canvas.draw()
    inside = fig.bbox.padded(1)
    for artist in [ax.title, *ax.get_xticklabels()]:
        box = artist.get_window_extent()
        assert inside.x0 <= box.x0 and box.x1 <= inside.x1 and inside.y0 <= box.y0 and box.y1 <= inside.y1, artist
    plt.close("all")


def test_save_load_round_trip(tmp_path: Path) -> None:
    ds = make_synthetic_fer(50, seed=5)
    ds = ds._replace(styles=np.where(ds.labels == 3, "surgical", ""), soft_labels=np.eye(7, dtype=np.float32)[ds.labels])
    ds.masking = {"styles": ["surgical"]}
    out = ds.save(tmp_path / "saved", shard_size=20)
    info = json.loads((out / "dataset.json").read_text())
    assert info["format"] == "fermask-dataset" and [s["count"] for s in info["shards"]] == [20, 20, 10]
    back = FERDataset.load(out)
    for name in ("images", "labels", "usage", "ids", "styles", "soft_labels"):
        assert np.array_equal(getattr(back, name), getattr(ds, name)), name
    assert back.label_names == ds.label_names and back.masking == ds.masking
    with pytest.raises(DataFormatError, match="not empty"):
        ds.save(out)
    ds.subset(10).save(out, overwrite=True)
    assert len(FERDataset.load(out)) == 10
    shard = out / "shard-00000.npz"
    shard.write_bytes(shard.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(DataFormatError, match="checksum"):
        FERDataset.load(out)
    with pytest.raises(DataFormatError, match="not a saved fermask dataset"):
        FERDataset.load(tmp_path)


def test_synthetic_data_is_labelled_synthetic_seeded_and_learnable() -> None:
    ds = make_synthetic_fer(140, seed=0, balanced=True)
    assert "not FER2013" in ds.source and ds.notes["synthetic"] is True
    assert set(ds.class_counts().values()) == {20}
    assert np.array_equal(ds.images, make_synthetic_fer(140, seed=0, balanced=True).images)
    # The drawn signal: a nearest-class-mean classifier on the mouth region beats chance (1/7)
    # clearly with the signal on, and does not without it.

    def mouth_accuracy(d: FERDataset) -> float:
        train, test = d.split(fraction=0.3, seed=0)

        def feats(x: FERDataset) -> np.ndarray:
            f = x.images[:, 28:46, 10:38].reshape(len(x), -1).astype(np.float32)
            f -= f.mean(1, keepdims=True)
            return f / (f.std(1, keepdims=True) + 1)

        xtr, xte = feats(train), feats(test)
        means = np.stack([xtr[train.labels == k].mean(0) for k in range(7)])
        pred = np.argmin(((xte[:, None, :] - means[None]) ** 2).sum(-1), axis=1)
        return float((pred == test.labels).mean())

    assert mouth_accuracy(make_synthetic_fer(350, seed=1, balanced=True)) > 0.3
    assert mouth_accuracy(make_synthetic_fer(350, seed=1, balanced=True, signal=0.0)) < 0.25


def test_synthetic_drawn_fallback_sizes_and_fer_mix() -> None:
    ds = make_synthetic_fer(35887 // 100, base="drawn", image_size=64)
    assert ds.images.shape == (358, 64, 64) and "base=drawn" in ds.source
    counts = make_synthetic_fer(1000, base="drawn").class_counts()
    assert counts["happy"] > counts["angry"] > counts["disgust"] > 0  # FER2013's mix by default
    with pytest.raises(DataFormatError):
        make_synthetic_fer(0)


def test_the_function_forms_of_save_and_load_are_deprecated_and_still_work(tmp_path: Path) -> None:
    from fermask.data import load_dataset, load_fer_data, save_dataset

    ds = _ds({"angry": 3, "happy": 2})
    with pytest.warns(DeprecationWarning, match="use FERDataset.save instead"):
        out = save_dataset(ds, tmp_path / "saved")
    with pytest.warns(DeprecationWarning, match="use FERDataset.load instead"):
        again = load_dataset(out)
    assert again.labels.tolist() == ds.labels.tolist() == load_fer_data(out).labels.tolist()
