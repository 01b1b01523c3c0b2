"""Writing datasets in FER2013's formats (CSV variants and the folder layout).

Used to make benchmark and test files in the real formats, and to hand a
(masked) dataset to tools that read FER2013 files.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from ..errors import DataFormatError

if TYPE_CHECKING:  # pragma: no cover
    from .dataset import FERDataset

__all__ = ["write_fer2013_csv", "write_image_folder"]

_LUT = np.array([str(i) for i in range(256)], dtype=object)
CsvFormat = Literal["fer2013", "icml", "kaggle_train", "kaggle_test"]


def _gray48(ds: FERDataset) -> np.ndarray:
    if ds.images.ndim != 3 or ds.images.shape[1:] != (48, 48):
        raise DataFormatError(
            f"FER2013 CSV files hold 48x48 gray images; this dataset has images of shape {ds.images.shape[1:]}. "
            "Use save() for other sizes, or write_image_folder()"
        )
    return ds.images.reshape(len(ds), -1)


def write_fer2013_csv(ds: FERDataset, path: str | os.PathLike[str], *, format: CsvFormat = "fer2013") -> Path:
    """Write a dataset as a FER2013-format CSV.

    Args:
        ds: A dataset of 48x48 gray images.
        path: The file to write (an existing file is an error: inputs are never overwritten).
        format: ``"fer2013"`` (``emotion,pixels,Usage``), ``"icml"``
            (``emotion, Usage, pixels``), ``"kaggle_train"`` (``emotion,pixels``)
            or ``"kaggle_test"`` (``pixels``).

    Returns:
        The path written.

    Examples:
        >>> from fermask.data import make_synthetic_fer, write_fer2013_csv
        >>> write_fer2013_csv(make_synthetic_fer(10), "synthetic.csv")  # doctest: +SKIP
        PosixPath('synthetic.csv')
    """
    out = Path(path)
    if out.exists():
        raise DataFormatError(f"'{out}' already exists; choose another path or delete it first")
    if format not in ("fer2013", "icml", "kaggle_train", "kaggle_test"):
        raise DataFormatError(f"unknown CSV format {format!r}; expected fer2013, icml, kaggle_train or kaggle_test")
    flat = _gray48(ds)
    if format != "kaggle_test" and (ds.labels < 0).any():
        raise DataFormatError(f"format {format!r} needs a label on every row; this dataset has unlabelled rows")
    if format != "kaggle_test" and len(ds.label_names) != 7:
        raise DataFormatError("FER2013 CSV files hold the seven FER2013 classes; this dataset has "
                              f"{len(ds.label_names)} classes {ds.label_names}")
    if format in ("fer2013", "icml") and (ds.usage == "").any():
        raise DataFormatError(f"format {format!r} has a Usage column; this dataset has rows without usage")
    header = {
        "fer2013": ["emotion", "pixels", "Usage"],
        "icml": ["emotion", " Usage", " pixels"],
        "kaggle_train": ["emotion", "pixels"],
        "kaggle_test": ["pixels"],
    }[format]
    tmp = out.with_name(out.name + ".partial")
    with open(tmp, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        for i in range(len(ds)):
            pix = " ".join(_LUT[flat[i]].tolist())
            lab = str(int(ds.labels[i]))
            if format == "fer2013":
                w.writerow([lab, pix, ds.usage[i]])
            elif format == "icml":
                w.writerow([lab, ds.usage[i], pix])
            elif format == "kaggle_train":
                w.writerow([lab, pix])
            else:
                w.writerow([pix])
    os.replace(tmp, out)
    return out


def write_image_folder(ds: FERDataset, root: str | os.PathLike[str], *, split_folders: bool = True) -> Path:
    """Write a dataset as PNG files in the Kaggle folder layout.

    With ``split_folders`` the layout is ``root/train/<label>/<id>.png`` and
    ``root/test/<label>/<id>.png`` (Training rows go to ``train``, every other
    usage to ``test``); without, ``root/<label>/<id>.png``.
    """
    from PIL import Image

    out = Path(root)
    if out.exists() and any(out.iterdir()):
        raise DataFormatError(f"'{out}' is not empty; choose a new folder")
    if (ds.labels < 0).any():
        raise DataFormatError("an image folder needs a label on every image; this dataset has unlabelled rows")
    for i in range(len(ds)):
        name = ds.label_names[int(ds.labels[i])]
        folder = out / ("train" if ds.usage[i] == "Training" else "test") / name if split_folders else out / name
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(ds.images[i]).save(folder / f"{int(ds.ids[i]):05d}.png")
    return out
