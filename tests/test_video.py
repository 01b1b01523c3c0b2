"""Video prediction, plots and the ``fermask predict`` command."""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

keras = pytest.importorskip("keras")

from fermask.bundle import BundleInfo, save_bundle  # noqa: E402
from fermask.commands import predict as predict_cmd  # noqa: E402
from fermask.labels import EMOTIONS  # noqa: E402
from fermask.predictor import Predictor  # noqa: E402


def _model() -> keras.Model:
    keras.utils.set_random_seed(7)
    return keras.Sequential(
        [
            keras.Input((48, 48, 1)),
            keras.layers.Rescaling(1 / 255),
            keras.layers.Conv2D(4, 5, strides=2, activation="relu"),
            keras.layers.Flatten(),
            keras.layers.Dense(7, activation="softmax",
                               kernel_initializer=keras.initializers.RandomNormal(stddev=0.3, seed=7)),
        ]
    )


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("vbundle") / "b"
    save_bundle(path, _model(), BundleInfo(labels=list(EMOTIONS), input_shape=(48, 48, 1)))
    return str(path)


@pytest.fixture(scope="module")
def clip(astronaut: np.ndarray, tmp_path_factory: pytest.TempPathFactory) -> str:
    """Six frames at 5 fps: four showing the astronaut, then two blank frames."""
    pytest.importorskip("imageio_ffmpeg")
    import imageio.v3 as iio

    small = np.asarray(Image.fromarray(astronaut).resize((256, 256)))
    blank = np.full_like(small, 100)
    frames = np.stack([small, small, np.roll(small, 8, axis=1), small, blank, blank])
    path = tmp_path_factory.mktemp("video") / "clip.mp4"
    iio.imwrite(path, frames, plugin="FFMPEG", fps=5)
    return str(path)


def run_cli(argv: list[str]) -> int:
    """Parse and run ``fermask predict`` through the command module."""
    parser = argparse.ArgumentParser(prog="fermask predict")
    predict_cmd.add_arguments(parser)
    return predict_cmd.run(parser.parse_args(argv))


def test_video_frames_table_and_plot(bundle: str, clip: str, tmp_path) -> None:
    from fermask.video import iter_frames, predict_video

    assert [n for n, _, _ in iter_frames(clip, stride=2)] == [0, 2, 4]
    result = predict_video(Predictor.load(bundle), clip, stride=1, progress=False, batch_size=2)
    assert result.fps == pytest.approx(5.0)
    assert [len(p) for _, _, p in result.frames] == [1, 1, 1, 1, 0, 0]
    times, scores = result.timeline()
    assert times.tolist() == pytest.approx([0.0, 0.2, 0.4, 0.6, 0.8, 1.0])
    assert np.isnan(scores[4:]).all() and np.allclose(scores[:4].sum(axis=1), 1.0)
    out = result.to_csv(tmp_path / "t.csv")
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 6 and list(rows[0])[-7:] == list(EMOTIONS)
    assert rows[0]["face"] == "0" and rows[4]["face"] == "" and rows[4]["label"] == ""
    fig = result.plot()
    assert len(fig.axes[0].lines) == 7 and fig.axes[0].get_title() == f"{Path(clip).name}: face 0"
    from fermask import plots

    with pytest.warns(DeprecationWarning, match=r"use result.plot\(face\)"):
        old = plots.plot_video_prediction(result, 0)
    assert old.axes[0].get_title() == fig.axes[0].get_title()
    np.testing.assert_array_equal(old.axes[0].lines[3].get_ydata(), fig.axes[0].lines[3].get_ydata())


def test_unreadable_video(tmp_path) -> None:
    pytest.importorskip("imageio_ffmpeg")
    from fermask.errors import ImageError
    from fermask.video import iter_frames

    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00" * 100)
    with pytest.raises(ImageError, match="bad.mp4"):
        list(iter_frames(bad))


