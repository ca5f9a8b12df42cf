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
import random
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..checks import number_in_range, positive_number
from ..errors import ArchscoutError
from ..space import Architecture, Space
from ._base import Proposal, Result, Strategy
from ._kde import DecisionVector, KernelDensity
from ._nsga2 import check_options, check_probability, environmental_selection, fresh_sample, objective_vector

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
        _positive(strategy, f"the study's fidelity {key}", top)
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
        top = _positive(strategy, "max_fidelity", max_fidelity)
    whole = key == "steps"
    if whole and top != int(top):
        raise ArchscoutError(f"{strategy}: the top rung's {key} must be a whole number, got {top!r}")
    if min_fidelity is None:
        low = max(top / eta ** default_rungs, 1) if whole else top / eta ** default_rungs
    else:
        low = _positive(strategy, "min_fidelity", min_fidelity)
        if low > top:
            raise ArchscoutError(f"{strategy}: min_fidelity {low!r} is above the top rung's {key} ({top})")
        if whole and low < 1:
            raise ArchscoutError(f"{strategy}: min_fidelity must be at least 1 step, got {low!r}")
    # a min_fidelity within 0.5 % of a rung of the ladder is that rung (166.67 of 1500 is top / 9, not above it)
    K = int(math.floor(math.log(top / low) / math.log(eta) + LADDER_TOLERANCE))
    lower = [top * float(eta) ** (k - K) for k in range(K)]
    # from r_0 >= 1 step up, rounding keeps the rungs apart (each is at least twice the one below)
    return key, [max(1, round(r)) if whole else float(f"{r:.6g}") for r in lower] + [top]


def _positive(strategy: str, option: str, value: Any) -> float:
    return positive_number(value, f"{strategy}: {option}")


@dataclass
class _Entry:
    """One result at a rung: its objective values (None: no score), its trial number and status."""

    values: tuple[float, ...] | None
    trial: int | None
    status: str


class _Scheduler(Strategy):
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
        self._results: list[dict[Architecture, _Entry]] = [{} for _ in self.rungs]
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
        self._results[k][arch] = _Entry(values, result.trial, result.status)
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


class ASHA(_Scheduler):
    """Asynchronous successive halving (ASHA): promote a candidate once it is in the top 1/eta of its rung, never wait.

    Li et al., "A System for Massively Parallel Hyperparameter Tuning", MLSys 2020 (Algorithm 2).

    Each ``ask`` looks at the rungs from the one below the top down and promotes the best architecture that
    is among the top ``floor(n / eta)`` of the ``n`` results of its rung and not yet promoted (told or proposed
    one rung up); when there is none, it proposes a new random architecture at the lowest rung. It never
    returns None, so every free worker gets work.

    Options: ``eta`` (3, a whole number >= 2), ``min_fidelity`` (the lowest rung's budget, in the study's
    fidelity unit; default the top's / eta^3, at least 1 step), ``max_fidelity`` and ``fidelity_key`` (only
    for an evaluator without a fidelity of its own: the top rung's budget and its unit, default ``steps``).

    As in the paper, one bracket (no early-stopping rate s > 0, no Hyperband loop over brackets) and
    random new candidates. Differences: results of every process and every proposer count in the rungs;
    failed, infeasible and early-stopped results count in ``n`` as the worst of their rung; a
    promotion that was discarded (see :meth:`discard`) is not proposed again.
    """

    name = "asha"

    def ask(self) -> Proposal:
        for k in range(self.top - 1, -1, -1):
            quota = len(self._results[k]) // self.eta
            for arch in self.ranking(k)[:quota]:
                if arch not in self._results[k + 1] and (arch, k + 1) not in self._proposed:
                    return self._promote(arch, k + 1, 0)
        return self._new(0, 0)


