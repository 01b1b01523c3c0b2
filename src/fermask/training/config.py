"""The configurations of training and adaptation runs, their result, and how a call's arguments make one config.

:class:`TrainConfig` is what :func:`~fermask.train` follows, :class:`AdaptConfig`
what :func:`~fermask.adapt` follows; both are saved and read as JSON, and both
functions take a config plus keyword overrides of its fields.

Examples:
    >>> cfg, model, validation = resolve_config({"epochs": 3}, model="happy_binary", validation=0.2)
    >>> cfg.model, cfg.epochs, cfg.validation_fraction, model, validation
    ('happy_binary', 3, 0.2, None, None)
    >>> acfg, student = resolve_adapt_config(AdaptConfig(epochs=3), overrides={"seed": 1})
    >>> acfg.epochs, acfg.seed, student
    (3, 1, None)
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from .._choices import COLOR_MODES, OPTIMIZERS, SCHEDULES, check_choice, did_you_mean
from .._files import lenient_json_default
from .._numbers import check_learning_rate, check_seed, check_validation_share
from ..errors import DataFormatError, FermaskError

if TYPE_CHECKING:  # pragma: no cover
    from ..evaluation import EvaluationReport

__all__ = ["TrainConfig", "TrainResult", "resolve_config", "AdaptConfig", "resolve_adapt_config", "OPTIMIZERS", "SCHEDULES"]

_C = TypeVar("_C", bound="_JsonConfig")


class _JsonConfig:
    """Saving and reading a config dataclass as JSON (shared by :class:`TrainConfig` and :class:`AdaptConfig`)."""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (tuples become lists)."""
        return json.loads(json.dumps(asdict(self), default=lenient_json_default))  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls: type[_C], data: Mapping[str, Any]) -> _C:
        """Build a config from :meth:`to_dict`'s output.

        Raises:
            FermaskError: An unknown key (the message suggests the closest one).
        """
        known = [f.name for f in fields(cls)]  # type: ignore[arg-type]
        for key in data:
            if key not in known:
                hint = did_you_mean(key, known)
                raise FermaskError(f"{cls.__name__} has no field {key!r}.{hint} Its fields are: {', '.join(known)}")
        return cls(**dict(data))

    def to_json(self, path: str | os.PathLike[str] | None = None) -> str:
        """The config as JSON text; also written to ``path`` when given."""
        text = json.dumps(self.to_dict(), indent=2, sort_keys=True)
        if path is not None:
            Path(path).write_text(text + "\n", encoding="utf-8")
        return text

    @classmethod
    def from_json(cls: type[_C], source: str | os.PathLike[str]) -> _C:
        """Read a config from a JSON file (such as a run's ``config.json``) or JSON text.

        Examples:
            >>> cfg = TrainConfig(epochs=3, augment=True)
            >>> TrainConfig.from_json(cfg.to_json()) == cfg
            True
        """
        text = str(source)
        if not text.lstrip().startswith("{"):
            path = Path(source)
            if not path.is_file():
                raise FermaskError(f"no config file at '{path}' (expected a JSON file written by {cls.__name__}.to_json)")
            text = path.read_text(encoding="utf-8")
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DataFormatError(f"the {cls.__name__} is not valid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise DataFormatError(f"the {cls.__name__} must be a JSON object")
        return cls.from_dict(data)


@dataclass
class TrainConfig(_JsonConfig):
    """Everything that determines a training run; saved with its results.

    Attributes:
        model: A registered model name (see :func:`fermask.list_models`).
        model_options: Builder options, e.g. ``{"filters": [16, 32]}``.
        optimizer: ``"adam"``, ``"adamw"``, ``"sgd"`` (momentum 0.9),
            ``"rmsprop"`` or ``"nadam"``.
        learning_rate: The (initial) learning rate, greater than 0 and at most 1.
        schedule: ``"constant"``, ``"cosine"`` (cosine decay to 0 over all
            steps) or ``"plateau"`` (divide by 10 after ``plateau_patience``
            epochs without improvement of the monitored value).
        plateau_patience: Epochs without improvement before a plateau step.
        weight_decay: Weight decay for ``"adamw"`` (ignored otherwise).
        batch_size: Images per step (the global batch under a distribution strategy).
        epochs: Passes over the training data.
        class_weights: ``None``, ``"balanced"`` (``n / (k * count)``) or a dict
            ``{class name or index: weight}`` (missing classes weigh 1).
        augment: ``False``, ``True`` (random flips, shifts, rotations,
            brightness) or a dict of those amounts (see
            :data:`fermask.data.tfdata.AUGMENT_DEFAULTS`).
        early_stopping: Patience in epochs, or ``None`` for no early
            stopping; the best weights are restored when it stops.
        monitor: The value early stopping and the plateau schedule watch:
            ``"auto"`` is ``val_loss`` with validation data, else ``loss``.
        label_smoothing: Label smoothing of the cross-entropy, in ``[0, 1)``.
        seed: Seeds Python, numpy, TensorFlow, shuffling, augmentation and
            the validation split (0 to 2**32 - 1).
        deterministic: Also call ``tf.config.experimental.enable_op_determinism()``
            for bit-for-bit repeatable runs on the same machine (slower; it
            affects the whole process).
        image_size: ``(height, width)`` of the model input; ``None`` takes the
            model's default.
        color_mode: ``"grayscale"`` or ``"rgb"``; ``None`` takes the model's default.
        validation_fraction: When :func:`train` gets no validation data, hold
            out this share of the training data (stratified, seeded), greater
            than 0 and at most 0.5; ``None`` trains without validation.
        jit_compile: Compile steps with XLA (often faster on GPUs).
        steps_per_execution: Steps run per call into TensorFlow (raise it
            for small models on GPUs).
        run_eagerly: Run steps eagerly, without building a TensorFlow graph:
            for debugging, and faster for smoke runs of a few steps of a big
            model (tracing ResNet50's training step takes ~30 s on a CPU).
        distill_alpha: Distillation only: weight of the hard-label loss; the
            teacher's soft-label loss gets ``1 - distill_alpha``.
        distill_temperature: Distillation only: the softening temperature ``T``.
    """

    model: str = "shallow_cnn"
    model_options: dict[str, Any] = field(default_factory=dict)
    optimizer: str = "adam"
    learning_rate: float = 1e-3
    schedule: str = "constant"
    plateau_patience: int = 3
    weight_decay: float = 1e-4
    batch_size: int = 64
    epochs: int = 20
    class_weights: str | dict[str, float] | None = None
    augment: bool | dict[str, float] = False
    early_stopping: int | None = None
    monitor: str = "auto"
    label_smoothing: float = 0.0
    seed: int = 0
    deterministic: bool = False
    image_size: tuple[int, int] | None = None
    color_mode: str | None = None
    validation_fraction: float | None = None
    jit_compile: bool = False
    steps_per_execution: int = 1
    run_eagerly: bool = False
    distill_alpha: float = 0.5
    distill_temperature: float = 4.0

    def __post_init__(self) -> None:
        self.optimizer = str(self.optimizer).strip().lower()
        self.schedule = str(self.schedule).strip().lower()
        check_choice(self.optimizer, OPTIMIZERS, "optimizer")
        check_choice(self.schedule, SCHEDULES, "schedule")
        check_learning_rate(self.learning_rate)
        check_seed(self.seed)
        _positive(self.batch_size, "batch_size", int)
        _positive(self.epochs, "epochs", int)
        _positive(self.steps_per_execution, "steps_per_execution", int)
        _positive(self.plateau_patience, "plateau_patience", int)
        if self.early_stopping is not None:
            _positive(self.early_stopping, "early_stopping (a patience in epochs, or None)", int)
        if not 0.0 <= float(self.label_smoothing) < 1.0:
            raise FermaskError(f"label_smoothing must lie in [0, 1), got {self.label_smoothing!r}")
        if not 0.0 <= float(self.distill_alpha) <= 1.0:
            raise FermaskError(f"distill_alpha must lie in [0, 1], got {self.distill_alpha!r}")
        _positive(self.distill_temperature, "distill_temperature", float)
        cw = self.class_weights
        if not (cw is None or cw == "balanced" or isinstance(cw, Mapping)):
            raise FermaskError(f"class_weights must be None, 'balanced' or a dict {{class: weight}}, got {cw!r}")
        if isinstance(cw, Mapping):
            self.class_weights = {str(k): float(v) for k, v in cw.items()}
        if self.image_size is not None:
            size = (self.image_size, self.image_size) if isinstance(self.image_size, int) else tuple(self.image_size)
            if len(size) != 2 or min(int(v) for v in size) < 8:
                raise FermaskError(f"image_size must be (height, width) of at least 8 pixels, got {self.image_size!r}")
            self.image_size = (int(size[0]), int(size[1]))
        check_choice(self.color_mode, COLOR_MODES, "color_mode", allow_none=True)
        if self.validation_fraction is not None:
            check_validation_share(self.validation_fraction)
        self.model_options = dict(self.model_options or {})


def _positive(value: Any, name: str, kind: type) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0
    if kind is int:
        ok = ok and float(value).is_integer()
    if not ok:
        raise FermaskError(f"{name} must be a positive {'integer' if kind is int else 'number'}, got {value!r}")


# =========================================================================== result
@dataclass
class TrainResult:
    """What :func:`train` returns.

    Attributes:
        model: The trained Keras model (for distillation: the student).
        history: ``{metric: [value per epoch]}``.
        metrics: Final metrics (see :func:`train`).
        config: The configuration used.
        out_dir: The run folder, or ``None`` when nothing was written.
        bundle_path: The bundle folder (load it with ``Predictor.load``), or ``None``.
        evaluation: The final model's :class:`~fermask.evaluation.EvaluationReport`
            on the validation data, or ``None``.
        interrupted: ``True`` when Ctrl-C stopped the fit early.
        notes: Remarks, e.g. that the learning-curve plot needs ``fermask[plot]``.
    """

    model: Any
    history: dict[str, list[float]]
    metrics: dict[str, Any]
    config: TrainConfig
    out_dir: Path | None = None
    bundle_path: Path | None = None
    evaluation: EvaluationReport | None = None
    interrupted: bool = False
    notes: list[str] = field(default_factory=list)

    def __repr__(self) -> str:
        acc = self.metrics.get("val_accuracy", self.metrics.get("accuracy"))
        acc_s = f"{acc:.4f}" if isinstance(acc, float) else "n/a"
        return (
            f"TrainResult(model={getattr(self.model, 'name', '?')!r}, epochs={self.metrics.get('epochs_run')}, "
            f"accuracy={acc_s}, bundle={str(self.bundle_path) if self.bundle_path else None!r}, "
            f"interrupted={self.interrupted})"
        )


def _load_config(cls: type[_C], config: Any, changes: Mapping[str, Any], caller: str) -> _C:
    """``config`` (an instance, its dict, a JSON path or ``None``) as a ``cls``, with ``changes`` applied."""
    if config is None:
        cfg = cls()
    elif isinstance(config, cls):
        cfg = config
    elif isinstance(config, Mapping):
        cfg = cls.from_dict(config)
    elif isinstance(config, (str, os.PathLike)):
        cfg = cls.from_json(config)
    else:
        raise FermaskError(f"config must be a {cls.__name__}, a dict or a config.json path, got {type(config).__name__}")
    if changes:
        known = sorted(f.name for f in fields(cls))  # type: ignore[arg-type]
        for key in changes:
            if key not in known:
                raise FermaskError(f"{caller}() got an unexpected argument {key!r}.{did_you_mean(key, known)}")
        cfg = replace(cfg, **changes)  # type: ignore[type-var]
    return cfg


def resolve_config(
    config: TrainConfig | Mapping[str, Any] | str | os.PathLike[str] | None = None,
    *,
    model: Any = None,
    validation: Any = None,
    overrides: Mapping[str, Any] | None = None,
) -> tuple[TrainConfig, Any, Any]:
    """The one config of a run, from :func:`~fermask.train`'s arguments.

    Merges ``config`` (a TrainConfig, its dict, a ``config.json`` path or
    ``None`` for the defaults) with the keyword ``overrides``; a model *name*
    becomes the ``model`` field and a float ``validation`` the
    ``validation_fraction`` field.

    Returns:
        ``(config, model, validation)``: ``model`` is a ready Keras model or
        ``None``; ``validation`` is validation data or ``None``.

    Raises:
        FermaskError: A bad config, or an override that is no TrainConfig field
            (the message suggests the closest one).
    """
    changes = dict(overrides or {})
    if isinstance(model, str):  # a registry name: the config's model
        changes["model"] = model
        model = None
    cfg = _load_config(TrainConfig, config, changes, "train")
    if isinstance(validation, float):
        cfg = replace(cfg, validation_fraction=validation)
        validation = None
    return cfg, model, validation


# =========================================================================== adaptation
@dataclass
class AdaptConfig(_JsonConfig):
    """Everything that determines an adaptation run (:func:`~fermask.adapt`), besides the teacher and the faces.

    Save and read it like a :class:`TrainConfig` (``to_json``, ``from_json``,
    ``to_dict``, ``from_dict``).

    Attributes:
        student: A registered model name to train from scratch, or ``None``
            for a copy of the teacher, weights included. (A ready Keras
            model is passed to :func:`~fermask.adapt` as ``student=``.)
        epochs: Passes over the faces; each pass draws new masks.
        batch_size: Faces per step.
        learning_rate: Adam's learning rate, greater than 0 and at most 1
            (small: the student starts from the teacher's weights).
        temperature: Softens the teacher's and the student's probabilities
            in the loss (``T^2 * KL``).
        unmasked_share: Share of training faces left unmasked in each epoch,
            in ``[0, 1)``.
        validation_fraction: Share of faces held out to measure agreement,
            greater than 0 and at most 0.5.
        seed: Seeds the split, the masks, the order and Keras (0 to 2**32 - 1).
        flip: Mirror a random half of the training faces in each epoch.

    Examples:
        >>> cfg = AdaptConfig(epochs=20, unmasked_share=0.25)
        >>> AdaptConfig.from_json(cfg.to_json()) == cfg
        True
        >>> cfg.train_config("fer-mini-xception_adapted").distill_temperature
        2.0
    """

    student: str | None = None
    epochs: int = 10
    batch_size: int = 64
    learning_rate: float = 3e-4
    temperature: float = 2.0
    unmasked_share: float = 0.5
    validation_fraction: float = 0.1
    seed: int = 0
    flip: bool = True

    def __post_init__(self) -> None:
        if self.student is not None and not isinstance(self.student, str):
            raise FermaskError(
                f"AdaptConfig.student must be a registered model name or None, got {type(self.student).__name__}; "
                "pass a ready Keras model to adapt() as student=model"
            )
        if not 0.0 <= float(self.unmasked_share) < 1.0:
            raise FermaskError(f"unmasked_share must lie in [0, 1), got {self.unmasked_share!r}")
        check_validation_share(self.validation_fraction)
        check_seed(self.seed)
        _positive(self.epochs, "epochs", int)
        _positive(self.batch_size, "batch_size", int)
        check_learning_rate(self.learning_rate)
        _positive(self.temperature, "temperature", float)

    def train_config(self, model_name: str) -> TrainConfig:
        """The :class:`TrainConfig` of the run (its ``config.json``): only the soft, teacher part of the distillation loss."""
        return TrainConfig(
            model=model_name, learning_rate=self.learning_rate, batch_size=self.batch_size, epochs=self.epochs, seed=self.seed,
            distill_alpha=0.0, distill_temperature=self.temperature, validation_fraction=self.validation_fraction,
        )


def resolve_adapt_config(
    config: AdaptConfig | Mapping[str, Any] | str | os.PathLike[str] | None = None,
    *,
    student: Any = None,
    overrides: Mapping[str, Any] | None = None,
) -> tuple[AdaptConfig, Any]:
    """The one config of an adaptation run, from :func:`~fermask.adapt`'s arguments.

    Merges ``config`` (an AdaptConfig, its dict, a JSON path or ``None`` for
    the defaults) with the keyword ``overrides``; a student *name* becomes
    the ``student`` field.

    Returns:
        ``(config, student)``: ``student`` is a ready Keras model (or what
        the caller passed that is not a name), or ``None``.

    Raises:
        FermaskError: A bad config, or an override that is no AdaptConfig
            field (the message suggests the closest one).
    """
    changes = dict(overrides or {})
    if isinstance(student, str):
        changes["student"] = student
        student = None
    return _load_config(AdaptConfig, config, changes, "adapt"), student
