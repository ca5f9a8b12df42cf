"""The ask/tell interface every search strategy implements (no torch: encodings and numbers only)."""
from __future__ import annotations

import random

from ..space import Architecture, Space


class Strategy:
    """Proposes architectures (``ask``) and learns from their scores (``tell``).

    ``score`` is "higher is better" (the study negates minimised objectives); ``None``
    means the candidate failed or broke a constraint. In a study with several objectives
    the score is a tuple with one such value per objective, in the study's order; only
    strategies with ``multi_objective = True`` are used there (they also accept a plain
    float, as a one-objective tuple). A strategy's state is rebuilt on
    resume by telling it the stored history in trial order and then calling
    ``resume(n)``, which reseeds its random numbers from the seed and the length of that
    history: the same stored history always gives the same next proposals.
    """

    name = "strategy"
    multi_objective = False  # True: can be told a tuple of objective values

    def __init__(self, space: Space, seed: int = 0):
        self.space = space
        self.seed = seed
        self.rng = random.Random(seed)

    def resume(self, told: int) -> None:
        """Called after the stored history (``told`` results) was replayed into a fresh strategy."""
        self.rng = random.Random(f"{self.seed}/{told}")

    def ask(self) -> Architecture:
        raise NotImplementedError

    def discard(self, arch: Architecture) -> None:
        """A proposal that will not be evaluated (a guide ranked another above it). Default: nothing to undo;
        a strategy that keeps state per proposal (a pending trial) drops it here."""

    def tell(self, arch: Architecture, score: float | tuple | None) -> None:
        """Default: nothing to learn."""
