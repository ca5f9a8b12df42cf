"""Proxy-guided search: rank a pool of proposals without training and train only the most promising.

With a guide, each time a study's loop needs a candidate it asks its strategy for a pool of
``pool`` fresh proposals, scores every one with zero-cost proxies (on the untrained network,
one batch of training data) and sends only the best-ranked one to be trained. The rest are
never evaluated or stored; the strategy is told only about what was trained (and drops the
others: :meth:`~archscout.strategy.Strategy.discard`). A candidate whose parameters, FLOPs or size
break a constraint of the study ranks below every other, whatever its proxies.

* ``proxies``: the pool is ranked by a vote of the proxies (the sum of each proxy's rank in
  the pool, as Abdelfattah et al. 2021 vote).
* ``predictor``: a vote of nwot, jacov and flops (those of them it computes) until ``warmup``
  candidates are trained; then a predictor
  (:mod:`archscout.evaluate.predictors`, ``ensemble`` by default) is fitted to the trained
  candidates' encodings and proxy scores and ranks the pool by its prediction plus half its
  uncertainty (an upper confidence bound), refitted as results come in.
* ``screen``: the vote, switched on only while it is measured to rank this space's candidates:
  see :class:`ScreenedStrategy`. It also screens the new candidates of a multi-fidelity scheduler
  (its promotions pass unscreened), which the other two cannot.

The guide wraps the strategy (:class:`GuidedStrategy`), so the loop knows nothing of it. The proxies of every trained candidate are stored with its metrics (``proxy@NAME``), so the
predictor is refitted from storage alone on resume. The time spent ranking is part of the
search time, like the training.
"""
from __future__ import annotations

import time
from typing import TYPE_CHECKING, cast

import numpy as np

from ..checks import int_at_least, number_in_range
from ..errors import ArchscoutError
from ..space import Architecture
from ..strategy import Proposal, Result, Strategy

if TYPE_CHECKING:
    from ..evaluate.predictors import Predictor

GUIDES = ("proxies", "predictor", "screen")
VOTE_PROXIES = ("nwot", "jacov", "flops")
# every proxy but grad_sign, which alone costs more than the others together (per-sample gradients)
PREDICTOR_PROXIES = ("synflow", "snip", "grasp", "fisher", "grad_norm", "jacov", "nwot", "zen", "epe_nas",
                     "l2_norm", "plain", "params", "flops")
DEFAULT_POOL = 10
DEFAULT_WARMUP = 10
DEFAULT_SCREEN_POOL = 5  # a pool costs its candidates' proxies: 5 keeps that below one lowest-rung training
DEFAULT_MIN_TAU = 0.3  # screening is on while the vote's Kendall tau with the first results is at least this
DEFAULT_MIN_RESULTS = 20  # first results needed before the tau is trusted at all
UCB = 0.5  # weight of the predictor's uncertainty in its ranking


def check_guide(guide, study) -> dict | None:
    """A guide setting (``"proxies"``, ``"predictor"`` or a dict with ``by`` and options) in canonical form;
    clear errors for a guide the study cannot use."""
    if guide is None or guide is False:
        return None
    guide = _guide_options(guide)
    by = guide.get("by")
    if by not in GUIDES:
        from ..errors import unknown_name
        raise unknown_name("guide", str(by), GUIDES)
    if not study.evaluator_spec.trains:
        raise ArchscoutError("a guide picks which candidates to train, so it needs the train evaluator; for a search "
                             "without training use --evaluator zero-cost")
    if study.multi_objective:
        raise ArchscoutError("a guide ranks candidates by one objective; it cannot be used with several objectives")
    pool = guide.get("pool", DEFAULT_SCREEN_POOL if by == "screen" else DEFAULT_POOL)
    warmup = guide.get("warmup", DEFAULT_WARMUP)
    min_results = guide.get("min_results", DEFAULT_MIN_RESULTS)
    for name, value, low in (("pool", pool, 2), ("warmup", warmup, 4), ("min_results", min_results, 5)):
        int_at_least(value, f"guide {name}", low)
    min_tau = number_in_range(guide.get("min_tau", DEFAULT_MIN_TAU), "guide min_tau", -1, 1)
    for option, only in (("warmup", "predictor"), ("predictor", "predictor"), ("min_tau", "screen"),
                         ("min_results", "screen")):
        if option in guide and by != only:
            raise ArchscoutError(f"guide option {option} belongs to the {only!r} guide, not {by!r}")
    proxies = _guide_proxies(guide, by)
    predictor = guide.get("predictor", "ensemble")
    from ..evaluate.predictors import PREDICTORS
    if predictor not in PREDICTORS:
        from ..errors import unknown_name
        raise unknown_name("predictor", str(predictor), PREDICTORS)
    out = {"by": by, "pool": pool, "proxies": list(dict.fromkeys(proxies))}
    if by == "predictor":
        out.update(predictor=predictor, warmup=warmup)
    if by == "screen":
        out.update(min_tau=float(min_tau), min_results=min_results)
    return out


