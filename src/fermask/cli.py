"""The ``fermask`` command.

Thin by design: each subcommand lives in ``fermask.commands.<name>``, which
defines ``add_arguments(parser)`` and ``run(args) -> int``. Those modules import
only light modules at the top (the rest inside ``run``), so ``fermask --help`` is fast.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import warnings
from collections.abc import Callable, Sequence
from typing import TextIO

from ._version import __version__
from .errors import FermaskError

# subcommand name -> (module in fermask.commands, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("demo", "mask the packaged example photo, predict the face's emotion bare and masked, write pictures"),
    "mask": ("mask", "mask the faces in image files and folders"),
    "styles": ("styles", "list the registered mask styles"),
    "download-landmarks": ("download_landmarks", "download dlib's 68-point landmark model (needs internet)"),
    "download-detector": ("download_detector", "fetch BlazeFace, the detector that finds masked faces (pip download)"),
    "download-model": ("download_model", "download a pretrained emotion model and make it a bundle"),
    "pretrained": ("pretrained", "list the pretrained models and which are downloaded"),
    "import-model": ("import_model", "make a model bundle from your own Keras FER model file"),
    "export": ("export", "export a Keras bundle as a TFLite bundle (runs without TensorFlow), SavedModel or ONNX"),
    "predict": ("predict", "predict the emotions of the faces in photos and videos"),
    "models": ("models", "list the model architectures fermask train builds (--model NAME)"),
    "train": ("train", "train a model on FER2013-format data and write a model bundle"),
    "adapt": ("adapt", "adapt an emotion model to masked faces without labels (teacher -> student)"),
    "evaluate": ("evaluate", "evaluate a model bundle: accuracy, per-class F1, confusion matrix, per mask style"),
    "reproduce": ("reproduce", "run the report's masked-FER2013 experiment suite and compare with its figures"),
    "human-baseline": ("human_baseline", "measure human accuracy on masked faces in a local web page"),
}


#: The examples and the pointer to the documentation at the end of ``fermask --help``.
EPILOG = """\
examples:
  fermask demo                                   mask the packaged photo and predict its emotion
  fermask mask photos/ -o masked/ --style n95    mask every face in a folder of photos
  fermask predict photo.jpg                      the emotion of each face, masked or not
  fermask train --data fer2013.csv --mask surgical --out runs/masked
                                                 train a model on masked faces
  fermask COMMAND --help                         the options of one command

documentation: docs/ in the source tree (the user guide starts at docs/index.md);
`mkdocs serve` there, after pip install -e '.[docs]', serves it as a website.
"""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``fermask`` command."""
    parser = argparse.ArgumentParser(
        prog="fermask",
        description="Facial-expression recognition on faces that wear masks.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"fermask {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(_module=module)
        mod = importlib.import_module(f".commands.{module}", __package__)
        mod.add_arguments(p)
    return parser


def _warning_printer(command: str) -> Callable[..., None]:
    """A ``warnings.showwarning`` that prints one line, as errors are printed, without Python's source line."""

    def show(message: Warning | str, category: type[Warning], filename: str, lineno: int,
             file: TextIO | None = None, line: str | None = None) -> None:
        print(f"fermask {command}: warning: {message}", file=file or sys.stderr)

    return show


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status.

    Run as a program (``argv`` left out), warnings print as one line each,
    ``fermask COMMAND: warning: ...``; called with ``argv``, e.g. from a test,
    they are left to Python's warning machinery.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    if argv is None:
        warnings.showwarning = _warning_printer(args.command)
        if hasattr(sys.stdout, "reconfigure"):  # a file name that is not UTF-8 prints as its own bytes, never an error
            sys.stdout.reconfigure(errors="surrogateescape")
    mod = importlib.import_module(f".commands.{args._module}", __package__)
    try:
        return int(mod.run(args) or 0)
    except FermaskError as exc:
        print(f"fermask {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"fermask {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (fermask models --json | head -1): stop quietly, as Unix tools do
        _silence_stdout()
        return 141  # 128 + SIGPIPE, the status of a program the closed pipe stopped


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's last flush of a closed pipe prints no second error."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # stdout has no file descriptor (a test capture): nothing to do
        pass


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