class MOASHA(ASHA):
    """Multi-objective ASHA: each rung ranked by non-dominated sorting, then crowding distance (NSGA-II's order).

    Schmucker et al., "Multi-objective Asynchronous Successive Halving", arXiv:2106.12639, 2021 (its
    NSGA-II selection).

    A rung's results are ranked as NSGA-II's selection ranks them: by non-domination rank, then, within a
    front, by crowding distance (largest first; ties: the first told first). Promotion then follows ASHA
    (see :class:`ASHA`, same options): the first of the top ``floor(n / eta)`` not yet promoted. Objective
    values known before training (a hardware cost) are simply among the objectives.

    The paper also ranks by an epsilon-net (and by scalarisations, as baselines); only the NSGA-II order is
    here. The score is a tuple with one value per objective, "higher is better" (a plain float is one
    objective).
    """

    name = "mo-asha"
    multi_objective = True

    def _order(self, scored: list[tuple[Architecture, tuple[float, ...]]]) -> list[Architecture]:
        F = -np.array([values for _, values in scored], dtype=float)
        keep, _, _ = environmental_selection(F, len(F))
        return [scored[i][0] for i in keep]


@dataclass
class _Bracket:
    """One run of successive halving: how many architectures each of its rungs runs, and which."""

    number: int
    sizes: dict[int, int]  # rung -> capacity, from the bracket's lowest rung to the top
    members: dict[int, list[Architecture]]

    @property
    def bottom(self) -> int:
        return min(self.sizes)


class _Synchronous(_Scheduler):
    """Brackets of synchronous successive halving: a rung is promoted only once all its results are in."""

    def __init__(self, space: Space, seed: int = 0, fidelity: dict | None = None, eta: int = 3,
                 min_fidelity: float | None = None, max_fidelity: float | None = None,
                 fidelity_key: str | None = None, parallel_brackets: int = 1):
        super().__init__(space, seed, fidelity, eta, min_fidelity, max_fidelity, fidelity_key)
        check_options(self.name, parallel_brackets=(parallel_brackets, 1))
        self.parallel_brackets = parallel_brackets
        self._brackets: list[_Bracket] = []
        self._opened = 0  # brackets started so far: the next one's number

    def layout(self, number: int) -> dict[int, int]:
        """Bracket ``number``'s capacity of each rung, from its lowest rung up."""
        raise NotImplementedError

    def _bracket(self, number: int) -> _Bracket:
        sizes = self.layout(number)
        return _Bracket(number, sizes, {k: [] for k in sizes})

    def ask(self) -> Proposal | None:
        for bracket in list(self._brackets):
            step = self._advance(bracket)
            if isinstance(step, Proposal):
                return step
            if step == DONE:
                self._brackets.remove(bracket)
        while len(self._brackets) < self.parallel_brackets:
            bracket = self._bracket(self._opened)
            self._opened += 1
            self._brackets.append(bracket)
            step = self._advance(bracket)
            if isinstance(step, Proposal):
                return step
        return None  # every open bracket waits for results of trials still running

    def _advance(self, bracket: _Bracket) -> Proposal | str:
        """The bracket's next proposal, WAIT (a rung still has trials running) or DONE (all proposed)."""
        for k, size in bracket.sizes.items():
            members = bracket.members[k]
            if k == bracket.bottom:
                if len(members) < size:
                    proposal = self._new(k, bracket.number)
                    members.append(proposal.arch)
                    return proposal
                continue
            below = bracket.members[k - 1]
            if any((a, k - 1) in self._pending for a in below):
                return WAIT
            inside = set(below)
            ranked = [a for a in self.ranking(k - 1) if a in inside]
            if len(members) < min(size, len(ranked)):
                arch = next((a for a in ranked if a not in members), None)
                if arch is not None:
                    members.append(arch)
                    return self._promote(arch, k, bracket.number)
        return DONE

    def discard(self, arch: Architecture) -> None:
        for bracket in self._brackets:  # a new candidate's place is taken by another; a promotion is lost
            members = bracket.members[bracket.bottom]
            if arch in members and (arch, bracket.bottom) in self._pending:
                members.remove(arch)
        super().discard(arch)

    def resume(self, told: int) -> None:
        super().resume(told)
        self._rebuild()

    def _rebuild(self) -> None:
        """The brackets of the replayed history: new candidates (no parent) fill the brackets' lowest rungs in
        the order told, bracket after bracket, until one is not full; promotions join their parent's bracket.

        With one process this is the brackets as they were; results of other processes join them too. What
        was proposed but never told is missing: a rung waits for nothing, and the bracket proposes again."""
        roots: dict[int, list[Architecture]] = {k: [] for k in range(len(self.rungs))}
        for arch, k, parent in self._log:
            if parent is None:
                roots[k].append(arch)
        taken = dict.fromkeys(roots, 0)
        self._brackets, number = [], 0
        while True:
            bracket = self._bracket(number)
            size, start = bracket.sizes[bracket.bottom], taken[bracket.bottom]
            bracket.members[bracket.bottom] = roots[bracket.bottom][start:start + size]
            if not bracket.members[bracket.bottom]:
                break
            taken[bracket.bottom] += len(bracket.members[bracket.bottom])
            self._brackets.append(bracket)
            number += 1
            if len(bracket.members[bracket.bottom]) < size:
                break
        self._opened = number
        where: dict[int, tuple[_Bracket, int, Architecture]] = {}  # trial -> its bracket, rung, architecture
        for bracket in self._brackets:
            for arch in bracket.members[bracket.bottom]:
                trial = self._results[bracket.bottom][arch].trial
                if trial is not None:
                    where[trial] = (bracket, bracket.bottom, arch)
        for arch, k, parent in self._log:
            place = where.get(parent) if parent is not None else None
            if place is None:
                continue
            bracket, below, same = place
            members = bracket.members.get(k)
            if below == k - 1 and same == arch and members is not None and arch not in members \
                    and len(members) < bracket.sizes[k]:
                members.append(arch)
                trial = self._results[k][arch].trial
                if trial is not None:
                    where[trial] = (bracket, k, arch)


