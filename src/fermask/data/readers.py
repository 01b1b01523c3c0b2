"""Readers for the FER2013 file formats and for labelled image folders.

Every reader is strict: a file that does not have the expected shape raises
:class:`~fermask.errors.DataFormatError` naming the file, the line and what
was wrong, and how to fix it. The readers return plain numpy arrays; the
:class:`~fermask.data.FERDataset` constructors wrap them.

Formats (see the datasets guide for details):

* ``fer2013.csv`` -- columns ``emotion,pixels,Usage``.
* ``icml_face_data.csv`` -- columns ``emotion, Usage, pixels`` (with leading spaces).
* Kaggle's ``train.csv`` (``emotion,pixels``) and ``test.csv`` (``pixels``).
* Folders ``<split>/<label>/*.png`` or ``<label>/*.png``.
* FER+ votes ``fer2013new.csv``.
"""

from __future__ import annotations

import csv
import gzip
import io
import os
import re
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from .._choices import COLOR_MODES, check_choice
from .._image import IMAGE_SUFFIXES, fit_image, load_image
from ..errors import DataFormatError, ImageError
from ..labels import EMOTIONS, label_index

__all__ = [
    "FER_SIDE",
    "FER_PIXELS",
    "USAGES",
    "CsvData",
    "read_fer_csv",
    "read_image_folder",
    "read_ferplus_votes",
    "FERPLUS_COLUMNS",
    "MAX_VOTES",
]

FER_SIDE = 48
FER_PIXELS = FER_SIDE * FER_SIDE
USAGES = ("Training", "PublicTest", "PrivateTest")
"""The values of FER2013's ``Usage`` column."""

# Folder names of split folders -> usage value. The Kaggle folder copy's
# ``test`` holds PublicTest and PrivateTest together, so it becomes "Test".
_SPLIT_DIRS = {
    "train": "Training",
    "training": "Training",
    "val": "PublicTest",
    "valid": "PublicTest",
    "validation": "PublicTest",
    "publictest": "PublicTest",
    "privatetest": "PrivateTest",
    "test": "Test",
}

FERPLUS_COLUMNS = (
    "usage",
    "image name",
    "neutral",
    "happiness",
    "surprise",
    "sadness",
    "anger",
    "disgust",
    "fear",
    "contempt",
    "unknown",
    "nf",
)
"""FER+ columns (compared stripped and lower-case), in file order."""

_CHUNK = 4096


@dataclass
class CsvData:
    """What :func:`read_fer_csv` found in a file."""

    images: np.ndarray
    labels: np.ndarray
    usage: np.ndarray
    kind: str


class _CheckedGzip(io.RawIOBase):
    """A gzip file's decompressed bytes, where a cut-off, damaged or plain file is a DataFormatError.

    gzip reports those as ``EOFError``, ``BadGzipFile`` or ``zlib.error``
    from deep inside a read; here they name the file and say what to do.
    """

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        self._gz = gzip.open(path, "rb")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        try:
            return self._gz.readinto(buffer)
        except EOFError:
            raise DataFormatError(
                f"'{self.path}' is cut off: the compressed data ends early (an interrupted download or copy?); "
                "download it again"
            ) from None
        except gzip.BadGzipFile as exc:
            if "not a gzipped file" in str(exc).lower():
                raise DataFormatError(
                    f"'{self.path}' is not gzip-compressed although its name ends in .gz; "
                    "decompress it first if it is another archive, or rename it without .gz if it is a plain CSV"
                ) from None
            raise self._damaged(exc) from None
        except zlib.error as exc:
            raise self._damaged(exc) from None

    def _damaged(self, exc: Exception) -> DataFormatError:
        return DataFormatError(f"'{self.path}' is damaged: the compressed data is corrupt ({exc}); download it again")

    def close(self) -> None:
        self._gz.close()
        super().close()


def _open_text(path: Path) -> IO[str]:
    if not path.exists():
        raise DataFormatError(f"'{path}': no such file")
    if path.is_dir():
        raise DataFormatError(f"'{path}' is a folder; expected a CSV file (use FERDataset.from_folder for folders)")
    if path.suffix.lower() == ".gz":
        return io.TextIOWrapper(io.BufferedReader(_CheckedGzip(path)), encoding="utf-8", newline="")
    return open(path, encoding="utf-8-sig", newline="")


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
    with _open_text(p) as f:
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


def _split_usage(name: str) -> str | None:
    return _SPLIT_DIRS.get(name.strip().lower())


