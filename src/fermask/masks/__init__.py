"""Mask styles and their registry.

A mask style turns a face's 68 landmarks into a mask shape (see
:class:`MaskStyle`). Built-in styles: ``surgical``, ``n95``, ``kn95``,
``cloth``, ``gas`` and ``bandana``. Third-party packages add styles through
the ``fermask.masks`` entry-point group.

Examples:
    >>> from fermask.masks import list_masks, get_mask
    >>> list_masks()[:3]
    ['bandana', 'cloth', 'gas']
    >>> get_mask("surgical").name
    'surgical'
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Union, overload

from .._registry import Registry
from ..errors import FermaskError
from .base import Disc, FaceGeometry, Line, MaskShape, MaskStyle
from .builtin import BUILTIN_STYLES
from .render import COLORS, PATTERNS, Appearance, parse_color

__all__ = [
    "MaskStyle",
    "MaskShape",
    "FaceGeometry",
    "Line",
    "Disc",
    "register_mask",
    "get_mask",
    "list_masks",
    "resolve_style",
    "StyleLike",
    "COLORS",
    "PATTERNS",
    "Appearance",
    "parse_color",
    "registry",
]

StyleLike = Union[str, MaskStyle]
"""A mask style given by registered name or as an instance."""

registry: Registry[Any] = Registry(
    "mask style",
    "fermask.masks",
    "Add one with @fermask.register_mask('name') on a MaskStyle subclass, or from another package "
    "through the 'fermask.masks' entry-point group (see the 'Writing a plugin' docs).",
)


@overload
def register_mask(name: str, style: Any, *, overwrite: bool = ...) -> Any: ...


@overload
def register_mask(name: str, style: None = ..., *, overwrite: bool = ...) -> Callable[[Any], Any]: ...


def register_mask(name: str, style: Any = None, *, overwrite: bool = False) -> Any:
    """Register a mask style under ``name``; use as a decorator or a plain call.

    ``style`` may be a :class:`MaskStyle` subclass (instantiated with no
    arguments on use), an instance, or a function returning an instance.

    Args:
        name: The name users pass as ``style=``.
        style: The style; omit it to use ``register_mask`` as a decorator.
        overwrite: Replace an existing style of that name.

    Returns:
        ``style`` itself (or a decorator that returns it).

    Examples:
        >>> from fermask.masks import MaskStyle, MaskShape, register_mask
        >>> @register_mask("doc-band", overwrite=True)
        ... class Band(MaskStyle):
        ...     name = "doc-band"
        ...     def shape(self, g):
        ...         return MaskShape(outline=g.p[[2, 30, 14, 8]])
    """
    return registry.register(name, style, overwrite=overwrite)


def _instantiate(name: str, entry: Any) -> MaskStyle:
    obj = entry
    if isinstance(entry, type):
        obj = entry()
    elif not isinstance(entry, MaskStyle) and callable(entry) and not hasattr(entry, "shape"):
        obj = entry()
    if not (hasattr(obj, "shape") and callable(obj.shape)):
        raise FermaskError(
            f"the mask style registered as {name!r} is a {type(obj).__name__}, which has no "
            "shape(geometry) method; register a MaskStyle subclass or instance"
        )
    if not getattr(obj, "name", None) or obj.name == "unnamed":
        obj.name = name
    return obj


def get_mask(name: StyleLike) -> MaskStyle:
    """Return a mask style by name; an instance is returned as it is.

    Raises:
        UnknownNameError: No style has that name; the message suggests close
            names and lists the available ones.
    """
    if isinstance(name, MaskStyle) or (not isinstance(name, str) and hasattr(name, "shape")):
        return name
    return _instantiate(str(name).strip().lower(), registry.get(name))


def list_masks(pattern: str | None = None) -> list[str]:
    """Names of the registered mask styles, sorted; ``pattern`` filters them (``"*95"``)."""
    return registry.names(pattern)


def resolve_style(style: StyleLike) -> MaskStyle:
    """Alias of :func:`get_mask` for code that takes a name or an instance."""
    return get_mask(style)


for _cls in BUILTIN_STYLES:
    registry.register(_cls.name, _cls, source="built-in")
del _cls
