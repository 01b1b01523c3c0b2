"""The command line's own help: `fermask --help`, each command's options, and `fermask models`."""

from __future__ import annotations

import pytest

from fermask.cli import main


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
