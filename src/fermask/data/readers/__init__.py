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

One module per kind of file: :mod:`.fer_csv` (the CSV formats),
:mod:`.image_folder` (labelled folders) and :mod:`.ferplus_votes` (FER+);
``_text`` opens a plain or gzip-compressed text file for the first and last.
This package re-exports their public names.
"""

from __future__ import annotations

from .fer_csv import FER_PIXELS, FER_SIDE, USAGES, CsvData, read_fer_csv
from .ferplus_votes import FERPLUS_COLUMNS, MAX_VOTES, read_ferplus_votes
from .image_folder import read_image_folder

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
