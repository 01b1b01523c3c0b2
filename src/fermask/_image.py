"""Reading images from the forms users have: paths, bytes, PIL images, arrays.

Everything becomes a C-contiguous ``uint8`` array, either ``(H, W)`` gray or
``(H, W, 3)`` RGB. EXIF orientation is applied. Problems raise
:class:`~fermask.errors.ImageError` with the source named in the message.
"""

from __future__ import annotations

import io
import os
import stat
from collections.abc import Sequence
from contextlib import ExitStack
from typing import Any, BinaryIO, Union

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ._choices import COLOR_MODES, check_choice
from .errors import ImageError

__all__ = [
    "ImageInput", "load_image", "load_image_with_frames", "to_gray", "to_rgb", "fit_image", "crop_face",
    "IMAGE_SUFFIXES", "MIN_SIDE", "MAX_PIXELS",
]

ImageInput = Union[str, "os.PathLike[str]", bytes, "Image.Image", np.ndarray]
"""What fermask accepts as an image: a path, encoded bytes, a PIL image or an array."""

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp"})
"""File suffixes treated as images when walking folders (compared lower-case)."""

MIN_SIDE = 8
"""Images with a side shorter than this many pixels are refused as too small."""

MAX_PIXELS = 120_000_000
"""Images with more pixels than this are refused (decompression-bomb guard)."""


def _describe(source: Any) -> str:
    if isinstance(source, (str, os.PathLike)):
        return f"'{os.fspath(source)}'"
    if isinstance(source, bytes):
        return f"<{len(source)} bytes>"
    if isinstance(source, np.ndarray):
        return f"<array shape={source.shape} dtype={source.dtype}>"
    return f"<{type(source).__name__}>"


def _from_pil(img: Image.Image, name: str) -> np.ndarray:
    img = ImageOps.exif_transpose(img) or img
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(img, dtype=np.float64)
        top = 65535.0 if mode.startswith("I;16") or arr.max(initial=0) > 255 else 255.0
        return np.ascontiguousarray(np.clip(arr / top * 255.0 + 0.5, 0, 255).astype(np.uint8))
    if mode == "F":
        return _from_array(np.asarray(img), name)
    if mode in ("1", "L", "LA"):
        return np.ascontiguousarray(np.asarray(img.convert("L")))
    return np.ascontiguousarray(np.asarray(img.convert("RGB")))