def _label_of(folder: Path, label_names: tuple[str, ...] | None) -> int:
    name = folder.name
    if label_names is None:
        try:
            return label_index(name)
        except DataFormatError:
            raise DataFormatError(
                f"'{folder}': the folder name {name!r} is not an emotion; expected folders named "
                f"{', '.join(EMOTIONS)} (labels are mapped by name, never by folder order). "
                "For a dataset with other classes pass label_names=[...]"
            ) from None
    low = [n.lower() for n in label_names]
    if name.lower() not in low:
        raise DataFormatError(
            f"'{folder}': the folder name {name!r} is not one of label_names {list(label_names)}"
        )
    return low.index(name.lower())


def _is_hidden(p: Path) -> bool:
    return p.name.startswith(".") or p.name in ("Thumbs.db", "desktop.ini")


def _label_dirs(root: Path) -> list[Path]:
    return sorted(d for d in root.iterdir() if d.is_dir() and not _is_hidden(d))


def read_image_folder(
    path: str | os.PathLike[str],
    *,
    label_names: tuple[str, ...] | None = None,
    image_size: tuple[int, int] | None = None,
    color_mode: str | None = None,
    progress: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """Read a labelled image folder.

    Two layouts are recognised: ``root/<split>/<label>/*`` where ``<split>``
    is ``train``, ``test``, ``val``... (FER2013's Kaggle folder copy), and
    ``root/<label>/*``. Labels are mapped by folder *name* (see
    :func:`fermask.labels.label_index`), never by alphabetical position.

    Args:
        path: The root folder.
        label_names: Class names for a dataset whose classes are not the
            seven emotions; folders are matched to them by name.
        image_size: ``(height, width)`` to resize every image to; needed when
            the images differ in size.
        color_mode: ``"grayscale"`` or ``"rgb"``; ``None`` keeps gray when
            every image is gray, else RGB.
        progress: Show a progress bar.

    Returns:
        ``(images, labels, usage, files)``.

    Raises:
        DataFormatError: No images, an unknown label folder, a non-image in a
            label folder, or images of different sizes without ``image_size``.
    """
    root = Path(path)
    if not root.is_dir():
        raise DataFormatError(f"'{root}' is not a folder; expected <root>/<label>/*.png or <root>/<split>/<label>/*.png")
    check_choice(color_mode, COLOR_MODES, "color_mode", allow_none=True)
    top = _label_dirs(root)
    splits = [d for d in top if _split_usage(d.name) is not None]
    groups: list[tuple[str, Path]] = []
    if splits:
        others = [d.name for d in top if _split_usage(d.name) is None]
        if others:
            raise DataFormatError(
                f"'{root}' mixes split folders ({', '.join(d.name for d in splits)}) with other folders "
                f"({', '.join(others)}); expected only train/test/val folders holding label folders"
            )
        order = {"Training": 0, "PublicTest": 1, "PrivateTest": 2, "Test": 3}
        for s in sorted(splits, key=lambda d: order[_split_usage(d.name) or ""]):
            groups += [(_split_usage(s.name) or "", d) for d in _label_dirs(s)]
    else:
        groups = [("", d) for d in top]
    entries: list[tuple[str, int, Path]] = []
    for usage, d in groups:
        lab = _label_of(d, label_names)
        for f in sorted(d.iterdir()):
            if _is_hidden(f):
                continue
            if f.is_dir():
                raise DataFormatError(
                    f"'{f}' is a folder inside the label folder '{d}'; a label folder must hold image files only"
                )
            if f.suffix.lower() not in IMAGE_SUFFIXES:
                raise DataFormatError(
                    f"'{f}' is not an image (suffix {f.suffix or 'none'!r}; expected "
                    f"{', '.join(sorted(IMAGE_SUFFIXES))}); move it out of the label folder"
                )
            entries.append((usage, lab, f))
    if not entries:
        raise DataFormatError(f"'{root}' holds no images; expected <root>/<label>/*.png or <root>/<split>/<label>/*.png")
    entries.sort(key=lambda e: (0 if not e[0] else {"Training": 0, "PublicTest": 1, "PrivateTest": 2, "Test": 3}[e[0]], e[1], e[2].name))
    from tqdm.auto import tqdm

    arrays: list[np.ndarray] = []
    first_size: tuple[tuple[int, int], Path] | None = None
    any_rgb = False
    for _, _, f in tqdm(entries, desc=f"reading {root.name}", unit="img", disable=not progress):
        try:
            arr = load_image(f)
        except ImageError as exc:
            raise DataFormatError(f"'{f}' in a label folder is not a readable image: {exc}") from None
        if image_size is not None:
            arr = fit_image(arr, image_size)
        elif first_size is None:
            first_size = (arr.shape[:2], f)
        elif arr.shape[:2] != first_size[0]:
            raise DataFormatError(
                f"images differ in size: '{first_size[1]}' is {first_size[0][1]}x{first_size[0][0]}, "
                f"'{f}' is {arr.shape[1]}x{arr.shape[0]}; pass image_size=(height, width) to resize them all"
            )
        any_rgb = any_rgb or arr.ndim == 3
        arrays.append(arr)
    mode = color_mode or ("rgb" if any_rgb else "grayscale")
    images = np.stack([fit_image(a, color_mode=mode) for a in arrays])
    labels = np.array([e[1] for e in entries], dtype=np.int64)
    usages = np.array([e[0] for e in entries], dtype="<U11")
    return images, labels, usages, [str(e[2]) for e in entries]


MAX_VOTES = 1000
"""The largest FER+ vote count accepted in one cell.

FER+ asked ten taggers per image, so real counts are 0-10; the bound leaves
room for relabelling efforts with larger crowds while refusing values that
are clearly not counts (and would overflow the int32 vote array).
"""

_WHOLE = re.compile(r"[0-9]+")


def _parse_vote(text: str, path: Path, line: int, column: int) -> int:
    """One FER+ vote cell as a count 0..MAX_VOTES; anything else names the file, line and column."""
    where = f"'{path}', line {line}, column {column} ({FERPLUS_COLUMNS[column - 1]})"
    raw = text.strip()
    if raw.startswith("-") and _WHOLE.fullmatch(raw[1:]):
        raise DataFormatError(f"{where}: the vote count {raw!r} is negative; votes count taggers, 0 or more")
    if not _WHOLE.fullmatch(raw):
        raise DataFormatError(f"{where}: the vote count {raw[:30]!r} is not a whole number; expected 0-{MAX_VOTES:,}")
    if len(raw.lstrip("0")) > len(str(MAX_VOTES)) or int(raw) > MAX_VOTES:
        raise DataFormatError(
            f"{where}: the vote count {raw[:40]} is too large; FER+ counts votes of 10 taggers, "
            f"so a count must be at most {MAX_VOTES:,}. Fix the row or download fer2013new.csv again"
        )
    return int(raw)


def read_ferplus_votes(path: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Read FER+ votes (``fer2013new.csv``).

    Returns:
        ``(votes, usage, named)``: ``(N, 10)`` int32 votes in the file's order
        (neutral, happiness, surprise, sadness, anger, disgust, fear,
        contempt, unknown, NF), the Usage column, and a bool array that is
        ``False`` where the image name is blank (a row FER+ dropped).

    Raises:
        DataFormatError: Wrong columns, a vote that is not a whole number from
            0 to :data:`MAX_VOTES`, or a file that is not readable text; the
            message names the file, line and column.
    """
    p = Path(path)
    votes: list[list[int]] = []
    usage: list[str] = []
    named: list[bool] = []
    with _open_text(p) as f:
        reader = csv.reader(f)
        try:
            header = next(reader, None)
            if header is None:
                raise DataFormatError(f"'{p}' is empty; expected FER+ votes (fer2013new.csv)")
            names = [c.strip().lower() for c in header]
            if tuple(names) != FERPLUS_COLUMNS:
                raise DataFormatError(
                    f"'{p}': unknown columns {header!r}; expected FER+ columns "
                    "'Usage,Image name,neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF'"
                )
            for row in reader:
                if not row:
                    continue
                line = reader.line_num
                if len(row) != len(FERPLUS_COLUMNS):
                    raise DataFormatError(f"'{p}', line {line}: {len(row)} fields, expected {len(FERPLUS_COLUMNS)}")
                votes.append([_parse_vote(x, p, line, c) for c, x in enumerate(row[2:], start=3)])
                usage.append(row[0].strip())
                named.append(bool(row[1].strip()))
        except UnicodeDecodeError as exc:
            raise DataFormatError(f"'{p}', line {reader.line_num + 1}: not UTF-8 text ({exc})") from None
        except csv.Error as exc:
            raise DataFormatError(f"'{p}', line {reader.line_num}: unreadable CSV ({exc})") from None
    if not votes:
        raise DataFormatError(f"'{p}' has a header but no rows")
    return (
        np.asarray(votes, dtype=np.int32),
        np.asarray(usage, dtype="<U11"),
        np.asarray(named, dtype=bool),
    )
