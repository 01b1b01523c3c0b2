"""load_image on files: the pixels of each format, and a clear message for each bad file."""

from __future__ import annotations

import gc
import os
import signal
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fermask._image import load_image
from fermask.errors import ImageError


@pytest.mark.parametrize("suffix", [".png", ".bmp", ".webp"])
def test_lossless_files_read_back_to_their_pixels(tmp_path: Path, astronaut: np.ndarray, suffix: str) -> None:
    rgb = astronaut[100:180, 150:230]
    gray = np.ascontiguousarray(rgb[..., 1])
    for name, pixels in (("rgb", rgb), ("gray", gray)):
        path = tmp_path / f"{name}{suffix}"
        Image.fromarray(pixels).save(path, **({"lossless": True} if suffix == ".webp" else {}))
        got = load_image(path)
        if suffix == ".webp" and pixels.ndim == 2:  # WEBP stores gray as RGB
            got = got[..., 0]
        np.testing.assert_array_equal(got, pixels)
        np.testing.assert_array_equal(load_image(str(path)), load_image(path))


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda p: None, "no such file"),
        (lambda p: p.mkdir(), "is a folder, expected an image file"),
        (lambda p: p.write_bytes(b""), r"the file is empty \(0 bytes\)"),
        (lambda p: p.write_text("hello"), r"not a readable image \(unknown or corrupt format\)"),
        (lambda p: os.mkfifo(p), r"is not a regular file \(a pipe, socket or device\)"),  # refused, not waited on
    ],
    ids=["missing", "folder", "empty", "text", "named_pipe"],
)
def test_a_bad_file_names_itself_and_what_is_wrong(tmp_path: Path, make: object, expected: str) -> None:
    path = tmp_path / "face.png"
    make(path)  # type: ignore[operator]

    def hung(signum: int, frame: object) -> None:
        raise TimeoutError("load_image waited on the file instead of refusing it")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(10)
    try:
        with pytest.raises(ImageError, match=f"'{path}': {expected}"):
            load_image(path)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")
def test_reading_a_file_leaves_it_closed(tmp_path: Path, astronaut: np.ndarray) -> None:
    good = tmp_path / "good.png"
    Image.fromarray(astronaut).save(good)
    bad = tmp_path / "bad.png"
    bad.write_bytes(good.read_bytes()[:2000])  # cut off: fails while decoding
    with warnings.catch_warnings():
        warnings.simplefilter("error", ResourceWarning)  # an unclosed file would warn when collected
        for _ in range(3):
            load_image(good)
            with pytest.raises(ImageError, match="could not decode the image"):
                load_image(bad)
        gc.collect()
