"""What a bundle says about its model: :class:`BundleInfo`, and model outputs as probabilities."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from .._choices import (
    COLOR_MODES,
    MODEL_FORMATS,
    OUTPUTS,
    QUANTIZATIONS,
    SERVING_FORMATS,
    check_choice,
    color_mode_of,
    output_kind,
)
from .._files import BUNDLE_INFO_FILE, BUNDLE_MODEL_FILE, TFLITE_MODEL_FILE
from .._runtime import TFLiteModel
from ..errors import DataFormatError, FermaskError
from ..labels import EMOTIONS

__all__ = [
    "BundleInfo",
    "output_kind",
    "to_probabilities",
    "BUNDLE_FORMAT",
    "BUNDLE_VERSION",
    "MODEL_FILE",
    "INFO_FILE",
    "TFLITE_MODEL_FILE",
    "MAX_FACE_MARGIN",
]

BUNDLE_FORMAT = "fermask-bundle"
BUNDLE_VERSION = 1
MODEL_FILE = BUNDLE_MODEL_FILE
INFO_FILE = BUNDLE_INFO_FILE
#: The largest face margin a bundle may ask for (a fraction of the box on each side).
MAX_FACE_MARGIN = 1.0


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
        model_format: ``"keras"`` (``model.keras``) or ``"tflite"``
            (``model.tflite``); files written before TFLite bundles existed
            have no such key and are Keras bundles.
        quantization: How a TFLite model was quantized: ``None`` (float32),
            ``"float16"``, ``"dynamic"`` or ``"int8"`` (``"none"`` is stored
            as ``None``); always ``None`` for Keras bundles.
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
    model_format: str = "keras"
    quantization: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.labels, (str, bytes)):  # "abcdefg" would be seven one-letter labels
            raise DataFormatError(
                f"labels must be a list of class names, got the string {self.labels!r}; "
                'write them as a list, e.g. ["angry", "happy"]'
            )
        try:
            self.labels = [str(x) for x in self.labels]
            self.input_shape = tuple(int(v) for v in self.input_shape)  # type: ignore[assignment]
            self.pixel_range = tuple(float(v) for v in self.pixel_range)  # type: ignore[assignment]
            self.face_margin = float(self.face_margin)
        except (TypeError, ValueError) as exc:
            raise DataFormatError(
                f"a bundle description needs labels (a list of names), input_shape (three integers), "
                f"pixel_range (two numbers) and face_margin (a number); {exc}"
            ) from None
        if len(self.input_shape) != 3 or min(self.input_shape) < 1 or self.input_shape[2] not in (1, 3):
            raise DataFormatError(
                f"input_shape must be (height, width, 1 or 3), got {self.input_shape}"
            )
        if len(self.labels) < 2 or len(set(self.labels)) != len(self.labels):
            raise DataFormatError(f"labels must be two or more distinct class names, got {self.labels}")
        if not 0.0 <= self.face_margin <= MAX_FACE_MARGIN:  # also refuses NaN
            raise DataFormatError(
                f"face_margin is the fraction of a face box added on each side, from 0 to {MAX_FACE_MARGIN}; "
                f"got {self.face_margin}"
            )
        if not self.color_mode:
            self.color_mode = color_mode_of(self.input_shape[2])
        check_choice(self.color_mode, COLOR_MODES, "color_mode")
        if (self.color_mode == "grayscale") != (self.input_shape[2] == 1):
            raise DataFormatError(
                f"color_mode {self.color_mode!r} contradicts input_shape {self.input_shape} "
                "(grayscale models take 1 channel, rgb models 3)"
            )
        check_choice(self.output, OUTPUTS, "output")
        check_choice(self.model_format, MODEL_FORMATS, "model_format")
        if self.quantization is not None:
            check_choice(self.quantization, QUANTIZATIONS, "quantization")
            self.quantization = None if self.quantization == "none" else self.quantization
        if self.quantization is not None and self.model_format != "tflite":
            raise DataFormatError(
                f"quantization {self.quantization!r} is for TFLite bundles, but model_format is "
                f"{self.model_format!r}; set model_format='tflite' or quantization=None"
            )
        if (len(self.pixel_range) != 2 or not np.all(np.isfinite(self.pixel_range))
                or not self.pixel_range[0] < self.pixel_range[1]):
            raise DataFormatError(
                f"pixel_range must be (low, high), two finite numbers with low < high, got {self.pixel_range}"
            )
        if self.output == "sigmoid" and len(self.labels) != 2:
            raise DataFormatError(
                f"a sigmoid model has exactly two labels (negative, positive), got {self.labels}"
            )

    def check_model(self, model: Any, where: str = "the model", fix: str | None = None) -> None:
        """Check that a model takes :attr:`input_shape` and gives one output per label.

        Args:
            model: The Keras model or :class:`~fermask.bundle.TFLiteModel` this description is for.
            where: Where the pair came from (a bundle path), for the message.
            fix: How to mend a mismatch, for the message; by default, to
                correct the bundle's ``fermask.json``.

        Raises:
            DataFormatError: They contradict each other; the message says how.
        """
        try:
            if isinstance(model, TFLiteModel):
                in_shape, units = (None, *model.input_shape), model.num_outputs
            else:
                in_shape = tuple(model.input_shape)
                units = int(tuple(model.output_shape)[-1])
        except Exception:  # no static shapes (a subclassed model): checked on the first prediction
            return
        fix = fix or f"correct {INFO_FILE} or save the bundle again with fermask.save_bundle"
        if len(in_shape) == 4 and None not in in_shape[1:] and tuple(in_shape[1:]) != self.input_shape:
            raise DataFormatError(
                f"{where}: the model takes input {tuple(in_shape[1:])} but its description says "
                f"input_shape {self.input_shape}; {fix}"
            )
        want = 1 if self.output == "sigmoid" else len(self.labels)
        if units != want:
            raise DataFormatError(
                f"{where}: the model has {units} output{'s' if units != 1 else ''} but its description says "
                f"output={self.output!r} with labels {self.labels} (expected {want}); {fix}"
            )

    @classmethod
    def from_model(cls, model: Any, labels: Sequence[str] | None = None, **fields: Any) -> BundleInfo:
        """Describe a built Keras model (or a :class:`~fermask.bundle.TFLiteModel`) from its input and output shapes.

        Args:
            model: A built Keras model with one fixed-size image input, or a TFLite model.
            labels: Class names in output order; without them a model with
                seven outputs gets the FER2013 emotions.
            **fields: Any other :class:`BundleInfo` field.

        Raises:
            DataFormatError: The shapes are not those of a fermask model, or
                the labels cannot be inferred.
        """
        if isinstance(model, TFLiteModel):
            fields.setdefault("model_format", "tflite")
        try:
            if isinstance(model, TFLiteModel):
                in_shape, out_shape = (None, *model.input_shape), (None, model.num_outputs)
            else:
                in_shape = tuple(model.input_shape)
                out_shape = tuple(model.output_shape)
        except (AttributeError, ValueError) as exc:
            raise FermaskError(
                f"cannot read the input/output shape of {type(model).__name__} ({exc}); pass a built "
                "Keras model or a BundleInfo describing it"
            ) from None
        if len(in_shape) != 4 or any(v is None for v in in_shape[1:]):
            raise DataFormatError(
                f"the model's input shape is {in_shape}; expected (batch, height, width, 1 or 3) "
                "with a fixed height and width"
            )
        n_out = int(out_shape[-1])
        if labels is None:
            if n_out != len(EMOTIONS):
                raise DataFormatError(
                    f"the model has {n_out} outputs; pass labels=[...] naming them "
                    "(for a one-output sigmoid model: [negative, positive])"
                )
            labels = list(EMOTIONS)
        return cls(labels=list(labels), input_shape=in_shape[1:], output=output_kind(n_out), **fields)

    def to_probabilities(self, raw: Any) -> np.ndarray:
        """The model's raw outputs as ``(N, len(labels))`` probabilities (see :func:`to_probabilities`)."""
        return to_probabilities(raw, len(self.labels), output=self.output)

    @property
    def data_source(self) -> str:
        """What the model was trained on, as recorded in the bundle (``""`` when unknown).

        Examples:
            >>> BundleInfo(extra={"data": {"train": {"source": "SYNTHETIC data"}}}).data_source
            'SYNTHETIC data'
        """
        data = self.extra.get("data")
        train = data.get("train") if isinstance(data, dict) else None
        if isinstance(train, dict) and train.get("source"):
            return str(train["source"])
        prov = self.extra.get("provenance")
        return str(prov.get("trained_on", "")) if isinstance(prov, dict) else ""

    @property
    def synthetic(self) -> bool:
        """Whether the model was trained on fermask's synthetic data (its answers on real faces mean nothing)."""
        return "SYNTHETIC" in self.data_source

    @property
    def pixel_scale(self) -> tuple[float, float]:
        """``(factor, offset)`` taking 0-255 pixels to :attr:`pixel_range` (``(1.0, 0.0)`` for fermask models).

        Examples:
            >>> BundleInfo(pixel_range=(-1.0, 1.0)).pixel_scale
            (0.00784313725490196, -1.0)
        """
        lo, hi = self.pixel_range
        return (hi - lo) / 255.0, lo

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
        if not isinstance(data, dict):
            raise DataFormatError(f"a bundle description must be a JSON object, got {type(data).__name__}")
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
        if data.get("model_format") in SERVING_FORMATS:
            raise DataFormatError(
                f"this folder holds a {data['model_format']} export (for TensorFlow Serving or onnxruntime), "
                "which fermask does not run; export with `fermask export --format tflite` for a bundle "
                "fermask runs without TensorFlow, or use the Keras bundle it was made from"
            )
        known = set(cls.__dataclass_fields__)
        extra = dict(data.pop("extra", {}) or {})
        extra.update({k: data.pop(k) for k in list(data) if k not in known})
        return cls(**data, extra=extra)


