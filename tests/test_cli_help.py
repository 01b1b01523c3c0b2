"""The command line's own help: `fermask --help`, each command's options, and `fermask models`."""

from __future__ import annotations

import argparse

import pytest

from fermask.cli import build_parser, main


def _subparser(name: str) -> argparse.ArgumentParser:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices[name]


def test_every_train_option_has_help_and_the_value_options_a_default() -> None:
    from fermask.training.config import TrainConfig

    p = _subparser("train")
    options = [a for a in p._actions if a.option_strings and a.dest != "help"]
    assert not [a.option_strings for a in options if not a.help]
    required_or_flags = {"data", "out", "config", "mask", "keep_color", "binary", "cap", "quiet", "teacher",
                         "overwrite"}
    no_default = [a.option_strings[0] for a in options if a.dest not in required_or_flags and "default" not in a.help]
    assert no_default == []
    d = TrainConfig()
    text = p.format_help()
    assert f"(default: {d.epochs})" in text and f"(default: {d.batch_size})" in text
    assert "fermask models" in text and "python -c" not in text


def test_models_lists_the_registered_architectures(capsys: pytest.CaptureFixture[str]) -> None:
    import fermask

    assert main(["models"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["NAME", "INPUT", "OUTPUT", "DESCRIPTION"]
    listed = [line.split()[0] for line in lines[1:-1]]
    assert listed == fermask.list_models()
    shallow = next(line for line in lines if line.startswith("shallow_cnn "))
    assert "48x48x1" in shallow and "7 classes" in shallow and "two-convolution" in shallow
    assert "fermask pretrained" in lines[-1] and "fer-mini-xception" in lines[-1]


def test_models_filters_and_prints_json(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    assert main(["models", "happy*", "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]  # JSON lines only
    assert rows == [{"name": "happy_binary", "input": "64x64x3", "output": "sigmoid, yes/no",
                     "description": rows[0]["description"]}] and rows[0]["description"]
    assert main(["models", "nothing*"]) == 0
    assert "no model matches 'nothing*'" in capsys.readouterr().out


def test_a_plugin_model_that_fails_is_listed_with_its_error(monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    import fermask.models

    real = fermask.models.model_defaults

    def broken(name: str) -> dict:
        if name == "vgg_fer":
            raise RuntimeError("plugin import failed")
        return real(name)

    monkeypatch.setattr(fermask.models, "model_defaults", broken)
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "vgg_fer" in out and "(cannot be loaded: RuntimeError: plugin import failed)" in out
    assert "shallow_cnn" in out


def test_top_level_help_ends_with_examples_and_where_the_docs_are(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    examples = out[out.index("examples:"):]
    for command in ("fermask demo", "fermask mask ", "fermask predict ", "fermask train "):
        assert f"\n  {command}" in examples  # kept on their own lines (RawDescriptionHelpFormatter)
    assert "mkdocs serve" in examples and "docs/" in examples
    assert "predict the face's emotion bare and masked" in " ".join(out.split())  # demo's line in the list


def test_demo_help_says_it_predicts_and_what_it_writes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["demo", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "predict its emotion bare and masked" in out
    for picture in ("astronaut_masked.png", "astronaut_side_by_side.png", "astronaut_emotions.png"):
        assert picture in out


def test_a_closed_pipe_ends_the_command_quietly(monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    from fermask.cli import main

    class ClosedPipe:
        def write(self, text: str) -> int:
            raise BrokenPipeError(32, "Broken pipe")

        def flush(self) -> None:
            raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr("sys.stdout", ClosedPipe())
    assert main(["styles", "--json"]) == 141  # as a Unix tool stopped by SIGPIPE; no traceback
    assert capsys.readouterr().err == ""
