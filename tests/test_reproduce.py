"""``fermask reproduce``: clean failure without data, and the whole suite on a tiny synthetic CSV."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from fermask.cli import main
from fermask.data import make_synthetic_fer, write_fer2013_csv
from fermask.reproduce import EXPERIMENTS, DataNotFoundError, load_fer_data


def test_without_data_says_where_to_get_fer2013(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["reproduce"]) == 2
    err = capsys.readouterr().err
    assert "no data given" in err
    assert "Challenges in Representation Learning" in err and "msambare/fer2013" in err
    for fmt in ("fer2013.csv", "icml_face_data.csv", "train/<emotion>/*.png"):
        assert fmt in err


def test_missing_path_fails_cleanly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nowhere" / "fer2013.csv"
    assert main(["reproduce", "--data", str(missing), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert str(missing) in err and "does not exist" in err
    assert not (tmp_path / "out").exists()  # nothing written before the data is found
    with pytest.raises(DataNotFoundError):
        load_fer_data(None)


def test_train_and_evaluate_commands_need_data(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--data", str(tmp_path / "x.csv"), "--out", str(tmp_path / "run")]) == 2
    assert "does not exist" in capsys.readouterr().err


@pytest.mark.slow
def test_suite_end_to_end_on_synthetic_csv(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ds = make_synthetic_fer(140, seed=0, balanced=True)
    ds.usage = np.full(len(ds), "Training")  # every class in every part of the tiny split
    csv = write_fer2013_csv(ds, tmp_path / "synthetic_fer2013.csv")
    out = tmp_path / "repro"
    args = ["reproduce", "--data", str(csv), "--out", str(out), "--quick", "--workers", "1",
            "--resnet-weights", "none", "--note", "SYNTHETIC data made by the test suite, not FER2013", "-q"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    md = (out / "results.md").read_text()
    assert md in printed
    assert "SYNTHETIC data made by the test suite" in md  # --note: free text
    # marked from the data itself, not from the note: the CSV's pixels are make_synthetic_fer's
    assert "SYNTHETIC data, not FER2013" in md and "make_synthetic_fer(140, seed=0, balanced=True)" in md
    assert "140 images, FER2013 has 35,887" in md  # flagged as not comparable
    result = json.loads((out / "results.json").read_text())
    rows = {r["name"]: r for r in result["rows"]}
    assert list(rows) == [e.name for e in EXPERIMENTS] + ["human"]
    for exp in EXPERIMENTS:
        r = rows[exp.name]
        assert "error" not in r, r.get("error")
        assert 0.0 <= r["train_accuracy"] <= 1.0 and 0.0 <= r["dev_accuracy"] <= 1.0
        assert r["published_dev"] == exp.published_dev
        assert (out / exp.name / "bundle" / "fermask.json").is_file()
    assert rows["shallow_cnn"]["n_train"] + rows["shallow_cnn"]["n_dev"] == result["data"]["used"] or \
        rows["shallow_cnn"]["n_train"] + rows["shallow_cnn"]["n_dev"] <= 140
    assert "only" in rows["happy_capped"]["note"]  # the 3,500 cap changes nothing on 140 images
    assert rows["human"]["published_dev"] == 0.56
    # the published figures sit beside the measured ones
    for fig in ("89.0%", "29.0%", "34.3%", "33.5%", "30.6%", "78.7%", "63.0%", "56.0%"):
        assert fig in md
    # a second run refuses to overwrite the first
    assert main(args) == 2
    assert "already holds a reproduction" in capsys.readouterr().err


def test_every_option_reaches_reproduce(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    """The command's options, checked where they are turned into arguments (no training: the end-to-end run is slow)."""
    import fermask.reproduce as repro

    csv = write_fer2013_csv(make_synthetic_fer(21, seed=0), tmp_path / "synthetic_fer2013.csv")
    seen: dict = {}

    def fake_reproduce(data, **kwargs):  # type: ignore[no-untyped-def]
        seen.update(kwargs, data=data)
        return repro.ReproductionResult(rows=[], markdown="TABLE", out_dir=tmp_path / "o", data={})

    monkeypatch.setattr(repro, "reproduce", fake_reproduce)
    args = ["reproduce", "--data", str(csv), "--out", str(tmp_path / "o"), "--quick", "--experiments",
            " shallow_cnn, happy_binary ,", "--workers", "1", "--resnet-weights", "NONE", "--face-policy", "detect",
            "--seed", "3", "--epochs", "2", "--limit", "20", "--note", "a note", "--overwrite", "-q"]
    assert main(args) == 0
    assert "TABLE" in capsys.readouterr().out
    assert len(seen["data"]) == 21  # the file was read before reproduce was called
    assert seen["experiments"] == ["shallow_cnn", "happy_binary"] and seen["resnet_weights"] is None
    assert (seen["quick"], seen["full"], seen["epochs"], seen["seed"], seen["limit"]) == (True, False, 2, 3, 20)
    assert (seen["face_policy"], seen["workers"], seen["note"], seen["overwrite"]) == ("detect", 1, "a note", True)
    assert seen["progress"] is False and seen["out_dir"] == str(tmp_path / "o")

    main(["reproduce", "--data", str(csv), "--resnet-weights", "w.h5"])
    assert seen["resnet_weights"] == "w.h5" and seen["experiments"] is None and seen["note"] is None
