"""Issue 25: pretrained models are checked where they come from (item 6) and whenever they are used (item 5)."""

from __future__ import annotations

import hashlib
import os
import sys
import time
import tracemalloc
import zipfile
from pathlib import Path
from typing import Any

import pytest

from fermask.cli import main
from fermask.pretrained import ChecksumError, PretrainedModel, PyPIFile, fetch_weights, register_pretrained
from fermask.pretrained._registry import _REGISTRY

TOY = "toy-reliability"
MEMBER = "toy_pkg/data/model.h5"


@pytest.fixture()
def entry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("FERMASK_CACHE", str(tmp_path / "cache"))
    e = PretrainedModel(name=TOY, summary="a toy", source=PyPIFile("toy-pkg", "1.0", MEMBER),
                        sha256=hashlib.sha256(b"the real weights").hexdigest(), licence="MIT",
                        labels=("a", "b", "c"), input_shape=(8, 8, 1))
    register_pretrained(e)
    yield e
    _REGISTRY.unregister(TOY)


# ----------------------------------------------------------------------------- item 6: a zip bomb
def _bomb(path: Path, size: int) -> Path:
    """A wheel whose weights member inflates to ``size`` zero bytes."""
    info = zipfile.ZipInfo(MEMBER)
    info.compress_type = zipfile.ZIP_DEFLATED
    with zipfile.ZipFile(path, "w") as zf:
        with zf.open(info, "w", force_zip64=True) as f:
            block = bytes(1 << 20)
            for _ in range(size >> 20):
                f.write(block)
        zf.writestr("toy_pkg-1.0.dist-info/LICENSE", "licence")
    return path


@pytest.fixture(scope="module")
def big_bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """600 MB of zeros in a wheel of under 1 MB (more than :data:`MAX_MEMBER_BYTES`)."""
    return _bomb(tmp_path_factory.mktemp("bomb") / "toy_pkg-1.0-py3-none-any.whl", 600 << 20)


def test_a_zip_bomb_is_refused_on_its_declared_size_before_inflating(entry: PretrainedModel, big_bomb: Path,
                                                                      tmp_path: Path) -> None:
    bomb = big_bomb
    assert bomb.stat().st_size < 1 << 20
    work = tmp_path / "work"
    work.mkdir()
    start = time.perf_counter()
    with pytest.raises(ChecksumError, match="larger than 512 MB.*declares 629145600 bytes"):
        fetch_weights(entry, work, source_file=bomb)
    assert time.perf_counter() - start < 2
    assert list(work.iterdir()) == []  # nothing extracted


def test_a_wrong_member_is_hashed_in_a_stream_and_never_written(entry: PretrainedModel,
                                                                              tmp_path: Path) -> None:
    bomb = _bomb(tmp_path / "toy_pkg-1.0-py3-none-any.whl", 64 << 20)
    work = tmp_path / "work"
    work.mkdir()
    tracemalloc.start()
    try:
        with pytest.raises(ChecksumError, match="sha256 .* not the published one .* not extracted"):
            fetch_weights(entry, work, source_file=bomb)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 << 20  # streamed, never held whole (64 MB)
    assert list(work.iterdir()) == []


