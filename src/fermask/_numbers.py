"""The one check of a numeric option: a whole number or a finite number within its range.

Every numeric option, on the command line (``--seed``, ``--epochs``,
``--lr``, ``--port``, ``--max-frames``, ...) and in the Python API
(``Masker(seed=...)``, :class:`~fermask.AdaptConfig`, ...), is checked here,
with one wording: what the option must be, what it got. The command line
wraps these checks as ``argparse`` types (``fermask.commands._common``), so
a bad value is refused with exit status 2 before any work. A number of
workers is checked by :func:`fermask._parallel.check_workers`.

Examples:
    >>> check_seed(7)
    7
    >>> check_seed(-1)
    Traceback (most recent call last):
    ...
    fermask.errors.InvalidValueError: seed must be a whole number from 0 to 4294967295, got -1
    >>> check_float(float("nan"), "learning_rate", low=0, high=1, low_open=True)
    Traceback (most recent call last):
    ...
    fermask.errors.InvalidValueError: learning_rate must be a number greater than 0 and at most 1, got nan
"""

from __future__ import annotations

import math
from typing import Any

from .errors import InvalidValueError

__all__ = [
    "SEED_MAX",
    "PORT_MAX",
    "LEARNING_RATE_MAX",
    "VALIDATION_MAX",
    "check_int",
    "check_float",
    "check_seed",
    "check_port",
    "check_learning_rate",
    "check_validation_share",
]

#: The largest seed: numpy's legacy generator, TensorFlow and Python's ``random`` all take it.
SEED_MAX = 2**32 - 1
#: The largest TCP port.
PORT_MAX = 65535
#: The largest learning rate accepted: above 1 every optimizer fermask builds diverges at once.
LEARNING_RATE_MAX = 1.0
#: The largest share of the data held out for validation: above it, less is left to train on than to check.
VALIDATION_MAX = 0.5


def _int_range(minimum: int | None, maximum: int | None) -> str:
    if minimum is not None and maximum is not None:
        return f"a whole number from {minimum} to {maximum}"
    if minimum is not None:
        return f"a whole number of at least {minimum}"
    return "a whole number" if maximum is None else f"a whole number of at most {maximum}"


def _fail(what: str, expected: str, value: Any, hint: str) -> InvalidValueError:
    start = f"{what} must be" if what else "must be"
    return InvalidValueError(f"{start} {expected}, got {value!r}{'; ' + hint if hint else ''}")


def check_int(value: Any, what: str, *, minimum: int | None = None, maximum: int | None = None, hint: str = "") -> int:
    """``value`` as an ``int`` if it is a whole number within ``[minimum, maximum]``.

    Args:
        value: The number given (``True`` and ``1.5`` are refused, ``2.0`` is 2).
        what: The option's name, for the message (empty: the message starts "must be").
        minimum: The smallest value accepted, or ``None``.
        maximum: The largest value accepted, or ``None``.
        hint: How to fix it, appended to the message.

    Returns:
        The value as an ``int``.

    Raises:
        InvalidValueError: ``value`` is not a whole number within the range.
    """
    expected = _int_range(minimum, maximum)
    if isinstance(value, bool) or not isinstance(value, (int, float)) and not hasattr(value, "__index__"):
        raise _fail(what, expected, value, hint)
    if isinstance(value, float) and not (math.isfinite(value) and value.is_integer()):
        raise _fail(what, expected, value, hint)
    n = int(value)
    if (minimum is not None and n < minimum) or (maximum is not None and n > maximum):
        raise _fail(what, expected, value, hint)
    return n


def check_float(
    value: Any,
    what: str,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    hint: str = "",
) -> float:
    """``value`` as a ``float`` if it is finite and within its bounds (NaN and infinity are always refused).

    Args:
        value: The number given.
        what: The option's name, for the message (empty: the message starts "must be").
        low: The lower bound, or ``None``.
        high: The upper bound, or ``None``.
        low_open: ``low`` itself is refused.
        high_open: ``high`` itself is refused.
        hint: How to fix it, appended to the message.

    Returns:
        The value as a ``float``.

    Raises:
        InvalidValueError: ``value`` is not a finite number within the bounds.
    """
    parts = []
    if low is not None:
        parts.append(f"{'greater than' if low_open else 'at least'} {low:g}")
    if high is not None:
        parts.append(f"{'less than' if high_open else 'at most'} {high:g}")
    expected = "a number " + " and ".join(parts) if parts else "a finite number"
    if isinstance(value, bool):
        raise _fail(what, expected, value, hint)
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise _fail(what, expected, value, hint) from None
    below = low is not None and (x <= low if low_open else x < low)
    above = high is not None and (x >= high if high_open else x > high)
    if not math.isfinite(x) or below or above:
        raise _fail(what, expected, value, hint)
    return x


def check_seed(value: Any, what: str = "seed") -> int:
    """A seed: a whole number from 0 to :data:`SEED_MAX`."""
    return check_int(value, what, minimum=0, maximum=SEED_MAX)


def check_port(value: Any, what: str = "port") -> int:
    """A TCP port: 0 (any free port) to :data:`PORT_MAX`."""
    return check_int(value, what, minimum=0, maximum=PORT_MAX, hint="0 picks any free port")


def check_learning_rate(value: Any, what: str = "learning_rate") -> float:
    """A learning rate: greater than 0 and at most :data:`LEARNING_RATE_MAX`."""
    return check_float(value, what, low=0.0, high=LEARNING_RATE_MAX, low_open=True, hint="typical values are 1e-4 to 1e-2")


def check_validation_share(value: Any, what: str = "validation_fraction") -> float:
    """A share of the data held out: greater than 0 and at most :data:`VALIDATION_MAX`."""
    return check_float(value, what, low=0.0, high=VALIDATION_MAX, low_open=True, hint="typical values are 0.1 to 0.2")
