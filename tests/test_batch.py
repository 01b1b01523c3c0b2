"""The batch engine (fermask.batch): walking, naming, manifest, resume.

Most tests use a small stand-in masker (no dlib) so they isolate the engine;
the last ones use the real Masker.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from fermask.batch import MANIFEST_NAME, collect_inputs, config_hash, mask_folder, read_manifest
from fermask.errors import FermaskError, ImageError
from fermask._image import load_image
from fermask.masker import MaskResult


class FakeMasker:
    """Inverts images whose mean is under 200 ("a face"); brighter ones have no face."""

    def __init__(self, tag: str = "a") -> None:
        self.tag = tag
        self.seen: list[str] = []

    def config(self) -> dict[str, Any]:
        return {"fake": self.tag}

    def mask_many(self, images: Iterable[Any], **kwargs: Any) -> Iterator[MaskResult]:
        for i, src in enumerate(images):
            self.seen.append(src if isinstance(src, str) else f"array{getattr(src, 'shape', '')}")
            try:
                arr = load_image(src)
            except ImageError as exc:
                yield MaskResult(image=None, index=i, reason=str(exc), source=str(src))
                continue
            if arr.mean() >= 200:
                yield MaskResult(image=arr, index=i, reason="no face found", source=str(src))
            else:
                yield MaskResult(image=255 - arr, styles=["fake"], masked=True, index=i, source=str(src))


def _png(path: Path, value: int = 50, size: tuple[int, int] = (20, 16)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((size[1], size[0]), value, dtype=np.uint8)).save(path)
    return path


def _items(outdir: Path) -> list[dict[str, Any]]:
    recs, bad = read_manifest(outdir / MANIFEST_NAME)
    assert bad == 0
    return [r for r in recs if r["type"] == "item"]


def _done_in_last_run(outdir: Path) -> list[str]:
    """The names of the inputs that the last run recorded (what it masked or tried), in manifest order."""
    recs, _ = read_manifest(outdir / MANIFEST_NAME)
    last = max(i for i, r in enumerate(recs) if r["type"] == "run")
    return [Path(r["input"]).name for r in recs[last:] if r["type"] == "item"]


def test_collect_walks_recursively_any_case_and_skips_non_images(tmp_path: Path) -> None:
    root = tmp_path / "in"
    _png(root / "a.png")
    _png(root / "sub" / "deeper" / "B.PNG")
    (root / "notes.txt").write_text("hello")
    Image.fromarray(np.zeros((10, 10, 3), np.uint8)).save(root / "sub" / "c.JPG")
    files, ignored = collect_inputs([root])
    rels = [f.rel.as_posix() for f in files]
    assert sorted(rels) == ["a.png", "sub/c.JPG", "sub/deeper/B.PNG"]
    assert ignored == 1


def test_collect_lists_files_in_the_order_paths_sort(tmp_path: Path) -> None:
    """The order seeds each input's random choices: it is the order of sorted paths, as in earlier versions."""
    root = tmp_path / "in"
    for rel in ["a/x.png", "a-b/x.png", "a.b/x.png", "A/x.png", "a/b/c/y.png", "a/b.png", "a0.png", "z.png",
                "é.png", "b/x.PNG", "b/.hidden.png"]:
        _png(root / rel)
    (root / "b" / "x.txt").write_text("not an image")
    (root / "link-to-a").symlink_to(root / "a", target_is_directory=True)  # listed, not entered
    (root / "link-to-z.png").symlink_to(root / "z.png")  # the same file as z.png: kept once, where first reached
    (root / "dangling.png").symlink_to(root / "missing.png")  # kept: the run reports it
    os.mkfifo(root / "fifo.png")  # not a file: left out
    with pytest.warns(UserWarning, match="left out 2 entries of the input folders that are not files") as caught:
        files, ignored = collect_inputs([root])
    message = str(caught[0].message)
    assert "link-to-a' is a symbolic link to a folder" in message and "name that folder as an input" in message
    assert "fifo.png' is a pipe, socket or device" in message
    expected = [f for f in sorted(root.rglob("*"))
                if (f.is_file() or (f.is_symlink() and not f.exists())) and f.suffix.lower() != ".txt"]
    expected = [f for f in expected if f.name != "z.png"]
    assert [f.path for f in files] == expected
    assert [f.rel for f in files] == [f.relative_to(root) for f in expected]
    assert ignored == 1


