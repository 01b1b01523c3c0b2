"""Predictor: bundles, faces, scores, batching, no-face handling."""

from __future__ import annotations

import io
import json
import math

import numpy as np
import pytest
from PIL import Image

keras = pytest.importorskip("keras")

from fermask.bundle import BundleInfo, save_bundle  # noqa: E402
from fermask.errors import DataFormatError, FermaskError, ImageError, InvalidChoiceError, NoFaceError  # noqa: E402
from fermask.labels import EMOTIONS  # noqa: E402
from fermask import crop_face  # noqa: E402
from fermask.predictor import Prediction, PredictionList, Predictor, top_emotion  # noqa: E402


def make_model(channels: int = 1, outputs: int = 7, activation: str = "softmax", seed: int = 3) -> keras.Model:
    """A small hand-built model whose scores depend strongly on the pixels."""
    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [
            keras.Input((48, 48, channels)),
            keras.layers.Rescaling(1 / 255),
            keras.layers.Conv2D(8, 5, strides=2, activation="relu"),
            keras.layers.Flatten(),
            keras.layers.Dense(
                outputs,
                activation=activation,
                kernel_initializer=keras.initializers.RandomNormal(stddev=0.3, seed=seed),
            ),
        ]
    )
    return model


@pytest.fixture(scope="module")
def model() -> keras.Model:
    return make_model()


