"""Small file helpers shared across fermask."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = [
    "cache_dir",
    "sha256_file",
    "sha256_hex",
    "json_default",
    "lenient_json_default",
    "write_json_atomic",
]


def cache_dir(*parts: str) -> Path:
    """fermask's user cache folder, or a folder inside it (not created here).

    ``$FERMASK_CACHE`` when set, else ``$XDG_CACHE_HOME/fermask`` (by default
    ``~/.cache/fermask``). The landmark model sits at its top; datasets masked
    by ``FERDataset.mask`` under ``datasets/``.

    Examples:
        >>> cache_dir("datasets").name
        'datasets'
    """
    env = os.environ.get("FERMASK_CACHE")
    if env:
        root = Path(env).expanduser()
    else:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        root = Path(base) / "fermask"
    return root.joinpath(*parts)


def sha256_file(path: str | os.PathLike[str]) -> str:
    """The hex sha256 digest of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def json_default(o: Any) -> Any:
    """``json.dumps`` hook for numpy values, paths and sets; other types raise ``TypeError``."""
    import numpy as np

    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, os.PathLike):
        return os.fspath(o)
    if isinstance(o, (set, frozenset)):
        return sorted(o)
    raise TypeError(f"{type(o).__name__} is not JSON serialisable")


def lenient_json_default(o: Any) -> Any:
    """Like :func:`json_default`, but writes any other object as its ``str()``."""
    try:
        return json_default(o)
    except TypeError:
        return str(o)


def write_json_atomic(
    path: str | os.PathLike[str],
    data: Any,
    *,
    indent: int = 2,
    default: Callable[[Any], Any] | None = lenient_json_default,
) -> Path:
    """Write ``data`` as JSON to a temporary name, then rename it into place.

    An interrupted write never leaves a half-written file under ``path``.
    """
    p = Path(path)
    tmp = p.with_name(p.name + ".partial")
    tmp.write_text(json.dumps(data, indent=indent, default=default) + "\n", encoding="utf-8")
    os.replace(tmp, p)
    return p


def sha256_hex(*parts: bytes | bytearray | memoryview | str) -> str:
    """The full hex sha256 digest of ``parts`` fed in order (a ``str`` as UTF-8).

    fermask's one content hash: file checksums (:func:`sha256_file`) and the
    dataset cache keys both use sha256 written out in full (64 hex digits).

    Examples:
        >>> sha256_hex("fermask") == sha256_hex(b"fer", "mask")
        True
        >>> len(sha256_hex(b""))
        64
    """
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode() if isinstance(part, str) else part)
    return h.hexdigest()
