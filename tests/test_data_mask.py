"""Masking a FERDataset: on-disk cache, resume after an interruption, no-face policy, a real Masker."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from fermask.data import FERDataset, make_synthetic_fer
from fermask.errors import DataFormatError
from fermask.masker import MaskResult


class FakeMasker:
    """A test double with the Masker's mask_many/config contract; counts the images it masks."""

    def __init__(self, tag: int = 1, no_face: Iterable[int] = (), stop_after: int | None = None, rgb: bool = False) -> None:
        self.tag = tag
        self.no_face = set(no_face)
        self.stop_after = stop_after
        self.rgb = rgb
        self.masked_count = 0

    def config(self) -> dict[str, Any]:
        return {"fake": self.tag, "rgb": self.rgb}

    def mask_many(self, images: Iterable[np.ndarray], *, workers: int | None = None, executor: Any = None,
                  progress: bool = True, start: int = 0, total: int | None = None) -> Iterator[MaskResult]:
        for i, img in enumerate(images, start):
            if self.stop_after is not None and self.masked_count >= self.stop_after:
                raise KeyboardInterrupt
            self.masked_count += 1
            if i in self.no_face:
                yield MaskResult(image=img, masked=False, styles=[], reason="no face found")
                continue
            out = 255 - img
            if self.rgb:
                out = np.stack([out, out // 2, img], axis=-1)
            yield MaskResult(image=out, masked=True, styles=[f"style{i % 3}"], reason=None)


@pytest.fixture()
def ds() -> FERDataset:
    return make_synthetic_fer(450, seed=3, base="drawn")


def test_mask_then_cache_hit(ds: FERDataset, tmp_path: Path) -> None:
    m = FakeMasker()
    out = ds.mask(m, cache_dir=tmp_path, progress=False, shard_size=100)
    assert m.masked_count == 450
    assert np.array_equal(out.images, 255 - ds.images)
    assert out.styles.tolist() == [f"style{i % 3}" for i in range(450)]
    assert out.masking == m.config() and out.notes["masking"]["masked"] == 450
    again = FakeMasker()
    out2 = ds.mask(again, cache_dir=tmp_path, progress=False, shard_size=100)
    assert again.masked_count == 0  # served from the cache
    assert np.array_equal(out2.images, out.images) and np.array_equal(out2.styles, out.styles)
    other = FakeMasker(tag=2)  # another configuration is another cache entry
    ds.mask(other, cache_dir=tmp_path, progress=False, shard_size=100)
    assert other.masked_count == 450
    changed = ds.select(np.arange(449))  # other data too
    third = FakeMasker()
    changed.mask(third, cache_dir=tmp_path, progress=False, shard_size=100)
    assert third.masked_count == 449


def test_interrupted_run_resumes(ds: FERDataset, tmp_path: Path) -> None:
    with pytest.raises(KeyboardInterrupt):
        ds.mask(FakeMasker(stop_after=250), cache_dir=tmp_path, progress=False, shard_size=100)
    (entry,) = tmp_path.iterdir()
    assert sorted(p.name for p in entry.glob("part-*.npz")) == ["part-00000.npz", "part-00001.npz"]
    assert not (entry / "complete.json").exists()
    resumed = FakeMasker()
    out = ds.mask(resumed, cache_dir=tmp_path, progress=False, shard_size=100)
    assert resumed.masked_count == 250  # only the unfinished shards
    fresh = ds.mask(FakeMasker(), use_cache=False, progress=False)
    assert np.array_equal(out.images, fresh.images) and np.array_equal(out.styles, fresh.styles)
    assert (entry / "complete.json").exists()


def test_no_face_policy_is_explicit_and_counted(ds: FERDataset, tmp_path: Path) -> None:
    miss = {0, 5, 300}
    dropped = ds.mask(FakeMasker(no_face=miss), cache_dir=tmp_path, progress=False)
    assert len(dropped) == 447 and not set(dropped.ids.tolist()) & miss
    assert dropped.notes["masking"]["dropped"] == 3 and dropped.notes["masking"]["reasons"] == {"no face found": 3}
    kept = ds.mask(FakeMasker(no_face=miss), on_no_face="keep", cache_dir=tmp_path, progress=False)
    assert len(kept) == 450 and kept.notes["masking"]["not_masked"] == 3
    assert kept.styles[5] == "" and np.array_equal(kept.images[5], ds.images[5])
    with pytest.raises(DataFormatError, match="on_no_face"):
        ds.mask(FakeMasker(), on_no_face="skip", cache_dir=tmp_path)
    with pytest.raises(DataFormatError, match="dropped every image"):
        ds.select([0, 5, 300]).mask(FakeMasker(no_face={0, 1, 2}), use_cache=False, progress=False)


def test_colour_masks_make_an_rgb_dataset(ds: FERDataset, tmp_path: Path) -> None:
    out = ds.mask(FakeMasker(rgb=True, no_face={1}), on_no_face="keep", cache_dir=tmp_path, progress=False, shard_size=100)
    assert out.images.shape == (450, 48, 48, 3)
    assert np.array_equal(out.images[1], np.repeat(ds.images[1][..., None], 3, axis=2))


def test_not_a_masker(ds: FERDataset) -> None:
    with pytest.raises(DataFormatError, match="needs a fermask.Masker"):
        ds.mask(object())  # type: ignore[arg-type]


def test_real_masker_on_face_crops(lfw_crops48: np.ndarray, tmp_path: Path) -> None:
    import fermask

    ds = FERDataset.from_arrays(lfw_crops48[:6], [0, 1, 2, 3, 4, 5])
    masker = fermask.Masker("surgical", keep_color=True)
    out = ds.mask(masker, cache_dir=tmp_path, workers=1, progress=False)
    assert out.images.shape[1:] == (48, 48, 3)
    assert out.notes["masking"]["masked"] == len(out) > 0
    assert set(out.styles.tolist()) == {"surgical"}
    assert out.masking == masker.config()
    # The mask covers the lower face: the lower half changed, the eyes row much less.
    gray_in = ds.images[np.searchsorted(ds.ids, out.ids)].astype(np.int16)
    changed_low = np.abs(out.images[:, 32:44, 12:36, 1].astype(np.int16) - gray_in[:, 32:44, 12:36]).mean()
    changed_top = np.abs(out.images[:, 2:10, :, 1].astype(np.int16) - gray_in[:, 2:10, :]).mean()
    assert changed_low > 20 > changed_top
    cached = ds.mask(fermask.Masker("surgical", keep_color=True), cache_dir=tmp_path, workers=1, progress=False)
    assert np.array_equal(cached.images, out.images)
