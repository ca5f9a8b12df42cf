"""Predictor rounds: what LINAS and LINAS-lite share (random samples first, then batches from a surrogate search)."""
from __future__ import annotations

import numpy as np

from ..space import Architecture
from ._base import Strategy
from ._nsga2 import fresh_sample, record


class PredictorRounds(Strategy):
    """Random samples until ``population_size`` results are in (``min_results`` of them successful); then each
    round :meth:`_propose` returns a batch from the feasible results, proposed in order (never one already
    told or proposed) before the next round starts; until then results only accumulate, so proposals never
    wait. Subclasses set ``population_size``, ``encoding`` and ``min_results`` and implement ``_propose``."""

    min_results = 2
    population_size: int
    encoding: str

    def _start_rounds(self) -> None:
        self.results: dict[Architecture, tuple[float, ...] | None] = {}
        self.seen: set[Architecture] = set()  # told or proposed: not proposed again
        self.pending: list[Architecture] = []
        self._codes: dict[Architecture, np.ndarray] = {}

    def ask(self) -> Architecture:
        arch: Architecture | None = None
        while self.pending and arch is None:
            candidate = self.pending.pop(0)
            if candidate not in self.seen:
                arch = candidate
        if arch is None:
            feasible = [a for a, v in self.results.items() if v is not None]
            if len(self.results) >= self.population_size and len(feasible) >= self.min_results:
                self.pending = self._propose(feasible)
                arch = self.pending.pop(0) if self.pending else None
            if arch is None:
                arch = fresh_sample(self.space, self.rng, self.seen.__contains__)
        self.seen.add(arch)
        return arch

    def tell(self, arch: Architecture, score: float | tuple | None) -> None:
        record(self.results, self.seen, arch, score)

    def _propose(self, feasible: list[Architecture]) -> list[Architecture]:
        raise NotImplementedError

    def _code(self, arch: Architecture) -> np.ndarray:
        code = self._codes.get(arch)
        if code is None:
            code = self._codes[arch] = np.asarray(self.space.encode(arch, self.encoding), dtype=np.float64)
        return code
