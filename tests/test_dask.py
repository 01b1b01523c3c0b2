"""Masking on a Dask cluster (``fermask[dask]``): worker processes give byte-identical results.

One ``LocalCluster`` with two worker *processes* serves the whole module. Every
test compares the cluster's output with a local run's: masked pixels, styles,
colours, per-image errors, manifest records and output file bytes. Nothing
here is timed (the figures are in docs/guide/scaling.md, from
benchmarks/bench_dask.py).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

distributed = pytest.importorskip("distributed")

from fermask import Masker  # noqa: E402
from fermask.assets import example_photo  # noqa: E402
from fermask.batch import MANIFEST_NAME, mask_folder, read_manifest  # noqa: E402
from fermask.cli import main  # noqa: E402
from fermask.data import FERDataset, make_synthetic_fer  # noqa: E402
from fermask.masker import MaskResult  # noqa: E402

# fields of a manifest item that must not depend on where the masking ran
ITEM_FIELDS = ("input", "output", "status", "faces", "styles", "colors", "patterns", "full_frame", "reason", "index")


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    """Two single-threaded worker processes, as on a real cluster (each worker its own Python)."""
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    try:
        yield cluster
    finally:
        cluster.close()


@pytest.fixture(scope="module")
def client(cluster: Any) -> Iterator[Any]:
    client = distributed.Client(cluster)
    try:
        yield client
    finally:
        client.close()


def _cut_off_local_masking(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make masking in *this* process fail, so a correct result proves the workers did the work.

    The workers unpickle the Masker and import fermask themselves: the patch
    does not reach them.
    """
    def fails(self: Masker, *args: Any) -> Any:
        raise AssertionError("masked in the client process, not on the cluster")

    monkeypatch.setattr(Masker, "_safe_one", fails)  # image by image
    monkeypatch.setattr(Masker, "_mask_staged", fails)  # a chunk, stage by stage


def _same(a: MaskResult, b: MaskResult) -> None:
    assert (a.index, a.masked, a.reason, a.styles, a.colors, a.patterns, a.source) == \
           (b.index, b.masked, b.reason, b.styles, b.colors, b.patterns, b.source)
    assert len(a.faces) == len(b.faces)
    if a.image is None or b.image is None:
        assert a.image is None and b.image is None
    else:
        assert a.image.dtype == b.image.dtype and a.image.shape == b.image.shape
        assert a.image.tobytes() == b.image.tobytes()


def _inputs(astronaut_crop48: np.ndarray, lfw_crops48: np.ndarray) -> list[Any]:
    """A photo path, its JPEG bytes, gray 48x48 crops (arrays), noise and an unreadable input."""
    photo = example_photo()
    noise = np.random.default_rng(0).integers(0, 256, (64, 64), dtype=np.uint8)
    return [photo, astronaut_crop48, lfw_crops48[0], b"not an image", lfw_crops48[1], noise,
            photo.read_bytes(), lfw_crops48[2]]