def test_a_folder_that_cannot_be_listed_is_named_in_a_warning(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import errno

    root = tmp_path / "in"
    _png(root / "a.png")
    _png(root / "locked" / "b.png")
    real_scandir = os.scandir

    def scandir(path: Any) -> Any:
        if os.path.basename(path) == "locked":
            raise PermissionError(errno.EACCES, "Permission denied", path)
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    with pytest.warns(UserWarning, match=r"locked' cannot be listed \(Permission denied\); the images in it are left out"):
        files, _ = collect_inputs([root])
    assert [f.rel.as_posix() for f in files] == ["a.png"]


def test_collect_dedupes_and_errors_on_missing(tmp_path: Path) -> None:
    a = _png(tmp_path / "in" / "a.png")
    files, _ = collect_inputs([tmp_path / "in", a])
    assert len(files) == 1
    with pytest.raises(FermaskError, match="input not found"):
        collect_inputs([tmp_path / "nope"])
    with pytest.raises(FermaskError, match="no inputs"):
        collect_inputs([])


def test_mask_folder_writes_mirrored_outputs_and_manifest(tmp_path: Path) -> None:
    src = tmp_path / "in"
    a = _png(src / "a.png", 40)
    _png(src / "sub" / "b.png", 60)
    _png(src / "bright.png", 250)
    (src / "empty.png").write_bytes(b"")
    out = tmp_path / "out"
    s = mask_folder([src], out, FakeMasker(), progress=False)
    assert (s.masked, s.no_face, s.errors, s.skipped) == (2, 1, 1, 0)
    assert s.line() == f"2 masked, 1 no face, 1 error -> {out}"  # one error, not "1 errors"
    got = np.asarray(Image.open(out / "sub" / "b.png"))
    assert got.shape == (16, 20) and int(got[0, 0]) == 255 - 60
    assert not (out / "bright.png").exists() and not (out / "empty.png").exists()
    items = {Path(r["input"]).name: r for r in _items(out)}
    assert items["a.png"]["status"] == "masked" and items["a.png"]["output"] == "a.png"
    assert items["bright.png"]["status"] == "no_face" and items["bright.png"]["output"] is None
    assert items["empty.png"]["status"] == "error" and "empty" in items["empty.png"]["reason"]
    assert int(np.asarray(Image.open(a))[0, 0]) == 40  # input untouched
    recs, _ = read_manifest(out / MANIFEST_NAME)
    assert recs[0]["type"] == "run" and recs[-1]["type"] == "summary" and recs[-1]["errors"] == 1


def test_rerun_resumes_and_retries_errors(tmp_path: Path) -> None:
    src = tmp_path / "in"
    _png(src / "a.png", 40)
    _png(src / "bright.png", 250)
    bad = src / "bad.png"
    bad.write_bytes(b"not a png")
    out = tmp_path / "out"
    mask_folder([src], out, FakeMasker(), progress=False)
    m2 = FakeMasker()
    s2 = mask_folder([src], out, m2, progress=False)
    assert s2.skipped == 2 and s2.errors == 1 and s2.masked == 0
    assert _done_in_last_run(out) == ["bad.png"]
    assert m2.seen == []  # the unreadable file is reported without reaching the masker
    # a deleted output is redone, under the same name
    (out / "a.png").unlink()
    _png(bad, 30)  # the user fixed the broken file
    m3 = FakeMasker()
    s3 = mask_folder([src], out, m3, progress=False)
    assert sorted(_done_in_last_run(out)) == ["a.png", "bad.png"] and len(m3.seen) == 2
    assert s3.masked == 2 and (out / "a.png").exists() and not (out / "a-2.png").exists()


def test_changed_input_is_redone(tmp_path: Path) -> None:
    src = tmp_path / "in"
    a = _png(src / "a.png", 40)
    out = tmp_path / "out"
    mask_folder([src], out, FakeMasker(), progress=False)
    _png(a, 10, size=(30, 30))
    os.utime(a, ns=(1, 1))
    s = mask_folder([src], out, FakeMasker(), progress=False)
    assert s.masked == 1 and s.skipped == 0
    assert np.asarray(Image.open(out / "a.png")).shape == (30, 30)


def test_changed_config_is_refused_unless_forced(tmp_path: Path) -> None:
    src = tmp_path / "in"
    _png(src / "a.png", 40)
    out = tmp_path / "out"
    mask_folder([src], out, FakeMasker("a"), progress=False)
    with pytest.raises(FermaskError, match="another configuration.*--force"):
        mask_folder([src], out, FakeMasker("b"), progress=False)
    with pytest.raises(FermaskError, match="another configuration"):
        mask_folder([src], out, FakeMasker("a"), progress=False, output_format="same")
    s = mask_folder([src], out, FakeMasker("b"), progress=False, force=True)
    assert s.masked == 1 and s.skipped == 0
    # the forced configuration is now the folder's: a plain rerun resumes it
    s2 = mask_folder([src], out, FakeMasker("b"), progress=False)
    assert s2.skipped == 1


def test_cut_off_manifest_line_is_tolerated(tmp_path: Path) -> None:
    src = tmp_path / "in"
    _png(src / "a.png", 40)
    _png(src / "b.png", 40)
    out = tmp_path / "out"
    mask_folder([src], out, FakeMasker(), progress=False)
    lines = (out / MANIFEST_NAME).read_text().splitlines()
    # simulate a kill while writing b's line: drop the summary, cut b's record
    b_line = next(i for i, ln in enumerate(lines) if "b.png" in ln and '"item"' in ln)
    text = "\n".join(lines[:b_line]) + "\n" + lines[b_line][:25]
    (out / MANIFEST_NAME).write_text(text)
    m = FakeMasker()
    with pytest.warns(UserWarning, match="cut-off line"):
        s = mask_folder([src], out, m, progress=False)
    assert _done_in_last_run(out) == ["b.png"] and len(m.seen) == 1 and s.skipped == 1
    recs, bad = read_manifest(out / MANIFEST_NAME)
    assert bad == 1 and recs[-1]["type"] == "summary"


def test_outputs_never_overwrite_inputs(tmp_path: Path) -> None:
    src = tmp_path / "in"
    a = _png(src / "a.png", 40)
    with pytest.raises(FermaskError, match="never writes among its inputs"):
        mask_folder([src], src, FakeMasker(), progress=False)
    # an output folder inside the input folder is left out of the walk
    out = src / "masked"
    s1 = mask_folder([src], out, FakeMasker(), progress=False)
    s2 = mask_folder([src], out, FakeMasker(), progress=False, force=True)
    assert s1.masked == 1 and s2.masked == 1
    # an input file inside the output folder is never its own output
    inner = _png(out / "x.png", 40)
    s3 = mask_folder([inner], out, FakeMasker(), progress=False)
    assert s3.masked == 1 and int(np.asarray(Image.open(inner))[0, 0]) == 40
    assert (out / "x-2.png").exists()
    assert int(np.asarray(Image.open(a))[0, 0]) == 40


def test_name_collisions_resolve_deterministically(tmp_path: Path) -> None:
    d1, d2 = tmp_path / "d1", tmp_path / "d2"
    _png(d1 / "face.png", 40)
    _png(d2 / "face.png", 41)
    Image.fromarray(np.full((16, 16), 42, np.uint8)).save(d1 / "face.jpg")
    out = tmp_path / "out"
    mask_folder([d1, d2], out, FakeMasker(), progress=False)
    outputs = {Path(r["input"]).parent.name + "/" + Path(r["input"]).name: r["output"] for r in _items(out)}
    assert outputs == {"d1/face.jpg": "face.png", "d1/face.png": "face-2.png", "d2/face.png": "face-3.png"}


def test_format_same_keeps_suffix(tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(np.full((16, 16, 3), 30, np.uint8)).save(src / "p.JPG")
    out = tmp_path / "out"
    s = mask_folder([src], out, FakeMasker(), progress=False, output_format="same")
    assert s.masked == 1 and (out / "p.jpg").exists()
    with Image.open(out / "p.jpg") as im:
        assert im.format == "JPEG"
    with pytest.raises(FermaskError, match="output_format"):
        mask_folder([src], out, FakeMasker(), progress=False, output_format="tiff")  # type: ignore[arg-type]


def test_interrupted_run_is_marked_and_resumable(tmp_path: Path) -> None:
    src = tmp_path / "in"
    for k in range(4):
        _png(src / f"{k}.png", 40)

    class Stops(FakeMasker):
        def mask_many(self, images: Iterable[Any], **kwargs: Any) -> Iterator[MaskResult]:
            for n, r in enumerate(super().mask_many(images, **kwargs)):
                if n == 2:
                    raise KeyboardInterrupt
                yield r

    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        mask_folder([src], out, Stops(), progress=False)
    recs, _ = read_manifest(out / MANIFEST_NAME)
    assert recs[-1]["type"] == "summary" and recs[-1]["interrupted"] is True
    assert not list(out.glob(".*partial"))
    m = FakeMasker()
    s = mask_folder([src], out, m, progress=False)
    assert s.skipped == 2 and s.masked == 2 and len(m.seen) == 2


def test_config_hash_is_order_independent() -> None:
    assert config_hash({"a": 1, "b": [1, 2]}) == config_hash({"b": [1, 2], "a": 1})
    assert config_hash({"a": 1}) != config_hash({"a": 2})


# -- with the real Masker ---------------------------------------------------
def test_real_masker_on_faces_noise_and_bad_files(
    tmp_path: Path, astronaut: np.ndarray, astronaut_crop48: np.ndarray
) -> None:
    from fermask import Masker

    src = tmp_path / "in"
    (src / "nested" / "deep").mkdir(parents=True)
    Image.fromarray(astronaut).save(src / "astro.JPG", quality=90)
    Image.fromarray(astronaut_crop48).save(src / "nested" / "deep" / "crop.png")
    Image.fromarray(astronaut_crop48.astype(np.uint16) * 257).save(src / "crop16.png")  # 16-bit PNG
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (256, 256), dtype=np.uint8)).save(src / "noise.png")
    out = tmp_path / "out"
    s = mask_folder([src], out, Masker("n95"), progress=False)
    assert (s.masked, s.no_face, s.errors) == (3, 1, 0)
    items = {Path(r["input"]).name: r for r in _items(out)}
    assert items["noise.png"]["status"] == "no_face"
    assert items["astro.JPG"]["faces"] == 1 and items["astro.JPG"]["styles"] == ["n95"]
    assert items["astro.JPG"]["full_frame"] == [False]
    assert items["crop.png"]["output"] == "nested/deep/crop.png"
    # the 16-bit PNG is masked like its 8-bit twin
    a16 = np.asarray(Image.open(out / "crop16.png"))
    a8 = np.asarray(Image.open(out / "nested" / "deep" / "crop.png"))
    assert a16.dtype == np.uint8 and a16.shape == (48, 48)
    assert np.abs(a16.astype(int) - a8.astype(int)).max() <= 1
    assert (a8 != astronaut_crop48).mean() > 0.15  # the mask covers a good part of the crop


