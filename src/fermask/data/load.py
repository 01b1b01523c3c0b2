"""Read FER2013 (or data in one of its formats) from whatever path the user gives.

Examples:
    >>> load_fer_data("no/such/fer2013.csv")
    Traceback (most recent call last):
    ...
    fermask.data.load.DataNotFoundError: 'no/such/fer2013.csv' does not exist.
    FER2013 is not shipped with fermask (its licence does not allow redistribution); download it and
    ...
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import FermaskError
from .dataset import FERDataset

__all__ = ["DataNotFoundError", "FER2013_HELP", "load_fer_data"]

FER2013_HELP = """\
FER2013 is not shipped with fermask (its licence does not allow redistribution); download it and
pass its path with --data. Where to get it:
  * Kaggle competition "Challenges in Representation Learning: Facial Expression Recognition
    Challenge": fer2013.csv (in fer2013.tar.gz) or icml_face_data.csv
    https://www.kaggle.com/c/challenges-in-representation-learning-facial-expression-recognition-challenge/data
  * Kaggle dataset "msambare/fer2013": the same images as PNG files in folders
    https://www.kaggle.com/datasets/msambare/fer2013
Accepted formats:
  * fer2013.csv            columns emotion,pixels,Usage (35,887 rows of 48x48 gray pixels)
  * icml_face_data.csv     columns emotion, Usage, pixels (with leading spaces)
  * train.csv              Kaggle's emotion,pixels file (no Usage column)
  * a folder               train/<emotion>/*.png and test/<emotion>/*.png (or <emotion>/*.png);
                           folder names are mapped to labels by name (angry, disgust, fear, happy,
                           sad, surprise, neutral)
  (.csv.gz works too.) Example: fermask reproduce --data ~/data/fer2013.csv"""


class DataNotFoundError(FermaskError, FileNotFoundError):
    """No data was given, or the path does not exist; the message says where to get FER2013."""


def load_fer_data(path: str | os.PathLike[str] | None, *, progress: bool = False) -> FERDataset:
    """Read FER2013 (or data in one of its formats) from a CSV file or a folder.

    Also reads a dataset folder written by ``FERDataset.save`` (it holds
    ``dataset.json``). This is the one reader of a data path a user gives:
    it picks :meth:`FERDataset.from_csv`, :meth:`~FERDataset.from_folder` or
    :meth:`~FERDataset.load` (one format each); the commands, ``reproduce``,
    ``adapt`` and the human baseline call it.

    Raises:
        DataNotFoundError: ``path`` is ``None`` or does not exist; the message
            says where to get FER2013 and which formats are accepted.
    """
    if path is None or str(path).strip() == "":
        raise DataNotFoundError("no data given.\n" + FER2013_HELP)
    p = Path(path).expanduser()
    if not p.exists():
        raise DataNotFoundError(f"'{p}' does not exist.\n" + FER2013_HELP)
    if p.is_dir():
        if (p / "dataset.json").is_file():
            return FERDataset.load(p)
        return FERDataset.from_folder(p, progress=progress)
    return FERDataset.from_csv(p, progress=progress)
