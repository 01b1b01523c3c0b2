"""FER2013's CSV files: ``fer2013.csv``, ``icml_face_data.csv`` and Kaggle's ``train.csv`` / ``test.csv``.

:func:`read_fer_csv` tells the format from the header and reads every row into
one compact uint8 array; a row that is not a FER2013 image raises
:class:`~fermask.errors.DataFormatError` naming the file and line.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...errors import DataFormatError
from ...labels import EMOTIONS
from ._text import open_text

__all__ = ["FER_SIDE", "FER_PIXELS", "USAGES", "CsvData", "read_fer_csv"]

FER_SIDE = 48
FER_PIXELS = FER_SIDE * FER_SIDE
USAGES = ("Training", "PublicTest", "PrivateTest")
"""The values of FER2013's ``Usage`` column."""

_CHUNK = 4096


@dataclass
class CsvData:
    """What :func:`read_fer_csv` found in a file."""

    images: np.ndarray
    labels: np.ndarray
    usage: np.ndarray
    kind: str


def _count_lines(path: Path) -> int:
    """Lines in a plain file (an upper bound on its rows); a small guess for compressed files."""
    if path.suffix.lower() == ".gz":
        return _CHUNK
    n = 0
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 24), b""):
            n += block.count(b"\n")
    return n + 1


def _csv_kind(cols: list[str], path: Path) -> tuple[str, dict[str, int]]:
    names = [c.strip().lower() for c in cols]
    index = {n: i for i, n in enumerate(names)}
    found = set(names)
    if found == {"emotion", "pixels", "usage"}:
        kind = "icml_face_data" if cols[index["usage"]].startswith(" ") or cols[index["pixels"]].startswith(" ") else "fer2013"
    elif found == {"emotion", "pixels"}:
        kind = "kaggle_train"
    elif found == {"pixels"}:
        kind = "kaggle_test"
    else:
        hint = ""
        if {"image name", "happiness"} <= found:
            hint = (
                " This looks like FER+ votes (fer2013new.csv): load fer2013.csv and join the votes "
                "with dataset.with_ferplus(path)."
            )
        raise DataFormatError(
            f"'{path}': unknown columns {cols!r}. Expected one of: 'emotion,pixels,Usage' (fer2013.csv), "
            f"'emotion, Usage, pixels' (icml_face_data.csv), 'emotion,pixels' (Kaggle train.csv) or "
            f"'pixels' (Kaggle test.csv).{hint}"
        )
    if len(names) != len(found):
        raise DataFormatError(f"'{path}': the header {cols!r} repeats a column")
    return kind, index


def _parse_pixels(text: str, path: Path, line: int) -> np.ndarray:
    try:
        vals = np.fromstring(text, dtype=np.int16, sep=" ")  # noqa: NPY201 - text mode is supported
    except ValueError:
        bad = next((t for t in text.split() if not t.isdigit()), "?")
        raise DataFormatError(
            f"'{path}', line {line}: the pixels field holds {bad[:20]!r}, which is not a whole number; "
            "pixels must be 2,304 space-separated integers 0-255"
        ) from None
    if vals.size != FER_PIXELS:
        raise DataFormatError(
            f"'{path}', line {line}: {vals.size:,} pixel values, expected {FER_PIXELS:,} (48x48). "
            "The row is truncated or not a FER2013 image; fix or delete the row"
        )
    lo, hi = int(vals.min()), int(vals.max())
    if lo < 0 or hi > 255:
        raise DataFormatError(
            f"'{path}', line {line}: pixel value {lo if lo < 0 else hi} is out of range; expected 0-255"
        )
    return vals


