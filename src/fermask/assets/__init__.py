"""Files shipped with fermask (see README.md in this folder)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

__all__ = ["example_photo"]


def example_photo() -> Path:
    """Path of the packaged example portrait (public-domain NASA photo, 512x512).

    Examples:
        >>> example_photo().name
        'astronaut.jpg'
    """
    return Path(str(resources.files(__name__).joinpath("astronaut.jpg")))