def to_probabilities(raw: Any, num_labels: int, *, output: str | None = None) -> np.ndarray:
    """A model's raw outputs as one probability per label, ``(N, num_labels)`` float64.

    A sigmoid model's single column, ``P(labels[1])``, becomes the two columns
    ``[1 - p, p]``; a softmax model's outputs are checked against the labels.

    Args:
        raw: ``(N, K)`` outputs, or ``(N,)`` for one sigmoid unit.
        num_labels: How many labels the outputs stand for.
        output: ``"softmax"`` or ``"sigmoid"``; ``None`` infers sigmoid from
            one column and two labels.

    Raises:
        DataFormatError: The number of columns does not fit the labels, or
            an output is not a finite number (NaN or infinity: a broken model).

    Examples:
        >>> to_probabilities([0.25, 1.0], 2).tolist()
        [[0.75, 0.25], [0.0, 1.0]]
    """
    s = np.asarray(raw, dtype=np.float64)
    if s.ndim == 1:
        s = s[:, None]
    if s.ndim != 2:
        raise DataFormatError(f"model outputs must have shape (N, K) or (N,), got {s.shape}")
    if not np.all(np.isfinite(s)):
        bad = int(np.count_nonzero(~np.all(np.isfinite(s), axis=1)))
        raise DataFormatError(
            f"the model's outputs are not finite numbers (NaN or infinity) for {bad} of {len(s)} images, "
            "so it predicts nothing; the model is broken (a non-finite pixel scale, or weights that diverged in "
            "training): import or train it again"
        )
    if output is None:
        output = output_kind(s.shape[1]) if num_labels == 2 else "softmax"
    if output == "sigmoid":
        if s.shape[1] != 1 or num_labels != 2:
            raise DataFormatError(
                f"a sigmoid model gives 1 output per image for 2 labels, got {s.shape[1]} output(s) for {num_labels} labels"
            )
        p = np.clip(s[:, 0], 0.0, 1.0)
        return np.stack([1.0 - p, p], axis=1)
    if s.shape[1] != num_labels:
        raise DataFormatError(
            f"the model gives {s.shape[1]} score(s) per image but there are {num_labels} labels; "
            "use a model on data with the classes it was trained on (e.g. ds.binary('happy') for a happy-vs-not model)"
        )
    return s


