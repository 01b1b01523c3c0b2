"""Command-line helpers shared by several commands, so that commands never import each other.

The Masker options (``fermask mask``, ``fermask demo``), the data options
with their reading (``fermask train``, ``fermask evaluate``), and the
``argparse`` types of every numeric option (:func:`int_option`,
:func:`float_option`, :func:`seed_option`, ...): each wraps a check of
``fermask._numbers`` (or ``_parallel.check_workers``), so a bad number exits
with status 2 and the same wording as the Python API, before any work.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fermask._choices import DETECTORS, FACE_POLICIES
from fermask._numbers import check_float, check_int, check_learning_rate, check_port, check_seed, check_validation_share
from fermask._parallel import check_workers
from fermask.errors import InvalidValueError

__all__ = [
    "add_masker_arguments", "build_masker", "add_data_arguments", "load_data",
    "int_option", "float_option", "seed_option", "port_option", "workers_option",
    "learning_rate_option", "validation_option", "check_out_dir", "default_masked_model", "plural",
]


def plural(n: int, word: str, many: str | None = None) -> str:
    """``n`` and ``word``, in the plural unless ``n`` is 1: the counts of every summary a command prints.

    Args:
        n: The count.
        word: The singular (``"error"``).
        many: The plural when it is not ``word + "s"`` (``"faces"`` needs none; ``"matches"`` does).

    Examples:
        >>> plural(1, "error"), plural(0, "error"), plural(2, "match", "matches")
        ('1 error', '0 errors', '2 matches')
    """
    return f"{n} {word if n == 1 else (many or word + 's')}"


def add_listing_arguments(parser: argparse.ArgumentParser, example: str, noun: str) -> None:
    """The options of a listing command (``fermask styles``, ``fermask models``): a name pattern and ``--json``."""
    parser.add_argument("pattern", nargs="?", default=None,
                        help=f"only names matching this shell pattern, e.g. {example!r}")
    parser.add_argument("--json", action="store_true", help=f"print one JSON object per {noun}")


def print_listing(rows: list[dict[str, Any]], columns: list[str], as_json: bool) -> None:
    """A listing's rows: one JSON object per line, or a table of ``columns`` aligned, then each row's description.

    Examples:
        >>> print_listing([{"name": "n95", "source": "built-in", "description": "a cup"}], ["name", "source"], False)
        NAME  SOURCE    DESCRIPTION
        n95   built-in  a cup
    """
    if as_json:
        for row in rows:
            print(json.dumps(row))
        return
    widths = {k: max(len(k), *(len(str(r[k])) for r in rows)) for k in columns}
    print("  ".join(f"{k.upper():<{w}}" for k, w in widths.items()) + "  DESCRIPTION")
    for r in rows:
        print("  ".join(f"{r[k]:<{w}}" for k, w in widths.items()) + f"  {r['description']}")


def written_line(folder: str | Path) -> str:
    """``wrote FOLDER/: a, b/, ...``: the run folder a command wrote and what is in it, on one line.

    Examples:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as d:
        ...     (Path(d) / "bundle").mkdir(); (Path(d) / "curves.png").touch()
        ...     written_line(d).endswith(": bundle/, curves.png")
        True
    """
    out = Path(folder)
    names = sorted(p.name + ("/" if p.is_dir() else "") for p in out.iterdir() if not p.name.startswith("."))
    return f"wrote {out}/: {', '.join(names)}"


def _option_type(name: str, parse: Callable[[str], Any], check: Callable[[Any], Any]) -> Callable[[str], Any]:
    """An argparse type: ``parse`` the text (``int`` or ``float``), then ``check`` the number."""

    def convert(text: str) -> Any:
        try:
            value = parse(text.strip())
        except ValueError:
            kind = "a whole number" if parse is int else "a number"
            raise argparse.ArgumentTypeError(f"expected {kind}, got {text!r}") from None
        try:
            return check(value)
        except InvalidValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = name
    return convert


def int_option(minimum: int | None = 1, maximum: int | None = None, hint: str = "") -> Callable[[str], int]:
    """The argparse type of a whole-number option within ``[minimum, maximum]`` (default: at least 1)."""
    return _option_type("int", int, lambda v: check_int(v, "", minimum=minimum, maximum=maximum, hint=hint))


def float_option(**bounds: Any) -> Callable[[str], float]:
    """The argparse type of a finite-number option; ``bounds`` are :func:`fermask._numbers.check_float`'s."""
    return _option_type("float", float, lambda v: check_float(v, "", **bounds))


