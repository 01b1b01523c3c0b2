"""Datasets: FER2013 readers, operations, masking with a cache, tf.data pipelines.

Examples:
    >>> from fermask.data import FERDataset, make_synthetic_fer
    >>> ds = make_synthetic_fer(70, balanced=True)
    >>> sorted(ds.class_counts().values())
    [10, 10, 10, 10, 10, 10, 10]
"""

from __future__ import annotations

from .dataset import FERDataset, TrainDevSplit, load_dataset, save_dataset
from .load import DataNotFoundError, load_fer_data
from .readers import USAGES
from .synthetic import SYNTHETIC_SOURCE, make_synthetic_fer
from .writers import write_fer2013_csv, write_image_folder

__all__ = [
    "FERDataset",
    "TrainDevSplit",
    "load_fer_data",
    "DataNotFoundError",
    "make_synthetic_fer",
    "write_fer2013_csv",
    "write_image_folder",
    "save_dataset",
    "load_dataset",
    "USAGES",
    "SYNTHETIC_SOURCE",
]
