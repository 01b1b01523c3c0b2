"""Issue 25: what fermask may replace or write in an output folder, and what it must leave alone.

Item 1: ``--force`` replaces only a bundle fermask wrote, never a folder of
other files, a file, or the folder holding the input.
"""

from __future__ import annotations

from pathlib import Path

import pytest

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


keras = pytest.importorskip("keras")


@pytest.fixture(scope="module")
def small_h5(tmp_path_factory: pytest.TempPathFactory) -> Path:
    keras.utils.set_random_seed(3)
    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(3, activation="softmax")])
    path = tmp_path_factory.mktemp("h5") / "model.h5"
    model.save(path)
    return path


def _import(src: Path, out: Path) -> list[str]:
    return ["import-model", str(src), "-o", str(out), "--labels", "a,b,c", "--force"]


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
