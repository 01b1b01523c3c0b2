"""The Masker: inputs, options, results, batches and plugins."""

from __future__ import annotations

import io
import subprocess
import sys
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

import fermask
from fermask import Masker
from fermask.errors import ImageError, UnknownNameError

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def masker() -> Masker:
    return Masker("surgical")


def test_result_fields(masker: Masker, astronaut: np.ndarray) -> None:
    res = masker(astronaut)
    assert res.masked and res.face_found and res.reason is None
    assert res.image.shape == astronaut.shape and res.image.dtype == np.uint8
    assert len(res.faces) == 1 and res.faces[0].landmarks.shape == (68, 2)
    assert res.styles == ["surgical"] and res.style == "surgical"
    assert res.colors == [(150, 200, 230)]
    rec = res.to_record()
    assert rec["faces"] == 1 and rec["styles"] == ["surgical"]


def test_input_forms_give_the_same_mask(masker: Masker, astronaut: np.ndarray, tmp_path: Path) -> None:
    path = tmp_path / "a.png"
    Image.fromarray(astronaut).save(path)
    rgba = np.dstack([astronaut, np.full(astronaut.shape[:2], 255, np.uint8)])
    forms = [
        astronaut,
        str(path),
        path,
        path.read_bytes(),
        Image.open(path),
        rgba,
        astronaut.astype(np.float32) / 255.0,
    ]
    outs = [masker(f, index=0).image for f in forms]
    for out in outs[1:]:
        assert np.abs(out.astype(int) - outs[0].astype(int)).max() <= 1


def test_input_is_not_modified(masker: Masker, astronaut: np.ndarray) -> None:
    before = astronaut.copy()
    masker(astronaut)
    assert np.array_equal(before, astronaut)


def test_gray_input_keep_color_choice(astronaut_crop48: np.ndarray) -> None:
    gray = Masker("surgical", keep_color=False)(astronaut_crop48).image
    color = Masker("surgical", keep_color=True)(astronaut_crop48).image
    assert gray.shape == (48, 48)
    assert color.shape == (48, 48, 3)
    # the colour is really there: the light-blue mask has blue > red on the masked area
    diff = np.abs(color.astype(int) - astronaut_crop48[..., None].astype(int)).sum(axis=2) > 30
    assert (color[..., 2][diff].astype(int) - color[..., 0][diff].astype(int)).mean() > 20


def test_strength(astronaut: np.ndarray) -> None:
    zero = Masker("surgical", strength=0.0)(astronaut).image
    half = Masker("surgical", strength=0.5)(astronaut).image
    full = Masker("surgical", strength=1.0)(astronaut).image
    assert np.array_equal(zero, astronaut)
    d_half = np.abs(half.astype(int) - astronaut).sum()
    d_full = np.abs(full.astype(int) - astronaut).sum()
    assert 0.3 * d_full < d_half < 0.7 * d_full


def test_color_and_pattern_options(astronaut: np.ndarray) -> None:
    plain = Masker("surgical", color="red", pattern="none")(astronaut)
    striped = Masker("surgical", color="red", pattern="stripes")(astronaut)
    assert plain.colors == [(190, 40, 45)] and plain.patterns == [None]
    assert striped.patterns == ["stripes"]
    assert not np.array_equal(plain.image, striped.image)
    cloth = Masker("cloth")(astronaut)
    assert cloth.patterns == ["fabric"]  # the style's own default


def test_random_styles_are_seeded_and_recorded(astronaut_crop48: np.ndarray) -> None:
    crops = [astronaut_crop48] * 24
    a = [r.style for r in Masker("random", seed=3).mask_many(crops, workers=1, progress=False)]
    b = [r.style for r in Masker("random", seed=3).mask_many(crops, workers=1, progress=False)]
    c = [r.style for r in Masker("random", seed=4).mask_many(crops, workers=1, progress=False)]
    assert a == b and a != c
    assert len(set(a)) >= 3 and set(a) <= set(fermask.list_masks())
    some = [r.style for r in Masker(["n95", "gas"], seed=1).mask_many(crops, workers=1, progress=False)]
    assert set(some) == {"n95", "gas"}


