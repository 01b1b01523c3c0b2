"""Labelled image folders: ``<root>/<label>/*`` and ``<root>/<split>/<label>/*`` (FER2013's Kaggle folder copy)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..._choices import COLOR_MODES, check_choice
from ..._image import IMAGE_SUFFIXES, fit_image, load_image
from ...errors import DataFormatError, ImageError
from ...labels import EMOTIONS, label_index

__all__ = ["read_image_folder"]

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
