"""Issue 25, items 11 and 14: files and folders in the wrong place are one clear line, never a traceback or silence.

Output folders that lie inside a file or are read-only are refused before any
work (``import-model -o``, ``adapt -o``, ``predict --out/--plot``, the model cache of
``download-model``); a damaged shard read with ``verify=False`` and a masking-cache
part replaced by a folder are ``DataFormatError`` lines; a deleted ``meta.json``
warns; ``predict`` names the pipes and dangling links it leaves out, as ``mask``
does; ``"labels": "abcdefg"`` is refused.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fermask.cli import main
from fermask.errors import DataFormatError

TINY = Path(__file__).parent / "data" / "tiny_tflite_bundle"


def _read_only(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    """``folder`` reads as read-only to fermask's check, also as root (whom chmod does not stop)."""
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, *a, **k: False if Path(p) == folder else real(p, mode, *a, **k))


def _photo(path: Path) -> Path:
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (48, 48), dtype=np.uint8)).save(path)
    return path


@pytest.mark.parametrize("where", ["inside a file", "read-only"])
@pytest.mark.parametrize("command", ["import-model", "adapt", "predict --out", "predict --plot", "download-model"])
def test_an_output_folder_that_cannot_be_written_is_refused_first(
    command: str, where: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    locked = tmp_path / "locked"
    locked.mkdir()
    if where == "read-only":
        _read_only(monkeypatch, locked)
    out = str(blocker / "sub" if where == "inside a file" else locked / "sub")
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"")  # never read: the output folder is checked first
    argv = {
        "import-model": ["import-model", str(blocker), "-o", out, "--scale", "unit"],
        "adapt": ["adapt", "--faces", str(tmp_path), "-o", out],
        "predict --out": ["predict", str(video), "-m", str(TINY), "--out", out],
        "predict --plot": ["predict", str(_photo(tmp_path / "a.png")), "-m", str(TINY), "--plot", out],
        "download-model": ["download-model"],
    }[command]
    if command == "download-model":
        monkeypatch.setenv("FERMASK_CACHE", out)
        monkeypatch.setenv("XDG_CACHE_HOME", out)
    rc = main(argv)
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "\n" not in err, err
    assert ("is a file, expected a folder" if where == "inside a file" else "is read-only") in err, err


def test_a_damaged_shard_read_without_verification_is_one_error(tmp_path: Path) -> None:
    from fermask.data.synthetic import make_synthetic_fer

    folder = tmp_path / "ds"
    make_synthetic_fer(20, seed=0).save(folder)
    shard = next(folder.glob("*.npz"))
    shard.write_bytes(shard.read_bytes()[:-200] + b"\0" * 200)  # damaged: central directory gone
    from fermask.data.dataset import FERDataset

    with pytest.raises(DataFormatError, match="not a readable npz shard"):
        FERDataset.load(folder, verify=False)


def _cache(folder: Path):  # type: ignore[no-untyped-def]
    from fermask.data.cache import _CacheEntry
    from fermask.data.store import write_shard

    meta = {"format": "test-cache", "version": 1, "count": 4}
    entry = _CacheEntry(folder, meta)
    arrays = {"images": np.zeros((4, 8, 8), np.uint8), "masked": np.ones(4, bool), "styles": np.array(["s"] * 4)}
    entry.shards["part-00000.npz"] = write_shard(folder, "part-00000.npz", arrays)
    entry._write_index()
    return meta


def test_a_cache_part_replaced_by_a_folder_is_one_error(tmp_path: Path) -> None:
    from fermask.data.cache import _CacheEntry

    meta = _cache(tmp_path / "c")
    part = tmp_path / "c" / "part-00000.npz"
    part.unlink()
    part.mkdir()
    with pytest.raises(DataFormatError, match="is a folder, expected a .npz file; remove that folder"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _CacheEntry(tmp_path / "c", meta).finished([(0, 4)])


def test_a_deleted_cache_index_warns_before_the_parts_are_redone(tmp_path: Path) -> None:
    from fermask.data.cache import _CacheEntry

    meta = _cache(tmp_path / "c")
    (tmp_path / "c" / "meta.json").unlink()
    with pytest.warns(UserWarning, match="index .*meta.json' is missing; the 1 part"):
        assert _CacheEntry(tmp_path / "c", meta).finished([(0, 4)]) == {}


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_predict_names_what_it_leaves_out_of_a_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    _photo(folder / "a.png")
    os.mkfifo(folder / "pipe.png")
    (folder / "loop.png").symlink_to(folder / "loop.png")
    with pytest.warns(UserWarning, match=r"left out 2 entries of .* that are not files.*loop\.png.*pipe\.png"):
        rc = main(["predict", str(folder), "-m", str(TINY), "--face-policy", "full_frame", "-q", "--json"])
    assert rc == 0 and len(capsys.readouterr().out.splitlines()) == 1


@pytest.mark.parametrize("labels", ["abcdefg", "ab"])
def test_labels_given_as_a_string_are_refused(labels: str, copied_bundle) -> None:  # type: ignore[no-untyped-def]
    from fermask.bundle import BundleInfo, load_bundle

    with pytest.raises(DataFormatError, match="labels must be a list of class names, got the string"):
        BundleInfo(labels=labels)  # type: ignore[arg-type]
    with pytest.raises(DataFormatError, match="got the string"):
        load_bundle(copied_bundle(TINY, labels=labels))


