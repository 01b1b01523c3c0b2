"""``fermask reproduce`` marks synthetic data by itself, from the data, without ``--note``.

Three cases: synthetic data made in the process, a synthetic CSV written to disk
as the datasets guide shows and read back, and a CSV of real face photos that
fermask's generator did not make (never marked). The runs train one experiment
for one epoch on a few hundred images.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from fermask.bundle import read_bundle_info
from fermask.cli import main
from fermask.data import FERDataset, make_synthetic_fer, write_fer2013_csv
from fermask.reproduce import FER2013_TRAINING_COUNTS, reproduce, synthetic_origin

BANNER = "SYNTHETIC data, not FER2013"


def _results(out: Path) -> tuple[str, dict]:
    return (out / "results.md").read_text(), json.loads((out / "results.json").read_text())


# --------------------------------------------------------------------------- recognition alone (no training)
def test_in_process_synthetic_data_and_what_is_made_from_it_are_recognised(tmp_path: Path) -> None:
    ds = make_synthetic_fer(60, seed=11)
    assert synthetic_origin(ds) is not None
    assert synthetic_origin(ds.subset(30, seed=1)) is not None
    ds.save(tmp_path / "saved")
    assert synthetic_origin(FERDataset.load(tmp_path / "saved")) is not None


def test_a_synthetic_csv_read_back_is_recognised_from_its_pixels(tmp_path: Path) -> None:
    csv = write_fer2013_csv(make_synthetic_fer(300, seed=0), tmp_path / "synthetic_fer2013.csv")
    read = FERDataset.from_csv(csv)
    assert read.notes == {} and "SYNTHETIC" not in read.source  # the file itself records nothing
    origin = synthetic_origin(read)
    assert origin is not None and "make_synthetic_fer(300, seed=0)" in origin and str(csv) in origin


def test_recognition_is_exact_never_a_near_match(tmp_path: Path, lfw_crops48: np.ndarray) -> None:
    syn = make_synthetic_fer(140, seed=0, balanced=True)
    edited = syn.images.copy()
    edited[7, 20, 20] ^= 1  # one pixel of one image differs
    read = FERDataset(edited, syn.labels.copy(), usage=syn.usage.copy(), source="edited CSV")
    assert synthetic_origin(read) is None
    real = FERDataset(lfw_crops48, np.arange(len(lfw_crops48)) % 7, source="LFW photos")
    assert synthetic_origin(real) is None


# --------------------------------------------------------------------------- the table
@pytest.mark.slow
def test_in_process_synthetic_data_is_marked_without_a_note(tmp_path: Path) -> None:
    ds = make_synthetic_fer(140, seed=5, balanced=True)
    ds.usage = np.full(len(ds), "Training")  # every class on both sides of the tiny split
    result = reproduce(ds, out_dir=tmp_path / "repro", quick=True, experiments=["shallow_cnn"],
                       resnet_weights=None, face_policy="detect", workers=1, progress=False)
    md, saved = _results(result.out_dir)
    assert md.splitlines()[0].endswith("on SYNTHETIC data")
    assert BANNER in md and md == result.markdown
    assert saved["data"]["synthetic"].startswith("made by fermask's synthetic data generator")
    assert saved["data"]["note"] is None
    # the report's face handling was asked for: only detected faces are masked, the rest dropped
    assert saved["data"]["masker"]["faces"]["policy"] == "detect"
    assert "with face_policy 'detect'" in md
    assert saved["rows"][0]["seconds"] > 0 and "min |" in md


@pytest.mark.slow
def test_synthetic_csv_written_as_the_datasets_guide_shows_is_marked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv = write_fer2013_csv(make_synthetic_fer(700, seed=0), tmp_path / "synthetic_fer2013.csv")
    out = tmp_path / "repro"
    args = ["reproduce", "--data", str(csv), "--out", str(out), "--quick", "--experiments", "shallow_cnn",
            "--workers", "1", "--resnet-weights", "none", "-q"]
    assert main(args) == 0
    md, saved = _results(out)
    assert md in capsys.readouterr().out
    assert BANNER in md and "make_synthetic_fer(700, seed=0)" in md
    assert saved["data"]["synthetic"] and saved["data"]["note"] is None
    assert len(saved["data"]["sha256"]) == 64 and saved["data"]["sha256"][:16] in md
    # the trained bundle says so too, so that a Predictor loading it warns
    assert read_bundle_info(out / "shallow_cnn" / "bundle").synthetic


@pytest.mark.slow
def test_a_csv_of_real_photos_is_not_marked_synthetic(tmp_path: Path, lfw_crops48: np.ndarray) -> None:
    real = FERDataset(lfw_crops48, np.arange(len(lfw_crops48)) % 7, usage=np.full(len(lfw_crops48), "Training"),
                      source="LFW photos")
    csv = write_fer2013_csv(real, tmp_path / "photos.csv")
    out = tmp_path / "repro"
    args = ["reproduce", "--data", str(csv), "--out", str(out), "--quick", "--experiments", "shallow_cnn",
            "--workers", "1", "--resnet-weights", "none", "-q"]
    assert main(args) == 0
    md, saved = _results(out)
    assert "SYNTHETIC" not in md and saved["data"]["synthetic"] is None
    assert not read_bundle_info(out / "shallow_cnn" / "bundle").synthetic
    # neither is it passed off as FER2013: its size and its class counts say it is not
    assert "100 images, FER2013 has 35,887" in md
    assert f"angry {FER2013_TRAINING_COUNTS[0]:,}" in md and "not FER2013's" in md
