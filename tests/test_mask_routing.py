"""Mask presence in predictions: mask_score and masked on every face, and a second model for masked faces."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from fermask import Predictor
from fermask.errors import InvalidTypeError, InvalidValueError
from fermask.faces import FaceAnalyzer, presence_crop

TINY = Path(__file__).with_name("data") / "tiny_tflite_bundle"


@pytest.fixture(scope="module")
def predictor() -> Predictor:
    return Predictor.load(TINY)


def test_every_prediction_says_whether_its_face_is_masked(predictor: Predictor, astronaut: np.ndarray) -> None:
    bare = predictor.predict(astronaut)[0]
    masked = Predictor.load(TINY, simulate_mask="surgical").predict(astronaut)[0]
    assert bare.mask_score is not None and bare.mask_score < 0.5 and bare.masked is False
    assert masked.mask_score is not None and masked.mask_score >= 0.5 and masked.masked is True
    assert bare.model == str(TINY) and masked.model == str(TINY)
    record = json.loads(json.dumps(masked.to_dict(), allow_nan=False))
    assert record["masked"] is True and 0.5 <= record["mask_score"] <= 1 and record["model"] == str(TINY)
    assert masked.mask_note == f" · mask {masked.mask_score:.0%}" and bare.mask_note == f" · mask {bare.mask_score:.0%}"


def test_mask_scores_score_crops(predictor: Predictor, astronaut: np.ndarray) -> None:
    from fermask import Masker

    face = FaceAnalyzer(detector="hog").find(astronaut)[0]
    covered = Masker("kn95").mask_faces(astronaut, [face], 0).image
    crops = [presence_crop(astronaut, face.box), presence_crop(covered, face.box)]
    scores = predictor.mask_scores(crops)
    assert scores.shape == (2,) and scores[0] < 0.5 <= scores[1]
    l, t, r, b = face.box
    plain = predictor.mask_scores([covered[t:b, l:r], astronaut[t:b, l:r]])  # tight crops of any size work too
    assert plain[0] >= 0.5 > plain[1]
    assert predictor.mask_scores([]).shape == (0,)


def test_a_second_model_answers_the_masked_faces(astronaut: np.ndarray, monkeypatch: pytest.MonkeyPatch) -> None:
    second = Predictor.load(TINY, name="for-masks")
    answer = np.zeros(len(second.labels))
    answer[second.labels.index("sad")] = 1.0
    monkeypatch.setattr(second, "scores", lambda x, batch_size=64: np.tile(answer, (len(x), 1)))
    pair = Predictor.load(TINY, masked=second, simulate_mask="bandana")
    p = pair.predict(astronaut)[0]
    assert p.masked and p.model == "for-masks" and p.label == "sad" and p.scores["sad"] == 1.0
    bare = Predictor.load(TINY, masked=second).predict(astronaut)[0]
    assert not bare.masked and bare.model == str(TINY) and bare.scores == Predictor.load(TINY).predict(astronaut)[0].scores
    many = pair.predict_many([astronaut, astronaut], batch_size=1)
    assert [r[0].model for r in many] == ["for-masks", "for-masks"]


def test_bad_routing_options_are_refused(astronaut: np.ndarray) -> None:
    with pytest.raises(InvalidValueError, match="needs mask_presence=True"):
        Predictor.load(TINY, masked=str(TINY), mask_presence=False)
    with pytest.raises(InvalidValueError, match="mask_threshold must be a number above 0 and at most 1"):
        Predictor.load(TINY, mask_threshold=1.5)
    with pytest.raises(InvalidTypeError, match="masked= takes a Predictor"):
        Predictor.load(TINY, masked=3)
    other = Predictor.load(TINY, labels=["a", "b", "c", "d", "e", "f", "g"])
    with pytest.raises(InvalidValueError, match="same labels in the same order"):
        Predictor.load(TINY, masked=other)
    off = Predictor.load(TINY, mask_presence=False).predict(astronaut)[0]
    assert off.mask_score is None and off.masked is None and off.mask_note == ""


def test_predict_command_shows_mask_presence(tmp_path: Path, astronaut: np.ndarray,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    from PIL import Image

    from fermask.cli import main

    Image.fromarray(astronaut).save(tmp_path / "a.png")
    assert main(["predict", str(tmp_path / "a.png"), "--model", str(TINY), "--simulate-mask", "cloth", "--json"]) == 0
    face = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["faces"][0]
    assert face["masked"] is True and face["mask_score"] >= 0.5
    assert main(["predict", str(tmp_path / "a.png"), "--model", str(TINY), "--masked-model", str(TINY)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "MASKED" in out[0] and " no 0." in out[1] and f"(answered by {TINY})" in out[1]
