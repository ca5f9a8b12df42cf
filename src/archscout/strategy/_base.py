"""The ask/tell interface every search strategy implements (no torch: encodings and numbers only)."""
from __future__ import annotations

import random

from ..space import Architecture, Space


class Strategy:
    """Proposes architectures (``ask``) and learns from their scores (``tell``).

    ``score`` is "higher is better" (the study negates minimised objectives); ``None``
    means the candidate failed or broke a constraint. A strategy's state is rebuilt on
    resume by telling it the stored history in trial order.
    """

    name = "strategy"

    def __init__(self, space: Space, seed: int = 0):
        self.space = space
        self.rng = random.Random(seed)

    def ask(self) -> Architecture:
        raise NotImplementedError

    def tell(self, arch: Architecture, score: float | None) -> None:
        """Default: nothing to learn."""