def read_fer_csv(path: str | os.PathLike[str], *, progress: bool = False) -> CsvData:
    """Read any of FER2013's CSV formats into one compact uint8 array.

    Args:
        path: ``fer2013.csv``, ``icml_face_data.csv``, Kaggle's ``train.csv``
            or ``test.csv`` (optionally gzip-compressed, ``.csv.gz``).
        progress: Show a progress bar over the file's bytes.

    Returns:
        Images ``(N, 48, 48)`` uint8, labels ``(N,)`` int64 (``-1`` where the
        file has no labels), usage ``(N,)`` str (``""`` where it has none), and
        the format found.

    Raises:
        DataFormatError: Unknown columns, a wrong pixel count, a value or label
            out of range, an unknown Usage, or no rows; the message names the
            file and line.
    """
    p = Path(path)
    chunks: list[np.ndarray] = []
    labels: list[int] = []
    usage: list[str] = []
    with open_text(p) as f:
        try:
            first = f.readline()
        except UnicodeDecodeError as exc:
            raise DataFormatError(f"'{p}': not a text CSV file ({exc})") from None
        if not first.strip():
            raise DataFormatError(f"'{p}' is empty; expected a FER2013 CSV with a header row")
        try:
            header = next(csv.reader([first]))
        except csv.Error as exc:
            raise DataFormatError(f"'{p}': not a readable CSV file ({exc})") from None
        kind, idx = _csv_kind(header, p)
        ncols = len(header)
        ie, ip, iu = idx.get("emotion"), idx["pixels"], idx.get("usage")
        # One array sized from the line count, so the images are never copied (no 2x peak).
        buf = np.empty((_count_lines(p), FER_PIXELS), dtype=np.uint8)
        k = 0
        read_chars = len(first)
        bar = None
        if progress:
            from tqdm.auto import tqdm

            total = p.stat().st_size
            bar = tqdm(total=total, unit="B", unit_scale=True, desc=f"reading {p.name}")
        try:
            line = 1
            while True:
                try:
                    text = f.readline()
                except UnicodeDecodeError as exc:
                    raise DataFormatError(f"'{p}', line {line + 1}: not UTF-8 text ({exc})") from None
                if not text:
                    break
                line += 1
                read_chars += len(text)
                text = text.rstrip("\r\n")
                if not text.strip():
                    continue
                # FER2013 files are never quoted: a plain split is exact and fast; quoted lines go through csv
                try:
                    row = text.split(",") if '"' not in text else next(csv.reader([text]))
                except csv.Error as exc:
                    raise DataFormatError(f"'{p}', line {line}: unreadable CSV ({exc})") from None
                if len(row) != ncols:
                    raise DataFormatError(
                        f"'{p}', line {line}: {len(row)} fields, expected {ncols} ({','.join(h.strip() for h in header)})"
                    )
                buf[k] = _parse_pixels(row[ip], p, line)
                if ie is not None:
                    raw = row[ie].strip()
                    if not raw.lstrip("-").isdigit():
                        raise DataFormatError(
                            f"'{p}', line {line}: emotion {raw!r} is not a label number; expected 0-6 "
                            f"({', '.join(f'{i} {n}' for i, n in enumerate(EMOTIONS))})"
                        )
                    lab = int(raw)
                    if not 0 <= lab < len(EMOTIONS):
                        raise DataFormatError(
                            f"'{p}', line {line}: emotion label {lab} is out of range; expected 0-6 "
                            f"({', '.join(f'{i} {n}' for i, n in enumerate(EMOTIONS))})"
                        )
                    labels.append(lab)
                if iu is not None:
                    u = row[iu].strip()
                    if u not in USAGES:
                        raise DataFormatError(
                            f"'{p}', line {line}: Usage {u!r} is not one of {', '.join(USAGES)}"
                        )
                    usage.append(u)
                k += 1
                if k == len(buf):
                    chunks.append(buf)
                    buf = np.empty((_CHUNK, FER_PIXELS), dtype=np.uint8)
                    k = 0
                if bar is not None and k % _CHUNK == 0:
                    bar.update(read_chars - bar.n)
            if bar is not None:  # the last, partial chunk: the bar ends at 100%
                bar.update(read_chars - bar.n)
        finally:
            if bar is not None:
                bar.close()
        if k:
            chunks.append(buf[:k])
    n = sum(len(c) for c in chunks)
    if n == 0:
        raise DataFormatError(f"'{p}' has a header but no data rows; an empty dataset is not usable")
    images = chunks[0] if len(chunks) == 1 else np.concatenate(chunks)
    images = images.reshape(n, FER_SIDE, FER_SIDE)
    lab_arr = np.asarray(labels, dtype=np.int64) if ie is not None else np.full(n, -1, dtype=np.int64)
    use_arr = np.asarray(usage, dtype="<U11") if iu is not None else np.full(n, "", dtype="<U11")
    return CsvData(images, lab_arr, use_arr, kind)