@pytest.fixture(scope="module")
def bundle(model: keras.Model, tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("bundle") / "b"
    save_bundle(path, model, BundleInfo(labels=list(EMOTIONS), input_shape=(48, 48, 1), face_margin=0.1))
    return str(path)


@pytest.fixture(scope="module")
def predictor(bundle: str) -> Predictor:
    return Predictor.load(bundle)


def test_load_reads_bundle_description(predictor: Predictor) -> None:
    assert predictor.labels == list(EMOTIONS)
    assert predictor.input_shape == (48, 48, 1)
    assert predictor.info.color_mode == "grayscale"
    assert predictor.info.face_margin == pytest.approx(0.1)


def test_astronaut_one_face(predictor: Predictor, astronaut: np.ndarray, astronaut_face_box: tuple) -> None:
    preds = predictor.predict(astronaut)
    assert isinstance(preds, PredictionList) and len(preds) == 1
    p = preds[0]
    assert isinstance(p, Prediction)
    assert p.index == 0 and p.detected
    assert list(p.scores) == list(EMOTIONS)
    assert math.isclose(sum(p.scores.values()), 1.0, abs_tol=1e-6)
    assert all(0.0 <= v <= 1.0 for v in p.scores.values())
    assert p.label == max(p.scores, key=p.scores.__getitem__)
    assert p.landmarks is not None and p.landmarks.shape == (68, 2)
    l, t, r, b = p.box
    L, T, R, B = astronaut_face_box
    assert L <= (l + r) / 2 <= R and T <= (t + b) / 2 <= B
    d = p.to_dict()
    assert json.loads(json.dumps(d))["label"] == p.label
    assert preds.top_emotion() == (p.label, pytest.approx(p.score))


def test_scores_match_manual_crop(predictor: Predictor, model: keras.Model, astronaut: np.ndarray) -> None:
    """The predictor feeds the model the grown, gray, resized face crop in 0-255."""
    p = predictor.predict(astronaut)[0]
    gray = np.asarray(Image.fromarray(astronaut).convert("L"))
    l, t, r, b = p.box
    dx, dy = round((r - l) * 0.1), round((b - t) * 0.1)
    crop = Image.fromarray(gray[t - dy : b + dy, l - dx : r + dx]).resize((48, 48), Image.BILINEAR)
    x = np.asarray(crop, dtype=np.float32)[None, :, :, None]
    expected = np.asarray(model(x, training=False))[0]
    got = np.array([p.scores[k] for k in EMOTIONS])
    # the predictor's gray conversion rounds like PIL's within one level
    assert np.allclose(got, expected, atol=0.02)
    assert int(np.argmax(got)) == int(np.argmax(expected))


def test_input_forms_agree(predictor: Predictor, astronaut: np.ndarray, tmp_path) -> None:
    path = tmp_path / "a.png"
    Image.fromarray(astronaut).save(path)
    buf = io.BytesIO()
    Image.fromarray(astronaut).save(buf, format="PNG")
    rgba = np.dstack([astronaut, np.full(astronaut.shape[:2], 255, np.uint8)])
    base = predictor.predict(astronaut)[0].scores
    for src in (str(path), path, buf.getvalue(), Image.fromarray(astronaut), rgba, astronaut / 255.0):
        got = predictor.predict(src)
        assert len(got) == 1
        assert got[0].scores == pytest.approx(base, abs=1e-3)


def test_no_face_gives_empty_list_and_clear_error(predictor: Predictor) -> None:
    blank = np.full((300, 300, 3), 120, np.uint8)
    preds = predictor.predict(blank)
    assert preds == [] and isinstance(preds, PredictionList)
    with pytest.raises(NoFaceError, match="no face was found"):
        preds.top_emotion()
    with pytest.raises(NoFaceError):
        top_emotion([])
    assert preds.top_emotion(default=None) is None


def test_face_crop_uses_full_frame(predictor: Predictor, astronaut_crop48: np.ndarray) -> None:
    preds = predictor.predict(astronaut_crop48)
    assert len(preds) == 1
    assert math.isclose(sum(preds[0].scores.values()), 1.0, abs_tol=1e-6)


def test_batch_equals_one_by_one(predictor: Predictor, astronaut: np.ndarray, lfw_crops48: np.ndarray) -> None:
    images = [astronaut, np.full((300, 300), 90, np.uint8), astronaut[:, ::-1], *lfw_crops48[:5]]
    single = [predictor.predict(im) for im in images]
    for bs in (1, 3, 64):
        many = predictor.predict_many(images, batch_size=bs)
        assert [len(m) for m in many] == [len(s) for s in single]
        for m, s in zip(many, single):
            for a, b in zip(m, s):
                assert a.box == b.box and a.label == b.label
                assert a.scores == pytest.approx(b.scores, abs=1e-5)


def test_threads_give_the_results_of_one_thread_in_input_order(predictor: Predictor, astronaut: np.ndarray,
                                                                 tmp_path) -> None:
    """Faces are found in several images at once; boxes, landmarks, scores, order and errors do not change."""
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    from PIL import Image as PILImage

    scaled = [np.asarray(PILImage.fromarray(astronaut).resize((s, s))) for s in (384, 448, 512, 640)]
    group = np.concatenate([scaled[0], scaled[0][:, ::-1]], axis=1)  # two faces
    images = [*scaled, bad, group, astronaut[:, ::-1], *scaled[::-1]] * 2
    one = predictor.predict_many(images, workers=1, on_error="record")
    for workers in (2, 3):
        many = predictor.predict_many(images, workers=workers, on_error="record")
        assert [(m.source, m.error) for m in many] == [(o.source, o.error) for o in one]
        for m, o in zip(many, one):
            assert [p.box for p in m] == [p.box for p in o]
            for a, b in zip(m, o):
                np.testing.assert_array_equal(a.landmarks, b.landmarks)
                assert a.scores == pytest.approx(b.scores, abs=1e-6)
    assert all(len(o) == 0 for o in one if o.error)
    assert sum(len(o) for o in one) >= 18  # 22 faces in the 18 readable images: most are found
    with pytest.raises(ImageError):
        predictor.predict_many(images, workers=2)
    with pytest.raises(FermaskError, match="workers must be at least 1, got 0"):
        predictor.predict_many(images, workers=0)


def test_predict_many_records_unreadable(predictor: Predictor, astronaut: np.ndarray, tmp_path) -> None:
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    with pytest.raises(ImageError):
        predictor.predict_many([astronaut, bad])
    res = predictor.predict_many([astronaut, bad, astronaut], on_error="record")
    assert [len(r) for r in res] == [1, 0, 1]
    assert res[1].error and "bad.png" in res[1].error
    with pytest.raises(NoFaceError, match="could not be read"):
        res[1].top_emotion()


def test_hand_model_and_sigmoid(astronaut: np.ndarray, tmp_path) -> None:
    with pytest.raises(DataFormatError, match="labels"):
        Predictor(make_model(outputs=3))
    sig = make_model(channels=3, outputs=1, activation="sigmoid")
    p = Predictor(sig, labels=["not_happy", "happy"])
    assert p.info.output == "sigmoid" and p.info.color_mode == "rgb"
    pred = p.predict(astronaut)[0]
    assert list(pred.scores) == ["not_happy", "happy"]
    assert math.isclose(sum(pred.scores.values()), 1.0, abs_tol=1e-6)
    save_bundle(tmp_path / "s", sig, BundleInfo(labels=["not_happy", "happy"], input_shape=(48, 48, 3), output="sigmoid"))
    again = Predictor.load(tmp_path / "s").predict(astronaut)[0]
    assert again.scores == pytest.approx(pred.scores, abs=1e-5)


def test_mismatched_bundle_is_refused(model: keras.Model) -> None:
    with pytest.raises(DataFormatError, match="outputs"):
        Predictor(model, BundleInfo(labels=["a", "b", "c"], input_shape=(48, 48, 1)))


def test_logits_are_softmaxed_with_warning(astronaut: np.ndarray) -> None:
    p = Predictor(make_model(activation=None))
    with pytest.warns(UserWarning, match="softmax"):
        pred = p.predict(astronaut)[0]
    assert math.isclose(sum(pred.scores.values()), 1.0, abs_tol=1e-6)


def test_crop_face_pads_with_edges() -> None:
    img = np.arange(100, dtype=np.uint8).reshape(10, 10)
    crop = crop_face(img, (-2, -1, 3, 4))
    assert crop.shape == (5, 5)
    assert crop[0, 0] == img[0, 0] and crop[-1, -1] == img[3, 2]
    grown = crop_face(img, (2, 2, 6, 6), margin=0.5)
    assert grown.shape == (8, 8) and grown[2, 2] == img[2, 2]


def test_simulate_mask(bundle: str, astronaut: np.ndarray) -> None:
    pytest.importorskip("fermask.masker")
    plain = Predictor.load(bundle).predict(astronaut)[0]
    masked_list = Predictor.load(bundle, simulate_mask="surgical", keep_masked_images=True).predict(astronaut)
    masked = masked_list[0]
    drawn = masked_list.masked_image
    assert drawn is not None and drawn.shape == astronaut.shape
    l, t, r, b = masked.box
    lower_face = (slice((t + b) // 2, b), slice(l, r))
    assert np.abs(drawn[lower_face].astype(int) - astronaut[lower_face]).mean() > 10
    assert plain.masked_style is None and masked.masked_style == "surgical"
    assert masked.box == plain.box
    assert masked.scores != pytest.approx(plain.scores, abs=1e-6)


def test_unknown_mask_style_fails_at_construction(bundle: str) -> None:
    pytest.importorskip("fermask.masker")
    from fermask.errors import UnknownNameError

    with pytest.raises(UnknownNameError):
        Predictor.load(bundle, simulate_mask="no-such-style")


def test_result_records_live_in_results_and_old_paths_still_work() -> None:
    import fermask
    from fermask import predictor, results

    assert Prediction is results.Prediction and fermask.Prediction is results.Prediction
    assert predictor.PredictionList is results.PredictionList and predictor.top_emotion is results.top_emotion
    with pytest.raises(NoFaceError, match="no face was found in x.png"):
        results.PredictionList([], source="x.png").top_emotion()


def test_predictor_crop_face_is_a_deprecated_alias() -> None:
    from fermask import predictor

    img = np.arange(100, dtype=np.uint8).reshape(10, 10)
    with pytest.warns(DeprecationWarning, match="use fermask.crop_face instead"):
        old = predictor.crop_face(img, (2, 2, 6, 6), 0.5)
    np.testing.assert_array_equal(old, crop_face(img, (2, 2, 6, 6), margin=0.5))


def test_face_options_are_checked_at_construction(model: keras.Model) -> None:
    """The Predictor checks its face-finder options with faces.FaceOptions, before any face is looked for."""
    from fermask.errors import InvalidValueError
    from fermask.faces import DEFAULT_MIN_SCORE

    with pytest.raises(InvalidChoiceError, match="Did you mean 'hog'"):
        Predictor(model, detector="hogg")  # type: ignore[arg-type]
    with pytest.raises(InvalidValueError, match="upsample must be a whole number from 0 to 4"):
        Predictor(model, upsample=7)
    p = Predictor(model, detector="cnn", min_score=None, upsample=1)
    assert p._face_options.min_score == DEFAULT_MIN_SCORE and p._face_options.upsample == 1
    assert "detector='cnn'" in repr(p)
    with pytest.raises(InvalidChoiceError, match="on_error must be 'raise' or 'record'"):
        list(p.iter_predict([], on_error="skip"))  # type: ignore[arg-type]
