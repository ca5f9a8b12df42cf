"""The synchronous schedulers: successive halving and Hyperband, rungs filled bracket by bracket (:mod:`.rungs`)."""
from __future__ import annotations

from dataclasses import dataclass

from ...space import Architecture, Space
from .._base import Proposal
from .._nsga2 import check_options
from .rungs import DONE, WAIT, Scheduler


@dataclass
class Bracket:
    """One run of successive halving: how many architectures each of its rungs runs, and which."""

    number: int
    sizes: dict[int, int]  # rung -> capacity, from the bracket's lowest rung to the top
    members: dict[int, list[Architecture]]

    @property
    def bottom(self) -> int:
        return min(self.sizes)


class Synchronous(Scheduler):
    """Brackets of synchronous successive halving: a rung is promoted only once all its results are in."""

    def __init__(self, space: Space, seed: int = 0, fidelity: dict | None = None, eta: int = 3,
                 min_fidelity: float | None = None, max_fidelity: float | None = None,
                 fidelity_key: str | None = None, parallel_brackets: int = 1):
        super().__init__(space, seed, fidelity, eta, min_fidelity, max_fidelity, fidelity_key)
        check_options(self.name, parallel_brackets=(parallel_brackets, 1))
        self.parallel_brackets = parallel_brackets
        self._brackets: list[Bracket] = []
        self._opened = 0  # brackets started so far: the next one's number

    def layout(self, number: int) -> dict[int, int]:
        """Bracket ``number``'s capacity of each rung, from its lowest rung up."""
        raise NotImplementedError

    def _bracket(self, number: int) -> Bracket:
        sizes = self.layout(number)
        return Bracket(number, sizes, {k: [] for k in sizes})

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

    def _advance(self, bracket: Bracket) -> Proposal | str:
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
        where: dict[int, tuple[Bracket, int, Architecture]] = {}  # trial -> its bracket, rung, architecture
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


class SuccessiveHalving(Synchronous):
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


class Hyperband(Synchronous):
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
