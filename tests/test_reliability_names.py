"""Issue 25, item 9: a file name that is not valid UTF-8 never stops a run.

``predict --plot`` on a folder holding such a name stopped the whole batch with
a 94-line matplotlib traceback (the name is a figure title); a stdout that
refuses surrogates failed on the table. Titles now draw the undecodable bytes
as U+FFFD, and the command line prints a name as its own bytes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fermask.cli import main
from fermask.plots import annotate_image, plot_emotion_timeline, plot_scores, printable, save_figure

TINY = Path(__file__).parent / "data" / "tiny_tflite_bundle"
SRC = Path(__file__).resolve().parents[1] / "src"
BAD = os.fsdecode(b"bad\xff\xfe.png")  # Latin-1 bytes in a name: not UTF-8

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="names that are not UTF-8 are a POSIX matter")


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "in"
    root.mkdir()
    face = Image.fromarray(np.random.default_rng(0).integers(0, 256, (48, 48), dtype=np.uint8))
    face.save(root / BAD)
    face.save(root / "good.png")
    return root


@pytest.mark.parametrize("name", [BAD, "\ud800 lone", "plain"])
def test_a_figure_title_survives_any_name(name: str, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    printable(name).encode("utf-8")  # strict: no surrogate is left
    assert printable(BAD) == "bad\ufffd\ufffd.png"
    for fig in (plot_scores({"happy": 0.9, "sad": 0.1}, title=name),
                annotate_image(np.zeros((8, 8), np.uint8), [], title=name),
                plot_emotion_timeline(np.arange(3.0), np.full((3, 2), 0.5), ["a", "b"], title=name)):
        assert save_figure(fig, tmp_path / "f.png").stat().st_size > 0


def test_predict_plot_and_json_go_on_past_a_name_that_is_not_utf8(
    folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("matplotlib")
    plots = tmp_path / "plots"
    rc = main(["predict", str(folder), "-m", str(TINY), "--face-policy", "full_frame", "-q", "--json",
               "--plot", str(plots)])
    out = capsys.readouterr().out
    assert rc == 0
    sources = [json.loads(line)["source"] for line in out.splitlines()]
    assert sorted(Path(s).name for s in sources) == sorted([BAD, "good.png"])  # the name round-trips
    assert len(list(plots.iterdir())) == 4  # annotated + scores for each image


def test_the_table_prints_such_a_name_even_to_a_strict_stdout(folder: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(SRC), "PYTHONIOENCODING": "utf-8:strict"}
    proc = subprocess.run([sys.executable, "-m", "fermask", "predict", str(folder), "-m", str(TINY),
                           "--face-policy", "full_frame", "-q"], capture_output=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")[-500:]
    assert b"bad\xff\xfe.png" in proc.stdout  # the name's own bytes
