"""The package itself: lazy imports, version, command entry points."""

from __future__ import annotations

import subprocess
import sys

import fermask


def _run(code: str) -> str:
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return proc.stdout.strip()


def test_import_does_not_load_tensorflow_or_models() -> None:
    out = _run(
        "import sys, fermask; fermask.Masker; fermask.list_masks();"
        "print('tensorflow' in sys.modules, 'keras' in sys.modules, 'dlib' in sys.modules)"
    )
    assert out == "False False False"


def test_public_api_names_resolve() -> None:
    for name in ("Masker", "MaskResult", "register_mask", "list_masks", "get_mask", "EMOTIONS", "load_image"):
        assert getattr(fermask, name) is not None
    assert "Masker" in dir(fermask)


def test_unknown_attribute() -> None:
    try:
        fermask.NoSuchThing  # noqa: B018
    except AttributeError as exc:
        assert "NoSuchThing" in str(exc)
    else:  # pragma: no cover
        raise AssertionError("expected AttributeError")


def test_version_everywhere() -> None:
    from importlib.metadata import version

    assert version("fermask") == fermask.__version__
    out = subprocess.run([sys.executable, "-m", "fermask", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == f"fermask {fermask.__version__}"


def test_cli_without_command_prints_help() -> None:
    out = subprocess.run([sys.executable, "-m", "fermask"], capture_output=True, text=True)
    assert out.returncode == 2 and "COMMAND" in out.stdout


def test_train_and_evaluate_are_functions_even_after_their_modules_load() -> None:
    out = _run(
        "from fermask import TrainConfig, train, evaluate, FERDataset, Predictor;"
        "import fermask; print(callable(train), callable(evaluate), callable(fermask.train), type(fermask.train).__name__)"
    )
    assert out == "True True True function"


def test_every_public_name_and_submodule_resolves_without_a_hand_list() -> None:
    out = _run(
        "import sys, types, fermask;"
        "missing = [n for n in fermask.__all__ if getattr(fermask, n, None) is None];"
        "mods = [getattr(fermask, m) for m in ('cli', 'plots', 'human_baseline', 'commands', 'batch')];"
        "print(missing, all(isinstance(m, types.ModuleType) for m in mods), hasattr(fermask, 'no_such_module'),"
        " hasattr(fermask, '_private'), 'tensorflow' in sys.modules)"
    )
    assert out == "[] True False False False"
