"""Damaged or malformed data files give a DataFormatError naming the file, never a library traceback (issue 10)."""

from __future__ import annotations

import gzip
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from fermask.data import FERDataset, load_fer_data, make_synthetic_fer, write_fer2013_csv
from fermask.data.readers import read_fer_csv, read_ferplus_votes
from fermask.errors import DataFormatError


FERPLUS_HEADER = "Usage,Image name,neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF"

CSV_READERS: list[Callable[[Path], Any]] = [FERDataset.from_csv, read_fer_csv, load_fer_data]


@pytest.fixture()
def fer_csv(tmp_path: Path) -> Path:
    return write_fer2013_csv(make_synthetic_fer(60, seed=1), tmp_path / "fer2013.csv")


# -- 1. compressed CSVs ------------------------------------------------------------------


@pytest.mark.parametrize("read", CSV_READERS)
def test_truncated_gzip_csv(fer_csv: Path, read: Callable[[Path], Any]) -> None:
    packed = gzip.compress(fer_csv.read_bytes())
    cut = fer_csv.with_name("cut.csv.gz")
    cut.write_bytes(packed[: len(packed) // 2])
    with pytest.raises(DataFormatError, match=r"'.*cut\.csv\.gz' is cut off.*download it again") as info:
        read(cut)
    assert info.value.__cause__ is None and info.value.__suppress_context__


@pytest.mark.parametrize("read", CSV_READERS)
def test_gz_suffix_on_a_plain_csv(fer_csv: Path, read: Callable[[Path], Any]) -> None:
    plain = fer_csv.with_name("plain.csv.gz")
    plain.write_bytes(fer_csv.read_bytes())
    with pytest.raises(DataFormatError, match=r"'.*plain\.csv\.gz' is not gzip-compressed.*rename it"):
        read(plain)


def test_damaged_gzip_data(fer_csv: Path) -> None:
    """Bytes changed inside the compressed stream: a CRC or zlib failure, reported as damage."""
    packed = bytearray(gzip.compress(fer_csv.read_bytes()))
    packed[-8] ^= 0xFF  # the stored CRC32
    bad = fer_csv.with_name("crc.csv.gz")
    bad.write_bytes(bytes(packed))
    with pytest.raises(DataFormatError, match=r"'.*crc\.csv\.gz' is damaged.*download it again"):
        read_fer_csv(bad)


def test_gzip_ferplus_votes_cut_off(tmp_path: Path) -> None:
    rows = "\n".join(f"Training,fer{i}.png,10,0,0,0,0,0,0,0,0,0" for i in range(400))
    packed = gzip.compress(f"{FERPLUS_HEADER}\n{rows}\n".encode())
    cut = tmp_path / "fer2013new.csv.gz"
    cut.write_bytes(packed[: len(packed) // 2])
    with pytest.raises(DataFormatError, match="fer2013new.csv.gz' is cut off"):
        read_ferplus_votes(cut)


# -- 2. FER+ votes -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "match"),
    [
        (str(10**30), "1000000000000000000000000000000.*at most 1,000"),
        ("99999999999", "99999999999.*at most 1,000"),
        ("1001", "1001.*at most 1,000"),
        ("-1", "'-1' is negative"),
        ("2.5", "'2.5' is not a whole number"),
        ("1_0", "'1_0' is not a whole number"),
        ("", "'' is not a whole number"),
    ],
)
def test_bad_ferplus_vote(tmp_path: Path, value: str, match: str) -> None:
    p = tmp_path / "fer2013new.csv"
    p.write_text(f"{FERPLUS_HEADER}\nTraining,fer0.png,0,8,2,0,0,0,0,0,0,0\n"
                 f"Training,fer1.png,0,{value},2,0,0,0,0,0,0,0\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match=rf"fer2013new.csv', line 3, column 4 \(happiness\): the vote count {match}"):
        read_ferplus_votes(p)


def test_largest_accepted_vote(tmp_path: Path) -> None:
    p = tmp_path / "fer2013new.csv"
    p.write_text(f"{FERPLUS_HEADER}\nTraining,fer0.png,0, 1000 ,2,0,0,0,0,0,0,0\n", encoding="utf-8")
    votes, _, _ = read_ferplus_votes(p)
    assert votes.tolist() == [[0, 1000, 2, 0, 0, 0, 0, 0, 0, 0]]
