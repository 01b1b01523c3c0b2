"""Mask styles: every registered style masks real faces correctly; the registry."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import fermask
from fermask.errors import UnknownNameError
from fermask.faces import FaceAnalyzer
from fermask.masks import MaskShape, MaskStyle, get_mask, list_masks, parse_color, register_mask, registry

STYLES = list_masks()
MOUTH_AND_NOSTRILS = list(range(31, 36)) + list(range(48, 68))
EYES = list(range(36, 48))


def _window_diff(a: np.ndarray, b: np.ndarray, pts: np.ndarray, r: int) -> np.ndarray:
    """Mean absolute difference in a (2r+1)^2 window around each point."""
    a = a.astype(np.float32)
    b = b.astype(np.float32)
    out = []
    for x, y in np.round(pts).astype(int):
        wa = a[max(0, y - r): y + r + 1, max(0, x - r): x + r + 1]
        wb = b[max(0, y - r): y + r + 1, max(0, x - r): x + r + 1]
        out.append(float(np.abs(wa - wb).mean()))
    return np.array(out)


def test_at_least_five_builtin_styles() -> None:
    for name in ("surgical", "n95", "kn95", "cloth", "gas"):
        assert name in STYLES
        assert registry.source(name) == "built-in"


@pytest.mark.parametrize("style", STYLES)
def test_style_covers_mouth_and_nostrils_not_eyes_on_photo(style: str, astronaut: np.ndarray) -> None:
    masker = fermask.Masker(style, color="#00c000", pattern="none")
    res = masker(astronaut)
    assert res.masked and res.styles == [style]
    lm = res.faces[0].landmarks
    covered = _window_diff(res.image, astronaut, lm[MOUTH_AND_NOSTRILS], 2)
    assert covered.min() > 20, f"{style}: some mouth/nostril points barely changed: {covered.round(1)}"
    eyes = _window_diff(res.image, astronaut, lm[EYES], 3)
    assert eyes.max() == 0, f"{style}: eye pixels changed: {eyes.round(2)}"
    # the chin is covered too
    assert _window_diff(res.image, astronaut, lm[[8]], 1)[0] > 20


@pytest.mark.parametrize("style", STYLES)
def test_style_on_48px_crop(style: str, astronaut_crop48: np.ndarray) -> None:
    res = fermask.Masker(style, face_policy="full_frame", keep_color=True, color="#00c000")(astronaut_crop48)
    assert res.image.shape == (48, 48, 3)
    gray3 = np.repeat(astronaut_crop48[..., None], 3, axis=2)
    lm = res.faces[0].landmarks
    assert _window_diff(res.image, gray3, lm[MOUTH_AND_NOSTRILS], 0).min() > 15
    assert _window_diff(res.image, gray3, lm[EYES], 0).max() < 4


@pytest.mark.parametrize("angle", [-20, 15])
def test_mask_follows_tilt(angle: int, astronaut: np.ndarray) -> None:
    tilted = np.asarray(Image.fromarray(astronaut).rotate(angle, resample=Image.BILINEAR, center=(222, 130)))
    res = fermask.Masker("surgical", color="#00c000")(tilted)
    assert res.masked
    lm = res.faces[0].landmarks
    assert _window_diff(res.image, tilted, lm[MOUTH_AND_NOSTRILS], 2).min() > 20
    assert _window_diff(res.image, tilted, lm[EYES], 3).max() == 0


def test_mask_follows_head_turn_on_real_faces(lfw_crops48: np.ndarray) -> None:
    """LFW faces look left and right; the mask must follow each one's landmarks."""
    masker = fermask.Masker("surgical", face_policy="full_frame", color="#00c000", keep_color=True)
    bad = 0
    for crop in lfw_crops48[:40]:
        res = masker(crop)
        lm = res.faces[0].landmarks
        gray3 = np.repeat(crop[..., None], 3, axis=2)
        inside = (lm[:, 0] >= 0) & (lm[:, 0] < 48) & (lm[:, 1] >= 0) & (lm[:, 1] < 48)
        mouth = [i for i in MOUTH_AND_NOSTRILS if inside[i]]
        eyes = [i for i in EYES if inside[i]]
        if _window_diff(res.image, gray3, lm[mouth], 0).min() <= 15:
            bad += 1
        elif _window_diff(res.image, gray3, lm[eyes], 0).max() >= 4:
            bad += 1
    assert bad <= 1


