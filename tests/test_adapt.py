"""fermask.adapt: a student learns a teacher's unmasked answers on masked faces, without labels."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

keras = pytest.importorskip("keras")

import fermask  # noqa: E402
from fermask.adaptation import agreement, load_faces  # noqa: E402
from fermask.cli import main  # noqa: E402
from fermask.errors import DataFormatError, FermaskError  # noqa: E402
from fermask.masker import Masker  # noqa: E402

SIZE = 32


@pytest.fixture(scope="module")
def faces(lfw_crops48: np.ndarray) -> np.ndarray:
    """100 real faces (scikit-image's LFW subset), 32x32 gray."""
    return np.stack([np.asarray(Image.fromarray(f).resize((SIZE, SIZE), Image.BILINEAR)) for f in lfw_crops48])


def brightness_teacher(faces: np.ndarray) -> keras.Model:
    """A teacher whose answer is the tercile of the whole face's mean brightness.

    A mask changes that mean, so the teacher disagrees with itself on masked
    faces; a student that learns to read the upper face can agree again.
    """
    means = faces.reshape(len(faces), -1).mean(axis=1) / 255
    t1, t2 = np.quantile(means, [1 / 3, 2 / 3])
    a = 40.0
    n = SIZE * SIZE
    model = keras.Sequential([
        keras.Input((SIZE, SIZE, 1)), keras.layers.Rescaling(1 / 255), keras.layers.Flatten(),
        keras.layers.Dense(3, activation="softmax"),
    ])
    kernel = np.zeros((n, 3), np.float32)
    kernel[:, 0], kernel[:, 2] = -a / n, a / n
    model.layers[-1].set_weights([kernel, np.array([a * t1, 0.0, -a * t2], np.float32)])
    return model


class CountingMasker(Masker):
    """A Masker that records the index of every mask it draws."""

    def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003
        super().__init__(*args, **kwargs)
        self.indices: list[int] = []

    def mask_faces(self, image, faces, index=None, **kwargs):  # noqa: ANN001, ANN003, ANN201
        self.indices.append(int(index))
        return super().mask_faces(image, faces, index=index, **kwargs)


def test_adapting_raises_agreement_on_masked_faces(faces: np.ndarray, tmp_path: Path) -> None:
    teacher = brightness_teacher(faces)
    answers = teacher.predict(faces[..., None].astype(np.float32), verbose=0).argmax(axis=1)
    assert len(set(answers)) == 3  # the teacher's answers vary with the face
    masker = CountingMasker("random", color="random", seed=1)
    result = fermask.adapt(
        teacher, faces, student=None, out_dir=tmp_path / "run", epochs=6, batch_size=16, learning_rate=0.003,
        temperature=1.0, unmasked_share=0.2, validation_fraction=0.3, masker=masker, seed=0, progress=False,
        labels=["dark", "mid", "light"],
    )
    a = result.agreement
    assert a["n_heldout"] == 30
    assert a["masked_before"] < 0.8  # masks mislead the teacher...
    assert a["masked_after"] >= a["masked_before"] + 0.15  # ...and the student learns to see past them
    assert a["unmasked_after"] >= 0.6  # and still mostly agrees on unmasked faces
    assert len(result.history["val_accuracy"]) == 6 and result.history["val_accuracy"][-1] == pytest.approx(a["masked_after"], abs=1e-6)
    # held-out faces are masked once (indices 0-29); training face i in epoch e gets a new mask, index (e + 1) * 70 + i
    assert sorted(i for i in masker.indices if i < 70) == list(range(30))
    train = [i for i in masker.indices if i >= 70]
    assert len(train) == len(set(train))  # never the same draw twice
    per_epoch = [sum(1 for i in train if i // 70 == e + 1) for e in range(6)]
    assert all(40 <= k <= 65 for k in per_epoch), per_epoch  # about 80 % of 70 faces masked, every epoch
    # the run folder is a training run's, and the bundle says where it came from
    run = tmp_path / "run"
    for name in ("config.json", "run.json", "history.json", "checkpoints/last.keras"):
        assert (run / name).exists(), name
    info = json.loads((run / "bundle" / "fermask.json").read_text())
    assert info["extra"]["adapted_from"].startswith("model")
    assert info["masking"]["random_style"] is True and info["labels"] == ["dark", "mid", "light"]
    student = fermask.Predictor.load(run / "bundle")
    np.testing.assert_allclose(
        student.predict_crops(list(faces[:5])),
        result.model.predict(faces[:5, ..., None].astype(np.float32), verbose=0), atol=1e-5,
    )


def test_same_seed_same_student_with_a_config_or_keywords(faces: np.ndarray) -> None:
    settings = dict(epochs=2, batch_size=16, learning_rate=0.003, validation_fraction=0.3, seed=3)
    a = fermask.adapt(brightness_teacher(faces), faces[:40], progress=False, labels=["dark", "mid", "light"], **settings)
    b = fermask.adapt(brightness_teacher(faces), faces[:40], fermask.AdaptConfig(**settings), progress=False,
                      labels=["dark", "mid", "light"])
    assert a.config == b.config == fermask.AdaptConfig(**settings)
    for wa, wb in zip(a.model.get_weights(), b.model.get_weights()):
        np.testing.assert_allclose(wa, wb, atol=1e-5)


def test_the_old_keywords_are_overrides_of_one_config(tmp_path: Path) -> None:
    from fermask.training.config import resolve_adapt_config

    old = dict(epochs=7, batch_size=8, learning_rate=1e-3, temperature=3.0, unmasked_share=0.25,
               validation_fraction=0.2, seed=5, flip=False)
    cfg = fermask.AdaptConfig(**old)
    assert resolve_adapt_config(None, overrides=old) == (cfg, None)
    assert resolve_adapt_config(cfg.to_dict()) == (cfg, None)
    cfg.to_json(tmp_path / "adapt.json")
    assert resolve_adapt_config(tmp_path / "adapt.json", overrides={"epochs": 2})[0].epochs == 2
    assert resolve_adapt_config(cfg, student="shallow_cnn")[0].student == "shallow_cnn"  # a name goes in the config
    model = object()
    assert resolve_adapt_config(cfg, student=model) == (cfg, model)  # a model is passed on as it is
    with pytest.raises(FermaskError, match="unexpected argument 'epoch'. Did you mean 'epochs'"):
        resolve_adapt_config(None, overrides={"epoch": 3})
    with pytest.raises(FermaskError, match="unmasked_share"):
        fermask.AdaptConfig(unmasked_share=1.0)
    with pytest.raises(FermaskError, match="epochs must be a positive integer"):
        fermask.AdaptConfig(epochs=0)


def test_train_and_adapt_write_a_run_through_the_one_run_sequence(faces: np.ndarray, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    import fermask.training.run as run_module

    records = []
    write_run_end = run_module.write_run_end

    def spy(out: Path, record: object) -> Path:
        records.append(record)
        return write_run_end(out, record)  # type: ignore[arg-type]

    monkeypatch.setattr(run_module, "write_run_end", spy)
    labels = ["dark", "mid", "light"]
    x = faces[:30, ..., None].astype(np.float32)
    y = brightness_teacher(faces).predict(x, verbose=0).argmax(axis=1)
    net = keras.Sequential([keras.Input((SIZE, SIZE, 1)), keras.layers.Rescaling(1 / 255), keras.layers.Flatten(),
                            keras.layers.Dense(3, activation="softmax")])
    fermask.train((x, y), model=net, labels=labels, epochs=1, batch_size=16, out_dir=tmp_path / "train", progress=False)
    fermask.adapt(brightness_teacher(faces), faces[:30], epochs=1, batch_size=16, validation_fraction=0.3,
                  out_dir=tmp_path / "adapt", progress=False, labels=labels)
    assert len(records) == 2 and records[0].model_name == net.name and records[1].model_name.endswith("_adapted")
    listing = {name: sorted(p.name for p in (tmp_path / name).iterdir()) for name in ("train", "adapt")}
    assert listing["train"] == listing["adapt"]
    assert {"config.json", "run.json", "history.json", "checkpoints", "bundle"} <= set(listing["train"])
    runs = {name: json.loads((tmp_path / name / "run.json").read_text()) for name in ("train", "adapt")}
    assert runs["train"].keys() == runs["adapt"].keys() and runs["adapt"]["status"] == "finished"
    assert runs["adapt"]["data"]["teacher"].startswith("model") and runs["train"]["data"]["teacher"] is None


def test_command_on_a_folder_of_face_crops(faces: np.ndarray, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    teacher = brightness_teacher(faces)
    fermask.save_bundle(tmp_path / "teacher", teacher, fermask.BundleInfo(labels=["dark", "mid", "light"],
                                                                         input_shape=(SIZE, SIZE, 1), face_margin=0.1))
    folder = tmp_path / "crops"
    (folder / "a").mkdir(parents=True)
    for i, f in enumerate(faces[:24]):
        Image.fromarray(f).save(folder / ("a" if i % 2 else "") / f"{i}.png")
    out = tmp_path / "run"
    args = ["adapt", "--teacher", str(tmp_path / "teacher"), "--faces", str(folder), "-o", str(out),
            "--epochs", "2", "--batch-size", "8", "--validation", "0.25", "-q"]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "agreement with the teacher's unmasked answers on 6 held-out faces" in text
    wrote = next(line for line in text.splitlines() if line.startswith("wrote "))
    assert wrote.startswith(f"wrote {out}/: ") and "bundle/" in wrote and "config.json" in wrote
    assert all((out / name.rstrip("/")).exists() for name in wrote.split(": ", 1)[1].split(", "))
    info = fermask.bundle.read_bundle_info(out / "bundle")
    assert info.labels == ["dark", "mid", "light"] and info.face_margin == pytest.approx(0.1)
    assert main(args) == 2  # the run folder is not overwritten
    assert "already holds a training run" in capsys.readouterr().err


def test_load_faces_reads_every_kind_of_face_data(faces: np.ndarray, astronaut: np.ndarray, tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    Image.fromarray(astronaut).save(photos / "portrait.jpg")
    ds = load_faces(photos, image_size=(64, 64), color_mode="grayscale", face_margin=0.13)
    assert ds.images.shape == (1, 64, 64)  # the face, found and cropped, not the whole photo
    arr = load_faces(faces, image_size=(48, 48), color_mode="rgb")
    assert arr.images.shape == (100, 48, 48, 3)
    saved = fermask.FERDataset.from_arrays(faces[:10], np.zeros(10, np.int64)).save(tmp_path / "saved")
    assert len(load_faces(saved, image_size=(SIZE, SIZE))) == 10
    csv = tmp_path / "fer.csv"
    rows = ["emotion,pixels,Usage"] + [f"3,{' '.join(map(str, np.resize(f, 48 * 48)))},Training" for f in faces[:3]]
    csv.write_text("\n".join(rows) + "\n")
    assert load_faces(csv, image_size=(SIZE, SIZE)).images.shape == (3, SIZE, SIZE)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataFormatError, match="holds no images"):
        load_faces(tmp_path / "empty", image_size=(SIZE, SIZE))
    with pytest.raises(DataFormatError, match="does not exist"):
        load_faces(tmp_path / "nowhere", image_size=(SIZE, SIZE))


def test_bad_arguments_are_refused(faces: np.ndarray) -> None:
    teacher = brightness_teacher(faces)
    with pytest.raises(FermaskError, match="unmasked_share"):
        fermask.adapt(teacher, faces, unmasked_share=1.0, labels=["a", "b", "c"])
    with pytest.raises(FermaskError, match="validation_fraction"):
        fermask.adapt(teacher, faces, validation_fraction=0.0, progress=False, labels=["a", "b", "c"])
    with pytest.raises(DataFormatError, match="at least 4 faces"):
        fermask.adapt(teacher, faces[:3], progress=False, labels=["a", "b", "c"])
    with pytest.raises(FermaskError, match="student must be"):
        fermask.adapt(teacher, faces, student=3.5, progress=False, labels=["a", "b", "c"])
    with pytest.raises(DataFormatError, match="pass labels"):
        fermask.adapt(teacher, faces, progress=False)


def test_agreement_counts_matching_answers(faces: np.ndarray) -> None:
    teacher = brightness_teacher(faces)
    answers = teacher.predict(faces[..., None].astype(np.float32), verbose=0).argmax(axis=1)
    assert agreement(teacher, faces, answers) == 1.0
    assert agreement(teacher, faces, (answers + 1) % 3) == 0.0
