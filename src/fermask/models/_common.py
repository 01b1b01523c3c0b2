"""Checks shared by the built-in builders (no Keras here)."""

from __future__ import annotations

from typing import Any

from ..errors import FermaskError


def softmax_classes(model: str, num_classes: Any) -> int:
    """Validate the class count of a softmax model."""
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
        raise FermaskError(
            f"{model} is a softmax classifier and needs num_classes >= 2, got {num_classes!r}; "
            "for a yes/no task use 2 classes, or the binary model 'happy_binary'"
        )
    return num_classes


def sigmoid_units(model: str, num_classes: Any) -> int:
    """Validate the class count of a binary model: 2 (or 1) maps to one sigmoid unit."""
    if isinstance(num_classes, bool) or num_classes not in (1, 2):
        raise FermaskError(
            f"{model} is a binary model with one sigmoid output (the probability of the positive "
            f"class), so num_classes must be 2 (or 1), got {num_classes!r}; for the 7 emotions "
            "use a softmax model such as 'shallow_cnn' or 'vgg_fer'"
        )
    return 1


def check_channels(model: str, input_shape: tuple[int, int, int], channels: int, why: str) -> None:
    """Fail clearly when a model needs a given number of input channels."""
    if input_shape[2] != channels:
        raise FermaskError(
            f"{model} needs {channels}-channel input ({why}), got input_shape={tuple(input_shape)}; "
            f"pass input_shape=({input_shape[0]}, {input_shape[1]}, {channels})"
        )


def check_min_size(model: str, input_shape: tuple[int, int, int], minimum: int, why: str) -> None:
    """Fail clearly when an input is too small for a network's downsampling."""
    if min(input_shape[0], input_shape[1]) < minimum:
        raise FermaskError(
            f"{model} needs inputs of at least {minimum}x{minimum} pixels ({why}), "
            f"got input_shape={tuple(input_shape)}"
        )


def as_tuple(value: Any, what: str) -> tuple[int, ...]:
    """An int or a sequence of positive ints as a tuple."""
    seq = (value,) if isinstance(value, int) else tuple(value)
    if not seq or any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in seq):
        raise FermaskError(f"{what} must be positive integers, got {value!r}")
    return seq


def check_rate(value: Any, what: str = "dropout") -> float:
    """A dropout rate in [0, 1)."""
    try:
        rate = float(value)
    except (TypeError, ValueError):
        rate = -1.0
    if not 0.0 <= rate < 1.0:
        raise FermaskError(f"{what} must be a number in [0, 1), got {value!r}")
    return rate
