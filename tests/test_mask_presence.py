"""The mask-presence classifier: the packaged model, its input crop, and the recipe that builds it."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fermask import Masker, load_image
from fermask.assets import example_photo
from fermask.errors import InvalidValueError
from fermask.faces import MASKED_THRESHOLD, FaceAnalyzer, MaskPresence, presence_crop
from fermask.faces._presence import CROP_MARGIN, CROP_SIZE, mask_presence_model, packaged_info
from fermask.masks import BUILTIN_STYLES

ROOT = Path(__file__).resolve().parents[1]
RECIPES = ROOT / "recipes"



@pytest.fixture(scope="module")
def photo_and_face():  # type: ignore[no-untyped-def]
    image = load_image(example_photo())
    faces = FaceAnalyzer(detector="hog").find(image)
    assert len(faces) == 1
    return image, faces[0]


@pytest.fixture(scope="module")
def model() -> MaskPresence:
    return mask_presence_model()


def test_the_packaged_model_loads_once_and_describes_itself(model: MaskPresence) -> None:
    assert isinstance(model, MaskPresence)
    assert mask_presence_model() is model
    info = packaged_info()
    assert info["threshold"] == MASKED_THRESHOLD == 0.5
    assert info["input"] == {**info["input"], "crop_size": CROP_SIZE, "crop_margin": CROP_MARGIN}
    assert info["model_bytes"] < 200_000
    assert not info["recipe"]["quick"]
    assert len(info["training_data"]["photos"]) > 100
    assert all(len(p["sha256"]) == 64 for p in info["training_data"]["photos"])
    assert {"builtin_styles", "never_trained_kind", "bare_all", "per_kind"} <= set(info["measured"])


def test_the_bare_astronaut_scores_below_the_threshold(model: MaskPresence, photo_and_face) -> None:  # type: ignore[no-untyped-def]
    image, face = photo_and_face
    score = model.scores([presence_crop(image, face.box)])
    assert score.shape == (1,) and score.dtype == np.float32
    assert score[0] < MASKED_THRESHOLD


@pytest.mark.parametrize("style", [s.name for s in BUILTIN_STYLES])
def test_the_astronaut_masked_in_each_builtin_style_scores_masked(model: MaskPresence, photo_and_face, style: str) -> None:  # type: ignore[no-untyped-def]
    image, face = photo_and_face
    masked = Masker(style, color="random", pattern="random", seed=3).mask_faces(image, [face], 0).image
    assert model.scores([presence_crop(masked, face.box)])[0] >= MASKED_THRESHOLD


@pytest.mark.parametrize("kind", ["polygon", "scarf", "hand"])
def test_the_astronaut_covered_by_an_occluder_fermask_does_not_draw_scores_masked(model: MaskPresence, photo_and_face, kind: str) -> None:  # type: ignore[no-untyped-def]
    sys.path.insert(0, str(RECIPES))
    try:
        from occluders import cover
    finally:
        sys.path.remove(str(RECIPES))
    image, face = photo_and_face
    covered = cover(image, face.landmarks, kind, seed=5)
    assert model.scores([presence_crop(covered, face.box)])[0] >= MASKED_THRESHOLD


def test_gray_photos_score_as_their_colour_versions_do(model: MaskPresence, photo_and_face) -> None:  # type: ignore[no-untyped-def]
    image, face = photo_and_face
    gray = load_image(example_photo()).mean(axis=2).astype(np.uint8)
    masked = Masker("surgical", seed=0).mask_faces(gray, [face], 0).image
    bare_score, masked_score = model.scores([presence_crop(gray, face.box), presence_crop(masked, face.box)])
    assert bare_score < MASKED_THRESHOLD <= masked_score


@pytest.mark.parametrize("shape", [(2, 32, 32, 3), (64, 64, 3), (2, 64, 64), (1, 64, 64, 4)])
def test_scores_refuse_crops_of_the_wrong_shape(model: MaskPresence, shape: tuple[int, ...]) -> None:
    with pytest.raises(InvalidValueError, match="presence_crop"):
        model.scores(np.zeros(shape, np.uint8))


def test_scores_of_no_crops_are_empty(model: MaskPresence) -> None:
    assert model.scores([]).shape == (0,)


def test_presence_crop_squares_the_box_and_repeats_gray_to_rgb() -> None:
    gray = np.zeros((100, 80), np.uint8)
    gray[:, 40:] = 200  # right half bright
    crop = presence_crop(gray, (20, 10, 60, 90))  # a tall box, squared around its centre
    assert crop.shape == (CROP_SIZE, CROP_SIZE, 3) and crop.dtype == np.uint8
    assert np.array_equal(crop[..., 0], crop[..., 1]) and np.array_equal(crop[..., 1], crop[..., 2])
    assert crop[:, :28].max() == 0 and crop[:, 36:].min() == 200  # the box's centre (x=40) stays in the middle
    rgb = np.zeros((100, 80, 3), np.uint8)
    rgb[..., 0] = 255
    red = presence_crop(rgb, (-30, -30, 30, 30))  # partly outside: the edge is repeated, still red
    assert red.shape == (CROP_SIZE, CROP_SIZE, 3)
    assert (red[..., 0] == 255).all() and (red[..., 1:] == 0).all()


def _tiny_faces(src: Path, dest: Path) -> None:
    """A copy of a few people of the faces folder (two London ids, two Canada, Lisa) with their provenance."""
    with open(src / "provenance.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    london = sorted({r["file"].split("/")[-1][:3] for r in rows if r["file"].startswith("london/neutral/")})[:2]
    keep = [r for r in rows if (r["file"].startswith("london/") and r["file"].split("/")[-1][:3] in london)]
    keep += [r for r in rows if r["file"].startswith("canada/")][:2]
    keep += [r for r in rows if r["file"].startswith("lisa/")][:2]
    keep += [r for r in rows if r["file"].startswith("nonfaces/")][:2]
    for r in keep:
        (dest / r["file"]).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src / r["file"], dest / r["file"])
    with open(dest / "provenance.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(keep)


def _run_recipe(faces: Path, out: Path, *extra: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    cmd = [sys.executable, str(RECIPES / "build_mask_presence.py"), "--faces", str(faces), "--out", str(out),
           "--seed", "1", "--quick", "--quiet", *extra]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]


@pytest.mark.slow
def test_the_recipe_quick_mode_writes_a_model_and_its_description_and_repeats_its_bytes(
    tmp_path: Path, shared_faces: Path
) -> None:
    source = shared_faces
    faces = tmp_path / "faces"
    _tiny_faces(source, faces)
    _run_recipe(faces, tmp_path / "a")
    model_file = tmp_path / "a" / "mask_presence.tflite"
    info = json.loads((tmp_path / "a" / "mask_presence.json").read_text())
    assert MaskPresence(model_file).scores(np.zeros((2, CROP_SIZE, CROP_SIZE, 3), np.uint8)).shape == (2,)
    assert info["recipe"]["quick"] and info["recipe"]["seed"] == 1
    photos = info["training_data"]["photos"]
    assert len(photos) == 8  # both photos of two London ids, two Canada faces, two of Lisa
    assert len({p["person"] for p in photos}) == info["training_data"]["people"] == 5  # a London id's two photos: one person
    assert set(info["measured"]["leave_one_kind_out"]) == {"polygon", "scarf", "hand"}
    assert info["tflite_check"]["max_abs_difference_to_keras"] < 1e-4
    assert (tmp_path / "a" / "mask_presence.png").stat().st_size > 10_000
    # deterministic: the same seed and faces give the same bytes
    _run_recipe(faces, tmp_path / "b")
    assert (tmp_path / "b" / "mask_presence.tflite").read_bytes() == model_file.read_bytes()
