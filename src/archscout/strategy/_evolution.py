"""Regularized evolution (Real et al. 2019): tournament selection, mutation, and ageing out the oldest."""
from __future__ import annotations

from collections import deque

from ..checks import int_at_least, int_in_range
from ..space import Architecture, Space
from ._base import Strategy


class RegularizedEvolution(Strategy):
    """Aging evolution.

    The first ``population_size`` proposals are random samples. After that, each proposal
    mutates the best of ``sample_size`` members drawn at random from the population, and
    each told result pushes out the oldest member (not the worst), which regularises
    the search towards architectures that train well again and again.
    """

    name = "evolution"

    def __init__(self, space: Space, seed: int = 0, population_size: int = 20, sample_size: int = 5):
        super().__init__(space, seed)
        int_at_least(population_size, "population_size", 2)
        int_in_range(sample_size, "sample_size (at most population_size)", 1, population_size)
        self.population_size, self.sample_size = population_size, sample_size
        self.population: deque[tuple[Architecture, float]] = deque(maxlen=population_size)
        self.history = 0

    def ask(self) -> Architecture:
        if self.history < self.population_size or not self.population:
            return self.space.sample(self.rng)
        contenders = self.rng.sample(list(self.population), min(self.sample_size, len(self.population)))
        parent = max(contenders, key=lambda member: member[1])[0]
        return self.space.mutate(parent, self.rng)

    # single-objective: told a float or None, never the tuple the base class allows
    def tell(self, arch: Architecture, score: float | None) -> None:  # type: ignore[override]
        self.history += 1
        if score is not None:
            self.population.append((arch, score))
