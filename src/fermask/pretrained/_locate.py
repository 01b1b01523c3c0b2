"""A bundle argument read as a path or as a pretrained model's name: the one place that tells them apart."""

from __future__ import annotations

import os
from pathlib import Path

from .._choices import did_you_mean
from ..errors import DataFormatError, FermaskError
from ._fetch import ChecksumError
from ._registry import (
    _REGISTRY,
    damaged_files,
    download_command,
    get_pretrained,
    list_pretrained,
    pretrained_dir,
    pretrained_state,
)

__all__ = ["PRETRAINED_PREFIX", "AmbiguousNameError", "locate_bundle"]

#: Written before a name, it always means the registered pretrained model (``"pretrained:fer-mini-xception"``).
PRETRAINED_PREFIX = "pretrained:"


class AmbiguousNameError(FermaskError, ValueError):
    """A bundle argument is both a pretrained model's name and an existing path (see :func:`locate_bundle`)."""


def locate_bundle(name_or_path: str | os.PathLike[str]) -> Path:
    """The bundle folder for a path or a pretrained model's name: the one place that tells them apart.

    The rule, for every argument that takes "a bundle or a pretrained name"
    (:func:`~fermask.load_bundle`, :meth:`~fermask.Predictor.load`,
    ``--model``, ...):

    * ``"pretrained:NAME"`` is always the registered pretrained model ``NAME``;
    * a path object (:class:`~pathlib.Path`) or a string holding a path
      separator (``"./fer-mini-xception"``, ``"runs/x/bundle"``) is always a path;
    * any other string is a registered name when one is registered under it,
      else a path. When it is both (a folder named like a pretrained model
      in the working directory), it is refused: the two must never be confused.

    Args:
        name_or_path: A bundle folder (or its ``model.keras``), or a
            pretrained model's name, optionally written ``pretrained:NAME``.

    Returns:
        The folder (or file) to load; for a name, its bundle in the user cache.

    Raises:
        AmbiguousNameError: A plain name that is both a registered pretrained
            model and an existing path; the message says how to choose.
        FermaskError: A registered name that is not downloaded yet (the
            message is the command to run).
        ChecksumError: A downloaded model whose files changed since the
            download (the message is the command that fetches it again).
        UnknownNameError: ``pretrained:NAME`` with no such entry.
        DataFormatError: Neither an existing path nor a registered name.

    Examples:
        >>> locate_bundle("pretrained:fer-mini-xception")  # doctest: +SKIP
        PosixPath('/home/me/.cache/fermask/models/fer-mini-xception')
        >>> locate_bundle("./fer-mini-xception")  # doctest: +SKIP
        PosixPath('fer-mini-xception')
    """
    if isinstance(name_or_path, str):
        text = name_or_path.strip()
        if text.lower().startswith(PRETRAINED_PREFIX):
            return _cached_bundle(get_pretrained(text[len(PRETRAINED_PREFIX):]).name)
        if _is_plain_name(text) and text.lower() in _REGISTRY:
            name = get_pretrained(text).name
            if Path(text).exists() and Path(text).resolve() != pretrained_dir(name).resolve():  # not the cache itself
                raise AmbiguousNameError(
                    f"'{text}' is both the pretrained model {name!r} and a "
                    f"{'folder' if Path(text).is_dir() else 'file'} in the working directory ({Path(text).resolve()}); "
                    f"fermask will not guess which you mean. Write './{text}' for the "
                    f"{'folder' if Path(text).is_dir() else 'file'}, or '{PRETRAINED_PREFIX}{name}' for the pretrained model."
                )
            return _cached_bundle(name)
    p = Path(name_or_path)
    if p.exists():
        return p
    text = os.fspath(name_or_path)
    names = list_pretrained()
    hint = did_you_mean(text.strip().lower(), names, n=2, cutoff=0.5) if _is_plain_name(text) else ""
    raise DataFormatError(
        f"'{text}' is neither a model bundle folder (none exists there) nor a pretrained model name.{hint} "
        f"Pretrained models: {', '.join(names) or '(none)'} (see fermask pretrained); bundles are "
        "written by fermask train or fermask import-model."
    )


def _is_plain_name(text: str) -> bool:
    """Whether ``text`` could be a registered name: no path separator in it."""
    return "/" not in text and os.sep not in text and not (os.altsep and os.altsep in text)


def _cached_bundle(name: str) -> Path:
    """The cached bundle of a registered pretrained model, checked against its recorded sha256, or the error that says how to fetch it."""
    state = pretrained_state(name)
    if state == "missing":
        raise FermaskError(f"the pretrained model {name!r} is not downloaded yet; run: {download_command(name)}")
    if state == "damaged":
        folder = pretrained_dir(name)
        raise ChecksumError(
            f"the pretrained model {name!r} in {folder} is damaged: {', '.join(damaged_files(name))} changed since "
            f"it was downloaded (its sha256 is not the recorded one) and was not used; fetch it again: "
            f"{download_command(name)} --force"
        )
    return pretrained_dir(name)
