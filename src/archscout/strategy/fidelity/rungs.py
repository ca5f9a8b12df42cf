"""Multi-fidelity schedulers: successive halving, Hyperband, ASHA, BOHB and MO-ASHA spend little on most candidates.

All of them climb one ladder of *rungs*: budgets r_k = max · eta^-(K-k) for k = 0..K, with K =
floor(log_eta(max / min)), in the unit of the study's own fidelity (``{"steps": 1000}``: steps, whole
numbers; ``{"epochs": 5}``: epochs). The top rung is the study's own fidelity exactly, so top-rung trials
are ranked as the study's. A proposal is a :class:`Proposal` with its rung's fidelity, the trial it
continues (``parent``: the same architecture one rung below; the evaluator resumes from its checkpoint)
and ``details`` ``{"rung": k, "bracket": b}``.

Every told result is filed in the rung of its fidelity (None: the top rung), whoever proposed it; other
fidelities are ignored. A result without a score (failed, infeasible, stopped early) is never promoted;
where a rung's results are counted (ASHA's n, BOHB's model), it counts as the worst of its rung. After a
resume, proposals that never got a result are taken as lost: nothing waits for them.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ...checks import positive_number
from ...errors import ArchscoutError
from ...space import Architecture, Space
from .._base import Proposal, Result, Strategy
from .._nsga2 import check_options, fresh_sample, objective_vector

DEFAULT_RUNGS = 3  # the default min_fidelity is max_fidelity / eta^3: four rungs
LADDER_TOLERANCE = 0.005  # in powers of eta: how close min_fidelity must be to a rung to count as that rung
RESAMPLE_TRIES = 100  # samples drawn for a new candidate not seen before; then a seen one is allowed
WAIT, DONE = "wait", "done"  # what a synchronous bracket does when it has nothing to propose


def rung_ladder(strategy: str, fidelity: dict | None, eta: int, min_fidelity: float | None,
                max_fidelity: float | None, fidelity_key: str | None,
                default_rungs: int = DEFAULT_RUNGS) -> tuple[str, list]:
    """The fidelity key and the budgets of the rungs, lowest first; the last is the study's own fidelity (or
    ``max_fidelity`` for an evaluator without one, in ``fidelity_key`` units, steps by default)."""
    if fidelity is not None:
        if not isinstance(fidelity, dict) or len(fidelity) != 1:
            raise ArchscoutError(f"{strategy}: the study's fidelity must have one key, such as {{'steps': 1000}}, "
                                 f"got {fidelity!r}")
        ((key, top),) = fidelity.items()
        positive_option(strategy, f"the study's fidelity {key}", top)
        if fidelity_key is not None and fidelity_key != key:
            raise ArchscoutError(f"{strategy}: fidelity_key {fidelity_key!r} is not the study's fidelity, {key!r}; "
                                 f"leave it out")
        if max_fidelity is not None and max_fidelity != top:
            raise ArchscoutError(f"{strategy}: max_fidelity {max_fidelity!r} is not the study's own fidelity "
                                 f"({key} {top}), which is the top rung; leave it out")
    else:
        key = "steps" if fidelity_key is None else fidelity_key
        if not isinstance(key, str) or not key:
            raise ArchscoutError(f"{strategy}: fidelity_key must be the name of a fidelity, such as 'steps', "
                                 f"got {fidelity_key!r}")
        if max_fidelity is None:
            raise ArchscoutError(f"{strategy}: the study's evaluator has no fidelity of its own, so the top rung "
                                 f"needs max_fidelity, its budget in {key} (e.g. --strategy-option "
                                 f"max_fidelity=1000; fidelity_key names another unit)")
        top = positive_option(strategy, "max_fidelity", max_fidelity)
    whole = key == "steps"
    if whole and top != int(top):
        raise ArchscoutError(f"{strategy}: the top rung's {key} must be a whole number, got {top!r}")
    if min_fidelity is None:
        low = max(top / eta ** default_rungs, 1) if whole else top / eta ** default_rungs
    else:
        low = positive_option(strategy, "min_fidelity", min_fidelity)
        if low > top:
            raise ArchscoutError(f"{strategy}: min_fidelity {low!r} is above the top rung's {key} ({top})")
        if whole and low < 1:
            raise ArchscoutError(f"{strategy}: min_fidelity must be at least 1 step, got {low!r}")
    # a min_fidelity within 0.5 % of a rung of the ladder is that rung (166.67 of 1500 is top / 9, not above it)
    K = int(math.floor(math.log(top / low) / math.log(eta) + LADDER_TOLERANCE))
    lower = [top * float(eta) ** (k - K) for k in range(K)]
    # from r_0 >= 1 step up, rounding keeps the rungs apart (each is at least twice the one below)
    return key, [max(1, round(r)) if whole else float(f"{r:.6g}") for r in lower] + [top]


def positive_option(strategy: str, option: str, value: Any) -> float:
    return positive_number(value, f"{strategy}: {option}")


@dataclass
class Entry:
    """One result at a rung: its objective values (None: no score), its trial number and status."""

    values: tuple[float, ...] | None
    trial: int | None
    status: str


class Scheduler(Strategy):
    """The rungs, the results filed in them and the proposals still waiting for one (shared by all schedulers)."""

    schedules_fidelity = True
    default_rungs = DEFAULT_RUNGS  # the default lowest rung is the top's / eta^default_rungs

    def __init__(self, space: Space, seed: int = 0, fidelity: dict | None = None, eta: int = 3,
                 min_fidelity: float | None = None, max_fidelity: float | None = None,
                 fidelity_key: str | None = None):
        super().__init__(space, seed)
        check_options(self.name, eta=(eta, 2))
        self.eta = eta
        self.fidelity_key, self.rungs = rung_ladder(self.name, fidelity, eta, min_fidelity, max_fidelity,
                                                    fidelity_key, self.default_rungs)
        self.top = len(self.rungs) - 1
        self._results: list[dict[Architecture, Entry]] = [{} for _ in self.rungs]
        self._ranked: dict[int, list[Architecture]] = {}  # each rung's scored architectures, best first
        self._log: list[tuple[Architecture, int, int | None]] = []  # (arch, rung, parent) as first told
        self._told: set[Architecture] = set()
        self._archs: set[Architecture] = set()  # told, or proposed since the last resume: not new any more
        self._pending: set[tuple[Architecture, int]] = set()  # proposed, no result yet
        self._proposed: set[tuple[Architecture, int]] = set()  # since the last resume
        self._objectives: int | None = None

    # -- results ------------------------------------------------------------------------------------------------
    def rung_of(self, fidelity: dict | None) -> int | None:
        """The rung a result's fidelity belongs to (None: the study's own, the top rung), or None if none."""
        if fidelity is None:
            return self.top
        value = fidelity.get(self.fidelity_key) if isinstance(fidelity, dict) and len(fidelity) == 1 else None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return None
        return next((k for k, r in enumerate(self.rungs) if math.isclose(value, r, rel_tol=1e-6)), None)

    def tell(self, arch: Architecture, score: float | tuple | None) -> None:
        self.tell_result(Result(arch, score, status="complete" if score is not None else "failed"))

    def tell_result(self, result: Result) -> None:
        arch = result.arch
        self._told.add(arch)
        self._archs.add(arch)
        k = self.rung_of(result.fidelity)
        if k is None:
            return
        self._pending.discard((arch, k))
        known = self._results[k].get(arch)
        if known is not None:  # told again (the study answers a repeat from its records): counted once
            if known.trial is None:
                known.trial = result.trial
            return
        values = self._values(result.score) if result.status == "complete" else None
        self._results[k][arch] = Entry(values, result.trial, result.status)
        self._log.append((arch, k, result.parent))
        self._ranked.pop(k, None)

    def _values(self, score: float | tuple | None) -> tuple[float, ...] | None:
        values = objective_vector(score)
        if values is None:
            return None
        if not self.multi_objective and len(values) != 1:
            raise ArchscoutError(f"{self.name} optimises one objective, but was told a score with {len(values)} "
                                 f"values; for several objectives use mo-asha")
        if self._objectives is None:
            self._objectives = len(values)
        elif len(values) != self._objectives:
            raise ArchscoutError(f"{self.name}: a score with {len(values)} objective value(s) after scores with "
                                 f"{self._objectives}")
        return values

    def ranking(self, k: int) -> list[Architecture]:
        """The architectures with a score at rung ``k``, best first (ties: the first told first)."""
        if k not in self._ranked:
            scored = [(a, e.values) for a, e in self._results[k].items() if e.values is not None]
            self._ranked[k] = self._order(scored) if scored else []
        return self._ranked[k]

    def _order(self, scored: list[tuple[Architecture, tuple[float, ...]]]) -> list[Architecture]:
        return [a for a, _ in sorted(scored, key=lambda item: -item[1][0])]

    # -- proposals ----------------------------------------------------------------------------------------------
    def _propose(self, arch: Architecture, k: int, parent: int | None, bracket: int, **details) -> Proposal:
        self._pending.add((arch, k))
        self._proposed.add((arch, k))
        self._archs.add(arch)
        return Proposal(arch, {self.fidelity_key: self.rungs[k]}, parent,
                        {"rung": k, "bracket": bracket, **details})

    def _promote(self, arch: Architecture, k: int, bracket: int) -> Proposal:
        return self._propose(arch, k, self._results[k - 1][arch].trial, bracket)

    def _new(self, k: int, bracket: int) -> Proposal:
        arch, details = self._sample()
        return self._propose(arch, k, None, bracket, **details)

    def _sample(self) -> tuple[Architecture, dict]:
        """A new candidate (one not told or proposed, if one turns up) and what to store about how it was picked."""
        return fresh_sample(self.space, self.rng, self._archs.__contains__, RESAMPLE_TRIES), {}

    def discard(self, arch: Architecture) -> None:
        for k in range(len(self.rungs)):
            self._pending.discard((arch, k))

    def resume(self, told: int) -> None:
        super().resume(told)
        self._pending.clear()  # proposals of the process that stopped: lost, not waited for
        self._proposed.clear()
        self._archs = set(self._told)
