"""Exceptions raised by fermask.

Every error fermask raises on purpose is a :class:`FermaskError`, so callers
can catch one type. Subclasses also derive from the matching built-in
exception (``ValueError``, ``FileNotFoundError``, ...) so code written
against the standard types keeps working.
"""

from __future__ import annotations

__all__ = [
    "FermaskError",
    "ImageError",
    "LandmarkModelNotFound",
    "UnknownNameError",
    "DataFormatError",
    "MissingDependencyError",
    "NoFaceError",
    "InvalidValueError",
    "InvalidTypeError",
    "InvalidChoiceError",
    "InvalidIndexError",
]


class FermaskError(Exception):
    """Base class of every error fermask raises on purpose."""


class ImageError(FermaskError, ValueError):
    """An input could not be read or used as an image."""


class NoFaceError(FermaskError, LookupError):
    """An operation that needs a face was given an image without one."""


class LandmarkModelNotFound(FermaskError, FileNotFoundError):
    """The dlib 68-point landmark model file could not be found anywhere."""


class UnknownNameError(FermaskError, KeyError):
    """A registry (mask styles, models) was asked for a name it does not know.

    ``KeyError`` quotes its message; this subclass prints it as written.
    """

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class DataFormatError(FermaskError, ValueError):
    """A data file does not have the format fermask expected."""


class MissingDependencyError(FermaskError, ImportError):
    """An optional dependency needed by this feature is not installed."""


class InvalidValueError(FermaskError, ValueError):
    """An argument has a value fermask cannot use: out of range, the wrong shape or empty."""


class InvalidTypeError(FermaskError, TypeError):
    """An argument is of a type fermask cannot use, or two arguments contradict each other."""


class InvalidIndexError(FermaskError, IndexError):
    """An index or a selection does not fit the sequence it indexes."""


class InvalidChoiceError(InvalidValueError, DataFormatError):
    """An option got a value outside its accepted names (see ``fermask._choices``).

    It is also a :class:`DataFormatError` (and so a ``ValueError``): a value
    read from a file, such as a bundle's ``color_mode``, and the data options
    (``on_no_face``, ``label_mode``, ...) raised that type before every choice
    raised this one.
    """


def missing_dependency(package: str, extra: str, feature: str) -> MissingDependencyError:
    """Build the error for a missing optional dependency.

    Args:
        package: The import name that failed, e.g. ``"matplotlib"``.
        extra: The fermask extra that installs it, e.g. ``"plot"``.
        feature: What the user tried to do, e.g. ``"plotting"``.

    Returns:
        An error whose message says how to install the dependency.
    """
    return MissingDependencyError(
        f"{feature} needs the '{package}' package, which is not installed. "
        f"Install it with: pip install 'fermask[{extra}]'"
    )
