"""Local search (White et al. 2021): hill-climb over one-step neighbours, restart at random when stuck."""
from __future__ import annotations

from ..space import Architecture
from ._base import Strategy


class LocalSearch(Strategy):
    """First-improvement hill climbing.

    Starts from a random architecture and proposes its unseen neighbours (one decision
    changed, or one stage added or removed) in random order; the first neighbour that
    scores better becomes the new centre. When a centre has no unseen neighbour left it is
    a local optimum, and the search restarts from a new random sample.
    """

    name = "local_search"

    def __init__(self, space, seed: int = 0):
        super().__init__(space, seed)
        self.current: Architecture | None = None
        self.current_score = float("-inf")
        self.queue: list[Architecture] = []
        self.seen: set[Architecture] = set()

    def ask(self) -> Architecture:
        while self.queue:
            candidate = self.queue.pop()
            if candidate not in self.seen:
                return candidate
        self.current, self.current_score = None, float("-inf")  # local optimum: restart
        return self.space.sample(self.rng)

    def tell(self, arch: Architecture, score: float | None) -> None:
        self.seen.add(arch)
        if score is None:
            return
        if self.current is None or score > self.current_score:
            self.current, self.current_score = arch, score
            self.queue = [n for n in self.space.neighbors(arch) if n not in self.seen]
            self.rng.shuffle(self.queue)
