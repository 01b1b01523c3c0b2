"""FERDataset readers on small files in the real FER2013 formats, written here."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fermask.data import FERDataset, make_synthetic_fer, write_fer2013_csv
from fermask.errors import DataFormatError
from fermask.labels import EMOTIONS


def _pix(img: np.ndarray) -> str:
    return " ".join(str(int(v)) for v in img.ravel())


@pytest.fixture()
def rows() -> tuple[np.ndarray, list[int], list[str]]:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(6, 48, 48), dtype=np.uint8)
    images[0, 0, 0], images[1, 47, 47] = 0, 255  # range ends
    labels = [0, 3, 6, 5, 1, 3]
    usage = ["Training", "Training", "PublicTest", "PrivateTest", "Training", "PublicTest"]
    return images, labels, usage


def _write(path: Path, header: str, lines: list[str]) -> Path:
    path.write_text(header + "\n" + "\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_fer2013_csv(tmp_path: Path, rows: tuple) -> None:
    images, labels, usage = rows
    p = _write(tmp_path / "fer2013.csv", "emotion,pixels,Usage",
               [f"{l},{_pix(i)},{u}" for i, l, u in zip(images, labels, usage)])
    ds = FERDataset.from_csv(p)
    assert ds.images.dtype == np.uint8 and ds.images.shape == (6, 48, 48)
    assert np.array_equal(ds.images, images)
    assert ds.labels.tolist() == labels
    assert ds.usage.tolist() == usage
    assert ds.label_names == EMOTIONS
    assert ds.class_counts() == {"angry": 1, "disgust": 1, "fear": 0, "happy": 2, "sad": 0, "surprise": 1, "neutral": 1}
    assert "fer2013" in ds.source


def test_reading_progress_ends_at_the_whole_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_fer2013_csv(make_synthetic_fer(20, seed=0), tmp_path / "small.csv")  # far fewer rows than a chunk
    FERDataset.from_csv(path, progress=True)
    bar = capsys.readouterr().err.replace("\r", "\n").strip().splitlines()[-1]
    assert "100%" in bar, bar


def test_icml_leading_space_columns(tmp_path: Path, rows: tuple) -> None:
    images, labels, usage = rows
    p = _write(tmp_path / "icml_face_data.csv", "emotion, Usage, pixels",
               [f"{l},{u},{_pix(i)}" for i, l, u in zip(images, labels, usage)])
    ds = FERDataset.from_csv(p)
    assert np.array_equal(ds.images, images)
    assert ds.labels.tolist() == labels and ds.usage.tolist() == usage
    assert "icml" in ds.source


def test_kaggle_train_and_test(tmp_path: Path, rows: tuple) -> None:
    images, labels, _ = rows
    tr = _write(tmp_path / "train.csv", "emotion,pixels", [f"{l},{_pix(i)}" for i, l in zip(images, labels)])
    te = _write(tmp_path / "test.csv", "pixels", [_pix(i) for i in images[:3]])
    dtr, dte = FERDataset.from_csv(tr), FERDataset.from_csv(te)
    assert dtr.labels.tolist() == labels and (dtr.usage == "").all()
    assert np.array_equal(dte.images, images[:3])
    assert dte.labels.tolist() == [-1, -1, -1]
    assert sum(dte.class_counts().values()) == 0


def test_gzip_crlf_and_quoted_fields(tmp_path: Path, rows: tuple) -> None:
    images, labels, usage = rows
    text = "emotion,pixels,Usage\r\n" + "".join(f'{l},"{_pix(i)}",{u}\r\n' for i, l, u in zip(images, labels, usage))
    p = tmp_path / "fer2013.csv.gz"
    with gzip.open(p, "wt", encoding="utf-8", newline="") as f:
        f.write(text)
    ds = FERDataset.from_csv(p)
    assert np.array_equal(ds.images, images) and ds.labels.tolist() == labels


@pytest.mark.parametrize("fmt", ["fer2013", "icml", "kaggle_train", "kaggle_test"])
def test_writer_round_trip(tmp_path: Path, fmt: str) -> None:
    ds = make_synthetic_fer(30, seed=2)
    back = FERDataset.from_csv(write_fer2013_csv(ds, tmp_path / "x.csv", format=fmt))
    assert np.array_equal(back.images, ds.images)
    if fmt == "kaggle_test":
        assert (back.labels == -1).all()
    else:
        assert np.array_equal(back.labels, ds.labels)
    if fmt in ("fer2013", "icml"):
        assert np.array_equal(back.usage, ds.usage)
    with pytest.raises(DataFormatError, match="already exists"):
        write_fer2013_csv(ds, tmp_path / "x.csv", format=fmt)


@pytest.mark.parametrize(
    ("header", "line", "match"),
    [
        ("emotion,pixel,Usage", "0,{pix},Training", "unknown columns"),
        ("Usage,Image name,neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF",
         "Training,fer0000000.png,10,0,0,0,0,0,0,0,0,0", "FER\\+ votes"),
        ("emotion,pixels,Usage", "0,{short},Training", "line 3: 2,303 pixel values, expected 2,304"),
        ("emotion,pixels,Usage", "7,{pix},Training", "line 3: emotion label 7 is out of range"),
        ("emotion,pixels,Usage", "happy,{pix},Training", "line 3: emotion 'happy' is not a label number"),
        ("emotion,pixels,Usage", "0,{big},Training", "line 3: pixel value 256 is out of range"),
        ("emotion,pixels,Usage", "0,{word},Training", "line 3: the pixels field holds 'x'"),
        ("emotion,pixels,Usage", "0,{pix},Validation", "line 3: Usage 'Validation'"),
        ("emotion,pixels,Usage", "0,{pix}", "line 3: 2 fields, expected 3"),
    ],
)
def test_bad_csv_rows_name_file_and_line(tmp_path: Path, header: str, line: str, match: str) -> None:
    pix = " ".join(["7"] * 2304)
    fields = {
        "pix": pix,
        "short": " ".join(["7"] * 2303),
        "big": " ".join(["7"] * 2303 + ["256"]),
        "word": " ".join(["7"] * 2303 + ["x"]),
    }
    p = _write(tmp_path / "bad.csv", header, [f"0,{pix},Training" if "emotion" in header else line, line.format(**fields)])
    with pytest.raises(DataFormatError, match=match) as info:
        FERDataset.from_csv(p)
    assert "bad.csv" in str(info.value)


def test_empty_csv_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataFormatError, match="no data rows"):
        FERDataset.from_csv(_write(tmp_path / "e.csv", "emotion,pixels,Usage", []))
    (tmp_path / "z.csv").write_text("")
    with pytest.raises(DataFormatError, match="is empty"):
        FERDataset.from_csv(tmp_path / "z.csv")
    with pytest.raises(DataFormatError, match="no such file"):
        FERDataset.from_csv(tmp_path / "nope.csv")


def _png(path: Path, value: int, size: tuple[int, int] = (48, 48), mode: str = "L") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    arr = np.full((size[1], size[0]) + ((3,) if mode == "RGB" else ()), value, dtype=np.uint8)
    Image.fromarray(arr).save(path)


def test_folder_labels_by_name_not_alphabetical_order(tmp_path: Path) -> None:
    # Alphabetical folder order is angry, disgust, fear, happy, neutral, sad, surprise;
    # FER2013 order puts sad (4) and surprise (5) before neutral (6).
    values = {"angry": 10, "happy": 30, "neutral": 60, "sad": 40, "surprise": 50}
    for name, v in values.items():
        _png(tmp_path / "train" / name / "a.png", v)
        _png(tmp_path / "train" / name / "b.png", v + 1)
        _png(tmp_path / "test" / name / "c.png", v + 2)
    ds = FERDataset.from_folder(tmp_path)
    assert len(ds) == 15
    for name, v in values.items():
        k = EMOTIONS.index(name)
        assert set(ds.images[ds.labels == k, 0, 0].tolist()) == {v, v + 1, v + 2}
    assert ds.class_counts()["neutral"] == 3 and ds.class_counts()["fear"] == 0
    parts = ds.split(by="usage", allow_empty=True)
    assert list(parts) == ["Training", "Test"]
    assert len(parts["Training"]) == 10 and len(parts["Test"]) == 5


def test_generic_folder_colour_resize_and_custom_labels(tmp_path: Path) -> None:
    _png(tmp_path / "Cats" / "1.jpg", 100, size=(120, 90), mode="RGB")
    _png(tmp_path / "dogs" / "2.png", 200, size=(64, 64))
    with pytest.raises(DataFormatError, match="not an emotion"):
        FERDataset.from_folder(tmp_path)
    with pytest.raises(DataFormatError, match="differ in size.*image_size"):
        FERDataset.from_folder(tmp_path, label_names=["dogs", "cats"])
    ds = FERDataset.from_folder(tmp_path, label_names=["dogs", "cats"], image_size=(72, 80))
    assert ds.images.shape == (2, 72, 80, 3) and ds.label_names == ("dogs", "cats")
    assert dict(zip(ds.labels.tolist(), ds.images[:, 5, 5, 0].tolist())) == {1: 100, 0: 200}
    gray = FERDataset.from_folder(tmp_path, label_names=["dogs", "cats"], image_size=(48, 48), color_mode="grayscale")
    assert gray.images.shape == (2, 48, 48)


def test_folder_errors(tmp_path: Path) -> None:
    _png(tmp_path / "happy" / "a.png", 5)
    (tmp_path / "happy" / "notes.txt").write_text("hello")
    with pytest.raises(DataFormatError, match="notes.txt' is not an image"):
        FERDataset.from_folder(tmp_path)
    (tmp_path / "happy" / "notes.txt").unlink()
    (tmp_path / "happy" / "broken.png").write_bytes(b"not a png at all")
    with pytest.raises(DataFormatError, match="broken.png' in a label folder is not a readable image"):
        FERDataset.from_folder(tmp_path)
    (tmp_path / "happy" / "broken.png").unlink()
    (tmp_path / "happy" / ".DS_Store").write_bytes(b"\0")  # hidden files are skipped
    assert len(FERDataset.from_folder(tmp_path)) == 1
    empty = tmp_path / "empty"
    (empty / "sad").mkdir(parents=True)
    with pytest.raises(DataFormatError, match="holds no images"):
        FERDataset.from_folder(empty)


FERPLUS_HEADER = "Usage,Image name,neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF"


def test_ferplus_majority_and_soft(tmp_path: Path, rows: tuple) -> None:
    images, labels, usage = rows
    p = _write(tmp_path / "fer2013.csv", "emotion,pixels,Usage",
               [f"{l},{_pix(i)},{u}" for i, l, u in zip(images, labels, usage)])
    votes = [
        f"{usage[0]},fer0.png,0,8,2,0,0,0,0,0,0,0",  # happy majority
        f"{usage[1]},,10,0,0,0,0,0,0,0,0,0",  # blank name: dropped
        f"{usage[2]},fer2.png,4,0,0,3,0,0,3,0,0,0",  # no majority: dropped in majority mode
        f"{usage[3]},fer3.png,0,0,0,0,0,0,0,0,0,10",  # NF: dropped in both
        f"{usage[4]},fer4.png,0,0,0,0,6,4,0,0,0,0",  # angry majority
        f"{usage[5]},fer5.png,0,0,0,0,0,0,0,8,2,0",  # contempt majority: dropped in majority mode
    ]
    fp = _write(tmp_path / "fer2013new.csv", FERPLUS_HEADER, votes)
    ds = FERDataset.from_csv(p)
    maj = ds.with_ferplus(fp)
    assert maj.ids.tolist() == [0, 4]
    assert maj.labels.tolist() == [EMOTIONS.index("happy"), EMOTIONS.index("angry")]
    assert maj.notes["ferplus"] == {"mode": "majority", "blank_name_dropped": 1, "no_label_dropped": 3}
    soft = ds.with_ferplus(fp, mode="soft")
    assert soft.ids.tolist() == [0, 2, 4]
    np.testing.assert_allclose(soft.soft_labels[0], [0, 0, 0, 0.8, 0, 0.2, 0], atol=1e-6)
    np.testing.assert_allclose(soft.soft_labels[1], [0, 0, 0.3, 0, 0.3, 0, 0.4], atol=1e-6)
    assert soft.labels.tolist() == [3, 6, 0]
    # works on a subset (joined through ids) and rejects misaligned files
    assert ds.select([4, 5]).with_ferplus(fp).ids.tolist() == [4]
    bad = _write(tmp_path / "bad.csv", FERPLUS_HEADER, [v.replace("Training", "PrivateTest", 1) for v in votes])
    with pytest.raises(DataFormatError, match="does not line up"):
        ds.with_ferplus(bad)
    short = _write(tmp_path / "short.csv", FERPLUS_HEADER, votes[:3])
    with pytest.raises(DataFormatError, match="35,887"):
        ds.with_ferplus(short)