# -- reliability probes (issue 10) -----------------------------------------
def test_non_utf8_file_name_is_masked_recorded_and_resumed(tmp_path: Path) -> None:
    src = tmp_path / "in"
    _png(src / "a.png", 40)
    odd = os.path.join(os.fsencode(src), b"b\xff.png")  # not valid UTF-8
    with open(odd, "wb") as f:
        Image.fromarray(np.full((16, 20), 30, np.uint8)).save(f, format="PNG")
    out = tmp_path / "out"
    s = mask_folder([src], out, FakeMasker(), progress=False)
    assert (s.masked, s.errors) == (2, 0)
    (out / MANIFEST_NAME).read_bytes().decode("utf-8")  # the manifest stays valid UTF-8
    items = {os.fsencode(Path(r["input"]).name): r for r in _items(out)}
    assert set(items) == {b"a.png", b"b\xff.png"}  # the name reads back byte for byte
    assert os.fsencode(items[b"b\xff.png"]["output"]) == b"b\xff.png"
    assert int(np.asarray(Image.open(os.path.join(os.fsencode(out), b"b\xff.png")))[0, 0]) == 255 - 30
    m = FakeMasker()
    s2 = mask_folder([src], out, m, progress=False)
    assert s2.skipped == 2 and m.seen == []