def test_mask_many_on_the_cluster_is_byte_identical(
    client: Any, astronaut_crop48: np.ndarray, lfw_crops48: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    images = _inputs(astronaut_crop48, lfw_crops48)
    masker = Masker("random", color="random", seed=5)
    local = list(masker.mask_many(images, workers=1, progress=False, start=7))
    assert sum(r.masked for r in local) >= 4  # real faces were masked, so the comparison means something
    assert local[3].image is None and "not a readable image" in (local[3].reason or "")

    _cut_off_local_masking(monkeypatch)
    remote = list(masker.mask_many(images, executor=client.get_executor(), chunksize=2, progress=False, start=7))
    assert len(remote) == len(local)
    for a, b in zip(local, remote):
        _same(a, b)
    # the unreadable input is an error with its reason, in its own position
    assert remote[3].index == 10 and remote[3].image is None and "not a readable image" in (remote[3].reason or "")


def test_progress_bar_moves_to_the_total_on_the_cluster(
    client: Any, lfw_crops48: np.ndarray, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import tqdm.auto

    steps: list[int] = []

    class Recording(tqdm.auto.tqdm):
        def update(self, n: float | None = 1) -> bool | None:
            out = super().update(n)
            steps.append(int(self.n))
            return out

    monkeypatch.setattr(tqdm.auto, "tqdm", Recording)
    images = iter(list(lfw_crops48[:6]))  # no len(): the total comes from total=
    results = Masker("surgical").mask_many(images, executor=client.get_executor(), chunksize=2, total=6)
    first = next(results)
    assert steps == [1]  # the bar moves with each result as it is delivered, not once at the end
    rest = list(results)
    assert len(rest) == 5 and first.index == 0
    assert steps == [1, 2, 3, 4, 5, 6]
    err = capsys.readouterr().err
    assert "masking: 100%" in err and "6/6" in err  # and it is drawn, to the total


def _detect_only() -> Masker:
    """A masker that masks only the faces dlib finds: some synthetic photos then have none."""
    return Masker("random", seed=1, face_policy="detect")


def test_dataset_mask_with_an_executor_equals_local(
    client: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ds = make_synthetic_fer(24, seed=2, base="photos")
    keep: dict[str, Any] = {"on_no_face": "keep", "shard_size": 10}
    local = ds.mask(_detect_only(), workers=1, use_cache=False, progress=False, **keep)
    assert 0 < local.notes["masking"]["masked"] < 24  # faces found in some, not all
    capsys.readouterr()
    _cut_off_local_masking(monkeypatch)
    remote = ds.mask(_detect_only(), executor=client.get_executor(), use_cache=False, progress=True, **keep)
    assert "24/24" in capsys.readouterr().err  # the dataset's progress bar reached the total
    _same_dataset(local, remote)
    # the cache key does not depend on the executor: a local call reads the entry the cluster wrote
    # (masking here still fails, so it must come from the cache)
    cached = ds.mask(_detect_only(), executor=client.get_executor(), cache_dir=tmp_path, progress=False, **keep)
    again = ds.mask(_detect_only(), workers=1, cache_dir=tmp_path, progress=False, **keep)
    _same_dataset(local, cached)
    _same_dataset(local, again)


def _same_dataset(a: FERDataset, b: FERDataset) -> None:
    assert a.images.dtype == b.images.dtype and a.images.shape == b.images.shape
    assert a.images.tobytes() == b.images.tobytes()
    assert a.styles is not None and b.styles is not None and a.styles.tolist() == b.styles.tolist()
    assert {k: v for k, v in a.notes["masking"].items() if k != "cache"} == \
           {k: v for k, v in b.notes["masking"].items() if k != "cache"}


@pytest.fixture()
def photo_folder(tmp_path: Path, astronaut: np.ndarray, lfw_crops48: np.ndarray) -> Path:
    """Faces (JPEG and PNG, nested), noise, and files that are not images."""
    root = tmp_path / "photos"
    (root / "a").mkdir(parents=True)
    Image.fromarray(astronaut).save(root / "astro.jpg", quality=90)
    for k in range(3):
        Image.fromarray(lfw_crops48[10 + k]).save(root / "a" / f"crop{k}.png")
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (64, 64), dtype=np.uint8)).save(root / "noise.png")
    (root / "text.png").write_text("this is not an image")
    good = (root / "astro.jpg").read_bytes()
    (root / "truncated.jpg").write_bytes(good[: len(good) // 3])
    return root


def _run_record(out: Path) -> tuple[dict[str, dict[str, Any]], dict[str, bytes]]:
    """The manifest's items by input name (the fields that do not depend on the engine), and the output files."""
    recs, bad = read_manifest(out / MANIFEST_NAME)
    assert bad == 0
    items = {Path(r["input"]).name: {k: r.get(k) for k in ITEM_FIELDS} for r in recs if r["type"] == "item"}
    files = {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*")
             if p.is_file() and p.name != MANIFEST_NAME and not p.name.startswith(".")}
    return items, files


def test_mask_folder_with_an_executor_writes_the_same_bytes(
    client: Any, photo_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    local = mask_folder([photo_folder], tmp_path / "local", Masker("random", color="random", seed=3), progress=False)
    _cut_off_local_masking(monkeypatch)
    remote = mask_folder([photo_folder], tmp_path / "dask", Masker("random", color="random", seed=3),
                         executor=client.get_executor(), chunksize=2, progress=False)
    assert (remote.masked, remote.no_face, remote.errors) == (local.masked, local.no_face, local.errors)
    assert local.masked >= 3 and local.errors == 2
    items_l, files_l = _run_record(tmp_path / "local")
    items_d, files_d = _run_record(tmp_path / "dask")
    assert items_d == items_l
    assert files_d == files_l and len(files_l) == local.masked
    assert items_d["text.png"]["status"] == "error" and "not a readable image" in items_d["text.png"]["reason"]
    assert items_d["truncated.jpg"]["status"] == "error"


def test_cli_dask_option_matches_a_local_run(
    cluster: Any, photo_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = [str(photo_folder), "--style", "random", "--seed", "4"]
    assert main(["mask", *args, "-o", str(tmp_path / "local"), "-q"]) == 0
    local_line = capsys.readouterr().out
    _cut_off_local_masking(monkeypatch)
    assert main(["mask", *args, "-o", str(tmp_path / "dask"), "--dask", cluster.scheduler_address]) == 0
    cap = capsys.readouterr()
    assert local_line.split(" -> ")[0] == cap.out.split(" -> ")[0]  # "N masked, N no face, 2 errors"
    assert "text.png" in cap.err and "truncated.jpg" in cap.err  # per-file errors still reported
    assert re.search(r"masking: 100%.*\b7/7\b", cap.err)  # the progress bar reached the total (7 inputs)
    assert _run_record(tmp_path / "dask") == _run_record(tmp_path / "local")


def test_cli_dask_errors_are_one_clear_line(photo_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    base = ["mask", str(photo_folder), "-o", str(out), "-q"]

    assert main([*base, "--dask", "tcp://127.0.0.1:1", "--dask-timeout", "1"]) == 2
    err = capsys.readouterr().err
    assert "could not reach the Dask scheduler at 'tcp://127.0.0.1:1' within 1 s" in err
    assert len(err.strip().splitlines()) == 1

    assert main([*base, "--dask", "not-an-address"]) == 2
    assert "not a Dask scheduler address" in capsys.readouterr().err

    assert main([*base, "--dask", "tcp://127.0.0.1:1", "--workers", "2"]) == 2
    assert "--dask and --workers 2 cannot be combined" in capsys.readouterr().err

    monkeypatch.setitem(sys.modules, "distributed", None)  # as if the extra were not installed
    assert main([*base, "--dask", "tcp://127.0.0.1:1"]) == 2
    err = capsys.readouterr().err
    assert "pip install 'fermask[dask]'" in err and len(err.strip().splitlines()) == 1
    assert not out.exists()  # nothing was started


def test_resume_command_keeps_the_cluster() -> None:
    import argparse

    from fermask.commands.mask import add_arguments, resume_command

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    line = resume_command(parser.parse_args(["in", "-o", "out", "--dask", "tcp://h:8786", "--dask-timeout", "5"]))
    assert "--dask tcp://h:8786 --dask-timeout 5" in line
    assert "--dask" not in resume_command(parser.parse_args(["in", "-o", "out"]))


def test_the_window_of_chunks_in_flight_follows_the_clusters_threads(client: Any) -> None:
    from fermask._parallel import executor_capacity

    assert executor_capacity(client.get_executor()) == 2  # two single-threaded worker processes
