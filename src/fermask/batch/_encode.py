"""The workers' half of a folder run: mask input files and encode each masked image.

A worker (a process of the pool, a Dask worker, or the calling process when
``workers=1``) reads its inputs from their paths, masks them and encodes each
masked image in its output format. Only the manifest fields and the encoded
bytes go back to the process that runs the folder, which writes the files,
the manifest lines and the renames: so the costly part (decoding, masking,
encoding) runs in parallel, while the output folder's bookkeeping stays in
one process. A worker needs to read the input paths, never to write the output
folder.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np

from .._choices import DEFAULT_PNG_LEVEL
from .._parallel import bounded_groups
from ..errors import FermaskError

__all__ = ["PIL_FORMATS", "RECORD_FIELDS", "DEFAULT_PNG_LEVEL", "Task", "Encoded", "Encoder", "encode_image", "frames_note"]

PIL_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".bmp": "BMP", ".webp": "WEBP"}
"""Output suffix -> the format Pillow writes."""


_ONE_EACH = "a masker must give one MaskResult per image, in the order of the images (see Masker.mask_batch)"

RECORD_FIELDS = ("status", "faces", "styles", "colors", "patterns", "full_frame", "reason")
"""The fields of a :class:`~fermask.MaskResult` record that a folder run's manifest line keeps."""


@dataclass(frozen=True)
class Task:
    """One input file for a worker.

    Attributes:
        index: The input's position among all the inputs (seeds its random choices).
        path: The file to read.
        fmt: The Pillow format of its output (``"PNG"``, ``"JPEG"``, ...).
    """

    index: int
    path: str
    fmt: str


@dataclass
class Encoded:
    """One input, masked and encoded.

    Attributes:
        fields: Its manifest fields (``status``, ``faces``, ..., ``reason``, ``note``).
        data: The encoded masked image, or ``None`` when there is nothing to write.
    """

    fields: dict[str, Any]
    data: bytes | None


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png(img: Any, level: int) -> bytes:
    """A gray or RGB PIL image as PNG: the same bytes as ``img.save(buf, "PNG", compress_level=level)``.

    Pillow's own zip encoder makes the image data (filters and compression
    alike); only the three chunks around it are written here, which saves
    Pillow's per-file set-up: 0.06 ms instead of 0.12 ms for a 48x48 crop.
    The data is cut into ``IDAT`` chunks where Pillow cuts it.
    """
    width, height = img.size
    data = img.tobytes("zip", img.mode, 0, level)  # rawmode, optimize, compress_level
    block = max(65536, width * 4)  # the block size of Pillow's encoder loop: one IDAT chunk each
    color = {"L": 0, "RGB": 2}[img.mode]
    return b"".join([
        b"\x89PNG\r\n\x1a\n",
        _png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, color, 0, 0, 0)),
        *(_png_chunk(b"IDAT", data[i:i + block]) for i in range(0, len(data), block)),
        _png_chunk(b"IEND", b""),
    ])


def encode_image(image: np.ndarray, fmt: str, png_level: int = DEFAULT_PNG_LEVEL) -> bytes:
    """``image`` encoded as a file of Pillow format ``fmt`` (JPEG at quality 95, WEBP lossless).

    A gray or RGB PNG is the same file that Pillow's ``save`` writes, made
    faster (see :func:`_png`).

    Examples:
        >>> data = encode_image(np.zeros((4, 4), np.uint8), "PNG")
        >>> data[:4]
        b'\\x89PNG'
    """
    from PIL import Image

    img = Image.fromarray(image)
    if fmt == "PNG" and img.mode in ("L", "RGB"):
        return _png(img, png_level)
    buf = io.BytesIO()
    if fmt == "JPEG":
        img.save(buf, format=fmt, quality=95)
    elif fmt == "WEBP":
        img.save(buf, format=fmt, lossless=True)
    elif fmt == "PNG":
        img.save(buf, format=fmt, compress_level=png_level)
    else:
        img.save(buf, format=fmt)
    return buf.getvalue()


def frames_note(frames: int, status: str) -> str | None:
    """A note for an input of ``frames`` frames (only the first is read) that ended as ``status``, else ``None``."""
    if frames <= 1 or status == "error":
        return None
    done = "masked" if status == "masked" else "searched for faces"
    return f"animated image: only the first of its {frames} frames was {done}"


@dataclass
class _Read:
    """One input file, read: its pixels and frame count, or why it could not be read."""

    task: Task
    image: np.ndarray | None
    frames: int = 1
    reason: str | None = None

    def nbytes(self) -> int:
        """The bytes of pixels it holds."""
        return self.image.nbytes if self.image is not None else 0


