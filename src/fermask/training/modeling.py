"""The model side of a training run: build or adopt the network, check its outputs, optimizer, loss, compile."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .._choices import channels_of, output_kind
from ..errors import DataFormatError

if TYPE_CHECKING:  # pragma: no cover
    from .config import TrainConfig

__all__ = ["input_shape", "check_outputs", "build_model", "make_optimizer", "hard_loss", "compile_model"]


def input_shape(cfg: TrainConfig, defaults: Mapping[str, Any]) -> tuple[int, int, int]:
    """``(height, width, channels)``: the model's defaults, with ``cfg.image_size`` / ``cfg.color_mode`` applied."""
    h, w, c = defaults["input_shape"]
    if cfg.image_size is not None:
        h, w = cfg.image_size
    if cfg.color_mode is not None:
        c = channels_of(cfg.color_mode)
    return int(h), int(w), int(c)


def check_outputs(model: Any, k: int, what: str) -> str:
    """The model's output kind (``"sigmoid"`` or ``"softmax"``), checked against ``k`` classes.

    Raises:
        DataFormatError: The outputs do not fit ``k`` classes.
    """
    units = int(model.output_shape[-1])
    output = output_kind(units)
    if output == "sigmoid" and k != 2:
        raise DataFormatError(
            f"{what} has one sigmoid output (a yes/no model) but the data has {k} classes; "
            "make a two-class dataset with ds.binary('happy')"
        )
    if output == "softmax" and units != k:
        raise DataFormatError(f"{what} has {units} outputs but the data has {k} classes")
    return output


def build_model(cfg: TrainConfig, model: Any, num_classes: int, notes: list[str]) -> tuple[Any, str, tuple[int, int, int], str]:
    """``(network, name, input shape, output kind)``: ``cfg.model`` built from the registry, or ``model`` as given."""
    from ..models import create_model, model_defaults

    if model is None:
        defaults = model_defaults(cfg.model)
        shape = input_shape(cfg, defaults)
        num = num_classes if defaults["output"] == "softmax" else 2
        net = create_model(cfg.model, num_classes=num, input_shape=shape, **cfg.model_options)
        name = cfg.model
    else:
        net = model
        name = getattr(model, "name", "model")
        shape = tuple(int(v) for v in model.input_shape[1:])  # type: ignore[assignment]
        notes.append(f"a prebuilt model ({name!r}) was trained; config.model alone does not rebuild it")
    return net, name, shape, check_outputs(net, num_classes, f"the model {name!r}")


def make_optimizer(keras: Any, cfg: TrainConfig, steps_per_epoch: int) -> Any:
    """The Keras optimizer named by ``cfg.optimizer``, with the cosine schedule if asked."""
    lr: Any = float(cfg.learning_rate)
    if cfg.schedule == "cosine":
        lr = keras.optimizers.schedules.CosineDecay(lr, decay_steps=max(1, steps_per_epoch * cfg.epochs))
    if cfg.optimizer == "adam":
        return keras.optimizers.Adam(lr)
    if cfg.optimizer == "adamw":
        return keras.optimizers.AdamW(lr, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "sgd":
        return keras.optimizers.SGD(lr, momentum=0.9)
    if cfg.optimizer == "rmsprop":
        return keras.optimizers.RMSprop(lr)
    return keras.optimizers.Nadam(lr)


def hard_loss(keras: Any, output: str, cfg: TrainConfig) -> Any:
    """The cross-entropy on the true labels (binary for a sigmoid output), with label smoothing."""
    if output == "sigmoid":
        return keras.losses.BinaryCrossentropy(label_smoothing=cfg.label_smoothing)
    return keras.losses.CategoricalCrossentropy(label_smoothing=cfg.label_smoothing)


def compile_model(keras: Any, fit_model: Any, output: str, cfg: TrainConfig, n_train: int, *, distilling: bool) -> None:
    """Compile the model that is fitted (a distiller brings its own loss)."""
    steps = max(1, math.ceil(n_train / cfg.batch_size))
    accuracy = keras.metrics.BinaryAccuracy(name="accuracy") if output == "sigmoid" else keras.metrics.CategoricalAccuracy(name="accuracy")
    fit_model.compile(
        optimizer=make_optimizer(keras, cfg, steps),
        loss=None if distilling else hard_loss(keras, output, cfg),
        metrics=[accuracy],
        jit_compile=bool(cfg.jit_compile),
        steps_per_execution=int(cfg.steps_per_execution),
        run_eagerly=bool(cfg.run_eagerly),
    )
