"""NSGA-II (Deb et al. 2002): non-dominated sorting and crowding distance evolve a Pareto front of architectures."""
from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from typing import cast

import numpy as np

from ..checks import fraction, int_at_least
from ..errors import ArchscoutError
from ..pareto import crowding_distance, pareto_ranks
from ..space import Architecture, Space
from ._base import Strategy


def objective_vector(score: float | Sequence[float] | None) -> tuple[float, ...] | None:
    """A told score as a tuple of "higher is better" values; None (or any non-finite value) means failed."""
    if score is None:
        return None
    values = ((float(cast(float, score)),) if np.ndim(score) == 0  # np.ndim tells a number from a sequence
              else tuple(float(v) for v in cast(Sequence[float], score)))
    # a NaN cannot be ordered against anything: such a trial is as good as failed
    return values if values and all(math.isfinite(v) for v in values) else None


def check_objective_count(results: dict, objectives: tuple[float, ...]) -> None:
    """Every result of a study has one value per objective; mixing counts is a caller's error."""
    first = next((v for v in results.values() if v is not None), objectives)
    if len(first) != len(objectives):
        raise ArchscoutError(f"a score with {len(objectives)} objective value(s) after scores with {len(first)}")

def record(results: dict, seen: set, arch: Architecture, score) -> bool:
    """Keep a told result in ``results`` (None: failed) and mark the architecture seen; a repeat answered
    from the study's records is counted once. True when the result was new."""
    seen.add(arch)
    if arch in results:
        return False
    objectives = objective_vector(score)
    if objectives is not None:
        check_objective_count(results, objectives)
    results[arch] = objectives
    return True


def environmental_selection(F, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """NSGA-II's survivors of the rows of ``F`` (minimisation form): indices, their ranks and crowding distances.

    Whole fronts are kept in rank order; the front that does not fit is cut by crowding
    distance, largest first, so that the kept part spreads along the front. Ties keep the
    earlier row.
    """
    F = np.asarray(F, dtype=float)
    ranks = pareto_ranks(F)
    crowding = np.zeros(len(F))
    for rank in np.unique(ranks):
        members = np.flatnonzero(ranks == rank)
        crowding[members] = crowding_distance(F[members])
    keep = np.lexsort((-crowding, ranks))[:size]
    return keep, ranks[keep], crowding[keep]


def binary_tournament(ranks: np.ndarray, crowding: np.ndarray, rng: random.Random) -> int:
    """The better of two members drawn at random: lower rank, then larger crowding distance."""
    i, j = rng.randrange(len(ranks)), rng.randrange(len(ranks))
    if (ranks[j], -crowding[j]) < (ranks[i], -crowding[i]):
        return j
    return i


def make_offspring(space: Space, parents: Sequence[Architecture], ranks: np.ndarray, crowding: np.ndarray,
                   rng: random.Random, crossover_prob: float, avoid: Callable[[Architecture], bool],
                   tries: int = 10) -> Architecture:
    """One child: tournament-picked parents, uniform crossover (with ``crossover_prob``), then one mutation.

    The mutation always follows, so that a child differs from its first parent even when the
    crossover is skipped or returns a parent. Children for which ``avoid`` is true (already
    evaluated, say) are bred again, up to ``tries`` times; after that the last one is returned.
    """
    for _ in range(tries):
        first = parents[binary_tournament(ranks, crowding, rng)]
        child = first
        if len(parents) > 1 and rng.random() < crossover_prob:
            child = space.crossover(first, parents[binary_tournament(ranks, crowding, rng)], rng)
        child = space.mutate(child, rng)
        if not avoid(child):
            break
    return child


def fresh_sample(space: Space, rng: random.Random, avoid: Callable[[Architecture], bool],
                 tries: int = 100, draw: Callable[[Space, random.Random], Architecture] | None = None) -> Architecture:
    """A random architecture for which ``avoid`` is false, if one turns up in ``tries`` samples (``draw(space,
    rng)``; default a uniform ``space.sample(rng)``)."""
    draw = draw or (lambda s, r: s.sample(r))
    arch = draw(space, rng)
    for _ in range(tries - 1):
        if not avoid(arch):
            break
        arch = draw(space, rng)
    return arch

def check_options(strategy: str, **options: tuple[object, int]) -> None:
    """Each option an integer of at least its minimum (``name=(value, minimum)``), or an ArchscoutError."""
    for option, (value, low) in options.items():
        int_at_least(value, f"{strategy}: {option}", low)


def check_probability(strategy: str, option: str, value: object) -> float:
    return float(fraction(value, f"{strategy}: {option}"))


class NSGA2(Strategy):
    """NSGA-II: evolve a population towards the Pareto front of several objectives.

    Until ``population_size`` results are in, proposals are random samples. Then each is a child
    of the parent population: two binary tournaments on (non-domination rank, crowding
    distance), uniform crossover with probability ``crossover_prob`` and one mutation; a child
    that was already proposed or evaluated is bred again (a few tries). Every
    ``population_size`` new results make a generation: the parents and the new results are
    sorted into fronts and the best ``population_size`` by rank, then crowding distance, are
    the next parents. Failed results (None) never become parents.

    Results may arrive in any order, from architectures this strategy never proposed, and
    proposals never wait for a generation to finish: until it does, more children of the
    current parents are proposed.

    The defaults (8 members, crossover 0.5) found the best fronts of the settings tried on
    NAS-Bench-Graph at 100 queries (populations 5 to 30, crossover 0 to 0.9); with larger
    budgets a larger population keeps more diversity.

    >>> from archscout.space import conv1d
    >>> s = NSGA2(conv1d(), seed=0, population_size=10)
    >>> a = s.ask(); s.tell(a, (0.9, -3.5))
    """

    name = "nsga2"
    multi_objective = True

    def __init__(self, space: Space, seed: int = 0, population_size: int = 8, crossover_prob: float = 0.5):
        super().__init__(space, seed)
        check_options("nsga2", population_size=(population_size, 2))
        self.population_size = population_size
        self.crossover_prob = check_probability("nsga2", "crossover_prob", crossover_prob)
        self.results: dict[Architecture, tuple[float, ...] | None] = {}
        self.seen: set[Architecture] = set()  # told or proposed: not worth proposing again
        self.parents: list[Architecture] = []
        self._ranks = np.zeros(0, dtype=int)
        self._crowding = np.zeros(0)
        self._new: list[Architecture] = []  # feasible results since the last generation
        self._since = 0  # results (failed ones too) since the last generation

    def ask(self) -> Architecture:
        if self.parents:
            arch = make_offspring(self.space, self.parents, self._ranks, self._crowding, self.rng,
                                  self.crossover_prob, self.seen.__contains__)
        else:
            arch = fresh_sample(self.space, self.rng, self.seen.__contains__)
        self.seen.add(arch)
        return arch

    def tell(self, arch: Architecture, score: float | tuple | None) -> None:
        if not record(self.results, self.seen, arch, score):
            return
        if self.results[arch] is not None:
            self._new.append(arch)
        self._since += 1
        if self._since >= self.population_size:
            self._next_generation()

    def _next_generation(self) -> None:
        pool = self.parents + self._new
        self._new, self._since = [], 0
        if not pool:
            return
        F = -np.array([self.results[a] for a in pool])
        keep, self._ranks, self._crowding = environmental_selection(F, self.population_size)
        self.parents = [pool[i] for i in keep]

