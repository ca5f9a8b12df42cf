"""Weight-sharing supernets for the conv spaces: an elastic space, the supernet its sub-networks share.

``elastic`` (the elastic space) imports no torch; the supernet itself (``SuperNet``, ``recalibrate``) is
imported when first asked for.
"""
from __future__ import annotations

from typing import Any

from .elastic import ElasticSpec, elastic_spec

__all__ = ["ElasticSpec", "SuperNet", "elastic_spec", "recalibrate"]


def __getattr__(name: str) -> Any:
    if name in ("SuperNet", "recalibrate"):
        from . import net
        return getattr(net, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