class SuccessiveHalving(_Synchronous):
    """Synchronous successive halving: many candidates trained briefly, the best 1/eta of them eta times longer.

    Jamieson & Talwalkar, "Non-stochastic Best Arm Identification and Hyperparameter Optimization",
    AISTATS 2016, as Hyperband runs it (Li et al., JMLR 2018, its bracket s = K).
    A bracket starts ``eta^K`` new random architectures at the lowest rung; once every one of them has a
    result, the best ``eta^(K-1)`` go on to the next rung, and so on up to the top rung, which runs one.
    Then a new bracket starts. While a rung of the bracket still has trials running, ``ask`` returns None
    (wait for a result, then ask again), unless ``parallel_brackets`` (1) allows more brackets at once: a
    free worker then starts the next bracket instead of waiting, as HpBandSter's master does.

    Options: ``eta`` (3, a whole number >= 2), ``min_fidelity`` (the lowest rung's budget in the study's
    fidelity unit; default the top's / eta^3, at least 1 step), ``max_fidelity`` and ``fidelity_key`` (only
    for an evaluator without a fidelity of its own), ``parallel_brackets``.

    Differences from the papers: a failed, infeasible or early-stopped result is never promoted, so a rung
    above one with failures may run fewer; a bracket counts as done once its top rung is proposed (the next
    starts without waiting for it); after a resume, the brackets are rebuilt from the told results (see
    :meth:`_rebuild`) and trials lost with the stopped process are not waited for.
    """

    name = "successive-halving"

    def layout(self, number: int) -> dict[int, int]:
        return {k: self.eta ** (self.top - k) for k in range(self.top + 1)}