def _guide_options(guide) -> dict:
    """A guide setting as a dict of options (a string names ``by``), its option names checked."""
    if isinstance(guide, str):
        guide = {"by": guide}
    if not isinstance(guide, dict):
        raise ArchscoutError(f"a guide is 'proxies', 'predictor' or a dict of options, got {guide!r}")
    known = {"by", "pool", "proxies", "predictor", "warmup", "min_tau", "min_results"}
    bad = sorted(set(guide) - known)
    if bad:
        raise ArchscoutError(f"unknown guide option(s) {', '.join(bad)}; known: {', '.join(sorted(known))}")
    return guide


def _guide_proxies(guide: dict, by: str) -> list | tuple:
    """The guide's proxy names (its default ones when it names none), each checked."""
    from ..evaluate.proxies import check_proxy
    proxies = guide.get("proxies")
    if proxies is None:
        proxies = PREDICTOR_PROXIES if by == "predictor" else VOTE_PROXIES
    if isinstance(proxies, str):
        proxies = [p.strip() for p in proxies.split(",") if p.strip()]
    if not isinstance(proxies, (list, tuple)) or not proxies:
        raise ArchscoutError(f"guide proxies are a list of proxy names (or a comma-separated string) naming at "
                             f"least one, got {guide.get('proxies')!r}")
    for p in proxies:
        if not isinstance(p, str):
            raise ArchscoutError(f"a guide proxy is a proxy name, got {p!r}")
        check_proxy(p)
    return proxies


class Guide:
    """Ranks pools of proposals for a study's loop (see the module's docstring)."""

    def __init__(self, config: dict, evaluator, space, seed: int = 0, constraints=()):
        self.config, self.evaluator, self.space, self.seed = config, evaluator, space, seed
        # constraints on what the untrained network shows cheaply (params, FLOPs, size): a candidate that
        # breaks one is not worth training, whatever its proxies say
        self.constraints = [c for c in constraints if c.is_cost]
        self.pool = config["pool"]
        self.proxies = list(config["proxies"])
        self.vote_proxies = [p for p in VOTE_PROXIES if p in self.proxies] if config["by"] == "predictor" \
            and any(p in self.proxies for p in VOTE_PROXIES) else self.proxies
        self._cache: dict[str, dict] = {}  # arch id -> proxy scores (recomputable: seeded)
        self._broken: dict[str, str | None] = {}  # arch id -> the cost constraint it breaks
        self._fitted: Predictor | None = None
        self._fitted_on = -1

    def proxy_scores(self, arch) -> dict:
        """The guide's proxies of the untrained network (None where a proxy failed or it cannot be built)."""
        if arch.id not in self._cache:
            from ..errors import TrialFailed
            from ..evaluate.proxies import score_all

            try:
                model = self.evaluator.build(arch, self.seed)
            except TrialFailed:
                self._cache[arch.id] = {p: None for p in self.proxies}
            else:
                inputs, targets, mask = self.evaluator.proxy_inputs()
                res = score_all(model, inputs, targets, self.proxies, mask=mask)
                self._cache[arch.id] = {k: v["value"] for k, v in res.items()}
                if self.constraints:
                    costs = self.evaluator.static_costs(model, arch)
                    self._broken[arch.id] = next((r for r in (c.check(costs) for c in self.constraints) if r), None)
        return self._cache[arch.id]

    def pick(self, candidates: list, trained: list[tuple]) -> tuple[int, dict]:
        """The index of the candidate to train, and what to record about the choice. ``trained``:
        ``(architecture, metrics, score)`` of the candidates trained so far (score: higher is better)."""
        t0 = time.perf_counter()
        scores = [self.proxy_scores(a) for a in candidates]
        info = {"by": "vote", "pool": len(candidates)}
        # candidates that break a cost constraint rank below every other (all of them, if none is feasible)
        feasible = np.array([0.0 if self._broken.get(a.id) else 1.0 for a in candidates])
        if feasible.sum() < len(candidates):
            info["infeasible_in_pool"] = int(len(candidates) - feasible.sum())
        if self.config["by"] == "predictor" and len(trained) >= self.config["warmup"]:
            model = self._predictor(trained)
            mean, std = model.predict(candidates, scores, return_std=True)
            value = mean + UCB * std
            best = max(range(len(candidates)), key=lambda i: (feasible[i], value[i]))
            info.update(by=self.config["predictor"], predicted=round(float(mean[best]), 5),
                        std=round(float(std[best]), 5), fitted_on=len(trained))
        else:
            value = vote(scores, self.vote_proxies)
            best = max(range(len(candidates)), key=lambda i: (feasible[i], value[i]))
        info["seconds"] = round(time.perf_counter() - t0, 4)
        return best, info

    def _predictor(self, trained: list[tuple]):
        if self._fitted_on != len(trained):
            from ..evaluate.predictors import make_predictor

            archs = [a for a, _, _ in trained]
            proxies = [{p: m.get(f"proxy@{p}") for p in self.proxies} for _, m, _ in trained]
            y = [s for _, _, s in trained]
            self._fitted = make_predictor(self.config["predictor"], self.space, self.proxies,
                                          seed=self.seed + len(trained)).fit(archs, y, proxies)
            self._fitted_on = len(trained)
        return self._fitted