#: The argparse type of ``--seed``: 0 to 2**32 - 1.
seed_option = _option_type("seed", int, lambda v: check_seed(v, ""))
#: The argparse type of ``--port``: 0 (any free port) to 65535.
port_option = _option_type("port", int, lambda v: check_port(v, ""))
#: The argparse type of ``--workers``: at least 1.
workers_option = _option_type("workers", int, lambda v: check_workers(v, "the number of workers"))
#: The argparse type of ``--lr``: greater than 0, at most 1.
learning_rate_option = _option_type("learning rate", float, lambda v: check_learning_rate(v, ""))
#: The argparse type of a validation share: greater than 0, at most 0.5.
validation_option = _option_type("share", float, lambda v: check_validation_share(v, ""))


def add_masker_arguments(parser: argparse.ArgumentParser) -> None:
    """The options that configure the Masker (``fermask mask`` and ``fermask demo``)."""
    parser.add_argument("--style", "-s", default="surgical",
                        help="mask style, comma-separated styles (one picked per image), or 'random' "
                             "(default: surgical; see `fermask styles`)")
    parser.add_argument("--color", "-c", default=None,
                        help="colour name, #rrggbb, or 'random' (default: the style's colour)")
    parser.add_argument("--pattern", default=None,
                        help="pattern: none, stripes, dots, checks, fabric, camo, zigzag or random "
                             "(default: the style's)")
    parser.add_argument("--seed", type=seed_option, default=0, help="seed of the random choices (default: 0)")
    parser.add_argument("--keep-color", action="store_true",
                        help="on gray images keep the mask in colour (writes 3-channel images)")
    parser.add_argument("--detector", choices=DETECTORS, default="hybrid",
                        help="face detector: hybrid (default: dlib's HOG and BlazeFace combined, finds masked faces; "
                             "needs fermask download-detector, else HOG alone with a warning), hog, blazeface, "
                             "cnn (dlib's CNN, slow), auto (hog, then cnn)")
    parser.add_argument("--face-policy", choices=FACE_POLICIES, default="auto",
                        help="auto: small images without a detected face are treated as face crops; "
                             "full_frame: every image is one face crop (default: auto)")
    parser.add_argument("--landmarks", metavar="PATH", default=None,
                        help="path of shape_predictor_68_face_landmarks.dat")


def build_masker(args: argparse.Namespace) -> Any:
    """Make the Masker the options describe; bad values raise FermaskError (as every Masker error is)."""
    from fermask.masker import Masker

    style: Any = args.style
    if isinstance(style, str) and "," in style:
        style = [s.strip() for s in style.split(",") if s.strip()]
    return Masker(
        style,
        color=args.color,
        pattern=args.pattern,
        seed=args.seed,
        keep_color=args.keep_color,
        face_policy=args.face_policy,
        detector=args.detector,
        landmarks_path=args.landmarks,
    )


def add_data_arguments(parser: argparse.ArgumentParser) -> None:
    """Options shared by ``train`` and ``evaluate``: what data, which view of it, masking."""
    parser.add_argument("--data", metavar="PATH", required=True,
                        help="fer2013.csv, icml_face_data.csv, train.csv, the folder layout, or a saved dataset")
    parser.add_argument("--mask", metavar="STYLE", nargs="+",
                        help="mask the faces first: one or more style names, or 'random' (cached on disk)")
    parser.add_argument("--keep-color", action="store_true", help="keep the mask in colour (3-channel images)")
    parser.add_argument("--binary", metavar="CLASS", help="a two-class view: CLASS against the rest (e.g. happy)")
    parser.add_argument("--cap", metavar="CLASS=N", action="append", default=[],
                        help="keep at most N images of CLASS (repeatable), e.g. --cap happy=3500")
    parser.add_argument("--limit", type=int_option(), default=None, metavar="N",
                        help="use a stratified random subset of N images (default: all)")
    parser.add_argument("--workers", type=workers_option, default=None, metavar="N",
                        help="worker processes that mask the faces for --mask (default: one per CPU)")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bars")


