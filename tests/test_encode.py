"""Encoding masked images for folder runs: PNGs byte-identical to Pillow's, every other format through Pillow."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from fermask.batch._encode import encode_image


def _pillow_png(image: np.ndarray, level: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG", compress_level=level)
    return buf.getvalue()


def _images(astronaut: np.ndarray) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    return {
        "crop48_gray": np.ascontiguousarray(astronaut[60:108, 180:228, 1]),
        "photo_rgb": astronaut,  # 512x512x3: its data spans several IDAT chunks
        "noise_rgb_odd": rng.integers(0, 256, (301, 517, 3), dtype=np.uint8),
        "wide_gray": rng.integers(0, 256, (9, 20_000), dtype=np.uint8),  # a row longer than a 64 KiB block / 4
        "flat_gray": np.full((8, 8), 200, np.uint8),
    }


@pytest.mark.parametrize("level", [0, 1, 6, 9])
def test_png_bytes_are_those_pillow_writes(astronaut: np.ndarray, level: int) -> None:
    for name, image in _images(astronaut).items():
        data = encode_image(image, "PNG", level)
        assert data == _pillow_png(image, level), name
        with Image.open(io.BytesIO(data)) as im:
            np.testing.assert_array_equal(np.asarray(im), image)


def test_the_png_level_trades_size_for_nothing_else(astronaut: np.ndarray) -> None:
    fast, small = encode_image(astronaut, "PNG", 1), encode_image(astronaut, "PNG", 9)
    assert len(small) < len(fast)
    with Image.open(io.BytesIO(fast)) as a, Image.open(io.BytesIO(small)) as b:
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


@pytest.mark.parametrize(("fmt", "lossless"), [("JPEG", False), ("WEBP", True), ("BMP", True)])
def test_other_formats_go_through_pillow(astronaut: np.ndarray, fmt: str, lossless: bool) -> None:
    data = encode_image(astronaut, fmt)
    with Image.open(io.BytesIO(data)) as im:
        assert im.format == fmt
        pixels = np.asarray(im.convert("RGB"))
    if lossless:
        np.testing.assert_array_equal(pixels, astronaut)
    else:
        assert np.abs(pixels.astype(int) - astronaut).mean() < 3  # quality 95


class _CountingMasker:
    """Inverts every image; records the size of each call's batch."""

    def __init__(self) -> None:
        self.batches: list[int] = []

    def mask_many(self, images: Any, *, indices: Any, **kwargs: Any) -> Iterator[Any]:
        from fermask import MaskResult

        images, indices = list(images), list(indices)
        self.batches.append(len(images))
        for image, index in zip(images, indices, strict=True):
            yield MaskResult(image=255 - image, styles=["x"], masked=True, index=index)


def test_a_chunk_is_read_masked_and_encoded_in_bounded_groups(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from fermask.masker import _stages
    from fermask.batch import _encode

    tasks = []
    for i in range(7):
        path = tmp_path / f"{i}.png"
        Image.fromarray(np.full((20, 30), 10 * i, np.uint8)).save(path)
        tasks.append(_encode.Task(i, str(path), "PNG"))
    (tmp_path / "bad.png").write_text("not an image")
    tasks.insert(3, _encode.Task(99, str(tmp_path / "bad.png"), "PNG"))
    monkeypatch.setattr(_stages, "STAGE_IMAGES", 3)
    masker = _CountingMasker()
    done = _encode.Encoder(masker, 1)(tasks)
    assert masker.batches == [3, 2, 2]  # groups of 3 inputs; the unreadable one never reaches the masker
    assert [d.fields["status"] for d in done] == ["masked"] * 3 + ["error"] + ["masked"] * 4
    assert "bad.png': not a readable image" in done[3].fields["reason"] and done[3].data is None
    for task, d in zip([t for t in tasks if t.index != 99], [d for d in done if d.data is not None]):
        with Image.open(io.BytesIO(d.data)) as im:
            assert int(np.asarray(im)[0, 0]) == 255 - 10 * task.index
    monkeypatch.setattr(_stages, "STAGE_IMAGES", 32)
    monkeypatch.setattr(_stages, "STAGE_BYTES", 2 * 20 * 30)  # two images' pixels
    masker = _CountingMasker()
    _encode.Encoder(masker, 1)(tasks)
    assert masker.batches == [2, 2, 2, 1]  # a group ends once it holds two images' bytes