def test_cli_refuses_a_zip_bomb_in_one_line(entry: PretrainedModel, big_bomb: Path, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["download-model", TOY, "--from", str(big_bomb), "-q"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "larger than 512 MB" in err[0]
    assert not (tmp_path / "cache" / "models" / TOY).exists()


# ----------------------------------------------------------------------------- item 5: a swapped model file
@pytest.fixture()
def toy_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A registered 3-class 8x8 entry pinning a tiny .h5 file, with a cache of its own; yields (entry, h5)."""
    keras = pytest.importorskip("keras")
    from fermask._files import sha256_file

    keras.utils.set_random_seed(2)
    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(3, activation="softmax")])
    h5 = tmp_path / "model.h5"
    model.save(h5)
    monkeypatch.setenv("FERMASK_CACHE", str(tmp_path / "cache"))
    e = PretrainedModel(name=TOY, summary="a toy", source=PyPIFile("toy-pkg", "1.0", MEMBER), sha256=sha256_file(h5),
                        licence="MIT", labels=("a", "b", "c"), input_shape=(8, 8, 1), scale="unit")
    register_pretrained(e)
    yield e, h5
    _REGISTRY.unregister(TOY)


def test_a_swapped_model_file_is_found_and_refused_with_the_fix(toy_model: Any, tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    import json

    import keras
    import numpy as np
    from PIL import Image

    from fermask.convert import download_model
    from fermask.predictor import Predictor
    from fermask.pretrained import pretrained_state

    entry, h5 = toy_model
    folder = download_model(TOY, source_file=h5, progress=False)
    recorded = json.loads((folder / "fermask.json").read_text())["extra"]["files_sha256"]
    assert "model.keras" in recorded and pretrained_state(TOY) == "downloaded"
    assert Predictor.load(TOY).labels == ["a", "b", "c"]
    # another model of the same shape, put in its place
    keras.utils.set_random_seed(9)
    other = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(3, activation="softmax")])
    other.save(tmp_path / "other.keras")
    (folder / "model.keras").write_bytes((tmp_path / "other.keras").read_bytes())
    assert pretrained_state(TOY) == "damaged"
    with pytest.raises(ChecksumError, match=f"model.keras changed.*download-model {TOY} --force"):
        Predictor.load(TOY)
    capsys.readouterr()
    assert main(["pretrained"]) == 0
    assert f"damaged: {folder}" in capsys.readouterr().out
    photo = tmp_path / "face.png"
    Image.fromarray(np.full((8, 8), 80, np.uint8)).save(photo)
    assert main(["predict", str(photo), "-m", TOY, "--face-policy", "full_frame", "-q"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "is damaged" in err[0] and f"fermask download-model {TOY} --force" in err[0]
    # the command it names puts it right
    assert main(["download-model", TOY, "--from", str(h5), "--force", "-q"]) == 0
    assert pretrained_state(TOY) == "downloaded"
    assert main(["predict", str(photo), "-m", TOY, "--face-policy", "full_frame", "-q"]) == 0


# ----------------------------------------------------------------------------- item 1: download-model --force
def test_download_force_keeps_files_it_did_not_write_and_its_input(entry: PretrainedModel, tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    from fermask.pretrained import pretrained_dir

    folder = pretrained_dir(TOY)
    folder.mkdir(parents=True)
    (folder / "fermask.json").write_text("{}")
    weights = folder / "model.h5"  # the --from file, inside the folder it would replace
    weights.write_bytes(b"the real weights")
    assert main(["download-model", TOY, "--from", str(weights), "--force", "-q"]) == 2
    assert "holds the input" in capsys.readouterr().err and weights.is_file()
    outside = tmp_path / "model.h5"
    outside.write_bytes(b"the real weights")
    assert main(["download-model", TOY, "--from", str(outside), "--force", "-q"]) == 2
    assert "did not write (model.h5)" in capsys.readouterr().err and weights.is_file()


def test_a_killed_downloads_scratch_folder_is_removed_by_the_next_one(tmp_path: Path) -> None:
    import time

    from fermask.pretrained._fetch import STALE_SCRATCH_SECONDS, scratch_dir

    old, young = tmp_path / ".download-old", tmp_path / ".download-young"
    for folder in (old, young):
        (folder / "wheel").mkdir(parents=True)
    past = time.time() - STALE_SCRATCH_SECONDS - 60
    os.utime(old, (past, past))
    with scratch_dir(tmp_path) as work:
        assert Path(work).is_dir()
    assert not old.exists() and young.is_dir()  # a younger one may be a download running now


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_pip_dies_with_a_fermask_killed_by_sigkill(tmp_path: Path) -> None:
    import signal
    import subprocess
    import textwrap
    import time

    pidfile = tmp_path / "child.pid"
    child = f"import os, time; open({str(pidfile)!r}, 'w').write(str(os.getpid())); time.sleep(60)"
    parent = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys
        from pathlib import Path
        from fermask._files import pip_download
        pip_download([sys.executable, "-c", {child!r}], Path({str(tmp_path)!r}), "*.whl", progress=True)
    """)])
    for _ in range(200):
        if pidfile.is_file() and pidfile.read_text():
            break
        time.sleep(0.05)
    pid = int(pidfile.read_text())
    parent.send_signal(signal.SIGKILL)
    parent.wait(timeout=10)
    for _ in range(100):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        os.kill(pid, signal.SIGKILL)
        pytest.fail("the pip child outlived the fermask process killed with SIGKILL")
