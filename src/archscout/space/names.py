"""The registry of built-in spaces by name (a factory each, called once and cached): below the Space class,
so that an architecture read from JSON finds its space by name."""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ..registry import Registry

if TYPE_CHECKING:
    from ._space import Space

SPACES: Registry[Callable[[], Space]] = Registry("space")

_CACHE: dict[str, Space] = {}


def list_spaces(pattern: str | None = None) -> list[str]:
    return SPACES.names(pattern)


def find_space(name: str) -> Space | None:
    if name not in SPACES:
        return None
    key = SPACES.canonical(name)
    if key not in _CACHE:
        _CACHE[key] = SPACES.get(key)()
    return _CACHE[key]