def test_styles_scale_to_4k(astronaut: np.ndarray) -> None:
    big = np.asarray(Image.fromarray(astronaut).resize((2048, 2048), Image.BILINEAR))
    res = fermask.Masker("kn95", color="#00c000")(big)
    lm = res.faces[0].landmarks
    assert _window_diff(res.image, big, lm[MOUTH_AND_NOSTRILS], 4).min() > 20
    assert _window_diff(res.image, big, lm[EYES], 8).max() == 0


def test_unknown_style_message_suggests_and_lists() -> None:
    with pytest.raises(UnknownNameError) as err:
        get_mask("surgicle")
    msg = str(err.value)
    assert "'surgicle'" in msg and "Did you mean 'surgical'" in msg
    for name in STYLES:
        assert name in msg
    assert "register_mask" in msg and "fermask.masks" in msg


def test_register_mask_decorator_plain_call_and_instance(astronaut: np.ndarray) -> None:
    class Band(MaskStyle):
        description = "test band"
        default_color = (0, 200, 0)

        def __init__(self, drop: float = 0.05) -> None:
            self.drop = drop

        def shape(self, g):  # type: ignore[no-untyped-def]
            return MaskShape(outline=g.p[[2, 30, 14, 8]])

    try:
        register_mask("test-band")(Band)
        assert "test-band" in list_masks()
        assert get_mask("TEST-BAND").name == "test-band"
        register_mask("test-band-wide", Band(drop=0.1))
        assert get_mask("test-band-wide").drop == 0.1
        register_mask("test-band", Band)  # the same object again is harmless
        with pytest.raises(ValueError, match="already registered"):
            register_mask("test-band", Band(drop=0.2))
        inst = Band()
        inst.name = "my-band"
        res = fermask.Masker(inst)(astronaut)  # an instance works where a name does
        assert res.masked and res.styles == ["my-band"]
        res2 = fermask.Masker("test-band")(astronaut)
        assert res2.styles == ["test-band"]
        assert not np.array_equal(res2.image, astronaut)
    finally:
        registry.unregister("test-band")
        registry.unregister("test-band-wide")


def test_registering_a_non_style_fails_clearly() -> None:
    register_mask("test-not-a-style", 42)
    try:
        with pytest.raises(fermask.FermaskError, match="no shape"):
            get_mask("test-not-a-style")
    finally:
        registry.unregister("test-not-a-style")


@pytest.mark.parametrize(
    "value, expected",
    [("white", (240, 240, 240)), ("#102030", (16, 32, 48)), ((1, 2, 3), (1, 2, 3)), (None, None)],
)
def test_parse_color(value, expected) -> None:  # type: ignore[no-untyped-def]
    assert parse_color(value) == expected


@pytest.mark.parametrize("value", ["chartreuse-ish", "#12345", (1, 2), (300, 0, 0)])
def test_parse_color_rejects(value) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="colour"):
        parse_color(value)


def test_landmarks_found_on_97_percent_of_real_crops(lfw_crops48: np.ndarray) -> None:
    """On FER-like 48x48 crops of real faces, 'auto' yields plausible landmarks for >= 97%."""
    analyzer = FaceAnalyzer(face_policy="auto")
    good = 0
    for crop in lfw_crops48:
        faces = analyzer.find(crop)
        if len(faces) != 1:
            continue
        lm = faces[0].landmarks
        eyes_y = lm[EYES, 1].mean()
        mouth_y = lm[48:68, 1].mean()
        nose_x = lm[30, 0]
        if eyes_y < mouth_y and lm[36, 0] < nose_x < lm[45, 0] and 0 <= nose_x < 48:
            good += 1
    assert good / len(lfw_crops48) >= 0.97