def test_random_color_and_pattern(astronaut_crop48: np.ndarray) -> None:
    res = list(Masker("surgical", color="random", pattern="random", seed=0).mask_many(
        [astronaut_crop48] * 20, workers=1, progress=False))
    assert len({r.colors[0] for r in res}) >= 4
    assert len({r.patterns[0] for r in res}) >= 3


def test_two_faces_masked_left_to_right(astronaut: np.ndarray) -> None:
    top = astronaut[:260]  # the faces, not the space suit
    pair = np.ascontiguousarray(np.concatenate([top, top[:, ::-1]], axis=1))
    res = Masker("n95")(pair)
    assert len(res.faces) == 2 and res.styles == ["n95", "n95"]
    assert res.faces[0].box[0] < res.faces[1].box[0]
    for f in res.faces:
        x, y = np.round(f.landmarks[62]).astype(int)  # inner lip
        assert np.abs(res.image[y, x].astype(int) - pair[y, x]).sum() > 20


def test_no_face_is_reported_not_raised() -> None:
    noise = np.random.default_rng(0).integers(0, 255, (300, 300, 3), dtype=np.uint8)
    res = Masker()(noise)
    assert not res.masked and not res.face_found and res.reason == "no face found"
    assert np.array_equal(res.image, noise)


def test_exif_orientation_is_honoured(astronaut: np.ndarray) -> None:
    rotated = Image.fromarray(astronaut).rotate(90, expand=True)  # stored sideways
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to view"
    buf = io.BytesIO()
    rotated.save(buf, format="JPEG", exif=exif.tobytes(), quality=95)
    res = Masker()(buf.getvalue())
    assert res.masked and res.image.shape == astronaut.shape


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"strength": 1.5}, "strength"),
        ({"pattern": "tartan"}, "pattern"),
        ({"color": "rainbow"}, "colour"),
        ({"style": []}, "empty"),
        ({"face_policy": "maybe"}, "policy"),
    ],
)
def test_bad_options(kwargs, match) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(fermask.FermaskError, match=match):
        Masker(**kwargs)


def test_bad_options_raise_one_error_type_each() -> None:
    from fermask.errors import InvalidChoiceError, InvalidValueError

    with pytest.raises(InvalidChoiceError, match=r"pattern must be 'stripes'.*got 'bogus'"):
        Masker(pattern="bogus")
    with pytest.raises(InvalidChoiceError, match="Did you mean 'dots'"):
        Masker(pattern="dot")
    with pytest.raises(InvalidValueError, match="strength is the mask's opacity and must lie between 0 and 1, got 2"):
        Masker(strength=2)
    with pytest.raises(ValueError):  # still a ValueError for code written against the built-in
        Masker(strength=2)


def test_unknown_style_in_masker() -> None:
    with pytest.raises(UnknownNameError, match="Did you mean 'n95'"):
        Masker("n96")


def test_unreadable_input_raises_on_call_and_is_recorded_in_batch(tmp_path: Path, astronaut_crop48: np.ndarray) -> None:
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image at all")
    with pytest.raises(ImageError, match="bad.png"):
        Masker()(bad)
    results = list(Masker().mask_many([astronaut_crop48, bad, np.zeros((1, 1), np.uint8)], workers=1, progress=False))
    assert [r.ok for r in results] == [True, False, False]
    assert "bad.png" in results[1].reason and results[1].source == str(bad)
    assert "at least" in results[2].reason


def test_mask_many_processes_match_serial(lfw_crops48: np.ndarray) -> None:
    crops = list(lfw_crops48[:40])
    m = Masker("random", seed=7)
    serial = list(m.mask_many(crops, workers=1, progress=False))
    parallel = list(m.mask_many(iter(crops), workers=2, chunksize=8, progress=False, total=40))
    assert [r.index for r in parallel] == list(range(40))
    for s, p in zip(serial, parallel):
        assert s.style == p.style
        assert np.array_equal(s.image, p.image)


