"""One small registry used by mask styles and models.

Entries are registered by name, in code (a decorator or a plain call) or by
third-party packages through an entry-point group. Plugins are discovered
lazily, the first time a registry is read, and only once. A plugin that fails
to load emits a warning; it never breaks ``import fermask``. A plugin whose
name is already taken (by a built-in, by code that registered it first, or by
another plugin read earlier) is skipped with a ``RuntimeWarning`` that names
it: the entry already there wins.
"""

from __future__ import annotations

import fnmatch
import threading
import warnings
from collections.abc import Callable, Iterator
from importlib import metadata
from typing import Any, Generic, TypeVar, overload

from ._choices import did_you_mean
from .errors import InvalidValueError, UnknownNameError

T = TypeVar("T")

__all__ = ["Registry"]


class Registry(Generic[T]):
    """A name → entry mapping with entry-point plugins.

    Args:
        kind: What the entries are, for messages (``"mask style"``).
        group: The entry-point group third parties register in.
        how_to_add: One sentence telling users how to add an entry.
    """

    def __init__(self, kind: str, group: str, how_to_add: str) -> None:
        self.kind = kind
        self.group = group
        self.how_to_add = how_to_add
        self._entries: dict[str, T] = {}
        self._sources: dict[str, str] = {}
        self._plugins_loaded = False
        self._lock = threading.RLock()

    # -- registration -----------------------------------------------------
    @overload
    def register(self, name: str, obj: T, *, overwrite: bool = ..., source: str = ...) -> T: ...

    @overload
    def register(
        self, name: str, obj: None = ..., *, overwrite: bool = ..., source: str = ...
    ) -> Callable[[T], T]: ...

    def register(
        self, name: str, obj: T | None = None, *, overwrite: bool = False, source: str = "code"
    ) -> T | Callable[[T], T]:
        """Register ``obj`` under ``name``; without ``obj``, return a decorator."""
        if not isinstance(name, str) or not name.strip():
            raise InvalidValueError(f"a {self.kind} name must be a non-empty string, got {name!r}")
        key = name.strip().lower()

        def add(o: T) -> T:
            with self._lock:
                if key in self._entries and not overwrite and self._entries[key] is not o:
                    raise InvalidValueError(
                        f"a {self.kind} named {key!r} is already registered "
                        f"(from {self._sources.get(key, 'code')}); pass overwrite=True to replace it"
                    )
                self._entries[key] = o
                self._sources[key] = source
            return o

        if obj is None:
            return add
        return add(obj)

    def unregister(self, name: str) -> None:
        """Remove an entry (mainly for tests)."""
        with self._lock:
            self._entries.pop(name.lower(), None)
            self._sources.pop(name.lower(), None)

    # -- plugins ----------------------------------------------------------
    def _load_plugins(self) -> None:
        if self._plugins_loaded:
            return
        with self._lock:
            if self._plugins_loaded:
                return
            self._plugins_loaded = True
            try:
                eps = metadata.entry_points(group=self.group)
            except Exception as exc:  # pragma: no cover - broken metadata
                warnings.warn(f"fermask: could not list {self.group!r} plugins: {exc}", stacklevel=3)
                return
            for ep in eps:
                key = ep.name.strip().lower()
                if key in self._entries:
                    self._warn_clash(ep, key)
                    continue
                try:
                    obj = ep.load()
                    self.register(ep.name, obj, source=f"plugin {ep.value}")
                except Exception as exc:
                    warnings.warn(
                        f"fermask: the {self.kind} plugin {ep.name!r} ({ep.value}) could not be "
                        f"loaded and is skipped: {type(exc).__name__}: {exc}",
                        RuntimeWarning,
                        stacklevel=3,
                    )

    def _warn_clash(self, ep: metadata.EntryPoint, key: str) -> None:
        """Warn that a plugin is skipped because its name is taken (silent when it is this very entry point)."""
        taken_by = self._sources.get(key, "code")
        if taken_by == f"plugin {ep.value}":
            return  # read again by reload_plugins(): the same plugin, already registered
        dist = getattr(ep, "dist", None)
        dist_name = getattr(dist, "name", None) if dist is not None else None
        origin = f", from the distribution {dist_name!r}" if dist_name else ""
        owners = {
            "built-in": f"fermask's built-in {self.kind}",
            "code": f"a {self.kind} registered in code (by fermask itself, or by a program before the plugins "
            "were read)",
        }
        owner = owners.get(taken_by, f"the {taken_by}")
        warnings.warn(
            f"fermask: the {self.kind} plugin {ep.name!r} (entry point {ep.name} = {ep.value} in the group "
            f"{self.group!r}{origin}) is skipped: the name {key!r} is already taken by {owner}, which is used "
            "instead. Rename the entry point in the plugin's package so that both can be used.",
            RuntimeWarning,
            stacklevel=4,
        )

    def reload_plugins(self) -> None:
        """Discover entry-point plugins again (after installing one at run time)."""
        with self._lock:
            self._plugins_loaded = False
        self._load_plugins()

    # -- lookup -----------------------------------------------------------
    def names(self, pattern: str | None = None) -> list[str]:
        """Sorted names, optionally filtered by a shell-style pattern (``"resnet*"``)."""
        self._load_plugins()
        names = sorted(self._entries)
        if pattern:
            names = [n for n in names if fnmatch.fnmatch(n, pattern.lower())]
        return names

    def get(self, name: str) -> T:
        """The entry registered under ``name``.

        Raises:
            UnknownNameError: No such name; the message suggests close names,
                lists the available ones and says how to add one.
        """
        self._load_plugins()
        key = str(name).strip().lower()
        try:
            return self._entries[key]
        except KeyError:
            pass
        available = sorted(self._entries)
        hint = did_you_mean(key, available, n=3, cutoff=0.5)
        raise UnknownNameError(
            f"unknown {self.kind} {name!r}.{hint} Available: {', '.join(available) or '(none)'}. "
            f"{self.how_to_add}"
        ) from None

    def source(self, name: str) -> str:
        """Where an entry came from (``"code"`` or ``"plugin module:attr"``)."""
        self.get(name)
        return self._sources[str(name).strip().lower()]

    def __contains__(self, name: object) -> bool:
        self._load_plugins()
        return isinstance(name, str) and name.strip().lower() in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.names())

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, group={self.group!r}, entries={self.names()!r})"


def describe(obj: Any) -> str:
    """A short name for an object, for messages."""
    return getattr(obj, "__qualname__", None) or type(obj).__name__