def test_file_fermask_did_not_write_is_never_replaced(tmp_path: Path) -> None:
    src = tmp_path / "in"
    _png(src / "a.png", 40)
    out = tmp_path / "out"
    mine = _png(out / "a.png", 7)  # the user's own file in the output folder
    before = mine.read_bytes()
    s = mask_folder([src], out, FakeMasker(), progress=False)
    assert s.masked == 1 and mine.read_bytes() == before
    assert [r["output"] for r in _items(out)] == ["a-2.png"]
    assert int(np.asarray(Image.open(out / "a-2.png"))[0, 0]) == 255 - 40
    # a forced rerun replaces fermask's own output, still not the user's file
    s2 = mask_folder([src], out, FakeMasker("b"), progress=False, force=True)
    assert s2.masked == 1 and mine.read_bytes() == before
    assert [r["output"] for r in _items(out)] == ["a-2.png", "a-2.png"]
    assert not (out / "a-3.png").exists()


_HOLD_LOCK = """
import sys
from pathlib import Path
from fermask.batch._lock import FolderLock
lock = FolderLock(Path(sys.argv[1]))
print("locked", flush=True)
sys.stdin.read()
"""


def test_second_run_into_a_locked_folder_is_refused(tmp_path: Path) -> None:
    import select
    import subprocess
    import sys

    import fermask

    src = tmp_path / "in"
    _png(src / "a.png", 40)
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(Path(fermask.__file__).parents[1])}
    holder = subprocess.Popen([sys.executable, "-c", _HOLD_LOCK, str(out)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, env=env)
    try:
        assert holder.stdout is not None
        ready, _, _ = select.select([holder.stdout], [], [], 60)
        assert ready and holder.stdout.readline().strip() == b"locked"
        with pytest.raises(FermaskError, match=rf"process {holder.pid}\).*{str(out)!r}"):
            mask_folder([src], out, FakeMasker(), progress=False)
        assert not (out / MANIFEST_NAME).exists() and not (out / "a.png").exists()
    finally:
        holder.kill()  # killed while holding it: the kernel releases the lock
        holder.wait(timeout=60)
    with pytest.warns(UserWarning, match=f"lock of process {holder.pid}"):
        s = mask_folder([src], out, FakeMasker(), progress=False)
    assert s.masked == 1
    runs = [r for r in read_manifest(out / MANIFEST_NAME)[0] if r["type"] == "run"]
    assert runs[-1]["lock_taken_over_from_pid"] == holder.pid
    # a run that ended normally released its lock: the next one takes it without a note
    mask_folder([src], out, FakeMasker(), progress=False)
    runs = [r for r in read_manifest(out / MANIFEST_NAME)[0] if r["type"] == "run"]
    assert runs[-1]["lock_taken_over_from_pid"] is None


def test_resumed_random_run_writes_the_same_bytes(tmp_path: Path, lfw_crops48: np.ndarray) -> None:
    from concurrent.futures import ProcessPoolExecutor

    from fermask import Masker

    src = tmp_path / "in"
    src.mkdir()
    for k, crop in enumerate(lfw_crops48[:8]):
        Image.fromarray(crop).save(src / f"{k:02d}.png")

    def masker() -> Masker:
        return Masker("random", color="random", pattern="random", seed=5)

    class StopsAfter3:
        def __init__(self) -> None:
            self.inner = masker()

        def config(self) -> dict[str, Any]:
            return self.inner.config()

        def mask_many(self, images: Iterable[Any], **kwargs: Any) -> Iterator[MaskResult]:
            for n, r in enumerate(self.inner.mask_many(images, **kwargs)):
                if n == 3:
                    raise KeyboardInterrupt
                yield r

    def outputs(folder: Path) -> dict[str, bytes]:
        return {p.name: p.read_bytes() for p in sorted(folder.glob("*.png"))}

    assert mask_folder([src], tmp_path / "full", masker(), progress=False).masked == 8
    with pytest.raises(KeyboardInterrupt):
        mask_folder([src], tmp_path / "resumed", StopsAfter3(), progress=False)
    s = mask_folder([src], tmp_path / "resumed", masker(), progress=False)
    assert (s.skipped, s.masked) == (3, 5)
    with pytest.raises(KeyboardInterrupt):
        mask_folder([src], tmp_path / "resumed2", StopsAfter3(), progress=False)
    with ProcessPoolExecutor(2) as ex:
        mask_folder([src], tmp_path / "resumed2", masker(), executor=ex, chunksize=2, progress=False)
    mask_folder([src], tmp_path / "w2", masker(), workers=2, chunksize=3, progress=False)
    full = outputs(tmp_path / "full")
    assert len(full) == 8
    assert outputs(tmp_path / "resumed") == full
    assert outputs(tmp_path / "resumed2") == full
    assert outputs(tmp_path / "w2") == full
    looks = {(tuple(r["styles"]), str(r["colors"]), str(r["patterns"])) for r in _items(tmp_path / "full")}
    assert len(looks) > 3  # the choices do vary from image to image


def test_append_after_a_cut_off_manifest_line_starts_a_fresh_line(tmp_path: Path) -> None:
    src = tmp_path / "in"
    _png(src / "a.png", 40)
    out = tmp_path / "out"
    mask_folder([src], out, FakeMasker(), progress=False)
    torn = '{"type": "item", "input": "/somewhere/x.png", "outp'
    with open(out / MANIFEST_NAME, "a", encoding="utf-8") as f:
        f.write(torn)  # a power cut in the middle of a line
    _png(src / "b.png", 40)
    with pytest.warns(UserWarning, match="skipped 1 cut-off line"):
        s = mask_folder([src], out, FakeMasker(), progress=False)
    assert s.masked == 1 and s.skipped == 1
    lines = (out / MANIFEST_NAME).read_text(encoding="utf-8").splitlines()
    unreadable = []
    for line in lines:
        try:
            json.loads(line)
        except ValueError:
            unreadable.append(line)
    assert unreadable == [torn]  # every record of the new run is on its own line
    recs, bad = read_manifest(out / MANIFEST_NAME)
    assert bad == 1 and [r["type"] for r in recs].count("run") == 2
    assert {Path(r["input"]).name for r in recs if r["type"] == "item"} == {"a.png", "b.png"}


def test_record_glued_after_a_cut_off_line_is_kept(tmp_path: Path) -> None:
    path = tmp_path / MANIFEST_NAME
    run = {"type": "run", "config_hash": "abc", "config": {"x": {"y": 1}}}
    path.write_text('{"type": "item", "input": "/x.png", "outp' + json.dumps(run) + "\n", encoding="utf-8")
    recs, bad = read_manifest(path)
    assert recs == [run] and bad == 1


def test_unwritable_output_folder_is_a_clear_error(tmp_path: Path) -> None:
    src = tmp_path / "in"
    _png(src / "a.png", 40)
    blocker = tmp_path / "file.txt"
    blocker.write_text("a regular file")
    with pytest.raises(FermaskError, match="cannot write to the output folder .*file.txt/out.*-o"):
        mask_folder([src], blocker / "out", FakeMasker(), progress=False)
    assert blocker.read_text() == "a regular file"


def test_read_only_output_folder_is_a_clear_error(tmp_path: Path) -> None:
    src = tmp_path / "in"
    _png(src / "a.png", 40)
    out = tmp_path / "ro"
    out.mkdir()
    out.chmod(0o555)
    try:
        if os.access(out, os.W_OK):
            pytest.skip("chmod does not stop this user (root) from writing")
        with pytest.raises(FermaskError, match="cannot write to the output folder .*ro.*permissions"):
            mask_folder([src], out, FakeMasker(), progress=False)
    finally:
        out.chmod(0o755)


def test_symlink_loops_and_dangling_links_are_recorded_as_errors(tmp_path: Path) -> None:
    src = tmp_path / "in"
    _png(src / "a.png", 40)
    os.symlink("loop2.png", src / "loop1.png")
    os.symlink("loop1.png", src / "loop2.png")
    os.symlink("nowhere.png", src / "dangling.png")
    out = tmp_path / "out"
    s = mask_folder([src, src / "loop1.png"], out, FakeMasker(), progress=False)
    assert (s.masked, s.errors) == (1, 3)
    items = {Path(r["input"]).name: r for r in _items(out)}
    assert items["loop1.png"]["status"] == items["loop2.png"]["status"] == "error"
    assert "symbolic link loop" in items["loop1.png"]["reason"]
    assert items["dangling.png"]["status"] == "error" and "nowhere.png" in items["dangling.png"]["reason"]
    # a loop named on its own is an input with an error, not "input not found"
    s2 = mask_folder([src / "loop2.png"], tmp_path / "out2", FakeMasker(), progress=False)
    assert s2.errors == 1 and "symbolic link loop" in s2.error_inputs[0][1]


def test_animated_images_note_that_only_the_first_frame_was_masked(tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    frames = [Image.fromarray(np.full((16, 16), v, np.uint8)) for v in (40, 90, 140)]
    frames[0].save(src / "anim.png", save_all=True, append_images=frames[1:])
    frames[0].save(src / "anim.gif", save_all=True, append_images=frames[1:])
    _png(src / "still.png", 40)
    out = tmp_path / "out"
    s = mask_folder([src, src / "anim.gif"], out, FakeMasker(), progress=False)
    assert s.masked == 3
    items = {Path(r["input"]).name: r for r in _items(out)}
    for name in ("anim.png", "anim.gif"):
        assert items[name]["status"] == "masked"
        assert "only the first of its 3 frames was masked" in items[name]["note"]
    assert items["still.png"]["note"] is None


def test_manifest_write_failure_midway_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import errno

    from fermask.batch import _manifest

    src = tmp_path / "in"
    for k in range(3):
        _png(src / f"{k}.png", 40)
    out = tmp_path / "out"
    real_write = _manifest.Manifest.write
    calls = []

    def disk_fills(self: Any, rec: dict[str, Any], **kwargs: Any) -> None:
        calls.append(rec["type"])
        if len(calls) == 3:  # the run line and one item fit, then the disk is full
            raise OSError(errno.ENOSPC, "No space left on device")
        real_write(self, rec, **kwargs)

    monkeypatch.setattr(_manifest.Manifest, "write", disk_fills)
    with pytest.raises(FermaskError, match="No space left on device.*rerun the same command to resume"):
        mask_folder([src], out, FakeMasker(), progress=False)
    monkeypatch.setattr(_manifest.Manifest, "write", real_write)
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == ["0.png", MANIFEST_NAME]
    s = mask_folder([src], out, FakeMasker(), progress=False)
    assert s.skipped == 1 and s.masked == 2
    # the image whose line could not be written never appeared: it is redone under its own name
    assert [r["output"] for r in _items(out)] == ["0.png", "1.png", "2.png"]


def test_png_level_changes_the_file_size_never_the_pixels(tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    rng = np.random.default_rng(1)
    smooth = np.cumsum(rng.integers(0, 3, (64, 80)), axis=1).astype(np.uint8)  # compressible, not trivially
    Image.fromarray(smooth).save(src / "a.png")
    sizes = {}
    for level in (0, 9):
        out = tmp_path / f"l{level}"
        assert mask_folder([src], out, FakeMasker(), progress=False, png_level=level).masked == 1
        sizes[level] = (out / "a.png").stat().st_size
        assert np.array_equal(np.asarray(Image.open(out / "a.png")), 255 - smooth)
        run = read_manifest(out / MANIFEST_NAME)[0][0]
        assert run["png_level"] == level
    assert sizes[0] > sizes[9]
    with pytest.raises(FermaskError, match=r"png_level must be a whole number from 0 .* to 9 .*got 10"):
        mask_folder([src], tmp_path / "bad", FakeMasker(), progress=False, png_level=10)
    # the level changes no pixel, so it is not part of the configuration: a run may resume with another one
    Image.fromarray(smooth[::-1].copy()).save(src / "b.png")
    s = mask_folder([src], tmp_path / "l0", FakeMasker(), progress=False, png_level=9)
    assert (s.skipped, s.masked) == (1, 1)
    assert [r["png_level"] for r in read_manifest(tmp_path / "l0" / MANIFEST_NAME)[0] if r["type"] == "run"] == [0, 9]


_KILLED_RUN = r"""
import sys, time
from fermask import Masker
from fermask.batch import mask_folder

class Stuck(Masker):  # the same configuration as Masker; stops for good at input 200, so the run is killed midway
    def mask_faces(self, image, faces, index=None, **kwargs):
        if index is not None and index >= 200:
            time.sleep(3600)
        return super().mask_faces(image, faces, index, **kwargs)

mask_folder([sys.argv[1]], sys.argv[2], Stuck("random", color="random", seed=2), workers=2, chunksize=4,
            progress=False)
"""


def test_killed_parallel_run_leaves_only_named_files_and_resumes_to_the_same_bytes(
    tmp_path: Path, lfw_crops48: np.ndarray
) -> None:
    import signal
    import subprocess
    import sys
    import time

    import fermask
    from fermask import Masker

    src = tmp_path / "in"
    src.mkdir()
    for k in range(400):
        Image.fromarray(np.roll(lfw_crops48[k % 100], k // 100, axis=1)).save(src / f"{k:03d}.png")
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(Path(fermask.__file__).parents[1])}
    proc = subprocess.Popen([sys.executable, "-c", _KILLED_RUN, str(src), str(out)], env=env,
                            start_new_session=True, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            if (out / MANIFEST_NAME).exists() and (out / MANIFEST_NAME).read_bytes().count(b'"type": "item"') >= 100:
                break
            time.sleep(0.02)
        assert proc.poll() is None, f"the run ended before it was killed: {proc.stderr.read()!r}"  # type: ignore[union-attr]
        os.killpg(proc.pid, signal.SIGKILL)  # the run and its workers, with no chance to clean up
        proc.wait(30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    recs, _ = read_manifest(out / MANIFEST_NAME)
    assert not any(r["type"] == "summary" for r in recs)
    named = {r["output"] for r in recs if r["type"] == "item" and r["output"]}
    written = {p.name for p in out.iterdir() if not p.name.startswith(".")} - {MANIFEST_NAME}
    assert written and written <= named, "every image on disk is named by a manifest line"

    def masker() -> Masker:
        return Masker("random", color="random", seed=2)

    with pytest.warns(UserWarning, match=f"took over the lock of process {proc.pid}"):
        s = mask_folder([src], out, masker(), workers=1, progress=False)
    assert (s.skipped, s.masked) == (len(written), 400 - len(written)), s
    assert not list(out.rglob("*.partial")), "the dead run's temporary files are removed"
    full = tmp_path / "full"
    mask_folder([src], full, masker(), workers=1, progress=False)
    whole = {p.name: p.read_bytes() for p in full.glob("*.png")}
    resumed = {p.name: p.read_bytes() for p in out.glob("*.png")}
    assert whole.keys() == resumed.keys()
    assert not [k for k in whole if whole[k] != resumed[k]], "outputs that differ from an uninterrupted run's"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_worker_does_not_keep_the_folder_locked(tmp_path: Path) -> None:
    from fermask.batch._lock import FolderLock

    lock = FolderLock(tmp_path / "out")
    read_end, write_end = os.pipe()
    started_r, started_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # a pool worker that outlives its run, as one killed with its run may for a moment
        os.close(write_end)
        os.write(started_w, b"1")  # running: past what fork runs in a new child
        os.read(read_end, 1)
        os._exit(0)
    try:
        assert os.read(started_r, 1) == b"1"
        lock.release()
        again = FolderLock(tmp_path / "out")  # refused while the worker's copy held the lock
        assert again.taken_over is None
        again.release()
    finally:
        os.close(write_end)
        os.waitpid(pid, 0)
        for fd in (read_end, started_r, started_w):
            os.close(fd)


def test_ctrl_c_between_renames_leaves_no_temporary_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from fermask.batch import _outputs

    src = tmp_path / "in"
    for k in range(5):
        _png(src / f"{k}.png", 40)
    out = tmp_path / "out"
    real_commit = _outputs.Output.commit
    calls = []

    def stop_at_the_third(self: Any) -> None:
        calls.append(self.target.name)
        if len(calls) == 3:
            raise KeyboardInterrupt
        real_commit(self)

    monkeypatch.setattr(_outputs.Output, "commit", stop_at_the_third)
    with pytest.raises(KeyboardInterrupt):
        mask_folder([src], out, FakeMasker(), progress=False)
    monkeypatch.setattr(_outputs.Output, "commit", real_commit)
    assert not list(out.rglob("*.partial"))
    assert sorted(p.name for p in out.glob("*.png")) == ["0.png", "1.png"]
    s = mask_folder([src], out, FakeMasker(), progress=False)
    assert (s.skipped, s.masked) == (2, 3)


def test_the_package_keeps_its_names_and_the_output_formats_live_in_choices() -> None:
    from typing import get_args

    import fermask.batch as batch
    from fermask._choices import OUTPUT_FORMATS, OutputFormat

    assert batch.OutputFormat is OutputFormat and get_args(OutputFormat) == OUTPUT_FORMATS == ("png", "same")
    assert batch.LOCK_NAME == ".fermask.lock" and batch.MANIFEST_NAME == "manifest.jsonl"
    assert all(getattr(batch, name).__module__.startswith("fermask.batch._")
               for name in ("BatchSummary", "InputFile", "collect_inputs", "mask_folder", "read_manifest", "config_hash"))