def _fields(r: fermask.MaskResult) -> tuple:
    return (r.index, r.status, r.reason, r.source, r.styles, r.colors, r.patterns,
            [(f.box, f.detected, f.landmarks.tobytes()) for f in r.faces],
            None if r.image is None else (r.image.shape, r.image.tobytes()))


def test_mask_batch_gives_what_masking_image_by_image_gives(
    tmp_path: Path, astronaut: np.ndarray, lfw_crops48: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fermask.masker import _stages

    photo = tmp_path / "photo.png"
    Image.fromarray(astronaut).save(photo)
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image at all")
    noise = np.random.default_rng(3).integers(0, 256, (300, 400), dtype=np.uint8)  # no face, larger than a crop
    images = [photo, *lfw_crops48[:9], bad, photo.read_bytes(), noise, np.zeros((4, 4), np.uint8), *lfw_crops48[9:14]]
    indices = [100 + 3 * k for k in range(len(images))]
    m = Masker("random", color="random", pattern="random", seed=11)
    one_by_one = [m._safe_one(i, img) for i, img in zip(indices, images)]
    assert {r.status for r in one_by_one} == {"masked", "no_face", "error"}
    monkeypatch.setattr(_stages, "STAGE_IMAGES", 4)  # several groups, one cut inside the crops
    assert [_fields(r) for r in m.mask_batch(images, indices=indices)] == [_fields(r) for r in one_by_one]
    monkeypatch.setattr(_stages, "STAGE_IMAGES", 32)
    monkeypatch.setattr(_stages, "STAGE_BYTES", astronaut.nbytes)  # a photo fills a group
    assert [_fields(r) for r in m.mask_batch(images, indices=indices)] == [_fields(r) for r in one_by_one]
    assert [r.index for r in m.mask_batch(lfw_crops48[:3])] == [0, 1, 2]
    with pytest.raises(fermask.FermaskError, match="2 indices for 3 images"):
        m.mask_batch(lfw_crops48[:3], indices=[0, 1])


def test_a_subclass_that_masks_in_its_own_way_is_called_image_by_image(lfw_crops48: np.ndarray) -> None:
    class Inverting(Masker):
        def __call__(self, image, *, index=None):  # type: ignore[no-untyped-def]
            return fermask.MaskResult(image=255 - np.asarray(image), masked=True, index=index)

    results = Inverting().mask_batch(lfw_crops48[:3], indices=[5, 6, 7])
    assert [r.index for r in results] == [5, 6, 7]
    assert np.array_equal(results[0].image, 255 - lfw_crops48[0])


def test_mask_many_any_executor(lfw_crops48: np.ndarray) -> None:
    crops = list(lfw_crops48[:10])
    with ThreadPoolExecutor(2) as ex:
        res = list(Masker().mask_many(crops, executor=ex, chunksize=3, progress=False))
    assert len(res) == 10 and all(r.masked for r in res)


def test_config_is_complete_and_json_ready() -> None:
    import json

    a = Masker("surgical", color="white", seed=1).config()
    b = Masker("surgical", color="white", seed=2).config()
    c = Masker(["surgical", "n95"], seed=1).config()
    json.dumps(a)
    assert a != b and a != c
    assert a["faces"]["policy"] == "auto"


@pytest.mark.slow
def test_plugin_package_installs_and_registers(tmp_path: Path, astronaut: np.ndarray) -> None:
    """The example plugin in examples/ installs and its style is found through its entry point."""
    target = tmp_path / "site"
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--target", str(target), str(ROOT / "examples" / "fermask-plugin-example")],
        capture_output=True, text=True,
    )
    assert proc.returncode == 0, proc.stderr
    code = (
        "import fermask, numpy as np; from skimage import data;"
        "print(fermask.masks.registry.source('duckbill'));"
        "r = fermask.Masker('duckbill')(data.astronaut()); print(r.styles, r.masked)"
    )
    env_path = str(target)
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**__import__("os").environ, "PYTHONPATH": env_path})
    assert run.returncode == 0, run.stderr
    assert "plugin fermask_duckbill:DuckBill" in run.stdout
    assert "['duckbill'] True" in run.stdout