@pytest.fixture(scope="module")
def broken_videos(clip: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Random bytes named .mp4, the clip cut in half, and a faststart copy (index first) cut in half."""
    import imageio.v3 as iio

    folder = tmp_path_factory.mktemp("broken")
    frames = np.stack([np.full((64, 64, 3), 10 * i, np.uint8) for i in range(20)])
    iio.imwrite(folder / "faststart.mp4", frames, plugin="FFMPEG", fps=10, output_params=["-movflags", "+faststart"])
    data = {
        "random.mp4": np.random.default_rng(0).bytes(5000),
        "half.mp4": Path(clip).read_bytes()[: Path(clip).stat().st_size // 2],
        "half_faststart.mp4": (folder / "faststart.mp4").read_bytes()[: (folder / "faststart.mp4").stat().st_size // 2],
    }
    for name, raw in data.items():
        (folder / name).write_bytes(raw)
    return {name: str(folder / name) for name in data}


def _one_short_line(exc: BaseException, name: str) -> None:
    text = str(exc)
    assert f"{name}' is not a readable video: " in text
    assert "\n" not in text and "ffmpeg version" not in text and "configuration:" not in text
    assert len(text) < 400
    assert exc.__cause__ is None and exc.__suppress_context__


@pytest.mark.parametrize("name", ["random.mp4", "half.mp4", "half_faststart.mp4"])
def test_broken_video_is_one_short_data_format_error(bundle: str, broken_videos: dict[str, str], name: str) -> None:
    from fermask.errors import DataFormatError, ImageError
    from fermask.video import iter_frames, predict_video, video_fps

    path = broken_videos[name]
    calls = [lambda: list(iter_frames(path)), lambda: predict_video(Predictor.load(bundle), path, progress=False)]
    if name != "half_faststart.mp4":  # its index is whole: the frame rate is there, the frames are not
        calls.append(lambda: video_fps(path))
    for call in calls:
        with pytest.raises(DataFormatError) as info:
            call()
        assert isinstance(info.value, ImageError)  # what unreadable videos raised before
        _one_short_line(info.value, name)


def test_whole_faststart_video_reads(broken_videos: dict[str, str]) -> None:
    from fermask.video import iter_frames

    whole = str(Path(broken_videos["random.mp4"]).with_name("faststart.mp4"))
    assert len(list(iter_frames(whole))) == 20
    assert len(list(iter_frames(whole, stride=3, max_frames=2))) == 2


def test_cli_json_lines_and_errors(bundle: str, astronaut: np.ndarray, tmp_path, capsys) -> None:
    good = tmp_path / "astronaut.png"
    Image.fromarray(astronaut).save(good)
    blank = tmp_path / "blank.png"
    Image.fromarray(np.full((300, 300), 90, np.uint8)).save(blank)
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"nope")
    code = run_cli([str(good), str(bad), str(blank), "--model", bundle, "--json", "--quiet"])
    assert code == 1  # one input failed, the others were still processed
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [x["source"] for x in lines] == [str(good), str(bad), str(blank)]
    faces = lines[0]["faces"]
    assert len(faces) == 1 and set(faces[0]["scores"]) == set(EMOTIONS)
    assert sum(faces[0]["scores"].values()) == pytest.approx(1.0, abs=1e-4)
    assert lines[1]["error"] and "broken.jpg" in lines[1]["error"]
    assert lines[2]["faces"] == [] and lines[2]["error"] is None
    # the same image through the library gives the same label
    assert faces[0]["label"] == Predictor.load(bundle).predict(astronaut)[0].label


def test_cli_table_plots_and_video(bundle: str, astronaut: np.ndarray, clip: str, tmp_path, capsys) -> None:
    good = tmp_path / "in" / "astronaut.png"
    good.parent.mkdir()
    Image.fromarray(astronaut).save(good)
    plots, tables = tmp_path / "plots", tmp_path / "tables"
    code = run_cli([str(good.parent), clip, "--model", bundle, "--plot", str(plots), "--out", str(tables),
                    "--stride", "2", "--quiet"])
    assert code == 0
    out = capsys.readouterr().out
    assert "EMOTION" in out and "astronaut.png" in out and "no face found" in out
    for name in ("astronaut.annotated.png", "astronaut.scores.png", "clip.emotions.png"):
        img = Image.open(plots / name)
        assert img.size[0] > 100
    rows = list(csv.DictReader((tables / "clip.emotions.csv").open()))
    assert [r["frame"] for r in rows] == ["0", "2", "4"]


def test_cli_table_gives_video_rows_their_frame_and_time(bundle: str, astronaut: np.ndarray, clip: str,
                                                       tmp_path, capsys) -> None:
    photo = tmp_path / "astronaut.png"
    Image.fromarray(astronaut).save(photo)
    assert run_cli([str(photo), clip, "--model", bundle, "--out", str(tmp_path), "--stride", "2", "--quiet"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:4] == ["FILE", "FRAME", "TIME", "FACE"]
    cells = [line.split() for line in lines[1:]]
    assert cells[0][:4] == [str(photo), "-", "-", "0"]  # a photo has no frame or time
    video = [c for c in cells if c[0] == clip]
    # 5 fps, every 2nd frame: frames 0, 2, 4 at 0.0, 0.4, 0.8 s; the last frame is blank
    assert [c[1:3] for c in video] == [["0", "0.00s"], ["2", "0.40s"], ["4", "0.80s"]]
    assert video[0][3] == "0" and " ".join(video[2][3:]) == "- no face found"
    assert lines[-1].startswith(f"{clip}: 3 frames -> ")


def test_cli_table_of_photos_alone_has_no_frame_column(bundle: str, astronaut: np.ndarray, tmp_path,
                                                      capsys) -> None:
    photo = tmp_path / "astronaut.png"
    Image.fromarray(astronaut).save(photo)
    assert run_cli([str(photo), "--model", bundle, "--quiet"]) == 0
    header, row = capsys.readouterr().out.splitlines()
    assert header.split()[:2] == ["FILE", "FACE"] and row.split()[:2] == [str(photo), "0"]


def test_cli_names_each_plot_it_writes(bundle: str, astronaut: np.ndarray, tmp_path, capsys) -> None:
    photos = tmp_path / "in"
    photos.mkdir()
    for name in ("a.png", "b.png"):
        Image.fromarray(astronaut).save(photos / name)
    plots = tmp_path / "plots"
    (plots).mkdir()
    (plots / "a.scores.png").write_bytes(b"kept")  # taken: the next free name is written and named
    assert run_cli([str(photos), "--model", bundle, "--plot", str(plots)]) == 0
    out = capsys.readouterr().out.splitlines()
    wrote = [line.removeprefix("wrote ") for line in out if line.startswith("wrote ")]
    assert wrote == [str(plots / n) for n in ("a.annotated.png", "a-2.scores.png", "b.annotated.png", "b.scores.png")]
    assert all(Path(w).is_file() and Image.open(w).size[0] > 100 for w in wrote)
    assert out.index(f"wrote {wrote[0]}") > max(i for i, line in enumerate(out) if line.startswith(str(photos)))

    # with --json the lines go to stderr and stdout stays JSON lines; --quiet leaves them out
    assert run_cli([str(photos / "a.png"), "--model", bundle, "--plot", str(plots), "--json"]) == 0
    captured = capsys.readouterr()
    assert [json.loads(line)["source"] for line in captured.out.splitlines()] == [str(photos / "a.png")]
    assert f"wrote {plots / 'a-2.annotated.png'}" in captured.err.splitlines()
    assert run_cli([str(photos / "a.png"), "--model", bundle, "--plot", str(plots), "--json", "--quiet"]) == 0
    assert not [line for line in capsys.readouterr().err.splitlines() if line.startswith("wrote ")]
    assert (plots / "a-3.annotated.png").is_file()


def test_cli_bad_model_is_a_clear_error(tmp_path, astronaut: np.ndarray) -> None:
    from fermask.errors import FermaskError

    img = tmp_path / "a.png"
    Image.fromarray(astronaut).save(img)
    with pytest.raises(FermaskError, match="not a fermask bundle"):
        run_cli([str(img), "--model", str(tmp_path)])


def test_plots_without_faces_and_score_bars() -> None:
    pytest.importorskip("matplotlib")
    from fermask import plots
    from fermask.predictor import PredictionList

    fig = plots.plot_face_scores(PredictionList([]))
    assert "no face found" in [t.get_text() for t in fig.axes[0].texts]
    fig = plots.plot_scores({"happy": 0.6, "sad": 0.3, "neutral": 0.1})
    widths = [bar.get_width() for bar in fig.axes[0].patches]
    assert widths == pytest.approx([0.6, 0.3, 0.1])
    with pytest.raises(ValueError, match="shape"):
        plots.plot_emotion_timeline([0, 1, 2], np.zeros((2, 7)), EMOTIONS)


def test_timeline_lines_at_0_and_1_stay_off_the_frame() -> None:
    pytest.importorskip("matplotlib")
    from fermask import plots

    fig = plots.plot_emotion_timeline([0.0, 0.5, 1.0], np.array([[1.0, 0.0]] * 3), ["happy", "sad"])
    low, high = fig.axes[0].get_ylim()
    assert low < 0.0 and high > 1.0  # a certain score is drawn inside the axes, not on their border
    assert high - 1.0 < 0.1 and 0.0 - low < 0.1


def test_fermask_main_predict_json(bundle: str, astronaut: np.ndarray, tmp_path, capsys) -> None:
    """The installed command line routes ``fermask predict`` to this command."""
    from fermask.cli import main

    img = tmp_path / "a.png"
    Image.fromarray(astronaut).save(img)
    assert main(["predict", str(img), "--model", bundle, "--json", "--quiet"]) == 0
    rec = json.loads(capsys.readouterr().out.strip())
    assert rec["source"] == str(img) and len(rec["faces"]) == 1 and rec["error"] is None
    with pytest.raises(SystemExit) as stop:  # a bad option stops argparse before any work, with status 2
        main(["predict", str(img), "--model", bundle, "--batch-size", "0"])
    assert stop.value.code == 2


def test_annotate_image_reads_the_records_plain_fields() -> None:
    pytest.importorskip("matplotlib")
    from fermask import plots
    from fermask.results import Prediction

    img = np.zeros((60, 80), np.uint8)
    preds = [
        Prediction(0, (5, 5, 30, 30), "happy", {"happy": 0.9, "sad": 0.1}, masked_style="surgical"),
        Prediction(1, (40, 5, 70, 30), "sad", {"happy": 0.2, "sad": 0.8}),
    ]
    texts = [t.get_text() for t in plots.annotate_image(img, preds).axes[0].texts]
    assert texts == ["0: happy 90% [surgical]", "1: sad 80%"]


def test_plot_class_counts_takes_counts_and_the_old_dataset_form_warns() -> None:
    plt = pytest.importorskip("matplotlib.pyplot")
    from fermask import plots
    from fermask.data import make_synthetic_fer

    ax = plots.plot_class_counts({"happy": 3, "sad": 1})
    assert [p.get_height() for p in ax.patches] == [3, 1] and ax.get_title() == "class counts"
    ds = make_synthetic_fer(40, seed=0)
    with pytest.warns(DeprecationWarning, match=r"plot_class_counts\(dataset.class_counts\(\)\)"):
        old = plots.plot_class_counts(ds)
    assert [p.get_height() for p in old.patches] == list(ds.class_counts().values())
    # the title is the data's source, wrapped to the figure's width
    assert old.get_title() == ds.plot_class_counts().get_title()
    assert old.get_title().replace("\n", " ") == (ds.source or "class counts")
    plt.close("all")
