"""Issue 25: what fermask may replace or write in an output folder, and what it must leave alone.

Item 1: ``--force`` replaces only a bundle fermask wrote, never a folder of
other files, a file, or the folder holding the input. Items 3 and 4: the
lock file is never emptied, links inside the output folder are never
followed, and a run leaves no lock behind. Item 12: a read-only folder that
holds a run is refused before any work.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from fermask.errors import FermaskError


# ----------------------------------------------------------------------------- item 1: --force
def _bundle_like(folder: Path, *extra: str) -> Path:
    folder.mkdir()
    (folder / "fermask.json").write_text("{}")
    (folder / "model.keras").write_bytes(b"k")
    for name in extra:
        (folder / name).write_text("mine")
    return folder


def test_force_replaces_only_what_fermask_wrote(tmp_path: Path) -> None:
    from fermask._files import check_replaceable

    check_replaceable(tmp_path / "missing", False)  # a new folder
    (tmp_path / "empty").mkdir()
    check_replaceable(tmp_path / "empty", False)
    ours = _bundle_like(tmp_path / "ours", "LICENSE.fer.txt")
    check_replaceable(ours, True)
    with pytest.raises(FermaskError, match="already exists"):
        check_replaceable(ours, False)
    foreign = _bundle_like(tmp_path / "foreign", "thesis.tex")
    with pytest.raises(FermaskError, match=r"did not write \(thesis.tex\)"):
        check_replaceable(foreign, True)
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "model.keras").write_text("a")  # only names fermask writes, but no fermask.json
    with pytest.raises(FermaskError, match="no fermask.json"):
        check_replaceable(tmp_path / "notes", True)
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(FermaskError, match="is a file"):
        check_replaceable(tmp_path / "file.txt", True)
    (tmp_path / "link").symlink_to(ours)
    with pytest.raises(FermaskError, match="symbolic link"):
        check_replaceable(tmp_path / "link", True)
    with pytest.raises(FermaskError, match="holds the input"):
        check_replaceable(ours, True, inputs=[ours / "model.keras"])


def test_a_run_folder_never_loses_its_input_or_a_link_target(tmp_path: Path) -> None:
    from fermask.training.run_files import prepare_out_dir

    run = tmp_path / "run"
    (run / "bundle").mkdir(parents=True)
    (run / "bundle" / "fermask.json").write_text("{}")
    with pytest.raises(FermaskError, match="is part of the run"):  # adapt again from the last run's bundle
        prepare_out_dir(run, True, inputs=[run / "bundle"])
    assert (run / "bundle" / "fermask.json").is_file()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "keep.txt").write_text("keep")
    (run / "checkpoints").symlink_to(elsewhere)
    prepare_out_dir(run, True, inputs=[tmp_path / "faces"])
    assert not (run / "bundle").exists() and not (run / "checkpoints").exists()
    assert (elsewhere / "keep.txt").read_text() == "keep"


# ----------------------------------------------------------------------------- items 3, 4, 12: the output folder
class _Invert:
    """A stand-in masker (no dlib): every image is "masked" by inverting it."""

    def config(self) -> dict[str, Any]:
        return {"invert": True}

    def mask_many(self, images: Iterable[Any], **kwargs: Any) -> Iterator[Any]:
        from fermask._image import load_image
        from fermask.masker import MaskResult

        for i, src in enumerate(images):
            yield MaskResult(image=255 - load_image(src), styles=["x"], masked=True, index=i, source=str(src))


def _inputs(folder: Path, n: int = 2) -> Path:
    folder.mkdir(parents=True)
    for i in range(n):
        Image.fromarray(np.full((16, 20), 40 + i, np.uint8)).save(folder / f"im{i}.png")
    return folder


def _mask(src: Path, out: Path) -> Any:
    from fermask.batch import mask_folder

    return mask_folder([src], out, _Invert(), progress=False)


def test_a_plain_lock_named_file_is_refused_not_emptied(tmp_path: Path) -> None:
    src = _inputs(tmp_path / "in")
    out = tmp_path / "out"
    out.mkdir()
    (out / ".fermask.lock").write_text("my notes, not a lock\n")
    with pytest.raises(FermaskError, match="is not a fermask lock"):
        _mask(src, out)
    assert (out / ".fermask.lock").read_text() == "my notes, not a lock\n"
    assert not (out / "manifest.jsonl").exists()


def test_a_run_leaves_no_lock_behind_and_a_dead_runs_lock_is_taken_over(tmp_path: Path) -> None:
    src = _inputs(tmp_path / "in")
    out = tmp_path / "out"
    assert _mask(src, out).masked == 2
    assert not (out / ".fermask.lock").exists()
    (out / ".fermask.lock").write_text("999999\n")  # left by a run that died (an older fermask's format)
    with pytest.warns(UserWarning, match="lock of process 999999"):
        _mask(src, out)
    assert not (out / ".fermask.lock").exists()


@pytest.mark.parametrize("name", [".fermask.lock", "manifest.jsonl"])
def test_links_in_the_output_folder_are_refused_and_their_targets_kept(tmp_path: Path, name: str) -> None:
    src = _inputs(tmp_path / "in")
    out = tmp_path / "out"
    out.mkdir()
    target = tmp_path / "precious.txt"
    target.write_text("precious\n")
    (out / name).symlink_to(target)
    with pytest.raises(FermaskError, match="symbolic link"):
        _mask(src, out)
    assert target.read_text() == "precious\n"
    (out / name).unlink()
    (out / name).symlink_to(tmp_path / "missing.txt")  # a dangling link is not created through either
    with pytest.raises(FermaskError, match="symbolic link"):
        _mask(src, out)
    assert not (tmp_path / "missing.txt").exists()


def test_a_symlinked_subfolder_receives_no_outputs(tmp_path: Path) -> None:
    src = tmp_path / "in"
    _inputs(src / "sub")
    out = tmp_path / "out"
    out.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (out / "sub").symlink_to(elsewhere)
    summary = _mask(src, out)
    assert list(elsewhere.iterdir()) == []
    assert summary.masked == 0 and summary.errors == 2
    assert all("symbolic link" in why for _, why in summary.error_inputs)


@pytest.fixture()
def read_only() -> Iterator[Any]:
    """``make(folder)``: no file can be created in ``folder`` any more, its files stay writable.

    ``chmod 555`` for a user; root ignores that, so for root the folder is
    made immutable (``chattr +i``), undone at the end.
    """
    import shutil
    import subprocess

    made: list[Path] = []

    def make(folder: Path) -> None:
        if os.getuid() != 0:
            folder.chmod(0o555)
        elif shutil.which("chattr") is None or subprocess.run(["chattr", "+i", str(folder)],
                                                                capture_output=True).returncode != 0:
            pytest.skip("root, and chattr +i is not available here: no folder is read-only for root")
        made.append(folder)

    yield make
    for folder in made:
        if os.getuid() == 0:
            subprocess.run(["chattr", "-i", str(folder)], check=False)
        folder.chmod(0o755)


def test_a_read_only_folder_holding_a_run_is_refused_up_front(tmp_path: Path, read_only: Any) -> None:
    src = _inputs(tmp_path / "in", 6)
    out = tmp_path / "out"
    _mask(src, out)  # a run already in the folder
    for p in out.glob("*.png"):
        p.unlink()  # so there is work to do
    (out / ".fermask.lock").write_text("")  # as an older fermask left it: empty, writable
    before = (out / "manifest.jsonl").read_text()
    read_only(out)
    with pytest.raises(FermaskError, match="cannot write to the output folder"):
        _mask(src, out)
    assert (out / "manifest.jsonl").read_text() == before  # nothing was appended: refused before any work


keras = pytest.importorskip("keras")


@pytest.fixture(scope="module")
def small_h5(tmp_path_factory: pytest.TempPathFactory) -> Path:
    keras.utils.set_random_seed(3)
    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(3, activation="softmax")])
    path = tmp_path_factory.mktemp("h5") / "model.h5"
    model.save(path)
    return path


def _import(src: Path, out: Path) -> list[str]:
    return ["import-model", str(src), "-o", str(out), "--labels", "a,b,c", "--scale", "unit", "--force"]


def test_import_model_force_keeps_other_files_and_the_input(small_h5: Path, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    from fermask.cli import main

    # a folder of unrelated files, the model being imported among them
    folder = tmp_path / "work"
    folder.mkdir()
    src = folder / "model.h5"
    src.write_bytes(small_h5.read_bytes())
    (folder / "notes.txt").write_text("keep me")
    assert main(_import(src, folder)) == 2
    err = capsys.readouterr().err
    assert "holds the input" in err and len(err.strip().splitlines()) == 1
    assert src.is_file() and (folder / "notes.txt").read_text() == "keep me"
    # the same folder without the input in it: still not fermask's
    assert main(_import(small_h5, folder)) == 2
    assert "did not write" in capsys.readouterr().err and (folder / "notes.txt").is_file()
    # a regular file never becomes a bundle folder
    plain = tmp_path / "plain.txt"
    plain.write_text("data")
    assert main(_import(small_h5, plain)) == 2
    assert "is a file" in capsys.readouterr().err and plain.read_text() == "data"
    # a bundle fermask wrote is replaced
    bundle = tmp_path / "bundle"
    assert main(_import(small_h5, bundle)) == 0
    assert main(_import(small_h5, bundle)) == 0
    assert sorted(p.name for p in bundle.iterdir()) == ["fermask.json", "model.keras"]


# ----------------------------------------------------------------------------- item 2: predict --out / --plot
@pytest.fixture(scope="module")
def small_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from fermask.bundle import BundleInfo, save_bundle

    keras.utils.set_random_seed(4)
    model = keras.Sequential([keras.Input((48, 48, 1)), keras.layers.Rescaling(1 / 255), keras.layers.Flatten(),
                              keras.layers.Dense(7, activation="softmax")])
    path = tmp_path_factory.mktemp("pbundle") / "b"
    save_bundle(path, model, BundleInfo(input_shape=(48, 48, 1)))
    return path


def test_predict_never_replaces_files_it_did_not_write(small_bundle: Path, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("imageio_ffmpeg")
    import imageio.v3 as iio

    from fermask.cli import main

    photo = tmp_path / "a.png"
    Image.fromarray(np.full((48, 48), 90, np.uint8)).save(photo)
    clip = tmp_path / "clip.mp4"
    iio.imwrite(clip, np.full((3, 64, 64, 3), 90, np.uint8), fps=5, codec="libx264", macro_block_size=1)
    plots, tables = tmp_path / "plots", tmp_path / "tables"
    plots.mkdir()
    tables.mkdir()
    (plots / "a.scores.png").write_text("my figure")
    (tables / "clip.emotions.csv").write_text("my table")
    args = ["predict", str(photo), str(clip), "-m", str(small_bundle), "--face-policy", "full_frame",
            "--plot", str(plots), "--out", str(tables), "-q"]
    assert main(args) == 0
    err = capsys.readouterr().err
    assert (plots / "a.scores.png").read_text() == "my figure"
    assert (tables / "clip.emotions.csv").read_text() == "my table"
    assert (plots / "a-2.scores.png").stat().st_size > 0 and (tables / "clip-2.emotions.csv").stat().st_size > 0
    assert "a.scores.png exists (kept); wrote" in err and "clip.emotions.csv exists (kept); wrote" in err
    assert (plots / "a.annotated.png").is_file()  # a free name is used as it is
