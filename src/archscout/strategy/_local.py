"""Local search over one-step neighbourhoods: White et al.'s best-improvement search, and first-improvement hill climbing."""
from __future__ import annotations

from ..space import Architecture, Space
from ._base import Strategy
from ._nsga2 import check_options, fresh_sample


class LocalSearch(Strategy):
    """Local search as in White, Nolen & Savani, "Exploring the loss landscape in NAS" (UAI 2021).

    Checked against the authors' code (naszilla's ``local_search`` with the whole neighbourhood
    queried) and NASLib's ``ls``.

    A run evaluates ``num_init`` (10) random architectures and starts from the best. Each step
    evaluates the centre's whole neighbourhood (:meth:`Space.neighbors`: one decision changed,
    one stage added or removed), every neighbour not evaluated yet, in random order, and then
    moves to the best neighbour if it scores better than the centre. When none does, the centre
    is a local optimum and a new run starts with ``num_init`` fresh random architectures, as
    the reference code restarts (NASLib restarts from a single random architecture).

    Where this differs: the best neighbour is chosen among all neighbours with a known score,
    those evaluated before the step too (the reference compares only the ones it evaluated in
    the step); and it works with proposals asked ahead of their results (parallel workers):
    while the neighbours asked are still running, further asks get random samples, which do
    not move the search; the step is taken once every neighbour's result is in (or it was
    discarded). Until ``num_init`` results of a run are in, every ask gets a random sample, and
    all of them count as that run's initial architectures. Failed results never become centres.
    """

    name = "local_search"

    def __init__(self, space: Space, seed: int = 0, num_init: int = 10):
        super().__init__(space, seed)
        check_options("local_search", num_init=(num_init, 1))
        self.num_init = num_init
        self.results: dict[Architecture, float | None] = {}
        self.asked: set[Architecture] = set()
        self.initial: list[Architecture] = []  # results of the current run's random start
        self.centre: Architecture | None = None
        self.queue: list[Architecture] = []  # neighbours of the centre still to propose
        self.waiting: set[Architecture] = set()  # neighbours of the centre proposed, results not in yet

    def _seen(self, arch: Architecture) -> bool:
        return arch in self.results or arch in self.asked

    def ask(self) -> Architecture:
        while True:
            if self.centre is None:
                if len(self.initial) >= self.num_init and not self._start():
                    continue
                if self.centre is None:
                    return self._propose(fresh_sample(self.space, self.rng, self._seen))
            while self.queue:
                arch = self.queue.pop()
                if not self._seen(arch):
                    self.waiting.add(arch)
                    return self._propose(arch)
            if self.waiting:  # the step needs the whole neighbourhood: meanwhile, a random sample
                return self._propose(fresh_sample(self.space, self.rng, self._seen))
            self._step()

    def _propose(self, arch: Architecture) -> Architecture:
        self.asked.add(arch)
        return arch

    def _start(self) -> bool:
        """Start climbing from the best initial result; False when none succeeded (a new random start)."""
        scored = [a for a in self.initial if self.results.get(a) is not None]
        self.initial = []
        if not scored:
            return False
        self._move(max(scored, key=lambda a: self.results[a]))  # type: ignore[arg-type, return-value]
        return True

    def _move(self, centre: Architecture) -> None:
        self.centre = centre
        neighbours = self.space.neighbors(centre)
        self.rng.shuffle(neighbours)
        self.queue = [a for a in neighbours if a not in self.results and a not in self.asked]
        self.waiting = {a for a in neighbours if a in self.asked}  # proposed before, as something else

    def _step(self) -> None:
        """Every neighbour's result is in: move to the best one if it improves, else restart."""
        assert self.centre is not None
        here = self.results[self.centre]
        scored = [a for a in self.space.neighbors(self.centre) if self.results.get(a) is not None]
        best = max(scored, key=lambda a: self.results[a], default=None)  # type: ignore[arg-type, return-value]
        if best is not None and here is not None and self.results[best] > here:  # type: ignore[operator]
            self._move(best)
        else:
            self.centre, self.queue, self.waiting = None, [], set()

    # single-objective: told a float or None, never the tuple the base class allows
    def tell(self, arch: Architecture, score: float | None) -> None:  # type: ignore[override]
        first = arch not in self.results
        self.results[arch] = score
        self.asked.discard(arch)
        self.waiting.discard(arch)
        if self.centre is None and first:
            self.initial.append(arch)

    def discard(self, arch: Architecture) -> None:
        self.asked.discard(arch)
        self.waiting.discard(arch)


class HillClimbing(Strategy):
    """First-improvement hill climbing from a random start.

    Starts from a random architecture and proposes its unseen neighbours (one decision
    changed, or one stage added or removed) in random order; the first neighbour that scores
    better becomes the new centre at once, before the rest of the neighbourhood is evaluated.
    When a centre has no unseen neighbour left it is a local optimum, and the search restarts
    from a new random sample.

    How it differs from ``local_search`` (White et al. 2021): one random start instead of the
    best of ten, and the first improving neighbour instead of the best of the whole
    neighbourhood. It takes fewer evaluations per step and follows noisier paths.

    Proposals asked ahead of their results (parallel workers) never restart the climb: when
    every neighbour has been asked but some results are still out, further asks get random
    samples, and only a neighbour of the centre (or, after a restart, the first result) can
    become the centre.
    """

    name = "hill_climb"

    def __init__(self, space: Space, seed: int = 0):
        super().__init__(space, seed)
        self.current: Architecture | None = None
        self.current_score = float("-inf")
        self.queue: list[Architecture] = []
        self.neighbourhood: set[Architecture] = set()
        self.pending: set[Architecture] = set()  # neighbours asked, results not in yet
        self.seen: set[Architecture] = set()  # told or asked

    def ask(self) -> Architecture:
        while self.queue:
            candidate = self.queue.pop()
            if candidate not in self.seen:
                self.pending.add(candidate)
                self.seen.add(candidate)
                return candidate
        if not self.pending:  # local optimum: restart
            self.current, self.current_score, self.neighbourhood = None, float("-inf"), set()
        arch = self.space.sample(self.rng)
        self.seen.add(arch)
        return arch

    # single-objective: told a float or None, never the tuple the base class allows
    def tell(self, arch: Architecture, score: float | None) -> None:  # type: ignore[override]
        self.seen.add(arch)
        self.pending.discard(arch)
        if score is None:
            return
        if self.current is None or (arch in self.neighbourhood and score > self.current_score):
            self.current, self.current_score = arch, score
            neighbours = self.space.neighbors(arch)
            self.neighbourhood = set(neighbours)
            self.queue = [n for n in neighbours if n not in self.seen]
            self.rng.shuffle(self.queue)
            self.pending = set()

    def discard(self, arch: Architecture) -> None:
        self.pending.discard(arch)