def load_data(args: argparse.Namespace, seed: int = 0) -> tuple[Any, Any]:
    """``(unmasked, masked or None)`` with --limit, --cap and --binary applied."""
    from fermask.data.load import load_fer_data
    from fermask.errors import FermaskError

    ds = load_fer_data(args.data, progress=not args.quiet)
    if args.limit:
        ds = ds.subset(min(args.limit, len(ds)), seed=seed)
    if args.cap:
        caps: dict[str, int] = {}
        for item in args.cap:
            name, sep, n = item.partition("=")
            if not sep or not n.strip().isdigit():
                raise FermaskError(f"--cap expects CLASS=N, e.g. happy=3500, got {item!r}")
            caps[name.strip()] = int(n)
        ds = ds.cap(caps, seed=seed)
    if args.binary:
        ds = ds.binary(args.binary)
    masked = None
    if args.mask:
        from fermask import Masker

        style = args.mask[0] if len(args.mask) == 1 else list(args.mask)
        masker = Masker(style, keep_color=args.keep_color, seed=seed)
        masked = ds.mask(masker, workers=args.workers, progress=not args.quiet)
    return ds, masked


def check_out_dir(path: str | os.PathLike[str], option: str) -> None:
    """Refuse an output folder that cannot be made or written, before any work.

    The path itself, or its nearest existing parent, must be a folder this
    process may write in: a file on the way, or a read-only folder, is one
    line naming the option, what is there and what to do.

    Raises:
        FermaskError: A file stands where a folder is needed, or the folder is not writable.
    """
    from fermask.errors import FermaskError

    target = Path(path)
    probe = target
    while not probe.exists() and not probe.is_symlink() and probe != probe.parent:
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        where = "is" if probe == target else f"lies on its way: '{probe}' is"
        raise FermaskError(f"{option} '{target}' {where} a file, expected a folder; pick another path")
    if probe.exists() and not os.access(probe, os.W_OK | os.X_OK):
        raise FermaskError(
            f"{option} '{target}': the folder '{probe}' is read-only for this user; "
            "pick a folder you can write to, or change its permissions"
        )


def default_masked_model(model: str | None, masked: str | None) -> str | None:
    """The model for masked faces of ``fermask predict`` and ``fermask demo``.

    Args:
        model: The ``--model`` given, or ``None`` (the default pretrained model answers).
        masked: The ``--masked-model`` given, or ``None``; ``"none"`` asks for no second model.

    Returns:
        ``masked`` when given (``None`` for ``"none"``); else, when ``model``
        is not given, the default masked model
        (``pretrained:fer-mini-xception-masked``) if it is downloaded and
        fermask's mask classifier runs here; else ``None``.
    """
    if masked is not None:
        return None if masked.strip().lower() == "none" else masked
    if model is not None:
        return None
    from fermask.errors import FermaskError
    from fermask.faces._presence import mask_presence_model
    from fermask.pretrained import DEFAULT_MASKED_PRETRAINED, PRETRAINED_PREFIX, list_pretrained, pretrained_state

    if DEFAULT_MASKED_PRETRAINED not in list_pretrained() or pretrained_state(DEFAULT_MASKED_PRETRAINED) != "downloaded":
        return None
    try:
        mask_presence_model()
    except FermaskError:  # no classifier here (or no runtime for it): faces cannot be routed
        return None
    return PRETRAINED_PREFIX + DEFAULT_MASKED_PRETRAINED
