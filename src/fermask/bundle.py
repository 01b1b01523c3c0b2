"""Model bundles: a trained Keras model plus everything needed to use it.

A bundle is a folder::

    my_run/bundle/
        model.keras     the Keras model (its input takes pixel values 0-255)
        fermask.json    labels, input shape, colour mode, face crop,
                        masking configuration, training config, metrics

:class:`~fermask.Predictor` loads a bundle with no other arguments.
``fermask.json`` is plain JSON so that other tools can read it.

Examples:
    >>> from fermask.bundle import BundleInfo
    >>> info = BundleInfo(labels=["angry", "happy"], input_shape=(48, 48, 1))
    >>> info.color_mode
    'grayscale'
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ._files import json_default
from .errors import DataFormatError
from .labels import EMOTIONS

__all__ = ["BundleInfo", "save_bundle", "load_bundle", "read_bundle_info", "BUNDLE_FORMAT"]

BUNDLE_FORMAT = "fermask-bundle"
BUNDLE_VERSION = 1
MODEL_FILE = "model.keras"
INFO_FILE = "fermask.json"


@dataclass
class BundleInfo:
    """What a model needs around it to be used on new images.

    Attributes:
        labels: Class names in the order of the model's outputs.
        input_shape: ``(height, width, channels)`` the model takes.
        color_mode: ``"grayscale"`` (1 channel) or ``"rgb"`` (3 channels);
            derived from ``input_shape`` when not given.
        output: ``"softmax"`` (one score per label) or ``"sigmoid"`` (one
            score, the probability of ``labels[1]``).
        pixel_range: The range of the values the model's input expects;
            fermask models scale inside the model and take ``(0, 255)``.
        face_margin: Extra border around a detected face box, as a fraction
            of its size, used when cropping faces for this model.
        model_name: The registry name the model was built from, if any.
        masking: The Masker configuration of the training data, or ``None``.
        train_config: The training configuration, as a dict.
        metrics: Final metrics of the run.
        extra: Anything else worth keeping.
    """

    labels: list[str] = field(default_factory=lambda: list(EMOTIONS))
    input_shape: tuple[int, int, int] = (48, 48, 1)
    color_mode: str = ""
    output: str = "softmax"
    pixel_range: tuple[float, float] = (0.0, 255.0)
    face_margin: float = 0.0
    model_name: str | None = None
    masking: dict[str, Any] | None = None
    train_config: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.labels = [str(x) for x in self.labels]
        self.input_shape = tuple(int(v) for v in self.input_shape)  # type: ignore[assignment]
        self.pixel_range = tuple(float(v) for v in self.pixel_range)  # type: ignore[assignment]
        if len(self.input_shape) != 3 or self.input_shape[2] not in (1, 3):
            raise DataFormatError(
                f"input_shape must be (height, width, 1 or 3), got {self.input_shape}"
            )
        if not self.color_mode:
            self.color_mode = "grayscale" if self.input_shape[2] == 1 else "rgb"
        if self.color_mode not in ("grayscale", "rgb"):
            raise DataFormatError(f"color_mode must be 'grayscale' or 'rgb', got {self.color_mode!r}")
        if self.output not in ("softmax", "sigmoid"):
            raise DataFormatError(f"output must be 'softmax' or 'sigmoid', got {self.output!r}")
        if self.output == "sigmoid" and len(self.labels) != 2:
            raise DataFormatError(
                f"a sigmoid model has exactly two labels (negative, positive), got {self.labels}"
            )

    @property
    def image_size(self) -> tuple[int, int]:
        """``(height, width)`` of the model's input."""
        return self.input_shape[0], self.input_shape[1]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict, with the format name and version."""
        d = asdict(self)
        d["input_shape"] = list(self.input_shape)
        d["pixel_range"] = list(self.pixel_range)
        return {"format": BUNDLE_FORMAT, "version": BUNDLE_VERSION, **d}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BundleInfo:
        """Build from :meth:`to_dict`'s output (unknown keys go to ``extra``)."""
        data = dict(data)
        fmt = data.pop("format", BUNDLE_FORMAT)
        version = data.pop("version", BUNDLE_VERSION)
        if fmt != BUNDLE_FORMAT:
            raise DataFormatError(f"not a fermask bundle description (format={fmt!r})")
        if int(version) > BUNDLE_VERSION:
            raise DataFormatError(
                f"this bundle has format version {version}, newer than this fermask understands "
                f"({BUNDLE_VERSION}); upgrade fermask"
            )
        known = set(cls.__dataclass_fields__)
        extra = dict(data.pop("extra", {}) or {})
        extra.update({k: data.pop(k) for k in list(data) if k not in known})
        return cls(**data, extra=extra)


def save_bundle(path: str | os.PathLike[str], model: Any, info: BundleInfo) -> Path:
    """Write a model and its :class:`BundleInfo` to a bundle folder.

    Args:
        path: The bundle folder; created if missing.
        model: A Keras model.
        info: Its description.

    Returns:
        The bundle folder.
    """
    out = Path(path)
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / (MODEL_FILE + ".partial.keras")
    model.save(tmp)
    os.replace(tmp, out / MODEL_FILE)
    text = json.dumps(info.to_dict(), indent=2, default=json_default)
    (out / INFO_FILE).write_text(text + "\n", encoding="utf-8")
    return out


def read_bundle_info(path: str | os.PathLike[str]) -> BundleInfo:
    """Read a bundle's :class:`BundleInfo` without loading the model (no TensorFlow)."""
    p = Path(path)
    info_path = p / INFO_FILE if p.is_dir() else p.with_name(INFO_FILE)
    if not info_path.is_file():
        raise DataFormatError(
            f"'{p}' is not a fermask bundle: expected a folder holding {MODEL_FILE} and {INFO_FILE} "
            "(as written by fermask.train or fermask.save_bundle)"
        )
    try:
        data = json.loads(info_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataFormatError(f"'{info_path}' is not valid JSON: {exc}") from None
    return BundleInfo.from_dict(data)


def load_bundle(path: str | os.PathLike[str], *, compile: bool = False) -> tuple[Any, BundleInfo]:
    """Load a bundle's Keras model and description.

    Args:
        path: The bundle folder (or its ``model.keras``).
        compile: Whether to restore the training configuration too.

    Returns:
        ``(model, info)``.
    """
    from ._tf import keras_module

    info = read_bundle_info(path)
    p = Path(path)
    model_path = p / MODEL_FILE if p.is_dir() else p
    if not model_path.is_file():
        raise DataFormatError(f"the bundle '{p}' has no {MODEL_FILE}")
    keras = keras_module()
    from .models import register_custom_objects

    register_custom_objects()  # fermask's custom layers, for deserialisation

    model = keras.models.load_model(model_path, compile=compile)
    return model, info