class Hyperband(_Synchronous):
    """Hyperband: successive halving brackets that trade many short trainings against a few long ones.

    Li et al., "Hyperband: A Novel Bandit-Based Approach to Hyperparameter Optimization", JMLR 2018.
    Bracket s (s = K, K-1, ..., 0, then again from K) starts ``ceil((K + 1) / (s + 1) · eta^s)`` new
    random architectures at the budget max · eta^-s (rung K - s) and runs them as synchronous successive
    halving up to the top rung, keeping the best ``floor(n / eta^i)`` at its i-th rung. With eta 3 and
    K 3 the brackets start 27, 12, 6 and 4 architectures. Waiting, ``parallel_brackets`` and the options
    are those of :class:`SuccessiveHalving`.

    Differences from the paper: the brackets cycle without end (the paper runs the loop over s once per
    budget R); failed, infeasible and early-stopped results are never promoted; a bracket counts as done
    once its top rung is proposed; after a resume the brackets are rebuilt from the told results.
    """

    name = "hyperband"

    def layout(self, number: int) -> dict[int, int]:
        K, eta = self.top, self.eta
        s = K - number % (K + 1)
        n = -(-(K + 1) * eta ** s // (s + 1))  # ceil, in whole numbers
        return {K - s + i: n // eta ** i for i in range(s + 1)}


class _DensityModel:
    """BOHB's model of the good against the rest: new candidates drawn where l(x) / g(x) is large (see :class:`BOHB`).

    Mixed into a scheduler (``_results``, ``_archs``, ``rng``, ``space``, ``top`` are the scheduler's); the
    subclass calls :meth:`_init_model` from its ``__init__`` with the options it was given.
    """

    def _init_model(self, space: Space, name: str, min_points_in_model: int | None, top_n_percent: float,
                    num_samples: int, random_fraction: float, bandwidth_factor: float, min_bandwidth: float) -> None:
        self.decisions = DecisionVector(space)
        if min_points_in_model is None:
            min_points_in_model = min(len(self.decisions) + 1, 20)
        check_options(name, min_points_in_model=(min_points_in_model, 2), num_samples=(num_samples, 1))
        number_in_range(top_n_percent, f"{name}: top_n_percent", 0, 100, inclusive="neither")
        self.min_points_in_model, self.top_n_percent, self.num_samples = min_points_in_model, top_n_percent, num_samples
        self.random_fraction = check_probability(name, "random_fraction", random_fraction)
        self.bandwidth_factor = _positive(name, "bandwidth_factor", bandwidth_factor)
        self.min_bandwidth = _positive(name, "min_bandwidth", min_bandwidth)
        if self.min_bandwidth >= 0.5:
            raise ArchscoutError(f"{name}: min_bandwidth must be below 0.5, got {min_bandwidth!r}")
        self._codes: dict[Architecture, np.ndarray | None] = {}
        self._model: tuple[tuple[int, int], int, KernelDensity, KernelDensity] | None = None

    def _sample(self) -> tuple[Architecture, dict]:
        if self.rng.random() >= self.random_fraction:
            model = self._fit()
            if model is not None:
                rung, good, bad = model
                gen = np.random.default_rng(self.rng.randrange(2**32))
                points = good.sample(self.num_samples, self.bandwidth_factor, gen)
                ratio = good.logpdf(points) - bad.logpdf(points)
                for i in np.argsort(-ratio, kind="stable"):
                    arch = self.decisions.decode(points[i])
                    if arch is not None and arch not in self._archs:
                        return arch, {"model_based": True, "model_rung": rung}
        return super()._sample()[0], {"model_based": False}  # type: ignore[misc]

    def _code(self, arch: Architecture) -> np.ndarray | None:
        if arch not in self._codes:
            self._codes[arch] = self.decisions.encode(arch)
        return self._codes[arch]

    def split(self, n: int) -> tuple[int, int]:
        """How many of ``n`` results, best first, go to the good set and how many after them to the bad set, as
        HpBandSter's BOHB config generator: ``n_good = max(N_min, floor(top_n_percent · n / 100))`` the best,
        then the next ``max(N_min, floor((100 - top_n_percent) · n / 100))``, as many as there are: the two never
        share a result (and the worst one can be left out of both when the floors fall short)."""
        n_good = max(self.min_points_in_model, int(self.top_n_percent * n // 100))
        n_bad = max(self.min_points_in_model, int((100 - self.top_n_percent) * n // 100))
        return n_good, max(0, min(n_bad, n - n_good))

    def _fit(self) -> tuple[int, KernelDensity, KernelDensity] | None:
        """The good and bad densities of the highest rung with enough results (refitted when it has new ones):
        enough when both sets hold ``min_points_in_model`` results (see :class:`BOHB`)."""
        for k in range(self.top, -1, -1):
            usable = [(code, e.values) for a, e in self._results[k].items()
                      if e.status != "stopped" and (code := self._code(a)) is not None]
            n_good, n_bad = self.split(len(usable))
            if n_good > len(usable) or n_bad < self.min_points_in_model:
                continue
            if self._model is not None and self._model[0] == (k, len(usable)):
                return self._model[1:]
            usable.sort(key=lambda item: -item[1][0] if item[1] is not None else math.inf)
            codes = np.stack([code for code, _ in usable])
            gen = np.random.default_rng(self.rng.randrange(2**32))
            good = KernelDensity(self.decisions.impute(codes[:n_good], gen), self.decisions, self.min_bandwidth)
            bad = KernelDensity(self.decisions.impute(codes[n_good:n_good + n_bad], gen), self.decisions,
                                self.min_bandwidth)
            self._model = ((k, len(usable)), k, good, bad)
            return self._model[1:]
        return None

    # the scheduler's, typed for the mixin
    _results: list[dict[Architecture, _Entry]]
    _archs: set[Architecture]
    top: int
    rng: random.Random

class BOHB(_DensityModel, Hyperband):
    """BOHB: Hyperband whose new candidates come from a tree-Parzen-style density model instead of at random.

    Falkner et al., "BOHB: Robust and Efficient Hyperparameter Optimization at Scale", ICML 2018.
    The brackets are :class:`Hyperband`'s. A new candidate is random with probability ``random_fraction``
    (1/3), and whenever no rung has enough results; otherwise the model is fitted on the highest rung that has:
    its results, best first (failed and infeasible ones as the worst, as HpBandSter counts them; early-stopped
    ones left out), are split as HpBandSter's config generator splits them, disjointly: the best ``n_good =
    max(min_points_in_model, floor(top_n_percent % · n))`` ("good", l(x)) and the next ``max(min_points_in_model,
    floor((100 - top_n_percent) % · n))`` as far as they go ("bad", g(x)). A rung has enough results when both
    sets hold ``min_points_in_model`` (HpBandSter: more than d each, the same with its default d + 1; at least
    2 · min_points_in_model results). Each is a product-kernel density
    over the architecture's decisions: every choice of the space, with a Repeat unrolled to its longest and
    its length one more decision; a decision that is inactive in an architecture is filled in from another
    architecture of the same set where it is active (HpBandSter's imputation). Unordered choices get an
    Aitchison-Aitken kernel, ordered ones (numbers, lengths) a Gaussian kernel on their index scaled to
    [0, 1]; bandwidths follow the normal reference rule (statsmodels' ``normal_reference``, as HpBandSter),
    at least ``min_bandwidth``. ``num_samples`` (64) points are drawn from l with every bandwidth times
    ``bandwidth_factor`` (3), and the one with the largest l(x) / g(x) becomes the candidate (the next
    best if it is not a valid architecture or one seen before).

    Options: those of :class:`Hyperband`, and ``min_points_in_model`` (default d + 1 for d decisions, at
    most 20), ``top_n_percent`` (15), ``num_samples`` (64), ``random_fraction`` (1/3), ``bandwidth_factor``
    (3), ``min_bandwidth`` (0.001). A proposal's details say whether the model picked it (``model_based``)
    and from which rung's results.

    Differences from the paper and HpBandSter: the default ``min_points_in_model`` is capped at 20 (the
    paper's d + 1 would wait for 96 results at one rung in a space of 47 decisions), and HpBandSter's
    requirement of more good and bad points than decisions is replaced by at least ``min_points_in_model`` in
    each (product kernels need no covariance matrix); an Aitchison-Aitken bandwidth is at most (c - 1) / c (a
    uniform kernel; statsmodels lets it grow past that); the widening applies to unordered choices too
    (the paper widens every bandwidth, HpBandSter only the continuous ones); candidates are snapped to valid
    indices before l / g is computed; new candidates already seen are skipped. The model's rung may have
    results from every process. Otherwise brackets and waiting are as in :class:`Hyperband`.
    """

    name = "bohb"

    def __init__(self, space: Space, seed: int = 0, fidelity: dict | None = None, eta: int = 3,
                 min_fidelity: float | None = None, max_fidelity: float | None = None,
                 fidelity_key: str | None = None, parallel_brackets: int = 1, min_points_in_model: int | None = None,
                 top_n_percent: float = 15, num_samples: int = 64, random_fraction: float = 1 / 3,
                 bandwidth_factor: float = 3, min_bandwidth: float = 1e-3):
        super().__init__(space, seed, fidelity, eta, min_fidelity, max_fidelity, fidelity_key, parallel_brackets)
        self._init_model(space, self.name, min_points_in_model, top_n_percent, num_samples, random_fraction,
                         bandwidth_factor, min_bandwidth)


class ASHAKDE(_DensityModel, ASHA):
    """ASHA whose new candidates come from BOHB's density model: asynchronous promotions, model-based proposals.

    A variant, not a published method under this name: the promotions are :class:`ASHA`'s (never waits, one
    bracket), the new candidates :class:`BOHB`'s (with probability ``random_fraction`` at random, otherwise
    the best l(x) / g(x) of ``num_samples`` draws from the good density of the highest rung with enough results:
    BOHB's disjoint split and its threshold, ``min_points_in_model`` results in each set). Syne Tune's asynchronous BOHB (``searcher="kde"`` with its
    Hyperband scheduler) combines the two the same way; Klein et al.'s A-BOHB ("Model-based Asynchronous
    Hyperparameter and Neural Architecture Search", 2020) does it with a Gaussian process instead.
    Differences from BOHB: no brackets, so every new candidate starts at the lowest rung, and the model's
    rung fills as fast as ASHA promotes. Options: those of :class:`ASHA`, except that ``min_fidelity``
    defaults to the top's / eta^2 (three rungs with eta 3: the setting chosen on digits, docs/benchmarks/multi-fidelity.md),
    and BOHB's model options (``min_points_in_model``, ``top_n_percent``, ``num_samples``,
    ``random_fraction``, ``bandwidth_factor``, ``min_bandwidth``; same defaults).
    """

    name = "asha-kde"
    default_rungs = 2  # its lowest rung defaults to the top's / eta^2: chosen on digits (docs/benchmarks/multi-fidelity.md)

    def __init__(self, space: Space, seed: int = 0, fidelity: dict | None = None, eta: int = 3,
                 min_fidelity: float | None = None, max_fidelity: float | None = None,
                 fidelity_key: str | None = None, min_points_in_model: int | None = None,
                 top_n_percent: float = 15, num_samples: int = 64, random_fraction: float = 1 / 3,
                 bandwidth_factor: float = 3, min_bandwidth: float = 1e-3):
        super().__init__(space, seed, fidelity, eta, min_fidelity, max_fidelity, fidelity_key)
        self._init_model(space, self.name, min_points_in_model, top_n_percent, num_samples, random_fraction,
                         bandwidth_factor, min_bandwidth)
