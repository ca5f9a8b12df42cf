"""Random search: independent uniform samples from the space (the baseline every study should beat)."""
from __future__ import annotations

from ..space import Architecture
from ._base import Strategy


class RandomSearch(Strategy):
    """Sample the space uniformly at random (per decision), ignoring history.

    >>> from archscout.space import conv1d
    >>> s = RandomSearch(conv1d(), seed=0)
    >>> a = s.ask(); s.tell(a, 0.5)
    """

    name = "random"
    multi_objective = True  # it ignores scores, so any number of objectives will do

    def ask(self) -> Architecture:
        return self.space.sample(self.rng)
