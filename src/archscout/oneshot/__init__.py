"""Methods that train weights themselves and record what they derive as trials (DESIGN.md: ``oneshot/``).

:mod:`archscout.oneshot.supernet`: weight-sharing conv supernets (elastic depth, width and kernel) and the
``supernet:FILE`` evaluator; :mod:`archscout.oneshot.differentiable`: DARTS-family search over cells and
lpgnas-lite over gnn operators and bit widths. Both plug in as a user's code would: importing them registers
their evaluator, spaces and strategies with the registries below them (``import archscout`` imports them).
"""
from . import differentiable, supernet

__all__ = ["differentiable", "supernet"]