def test_broken_plugin_warns_but_does_not_break(monkeypatch: pytest.MonkeyPatch, fake_distribution: Any) -> None:
    fake_distribution("broken-plugin", "1.0", "[fermask.masks]\nbroken = no_such_module_xyz:Style\n")
    from fermask.masks import registry

    try:
        with pytest.warns(RuntimeWarning, match="broken"):
            registry.reload_plugins()
        assert "broken" not in registry.names()
        assert "surgical" in registry.names()
    finally:
        monkeypatch.undo()
        registry.reload_plugins()


def test_plugin_named_like_a_builtin_is_skipped_with_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_distribution: Any
) -> None:
    """A plugin style called 'surgical' never replaces the built-in, and says so; a good plugin stays quiet."""
    (tmp_path / "fermask_clash_plugin.py").write_text(
        "from fermask.masks import MaskShape, MaskStyle\n"
        "class Style(MaskStyle):\n"
        "    def shape(self, g):\n"
        "        return MaskShape(outline=g.p[[2, 30, 14, 8]])\n"
    )
    fake_distribution(
        "fermask-clash-plugin", "1.0",
        "[fermask.masks]\nSurgical = fermask_clash_plugin:Style\nclash-ok = fermask_clash_plugin:Style\n",
    )
    from fermask.masks import get_mask, registry
    from fermask.masks.builtin import Surgical

    try:
        with pytest.warns(RuntimeWarning) as caught:
            registry.reload_plugins()
        messages = [str(w.message) for w in caught if "Surgical" in str(w.message)]
        assert len(messages) == 1, [str(w.message) for w in caught]
        msg = messages[0]
        assert "fermask_clash_plugin:Style" in msg and "'fermask-clash-plugin'" in msg
        assert "built-in" in msg and "skipped" in msg and "Rename" in msg
        assert registry.source("surgical") == "built-in" and isinstance(get_mask("surgical"), Surgical)
        assert registry.source("clash-ok") == "plugin fermask_clash_plugin:Style"
        # reading the plugins again finds 'clash-ok' registered by itself: no warning for that one
        with warnings.catch_warnings(record=True) as again:
            warnings.simplefilter("always")
            registry.reload_plugins()
        assert not [w for w in again if "clash-ok" in str(w.message)]
    finally:
        registry.unregister("clash-ok")
        monkeypatch.undo()
        registry.reload_plugins()


def test_threads_sharing_one_masker_give_the_same_bytes_as_one_process(lfw_crops48: np.ndarray) -> None:
    """dlib's detectors are not thread-safe (a Dask worker runs tasks in threads); results must not change."""
    crops = list(lfw_crops48[:16])
    masker = Masker("random", color="random", pattern="random", seed=3)
    alone = [r.image.tobytes() for r in masker.mask_many(crops, workers=1, progress=False)]
    with ThreadPoolExecutor(2) as ex:
        for _ in range(5):
            shared = [r.image.tobytes() for r in masker.mask_many(crops, executor=ex, chunksize=2, progress=False)]
            assert shared == alone


def test_warm_loads_the_models_that_forked_workers_then_share(monkeypatch: pytest.MonkeyPatch) -> None:
    from fermask.faces import _dlib_models
    from fermask.masker import warm_quietly

    masker = Masker("surgical")
    key = ("landmarks", masker.analyzer.landmarks_path)
    monkeypatch.setattr(_dlib_models, "MODELS", {})
    monkeypatch.setattr(_dlib_models, "HOG_FREE", [])
    masker.warm()
    assert key in _dlib_models.MODELS and len(_dlib_models.HOG_FREE) == 1
    broken = Masker("surgical")
    broken.analyzer.landmarks_path = "/nowhere/shape_predictor_68_face_landmarks.dat"
    warm_quietly(broken)  # a model that cannot load is left to the workers to report, image by image
    assert broken.mask_many([np.zeros((48, 48), np.uint8)], workers=1, progress=False).__next__().status == "error"
