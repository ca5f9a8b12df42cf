"""The elastic spaces (``conv1d-elastic``, ...): the part of each conv space that a weight-sharing supernet holds,
registered with the built-in spaces as a user's plug-in would register its own."""
from __future__ import annotations

from collections.abc import Callable

from ...space import SPACES, Space
from .elastic import elastic_spec


def _elastic(base: str) -> Callable[[], Space]:
    def make() -> Space:
        return elastic_spec(base).space()
    make.__doc__ = (f"The elastic form of {base} that a weight-sharing supernet holds (depth, width, kernel"
                    + (", INT8 policy" if base.endswith("-quant") else "") + "; the rest fixed)")
    return make


ELASTIC_BASES = ("conv1d", "conv2d", "conv1d-quant", "conv2d-quant")
for _base in ELASTIC_BASES:
    SPACES.register(f"{_base}-elastic", _elastic(_base))
