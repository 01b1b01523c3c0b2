"""The outcome of masking one image: :class:`MaskResult`, and how a failed image is recorded."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from ..errors import FermaskError
from ..faces import Face


@dataclass
class MaskResult:
    """The outcome of masking one image.

    Attributes:
        image: The masked image (``uint8``; gray ``(H, W)`` or RGB ``(H, W, 3)``),
            the unchanged image when no face was found, or ``None`` when the
            input could not be read.
        faces: The faces found, left to right.
        styles: The style used on each face.
        colors: The RGB colour used on each face.
        patterns: The pattern used on each face (``None`` for plain).
        masked: Whether at least one face was masked.
        reason: Why the image was not masked (``"no face found"`` or the
            error message), else ``None``.
        index: Position of the image in a batch.
        source: A description of the input (its path, when it was one).
    """

    image: np.ndarray | None
    faces: list[Face] = field(default_factory=list)
    styles: list[str] = field(default_factory=list)
    colors: list[tuple[int, int, int]] = field(default_factory=list)
    patterns: list[str | None] = field(default_factory=list)
    masked: bool = False
    reason: str | None = None
    index: int = 0
    source: str | None = None

    @property
    def style(self) -> str | None:
        """The style of the first face, or ``None``."""
        return self.styles[0] if self.styles else None

    @property
    def face_found(self) -> bool:
        """Whether any face was found."""
        return bool(self.faces)

    @property
    def ok(self) -> bool:
        """Whether the input could be read (masked or not)."""
        return self.image is not None

    @property
    def status(self) -> Literal["masked", "no_face", "error"]:
        """``"masked"``, ``"no_face"`` (read, but not masked) or ``"error"`` (unreadable)."""
        if self.image is None:
            return "error"
        return "masked" if self.masked else "no_face"

    @property
    def why(self) -> str | None:
        """Why the image was not masked (never empty when it was not), else ``None``."""
        status = self.status
        if status == "masked":
            return None
        return self.reason or ("no face found" if status == "no_face" else "unknown error")

    def to_record(self) -> dict[str, Any]:
        """A JSON-ready summary (no pixels), as folder manifests and dataset caches record it.

        Examples:
            >>> import numpy as np
            >>> rec = MaskResult(image=np.zeros((4, 4), np.uint8)).to_record()
            >>> rec["status"], rec["reason"]
            ('no_face', 'no face found')
        """
        return {
            "index": self.index,
            "source": self.source,
            "status": self.status,
            "masked": self.masked,
            "faces": len(self.faces),
            "styles": list(self.styles),
            "colors": [list(c) for c in self.colors],
            "patterns": list(self.patterns),
            "full_frame": [not f.detected for f in self.faces],
            "reason": self.why,
        }


def source_name(image: Any) -> str | None:
    """What a result's ``source`` says of an input: its path, when it was one."""
    if isinstance(image, (str, os.PathLike)):
        return os.fspath(image)
    return None


def failed_result(index: int, image: Any, exc: Exception) -> MaskResult:
    """The result of an image that could not be masked (a per-image failure must not stop a batch)."""
    reason = str(exc) if isinstance(exc, FermaskError) else f"{type(exc).__name__}: {exc}"
    return MaskResult(image=None, index=index, reason=reason, source=source_name(image))