class GuidedStrategy(Strategy):
    """A strategy wrapped by a guide: each proposal is the guide's pick of a pool of fresh proposals of the
    inner strategy (neither evaluated nor proposed and still pending); the others are discarded by the inner
    strategy. How the guide picked is stored with the trial (``details["guide"]``). What the guide learns
    from (a predictor's training data) are the results it is told: architecture, metrics and score."""

    def __init__(self, inner: Strategy, guide: Guide):
        super().__init__(inner.space, inner.seed)
        self.inner, self.guide = inner, guide
        self.multi_objective = inner.multi_objective
        self.name = inner.name
        self.evaluated: set[str] = set()  # arch ids told (evaluated, failed or refused)
        self.pending: set[str] = set()  # arch ids proposed and not told yet
        self.trained: dict[str, tuple] = {}  # arch id -> (arch, metrics, score): what a guide learns from

    def resume(self, told: int) -> None:
        self.inner.resume(told)

    def ask(self) -> Proposal:
        pool: list[Architecture] = []
        repeats: list[Architecture] = []
        arch = None
        for _ in range(self.guide.pool * 5):
            arch = cast(Architecture, self.inner.ask())  # a guide wraps a strategy that proposes architectures
            if arch.id not in self.evaluated and arch.id not in self.pending and all(a.id != arch.id for a in pool):
                pool.append(arch)
                if len(pool) == self.guide.pool:
                    break
            else:
                repeats.append(arch)
        if not pool:  # nothing fresh: let the loop handle the last repeat
            for arch in repeats[:-1]:
                self.inner.discard(arch)
            return Proposal(repeats[-1])
        best, info = self.guide.pick(pool, list(self.trained.values()))
        for arch in repeats + pool[:best] + pool[best + 1:]:  # proposals that will never be evaluated
            self.inner.discard(arch)
        self.pending.add(pool[best].id)
        return Proposal(pool[best], details={"guide": info})

    def discard(self, arch: Architecture) -> None:
        self.pending.discard(arch.id)
        self.inner.discard(arch)

    def tell(self, arch: Architecture, score) -> None:
        self.tell_result(Result(arch, score))

    def tell_result(self, result: Result) -> None:
        self.pending.discard(result.arch.id)
        if result.fidelity is None:
            self.evaluated.add(result.arch.id)
            if result.score is not None:
                self.trained[result.arch.id] = (result.arch, result.metrics, result.score)
        self.inner.tell_result(result)