def _from_array(arr: np.ndarray, name: str) -> np.ndarray:
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim == 3 and arr.shape[2] == 4:
        arr = arr[:, :, :3]
    if not (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] == 3)):
        raise ImageError(
            f"{name}: expected an image array of shape (H, W), (H, W, 1), (H, W, 3) or (H, W, 4), "
            f"got shape {arr.shape}"
        )
    if arr.dtype == np.uint8:
        out = arr
    elif arr.dtype == np.bool_:
        raise ImageError(f"{name}: boolean arrays are not images; convert to uint8 (0-255) or float (0-1)")
    elif np.issubdtype(arr.dtype, np.floating):
        if not np.all(np.isfinite(arr)):
            raise ImageError(f"{name}: the float image contains NaN or infinite values")
        hi = float(arr.max(initial=0.0))
        scale = 255.0 if hi <= 1.0 else 1.0
        out = np.clip(arr * scale + 0.5, 0, 255).astype(np.uint8)
    elif arr.dtype == np.uint16:
        out = (arr.astype(np.uint32) * 255 // 65535).astype(np.uint8)
    elif np.issubdtype(arr.dtype, np.integer):
        if arr.min(initial=0) < 0 or arr.max(initial=0) > 255:
            raise ImageError(
                f"{name}: integer pixel values must lie in 0-255, got {arr.min()} to {arr.max()}"
            )
        out = arr.astype(np.uint8)
    else:
        raise ImageError(f"{name}: unsupported array dtype {arr.dtype}; use uint8 or float")
    return np.ascontiguousarray(out)


def _open_file(path: str | os.PathLike[str], name: str) -> BinaryIO:
    """An image file, open for reading: one ``open`` and one ``fstat``, which also explain a failure.

    The file is opened without blocking, so a named pipe is refused at once
    instead of waiting for a writer.

    Raises:
        ImageError: The path is missing, a folder, not a regular file, empty
            or unreadable.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise ImageError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise ImageError(f"{name}: is a folder, expected an image file") from None
    except OSError as exc:
        raise ImageError(f"{name}: could not read the file ({exc.strerror or exc})") from None
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise ImageError(f"{name}: is a folder, expected an image file")
        if not stat.S_ISREG(st.st_mode):
            raise ImageError(f"{name}: is not a regular file (a pipe, socket or device); expected an image file")
        if st.st_size == 0:
            raise ImageError(f"{name}: the file is empty (0 bytes)")
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _frame_count(img: Image.Image) -> int:
    """How many frames an opened image holds (1 when that cannot be told)."""
    try:
        return int(getattr(img, "n_frames", 1))
    except Exception:  # a damaged later frame: the first one was read, say nothing more
        return 1


def _decode(
    source: Any, name: str, max_pixels: int, stack: ExitStack, frames: list[int] | None = None
) -> np.ndarray:
    """The pixels of a path, bytes or PIL image (a file opened here is closed by ``stack``).

    ``frames``, when given, gets the number of frames the image holds.
    """
    try:
        if isinstance(source, Image.Image):
            img = source
        elif isinstance(source, (bytes, bytearray, memoryview)):
            if len(source) == 0:
                raise ImageError(f"{name}: empty bytes are not an image")
            img = Image.open(io.BytesIO(bytes(source)))
        elif isinstance(source, (str, os.PathLike)):
            img = Image.open(stack.enter_context(_open_file(source, name)))
        else:
            raise ImageError(
                f"expected a path, bytes, a PIL image or a numpy array, got {type(source).__name__}"
            )
        w, h = img.size
        if w * h > max_pixels:
            raise ImageError(
                f"{name}: the image is {w}x{h} = {w * h:,} pixels, more than the limit of "
                f"{max_pixels:,}; downscale it or pass a larger max_pixels"
            )
        img.load()
        arr = _from_pil(img, name)
        if frames is not None:
            frames.append(_frame_count(img))  # after reading: counting may move an animation off its first frame
        return arr
    except ImageError:
        raise
    except UnidentifiedImageError:
        raise ImageError(f"{name}: not a readable image (unknown or corrupt format)") from None
    except Image.DecompressionBombError as exc:
        raise ImageError(f"{name}: the image is too large: {exc}") from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise ImageError(f"{name}: could not decode the image ({exc})") from None


def load_image(source: ImageInput, *, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Read an image into a ``uint8`` array, gray ``(H, W)`` or RGB ``(H, W, 3)``.

    Args:
        source: A file path, encoded image bytes, a PIL image, or an array
            (gray, RGB or RGBA; uint8, uint16 or float in 0-1 or 0-255).
        max_pixels: Refuse images with more pixels than this.

    Returns:
        The pixels. Gray inputs stay gray; alpha is dropped; EXIF orientation
        is applied; 16-bit images are scaled to 8 bits.

    Raises:
        ImageError: The source is missing, empty, not an image, too small
            (a side under 8 pixels) or too large.

    Examples:
        >>> import numpy as np
        >>> load_image(np.zeros((48, 48), dtype=np.float32)).dtype
        dtype('uint8')
    """
    return _load(source, max_pixels)


def _load(source: ImageInput, max_pixels: int, frames: list[int] | None = None) -> np.ndarray:
    """:func:`load_image`; ``frames``, when given, gets the number of frames the source holds."""
    name = _describe(source)
    if isinstance(source, np.ndarray):
        arr = _from_array(source, name)
        if frames is not None:
            frames.append(1)
    else:
        with ExitStack() as stack:  # closes the file a path opens, once the pixels are read
            arr = _decode(source, name, max_pixels, stack, frames)
    if min(arr.shape[:2]) < MIN_SIDE:
        raise ImageError(
            f"{name}: the image is {arr.shape[1]}x{arr.shape[0]} pixels; "
            f"fermask needs at least {MIN_SIDE}x{MIN_SIDE}"
        )
    return arr


def load_image_with_frames(source: ImageInput, *, max_pixels: int = MAX_PIXELS) -> tuple[np.ndarray, int]:
    """:func:`load_image`, and the number of frames the source holds (only the first is read).

    An array is one frame. Counting costs nothing for PNG, WEBP and BMP files;
    a GIF is read to its end.

    Examples:
        >>> import numpy as np
        >>> load_image_with_frames(np.zeros((48, 48), dtype=np.uint8))[1]
        1
    """
    frames: list[int] = []
    arr = _load(source, max_pixels, frames)
    return arr, frames[0]


def to_gray(arr: np.ndarray) -> np.ndarray:
    """Convert a ``uint8`` RGB image to gray (ITU-R 601 luma); gray passes through."""
    if arr.ndim == 2:
        return arr
    g = arr[..., 0] * 0.299 + arr[..., 1] * 0.587 + arr[..., 2] * 0.114
    return np.clip(g + 0.5, 0, 255).astype(np.uint8)


def to_rgb(arr: np.ndarray) -> np.ndarray:
    """Convert a ``uint8`` gray image to RGB by repeating it; RGB passes through."""
    if arr.ndim == 3:
        return arr
    return np.repeat(arr[..., None], 3, axis=2)


def fit_image(arr: np.ndarray, size: Sequence[int] | None = None, color_mode: str | None = None, *,
              fast: bool = False) -> np.ndarray:
    """A ``uint8`` image in a model's colour mode and size: the one place fermask converts and resizes for one.

    The colour is converted first (ITU-R 601 luma for gray, repeated planes
    for RGB), then the image is resized bilinearly; an image already in that
    mode and size is returned as it is.

    Args:
        arr: ``(H, W)`` gray or ``(H, W, 3)`` RGB ``uint8`` array.
        size: ``(height, width)`` to resize to; ``None`` keeps the size.
        color_mode: ``"grayscale"`` (a 2-D result) or ``"rgb"`` (3 channels);
            ``None`` keeps the image's own.
        fast: Shrink by whole factors with box averages first, then
            bilinearly (Pillow's ``reducing_gap=1``): several times faster on
            large reductions, with slightly different pixels. Detectors use
            it; model inputs do not.

    Returns:
        The ``uint8`` image.

    Examples:
        >>> import numpy as np
        >>> fit_image(np.zeros((60, 40, 3), np.uint8), (48, 48), "grayscale").shape
        (48, 48)
        >>> fit_image(np.zeros((48, 48), np.uint8), color_mode="rgb").shape
        (48, 48, 3)
    """
    if color_mode is not None:
        arr = to_gray(arr) if check_choice(color_mode, COLOR_MODES, "color_mode") == "grayscale" else to_rgb(arr)
    if size is not None:
        h, w = int(size[0]), int(size[1])
        if arr.shape[:2] != (h, w):
            gap = 1.0 if fast else None
            arr = np.asarray(Image.fromarray(arr).resize((w, h), Image.Resampling.BILINEAR, reducing_gap=gap))
    return arr


def crop_face(image: np.ndarray, box: Sequence[float], margin: float = 0.0) -> np.ndarray:
    """Cut a face box out of an image, grown by ``margin`` on every side.

    Where the grown box leaves the image, edge pixels are repeated, so the
    crop keeps the box's shape and the face stays centred.

    Args:
        image: ``(H, W)`` or ``(H, W, C)`` array.
        box: ``(left, top, right, bottom)``.
        margin: Fraction of the box's width/height added on each side.

    Returns:
        The crop, same dtype and channels as ``image``.

    Examples:
        >>> import numpy as np
        >>> crop_face(np.zeros((10, 10), np.uint8), (-2, 0, 4, 6)).shape
        (6, 6)
    """
    left, top, right, bottom = (int(round(v)) for v in box)
    if right <= left or bottom <= top:
        raise ImageError(f"a face box must have right > left and bottom > top, got {tuple(box)}")
    if margin:
        dx = int(round((right - left) * margin))
        dy = int(round((bottom - top) * margin))
        left, top, right, bottom = left - dx, top - dy, right + dx, bottom + dy
    h, w = image.shape[:2]
    pad_l, pad_t = max(0, -left), max(0, -top)
    pad_r, pad_b = max(0, right - w), max(0, bottom - h)
    if pad_l or pad_t or pad_r or pad_b:
        pads = [(pad_t, pad_b), (pad_l, pad_r)] + [(0, 0)] * (image.ndim - 2)
        image = np.pad(image, pads, mode="edge")
        left, right = left + pad_l, right + pad_l
        top, bottom = top + pad_t, bottom + pad_t
    return image[top:bottom, left:right]
