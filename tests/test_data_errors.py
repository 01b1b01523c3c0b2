"""Damaged or malformed data files give a DataFormatError naming the file, never a library traceback (issue 10)."""

from __future__ import annotations

import gzip
import json
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from fermask.data import FERDataset, load_fer_data, make_synthetic_fer, write_fer2013_csv
from fermask.data.readers import read_fer_csv, read_ferplus_votes
from fermask.errors import DataFormatError

from test_data_mask import FakeMasker

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


# -- 3. saved dataset descriptions -------------------------------------------------------


LOADERS: list[Callable[[Path], Any]] = [FERDataset.load, load_fer_data]


def _saved(tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    out = make_synthetic_fer(30, seed=2).save(tmp_path / "saved", shard_size=20)
    return out, json.loads((out / "dataset.json").read_text())


def _damage(info: dict[str, Any], how: str) -> Any:
    entry = info["shards"][0]
    cases: dict[str, Any] = {
        "a list": [info],
        "a string": "fermask-dataset",
        "no shards": {k: v for k, v in info.items() if k != "shards"},
        "shards not a list": {**info, "shards": "shard-00000.npz"},
        "entry not an object": {**info, "shards": ["shard-00000.npz", info["shards"][1]]},
        "entry without sha256": {**info, "shards": [{"file": entry["file"], "count": 20}, info["shards"][1]]},
        "count not a number": {**info, "shards": [{**entry, "count": "20"}, info["shards"][1]]},
        "file outside the folder": {**info, "shards": [{**entry, "file": "../x.npz"}, info["shards"][1]]},
        "file not a string": {**info, "shards": [{**entry, "file": 7}, info["shards"][1]]},
        "no count": {k: v for k, v in info.items() if k != "count"},
        "version not a number": {**info, "version": "one"},
        "no label_names": {k: v for k, v in info.items() if k != "label_names"},
    }
    return cases[how]


@pytest.mark.parametrize("read", LOADERS)
@pytest.mark.parametrize(
    "how",
    ["a list", "a string", "no shards", "shards not a list", "entry not an object", "entry without sha256",
     "count not a number", "file outside the folder", "file not a string", "no count",
     "version not a number", "no label_names"],
)
def test_malformed_dataset_json(tmp_path: Path, read: Callable[[Path], Any], how: str) -> None:
    out, info = _saved(tmp_path)
    (out / "dataset.json").write_text(json.dumps(_damage(info, how)))
    with pytest.raises(DataFormatError, match=r"dataset\.json'.*save the dataset again") as exc:
        read(out)
    assert "Traceback" not in str(exc.value)


def test_shard_missing_an_array(tmp_path: Path) -> None:
    out, info = _saved(tmp_path)
    with np.load(out / "shard-00000.npz") as z:
        arrays = {k: z[k] for k in z.files if k != "ids"}
    np.savez_compressed(out / "shard-00000.npz", **arrays)
    from fermask._files import sha256_file

    info["shards"][0]["sha256"] = sha256_file(out / "shard-00000.npz")
    (out / "dataset.json").write_text(json.dumps(info))
    with pytest.raises(DataFormatError, match=r"shard-00000\.npz' has no 'ids' array"):
        FERDataset.load(out)


# -- 4. the masking cache ----------------------------------------------------------------


def _mask(ds: FERDataset, root: Path, masker: FakeMasker | None = None) -> FERDataset:
    return ds.mask(masker or FakeMasker(), cache_dir=root, progress=False, shard_size=100)


def _same(a: FERDataset, b: FERDataset) -> None:
    for name in ("images", "labels", "styles"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    assert a.images.tobytes() == b.images.tobytes()


CORRUPTIONS: dict[str, Callable[[bytes], bytes]] = {
    "truncated": lambda b: b[: len(b) // 2],
    "random bytes": lambda b: np.random.default_rng(0).bytes(len(b)),
    "bad zip": lambda b: b"PK\x03\x04" + b[4:40] + b"\x00" * (len(b) - 40),
    "empty": lambda b: b"",
}


@pytest.mark.parametrize("corrupt", list(CORRUPTIONS))
def test_damaged_part_of_a_finished_cache_is_redone(tmp_path: Path, corrupt: str) -> None:
    ds = make_synthetic_fer(450, seed=3, base="drawn")
    clean = _mask(ds, tmp_path / "clean")
    _mask(ds, tmp_path / "c")
    (entry,) = (tmp_path / "c").iterdir()
    part = entry / "part-00002.npz"
    part.write_bytes(CORRUPTIONS[corrupt](part.read_bytes()))
    masker = FakeMasker()
    with pytest.warns(UserWarning, match=r"part-00002\.npz.*damaged.*masked again"):
        out = _mask(ds, tmp_path / "c", masker)
    assert masker.masked_count == 100  # only the damaged part
    _same(out, clean)
    again = FakeMasker()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _same(_mask(ds, tmp_path / "c", again), clean)  # repaired: no warning, nothing masked
    assert again.masked_count == 0


def test_damaged_part_of_an_unfinished_cache_is_redone(tmp_path: Path) -> None:
    ds = make_synthetic_fer(450, seed=3, base="drawn")
    clean = _mask(ds, tmp_path / "clean")
    with pytest.raises(KeyboardInterrupt):
        _mask(ds, tmp_path / "c", FakeMasker(stop_after=250))
    (entry,) = (tmp_path / "c").iterdir()
    part = entry / "part-00000.npz"
    part.write_bytes(part.read_bytes()[:100])
    masker = FakeMasker()
    with pytest.warns(UserWarning, match=r"part-00000\.npz.*damaged"):
        out = _mask(ds, tmp_path / "c", masker)
    assert masker.masked_count == 350  # part 0 again, part 1 kept, parts 2-4 for the first time
    _same(out, clean)


@pytest.mark.parametrize(
    "content",
    ["{not json", "[]", '"meta"', json.dumps({"format": "fermask-mask-cache", "version": 2, "count": 450,
                                                 "shards": [{"file": "part-00000.npz"}]})],
)
def test_damaged_cache_index_is_redone(tmp_path: Path, content: str) -> None:
    ds = make_synthetic_fer(450, seed=3, base="drawn")
    clean = _mask(ds, tmp_path / "clean")
    _mask(ds, tmp_path / "c")
    (entry,) = (tmp_path / "c").iterdir()
    (entry / "meta.json").write_text(content)
    masker = FakeMasker()
    with pytest.warns(UserWarning, match=r"meta\.json.*damaged.*masked again"):
        out = _mask(ds, tmp_path / "c", masker)
    assert masker.masked_count == 450
    _same(out, clean)
    json.loads((entry / "meta.json").read_text())  # rewritten whole


def test_damaged_complete_marker_is_harmless(tmp_path: Path) -> None:
    ds = make_synthetic_fer(450, seed=3, base="drawn")
    clean = _mask(ds, tmp_path / "c")
    (entry,) = (tmp_path / "c").iterdir()
    (entry / "complete.json").write_bytes(b"\x00garbage")
    masker = FakeMasker()
    _same(_mask(ds, tmp_path / "c", masker), clean)
    assert masker.masked_count == 0  # the parts are checked one by one; the marker is not trusted


def test_data_options_are_listed_in_choices_and_refused_with_one_error_type(tmp_path: Path) -> None:
    """The accepted values live in fermask._choices; the old module names are the same tuples."""
    from fermask import _choices
    from fermask.data import dataset, ferplus, tfdata
    from fermask.errors import FermaskError, InvalidChoiceError

    assert dataset.NO_FACE_POLICIES is _choices.NO_FACE_POLICIES == ("drop", "keep")
    assert ferplus.FERPLUS_MODES is _choices.FERPLUS_MODES == ("majority", "soft")
    assert tfdata.LABEL_MODES is _choices.LABEL_MODES
    assert _choices.InvalidChoiceError is InvalidChoiceError
    # one type for every bad choice, which old callers catch as DataFormatError or ValueError
    assert issubclass(InvalidChoiceError, DataFormatError) and issubclass(InvalidChoiceError, ValueError)
    assert issubclass(InvalidChoiceError, FermaskError)
    ds = make_synthetic_fer(14, seed=0)
    with pytest.raises(InvalidChoiceError, match="on_no_face must be 'drop' or 'keep', got 'skip'"):
        ds.mask(FakeMasker(), on_no_face="skip", cache_dir=tmp_path)  # type: ignore[arg-type]
    with pytest.raises(InvalidChoiceError, match="Did you mean 'soft'"):
        ds.with_ferplus(tmp_path / "fer2013new.csv", mode="sofft")  # type: ignore[arg-type]
    with pytest.raises(InvalidChoiceError, match="color_mode must be 'grayscale', 'rgb' or None"):
        FERDataset.from_folder(tmp_path, color_mode="gray")  # type: ignore[arg-type]
