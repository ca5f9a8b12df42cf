"""Registry: the one way archscout names its pluggable parts (spaces, tasks, strategies, evaluators, ...).

A registry maps a canonical name (and any aliases) to an object, usually a class or a
factory. Built-ins register exactly as a user's code does::

    from archscout.strategy import STRATEGIES, Strategy

    @STRATEGIES.register("my-search", aliases=("mine",))
    class MySearch(Strategy):
        "Proposes ... (the first docstring line is what ``describe`` shows)."

An unknown name is answered with the close matches and the valid names
(:class:`~archscout.errors.ArchscoutError`), so a typo on the command line is one clear message.
"""
from __future__ import annotations

import fnmatch
import inspect
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar, overload

from ..errors import ArchscoutError, unknown_name

T = TypeVar("T")


class Registry(Generic[T]):
    """Named objects of one kind (``kind`` is what error messages call them: "space", "strategy", ...)."""

    def __init__(self, kind: str, on_register: Callable[[str, T], None] | None = None):
        self.kind = kind
        self.on_register = on_register  # called with (name, object) before a registration is kept; may refuse it
        self._items: dict[str, T] = {}
        self._aliases: dict[str, str] = {}

    @overload
    def register(self, name: str, obj: None = None, *, aliases: tuple[str, ...] | list[str] = (),
                 replace: bool = False) -> Callable[[T], T]: ...

    @overload
    def register(self, name: str, obj: T, *, aliases: tuple[str, ...] | list[str] = (),
                 replace: bool = False) -> T: ...

    def register(self, name: str, obj: T | None = None, *, aliases: tuple[str, ...] | list[str] = (),
                 replace: bool = False) -> Callable[[T], T] | T:
        """Register ``obj`` under ``name`` (and ``aliases``); used bare as a decorator when ``obj`` is left
        out. A name already taken is refused unless ``replace`` (a user's class that shadows a built-in must
        say so)."""
        if not isinstance(name, str) or not name:
            raise ArchscoutError(f"a {self.kind} is registered under a non-empty string, got {name!r}")

        def add(item: T) -> T:
            for key in (name, *aliases):
                taken = key in self._items or key in self._aliases
                if taken and not replace and self._resolve(key) is not None and self.get(key) is not item:
                    raise ArchscoutError(f"a {self.kind} named {key!r} is registered already; pass replace=True "
                                         f"to replace it")
            if self.on_register is not None:
                self.on_register(name, item)
            self._items[name] = item
            self._aliases.pop(name, None)
            for alias in aliases:
                self._aliases[alias] = name
            return item

        return add if obj is None else add(obj)

    def unregister(self, name: str) -> None:
        """Remove a name and its aliases (tests and notebooks that register throwaway parts)."""
        key = self._resolve(name)
        if key is None:
            raise unknown_name(self.kind, name, self._items)
        del self._items[key]
        for alias in [a for a, k in self._aliases.items() if k == key]:
            del self._aliases[alias]

    def _resolve(self, name: str) -> str | None:
        if name in self._items:
            return name
        return self._aliases.get(name)

    def canonical(self, name: str) -> str:
        """The registered name behind ``name`` (itself or an alias); unknown names list the close matches."""
        key = self._resolve(name) if isinstance(name, str) else None
        if key is None:
            raise unknown_name(self.kind, str(name), self._items)
        return key

    def get(self, name: str) -> T:
        """The object registered under ``name`` or an alias of it."""
        return self._items[self.canonical(name)]

    def names(self, pattern: str | None = None, *, sort: bool = True) -> list[str]:
        """Registered names (aliases left out), sorted (or in registration order); ``pattern`` is a
        shell-style filter (``"gnn*"``)."""
        names = sorted(self._items) if sort else list(self._items)
        return names if pattern is None else [n for n in names if fnmatch.fnmatchcase(n, pattern)]

    def aliases(self, name: str) -> list[str]:
        key = self.canonical(name)
        return sorted(a for a, k in self._aliases.items() if k == key)

    def describe(self, name: str) -> str:
        """The first line of the registered object's docstring (empty when it has none)."""
        lines = (inspect.getdoc(self.get(name)) or "").splitlines()
        return lines[0] if lines else ""

    def items(self) -> list[tuple[str, T]]:
        return [(n, self._items[n]) for n in self.names()]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._resolve(name) is not None

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}: {', '.join(self.names())})"