def _read(task: Task) -> _Read:
    from .._image import load_image_with_frames
    from ..errors import ImageError

    try:
        image, frames = load_image_with_frames(task.path)
    except ImageError as exc:
        return _Read(task, None, reason=str(exc))
    return _Read(task, image, frames)


def _groups(tasks: Iterable[Task]) -> Iterator[list[_Read]]:
    """The inputs, read, in groups of the bounds a :class:`~fermask.Masker` stages its work in.

    :data:`fermask.masker.STAGE_IMAGES` images, or :data:`fermask.masker.STAGE_BYTES` bytes of pixels
    (read from ``masker/_stages.py``, where they are defined).
    """
    from ..masker import _stages

    return bounded_groups(map(_read, tasks), _Read.nbytes, count=_stages.STAGE_IMAGES, size=_stages.STAGE_BYTES)


class Encoder:
    """Masks input files and encodes the masked images; runs wherever the work is sent.

    Args:
        masker: The masker (anything with ``mask_many``, which gets the decoded
            images as arrays); it is pickled with this object when the work
            goes to other processes.
        png_level: zlib compression level of PNG outputs, 0 (none) to 9.
    """

    def __init__(self, masker: Any, png_level: int = DEFAULT_PNG_LEVEL) -> None:
        self.masker = masker
        self.png_level = int(png_level)

    def _encoded(self, read: _Read, res: Any) -> Encoded:
        """The manifest fields and the encoded image of one input's :class:`~fermask.MaskResult`."""
        rec = res.to_record()
        fields = {k: rec[k] for k in RECORD_FIELDS}
        fields["note"] = frames_note(read.frames, rec["status"])
        data = None
        if rec["status"] == "masked" and res.image is not None:
            try:
                data = encode_image(res.image, read.task.fmt, self.png_level)
            except (OSError, ValueError) as exc:
                fields.update(status="error", reason=f"could not encode the masked image as {read.task.fmt}: {exc}")
        return Encoded(fields, data)

    @staticmethod
    def _unread(read: _Read) -> Any:
        """The :class:`~fermask.MaskResult` of an input that could not be read."""
        from ..masker import MaskResult

        return MaskResult(image=None, index=read.task.index, reason=read.reason, source=read.task.path)

    def _mask_group(self, group: list[_Read], mask: Callable[..., Iterable[Any]]) -> Iterator[tuple[_Read, Any]]:
        """Each input of ``group`` with its :class:`~fermask.MaskResult`, as ``mask(images, indices=...)`` gives them."""
        readable = [r for r in group if r.image is not None]
        results = iter(mask([r.image for r in readable], indices=[r.task.index for r in readable]))
        for read in group:
            if read.image is None:
                yield read, self._unread(read)
                continue
            res = next(results, None)
            if res is None:
                raise FermaskError(f"the masker gave fewer results than the {len(readable)} images it was given; {_ONE_EACH}")
            yield read, res
        if next(results, None) is not None:  # also lets the masker's generator finish
            raise FermaskError(f"the masker gave more results than the {len(readable)} images it was given; {_ONE_EACH}")

    def masked(self, tasks: Iterable[Task], **options: Any) -> Generator[Encoded, None, None]:
        """Read, mask and encode ``tasks`` (``options`` go to the masker's ``mask_many``), each as soon as it is masked.

        The files are read a group at a time (:func:`_groups`), so that a run
        stopped midway keeps every input finished before it.
        """
        mask = partial(self.masker.mask_many, progress=False, **options)
        for group in _groups(tasks):
            for read, res in self._mask_group(group, mask):
                yield self._encoded(read, res)

    def __call__(self, tasks: list[Task]) -> list[Encoded]:
        """A chunk of work, in this process (what a pool worker runs): all of it, or nothing when it fails.

        Each group is read, then masked, then encoded. Doing each kind of work
        in a run, rather than the three in turn for each image, keeps dlib's
        models in the CPU's caches: 48x48 crops cost 0.2 ms less CPU each. A
        :class:`~fermask.Masker` stages its own work too (``mask_batch``).
        """
        mask = getattr(self.masker, "mask_batch", None)
        if not callable(mask):
            mask = partial(self.masker.mask_many, progress=False, workers=1)
        out: list[Encoded] = []
        for group in _groups(tasks):
            done = list(self._mask_group(group, mask))
            out.extend(self._encoded(read, res) for read, res in done)
        return out
