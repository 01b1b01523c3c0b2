"""Issue 25, items 7 and 14: every numeric option is checked in one place, before any work.

Each probe is a value that was accepted silently or failed deep inside the run:
``--seed -1`` failed each input of ``fermask mask`` and exited 0, ``adapt --seed -1``
was a traceback, ``--lr 1e30`` and ``--validation 0.99`` were accepted, ``--max-frames 0``
said a good video "holds no frames". Now the command line exits 2 with one line
naming the option, and the Python API raises :class:`~fermask.errors.InvalidValueError`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fermask._numbers import check_float, check_int, check_learning_rate, check_port, check_seed, check_validation_share
from fermask.cli import main
from fermask.errors import InvalidValueError

# (command line, the option the one-line error names); every value is refused before any work.
BAD_OPTIONS = [
    (["mask", "in", "-o", "out", "--seed", "-1"], "--seed"),
    (["mask", "in", "-o", "out", "--seed", "4294967296"], "--seed"),
    (["mask", "in", "-o", "out", "--seed", "1.5"], "--seed"),
    (["mask", "in", "-o", "out", "--workers", "0"], "--workers"),
    (["mask", "in", "-o", "out", "--png-level", "10"], "--png-level"),
    (["mask", "in", "-o", "out", "--dask-timeout", "0"], "--dask-timeout"),
    (["demo", "--seed", "-1"], "--seed"),
    (["adapt", "--faces", "f", "-o", "o", "--seed", "-1"], "--seed"),
    (["adapt", "--faces", "f", "-o", "o", "--lr", "1e30"], "--lr"),
    (["adapt", "--faces", "f", "-o", "o", "--lr", "nan"], "--lr"),
    (["adapt", "--faces", "f", "-o", "o", "--lr", "0"], "--lr"),
    (["adapt", "--faces", "f", "-o", "o", "--validation", "0.99"], "--validation"),
    (["adapt", "--faces", "f", "-o", "o", "--validation", "0"], "--validation"),
    (["adapt", "--faces", "f", "-o", "o", "--epochs", "0"], "--epochs"),
    (["adapt", "--faces", "f", "-o", "o", "--batch-size", "-3"], "--batch-size"),
    (["adapt", "--faces", "f", "-o", "o", "--temperature", "inf"], "--temperature"),
    (["adapt", "--faces", "f", "-o", "o", "--unmasked-share", "1"], "--unmasked-share"),
    (["train", "--data", "d", "--lr", "1e30"], "--lr"),
    (["train", "--data", "d", "--seed", "-1"], "--seed"),
    (["train", "--data", "d", "--val", "0.99"], "--val"),
    (["train", "--data", "d", "--limit", "0"], "--limit"),
    (["train", "--data", "d", "--label-smoothing", "nan"], "--label-smoothing"),
    (["evaluate", "b", "--data", "d", "--batch-size", "0"], "--batch-size"),
    (["human-baseline", "d", "--port", "99999"], "--port"),
    (["human-baseline", "d", "--port", "-1"], "--port"),
    (["human-baseline", "d", "-n", "0"], "-n"),
    (["human-baseline", "d", "--seed", "-1"], "--seed"),
    (["predict", "x.mp4", "--max-frames", "0"], "--max-frames"),
    (["predict", "x.jpg", "--batch-size", "0"], "--batch-size"),
    (["predict", "x.jpg", "--stride", "0"], "--stride"),
    (["predict", "x.jpg", "--workers", "0"], "--workers"),
    (["import-model", "m.h5", "-o", "b", "--face-margin", "nan"], "--face-margin"),
    (["export", "b", "-o", "o", "--max-faces", "0"], "--max-faces"),
    (["reproduce", "--data", "d", "--seed", "-1"], "--seed"),
]


@pytest.mark.parametrize(("argv", "option"), BAD_OPTIONS, ids=[" ".join(a[:1] + a[-2:]) for a, _ in BAD_OPTIONS])
def test_a_bad_number_exits_2_with_one_line_before_any_work(
    argv: list[str], option: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert option in err and ("must be" in err or "expected" in err), err
    assert not any(tmp_path.iterdir()), "nothing is written for a refused option"


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: check_seed(-1), "seed must be a whole number from 0 to 4294967295, got -1"),
        (lambda: check_seed(True), "got True"),
        (lambda: check_port(99999), "port must be a whole number from 0 to 65535, got 99999; 0 picks any free port"),
        (lambda: check_learning_rate(1e30), "greater than 0 and at most 1"),
        (lambda: check_validation_share(0.99), "greater than 0 and at most 0.5"),
        (lambda: check_float(float("inf"), "x"), "x must be a finite number, got inf"),
        (lambda: check_int(2.5, "n", minimum=1), "n must be a whole number of at least 1, got 2.5"),
        (lambda: check_int("3", "n"), "n must be a whole number, got '3'"),
    ],
)
def test_the_checks_say_what_was_expected_and_got(call, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        call()


def test_the_checks_pass_good_values() -> None:
    assert check_seed(2**32 - 1) == 2**32 - 1
    assert check_int(3.0, "n", minimum=1) == 3
    assert check_port(0) == 0
    assert check_learning_rate(1) == 1.0
    assert check_validation_share(0.5) == 0.5


def test_masker_refuses_a_negative_seed() -> None:
    from fermask import Masker

    with pytest.raises(InvalidValueError, match="seed must be a whole number from 0"):
        Masker(seed=-1)


@pytest.mark.parametrize(
    "change",
    [{"seed": -1}, {"learning_rate": 1e30}, {"learning_rate": float("nan")}, {"validation_fraction": 0.99}],
)
def test_adapt_config_refuses_bad_numbers(change: dict[str, float]) -> None:
    from fermask.training.config import AdaptConfig, TrainConfig, resolve_adapt_config

    with pytest.raises(InvalidValueError):
        AdaptConfig(**change)  # type: ignore[arg-type]
    with pytest.raises(InvalidValueError):
        resolve_adapt_config(None, overrides=change)  # what adapt(teacher, faces, seed=-1) does first
    with pytest.raises(InvalidValueError):
        TrainConfig(**change)  # type: ignore[arg-type]


def test_human_baseline_server_refuses_a_bad_port() -> None:
    from fermask.human_baseline.server import BaselineServer

    with pytest.raises(InvalidValueError, match="port must be"):
        BaselineServer(None, port=99999)  # type: ignore[arg-type]


def test_iter_frames_refuses_max_frames_zero(tmp_path: Path) -> None:
    from fermask.video import iter_frames

    with pytest.raises(InvalidValueError, match="max_frames must be a whole number of at least 1"):
        next(iter_frames(tmp_path / "clip.mp4", max_frames=0))
