"""The ask/tell interface every search strategy implements (no torch: encodings and numbers only)."""
from __future__ import annotations

import random
from dataclasses import dataclass, field

from ..space import Architecture, Space


@dataclass(frozen=True)
class Proposal:
    """What ``ask()`` may return instead of a bare Architecture: the architecture, the fidelity to evaluate
    it at (``{"steps": 200}``, ``{"epochs": 3}``, any budget the study's evaluator understands; None: the
    study's own), the number of a parent trial it continues or promotes (None: a new candidate), and
    ``details`` stored with its trial (how it was picked)."""

    arch: Architecture
    fidelity: dict | None = None
    parent: int | None = None
    details: dict | None = field(default=None, compare=False)

    @staticmethod
    def of(proposal: Proposal | Architecture) -> Proposal:
        return proposal if isinstance(proposal, Proposal) else Proposal(proposal)


@dataclass(frozen=True)
class Result:
    """What a strategy is told of one evaluated proposal: ``score`` ("higher is better", a tuple with several
    objectives, None when it failed or broke a constraint), the stored ``metrics``, the ``fidelity`` it ran
    at (None: the study's own), its trial ``number`` and ``status``, and the ``parent`` it continued."""

    arch: Architecture
    score: float | tuple | None
    metrics: dict = field(default_factory=dict)
    fidelity: dict | None = None
    trial: int | None = None
    status: str = "complete"
    parent: int | None = None


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
    schedules_fidelity = False  # True: proposes fidelities and promotions itself (a multi-fidelity scheduler)
    oneshot = False  # True: trains weights itself and records what it derives (run_oneshot), no ask / tell

    def __init__(self, space: Space, seed: int = 0):
        self.space = space
        self.seed = seed
        self.rng = random.Random(seed)

    def resume(self, told: int) -> None:
        """Called after the stored history (``told`` results) was replayed into a fresh strategy."""
        self.rng = random.Random(f"{self.seed}/{told}")

    def run_oneshot(self, study, progress=None) -> list:
        """A one-shot method's whole search on ``study`` (see :mod:`archscout.oneshot.differentiable.strategies`)."""
        raise NotImplementedError(f"{self.name} asks and is told; it has no one-shot run")

    def ask(self) -> Architecture | Proposal | None:
        """The next candidate: an Architecture (evaluated at the study's fidelity) or a :class:`Proposal`; None
        when the strategy must wait for results of trials still running (a synchronous scheduler whose rung is
        not complete): the search then waits for a result and asks again."""
        raise NotImplementedError

    def discard(self, arch: Architecture) -> None:
        """A proposal that will not be evaluated (a guide ranked another above it). Default: nothing to undo;
        a strategy that keeps state per proposal (a pending trial) drops it here."""

    def tell(self, arch: Architecture, score: float | tuple | None) -> None:
        """Default: nothing to learn."""

    def tell_result(self, result: Result) -> None:
        """What the search calls with every finished trial, in the order they finished (resumes replay the
        stored trials in trial order). The default hands the score to :meth:`tell`, so a strategy that reads
        only the score implements ``tell``; one that needs the metrics, the fidelity or the parent (a
        multi-fidelity bracket, a guide) overrides this."""
        self.tell(result.arch, result.score)