class ScreenedStrategy(Strategy):
    """Training-free screening that is on only while it is measured to work (``--guide screen``).

    Each new candidate the inner strategy proposes (a proposal without a parent; a scheduler's promotions pass
    unchanged) may be the best of a pool: the inner strategy is asked for ``pool`` new candidates at the same
    fidelity, the vote of the guide's proxies (nwot, jacov, flops by default; cost constraints first, as
    :class:`Guide` ranks) picks one, the others are discarded (what the inner strategy proposes meanwhile that
    cannot join the pool, a promotion or a candidate at another fidelity, is proposed next, in order). Whether
    the pool is drawn at all is decided anew for every new candidate, from the results the search already has: the *first results* (a new candidate's
    result at the fidelity it started at) are ranked by the same vote over all of them, and screening is on
    while that ranking's Kendall tau with their scores is at least ``min_tau`` (0.3) over at least
    ``min_results`` (20) of them. On a space where the proxies do not rank candidates, the search runs as the
    inner strategy alone, apart from the proxies computed for every trial (stored as ``proxy@NAME``, which is
    what the tau is measured on, also after a resume).

    Every proposal's details say what was decided (``screen``: ``on``, the ``tau`` and the ``n`` it rests on,
    and when on, the guide's pick as ``guide`` records it). The idea of gating proxies by their measured
    correlation is the one White et al. ("How Powerful are Performance Predictors in NAS?", NeurIPS 2021) argue
    for; the vote is Abdelfattah et al.'s (ICLR 2021).
    """

    def __init__(self, inner: Strategy, guide: Guide):
        super().__init__(inner.space, inner.seed)
        self.inner, self.guide = inner, guide
        self.name = inner.name
        self.min_tau, self.min_results = guide.config["min_tau"], guide.config["min_results"]
        self.first: dict[str, list[tuple[dict, float]]] = {}  # fidelity -> (proxies, score) of first results
        self._tau: dict[str, tuple[int, float | None]] = {}
        self.seen: set[str] = set()  # arch ids told or proposed: not new any more
        self.held: list[Proposal] = []  # asked while filling a pool but not poolable: proposed next, in order

    def resume(self, told: int) -> None:
        self.inner.resume(told)

    def gate(self, fidelity: dict | None) -> tuple[bool, float | None, int]:
        """Whether screening is on for a new candidate at ``fidelity``, the measured tau and its number of results."""
        rows = self.first.get(_key(fidelity), [])
        n = len(rows)
        if n < self.min_results:
            return False, None, n
        cached = self._tau.get(_key(fidelity))
        if cached is None or cached[0] != n:
            from scipy.stats import kendalltau

            ranks = vote([p for p, _ in rows], self.guide.vote_proxies)
            tau = kendalltau(ranks, [s for _, s in rows]).statistic
            cached = (n, None if not np.isfinite(tau) else round(float(tau), 4))
            self._tau[_key(fidelity)] = cached
        tau = cached[1]
        return tau is not None and tau >= self.min_tau, tau, n

    def ask(self) -> Proposal | None:
        asked = self.held.pop(0) if self.held else self.inner.ask()
        if asked is None:
            return None
        first = Proposal.of(asked)
        if first.parent is not None or first.arch.id in self.seen:  # a promotion (screened when it was new), a repeat
            return first
        on, tau, n = self.gate(first.fidelity)
        screen = {"on": on, "tau": tau, "n": n}
        chosen = first
        info: dict | None = None
        if on:
            pool = [first]
            for _ in range(self.guide.pool * 5):
                if len(pool) == self.guide.pool:
                    break
                more = self.inner.ask()
                if more is None:
                    break
                p = Proposal.of(more)
                repeat = p.arch.id in self.seen or any(q.arch.id == p.arch.id for q in pool + self.held)
                if p.parent is None and p.fidelity == first.fidelity and not repeat:
                    pool.append(p)
                elif repeat and p.parent is None:
                    self.inner.discard(p.arch)
                else:  # a promotion, or a new candidate at another fidelity: not the pool's to drop
                    self.held.append(p)
            best, info = self.guide.pick([p.arch for p in pool], [])
            chosen = pool[best]
            for p in pool[:best] + pool[best + 1:]:
                self.inner.discard(p.arch)
        self.seen.add(chosen.arch.id)
        details = {**(chosen.details or {}), "screen": screen, **({"guide": info} if info else {})}
        return Proposal(chosen.arch, chosen.fidelity, chosen.parent, details)

    def discard(self, arch: Architecture) -> None:
        self.inner.discard(arch)

    def tell(self, arch: Architecture, score) -> None:
        self.tell_result(Result(arch, score))

    def tell_result(self, result: Result) -> None:
        self.seen.add(result.arch.id)
        if result.parent is None and result.status == "complete" and isinstance(result.score, (int, float)):
            proxies = {p: result.metrics.get(f"proxy@{p}") for p in self.guide.vote_proxies}
            if any(v is not None for v in proxies.values()):
                self.first.setdefault(_key(result.fidelity), []).append((proxies, float(result.score)))
        self.inner.tell_result(result)


def _key(fidelity: dict | None) -> str:
    return "study" if fidelity is None else ",".join(f"{k}={v}" for k, v in sorted(fidelity.items()))


def vote(scores: list[dict], proxies: list[str]) -> np.ndarray:
    """The sum over proxies of each candidate's rank among ``scores`` (a failed proxy ranks last)."""
    from scipy.stats import rankdata

    total = np.zeros(len(scores))
    for p in proxies:
        values = np.array([s.get(p) if s.get(p) is not None else -np.inf for s in scores], dtype=float)
        total += rankdata(values)
    return total
