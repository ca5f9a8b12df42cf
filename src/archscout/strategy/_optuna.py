"""Optuna's samplers (TPE, NSGA-II, random) as archscout strategies, through optuna's ask/tell interface."""
from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import warnings
from collections import deque
from collections.abc import Callable
from typing import Any

from ..checks import int_at_least, non_negative_int
from ..errors import ArchscoutError, unknown_name
from ..space import Architecture, Block, Choice, Repeat, Space
from ._base import Strategy

SAMPLERS = ("tpe", "nsga2", "random")
_MAX_TRIES = 20  # proposals that break a space constraint before falling back to space.sample

# decide(param name, node, value in the architecture or None while sampling) -> the value to use
Decide = Callable[[str, Any, Any], Any]


def _seed32(text: str) -> int:
    """A seed numpy accepts (below 2**32) made from any text, e.g. ``"{seed}/{told}"``."""
    return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)


def _walk(block: Block, given: dict | None, prefix: str, decide: Decide) -> dict:
    """Values for ``block``, one ``decide`` per decision, named by its path (``stages.2.width``).

    Define-by-run: a Repeat first decides its length (``stages.#len``), then each of its blocks;
    inactive conditional choices and single-valued choices are no parameters.
    """
    out: dict[str, Any] = {}
    for name, node in block.fields.items():
        path = prefix + name
        v: Any = None if given is None else given[name]
        if isinstance(node, Choice):
            active = node.is_active(out) if given is None else v is not None
            if not active:
                out[name] = None
            elif len(node.values) == 1:
                out[name] = node.values[0]
            else:
                out[name] = decide(path, node, v)
        elif isinstance(node, Repeat):
            n = node.min if node.min == node.max else decide(path + ".#len", node, None if v is None else len(v))
            out[name] = [_walk(node.block, None if given is None else v[i], f"{path}.{i}.", decide)
                         for i in range(n)]
        else:
            out[name] = _walk(node, v, path + ".", decide)
    return out


class OptunaSampler(Strategy):
    """Optuna's samplers (tpe, nsga2 or random) through optuna's ask/tell interface (Akiba et al. 2019).

    Each proposal is one trial of an in-memory optuna study, defined by run: a categorical
    parameter per active decision (an integer index for ordered numeric choices, so TPE can
    use their order), an integer parameter per Repeat length, named by the decision's path
    (``stages.2.width``, ``stages.#len``). ``tpe`` is multivariate TPE with grouped
    (conditional) parameters and the constant liar for trials still running (Bergstra et al.
    2011; Watanabe 2023); ``n_startup_trials`` random trials come first. ``nsga2`` is NSGA-II
    (Deb et al. 2002), a genetic algorithm with ``population_size`` members per generation;
    ``random`` samples independently.

    A told result completes the oldest pending trial that proposed that architecture; a result
    nobody proposed (a resumed history, a requeued trial) is added as a finished trial with the
    parameters the architecture's canonical values give. A proposal that breaks a constraint of
    the space is finished at once, and optuna is asked again (up to 20 times, then the space is
    sampled). A failure (score None: the candidate failed or broke a study constraint) and a
    proposal that breaks a space constraint are told as the worst score so far, not as failed
    trials: optuna's samplers ignore failed trials, so they would keep proposing the same
    infeasible region (a parameter-count limit, a constraint at the optimum's edge). Only while
    no score is known are they failed trials.

    With ``objectives=k`` above 1 the optuna study has k directions, all maximised (scores come
    oriented), and every score told is a tuple of k values: NSGA-II ranks by non-domination
    and crowding, TPE splits good from bad trials by non-domination and hypervolume
    contribution (Ozaki et al. 2020). A failure is then told as the worst value so far of
    each objective, separately.
    """

    name = "optuna"
    multi_objective = True

    def __init__(self, space: Space, seed: int = 0, sampler: str = "tpe", n_startup_trials: int | None = None,
                 population_size: int | None = None, objectives: int = 1):
        super().__init__(space, seed)
        try:
            import optuna
        except ImportError:
            raise ArchscoutError("the optuna strategies need optuna: pip install optuna") from None
        self._optuna = optuna
        if sampler not in SAMPLERS:
            raise unknown_name("optuna sampler", str(sampler), SAMPLERS)
        if n_startup_trials is not None and sampler != "tpe":
            raise ArchscoutError(f"n_startup_trials is an option of the tpe sampler, not of {sampler!r}")
        if population_size is not None and sampler != "nsga2":
            raise ArchscoutError(f"population_size is an option of the nsga2 sampler, not of {sampler!r}")
        if n_startup_trials is not None:
            non_negative_int(n_startup_trials, "n_startup_trials")
        if population_size is not None:
            int_at_least(population_size, "population_size", 2)
        if isinstance(objectives, bool) or not isinstance(objectives, int) or objectives < 1:
            raise ArchscoutError(f"objectives must be the number of objectives, an integer >= 1, got {objectives!r}")
        self.sampler = sampler
        self.n_startup_trials = 10 if n_startup_trials is None else n_startup_trials
        self.population_size = 20 if population_size is None else population_size
        self.objectives = objectives
        with self._quiet():
            self.study = optuna.create_study(directions=["maximize"] * objectives,
                                             sampler=self._make_sampler(_seed32(str(seed))))
        self.pending: dict[Architecture, deque] = {}  # architecture -> its running trials, oldest first
        self.worst: list[float] | None = None  # the lowest value told so far of each objective

    @contextlib.contextmanager
    def _quiet(self):
        """Optuna logs every new study and finished trial at INFO and warns that grouped TPE is
        experimental: lower its log level (and ignore that warning) only while optuna is called."""
        optuna = self._optuna
        before = optuna.logging.get_verbosity()
        if before < logging.WARNING:
            optuna.logging.set_verbosity(logging.WARNING)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                yield
        finally:
            if before < logging.WARNING:
                optuna.logging.set_verbosity(before)

    def _make_sampler(self, seed: int):
        samplers = self._optuna.samplers
        if self.sampler == "tpe":
            return samplers.TPESampler(seed=seed, n_startup_trials=self.n_startup_trials, multivariate=True,
                                       group=True, constant_liar=True)
        if self.sampler == "nsga2":
            return samplers.NSGAIISampler(seed=seed, population_size=self.population_size)
        return samplers.RandomSampler(seed=seed)

    def resume(self, told: int) -> None:
        super().resume(told)
        with self._quiet():
            self.study.sampler = self._make_sampler(_seed32(f"{self.seed}/{told}"))

    # -- parameters ------------------------------------------------------------------------
    def _distribution(self, node: Any):
        d = self._optuna.distributions
        if isinstance(node, Repeat):
            return d.IntDistribution(node.min, node.max)
        if node.ordered:  # an index keeps the order, which TPE's kernels and NSGA-II's mutation use
            return d.IntDistribution(0, len(node.values) - 1)
        return d.CategoricalDistribution(node.values)

    def _suggest(self, trial, name: str, node: Any) -> Any:
        dist = self._distribution(node)
        if isinstance(node, Repeat):
            return trial.suggest_int(name, dist.low, dist.high)
        if isinstance(dist, self._optuna.distributions.IntDistribution):
            return node.values[trial.suggest_int(name, dist.low, dist.high)]
        return trial.suggest_categorical(name, dist.choices)

    def _values(self, trial) -> dict:
        return _walk(self.space.root, None, "", lambda name, node, _: self._suggest(trial, name, node))

    def params(self, arch: Architecture) -> tuple[dict, dict]:
        """The optuna parameters and distributions that ``ask`` would have suggested for ``arch``."""
        params: dict[str, Any] = {}
        dists: dict[str, Any] = {}

        def record(name: str, node: Any, value: Any) -> Any:
            dist = dists[name] = self._distribution(node)
            is_index = isinstance(dist, self._optuna.distributions.IntDistribution) and not isinstance(node, Repeat)
            params[name] = node.index(value) if is_index else value
            return value

        _walk(self.space.root, arch.values, "", record)
        return params, dists

    # -- ask / tell ------------------------------------------------------------------------
    def ask(self) -> Architecture:
        with self._quiet():
            for _ in range(_MAX_TRIES):
                trial = self.study.ask()
                values = self._values(trial)
                try:
                    arch = self.space.architecture(values)
                except ArchscoutError:
                    self._reject(trial)
                    continue
                self.pending.setdefault(arch, deque()).append(trial)
                return arch
        return self.space.sample(self.rng)

    def _scores(self, score: float | tuple | None) -> tuple[float, ...] | None:
        """The told score as one value per objective, or None for a failure (a non-finite value too)."""
        if score is None:
            return None
        values = tuple(score) if isinstance(score, (tuple, list)) else (score,)
        if len(values) != self.objectives:
            told = f"a tuple of {len(values)}" if isinstance(score, (tuple, list)) else f"the single score {score!r}"
            raise ArchscoutError(f"this {self.name} strategy was made for {self.objectives} objective(s) "
                                 f"(objectives={self.objectives}) and was told {told}")
        if not all(math.isfinite(v) for v in values):
            return None
        return tuple(float(v) for v in values)

    def _outcome(self, score: float | tuple | None) -> tuple[list[float] | None, Any]:
        """The values and state optuna is told: a failure is the worst value so far of each objective
        (see the class)."""
        state = self._optuna.trial.TrialState
        values = self._scores(score)
        if values is not None:
            self.worst = list(values) if self.worst is None else [min(w, v) for w, v in zip(self.worst, values)]
            return list(values), state.COMPLETE
        return (None, state.FAIL) if self.worst is None else (list(self.worst), state.COMPLETE)

    def _reject(self, trial) -> None:
        """A proposal that breaks a space constraint is finished as a failure (see the class)."""
        values, state = self._outcome(None)
        self.study.tell(trial, values, state=state)

    def discard(self, arch: Architecture) -> None:
        """The oldest pending trial that proposed ``arch`` is finished as failed, which Optuna's samplers
        leave out of what they learn from (a proposal never evaluated says nothing about it)."""
        queue = self.pending.get(arch)
        if queue:
            trial = queue.popleft()
            if not queue:
                del self.pending[arch]
            with self._quiet():
                self.study.tell(trial, state=self._optuna.trial.TrialState.FAIL)

    def tell(self, arch: Architecture, score: float | tuple | None) -> None:
        values, state = self._outcome(score)  # first: a score of the wrong shape leaves the trials as they were
        queue = self.pending.get(arch)
        with self._quiet():
            if queue:
                trial = queue.popleft()
                if not queue:
                    del self.pending[arch]
                self.study.tell(trial, values, state=state)
            else:
                params, dists = self.params(arch)
                self.study.add_trial(self._optuna.trial.create_trial(params=params, distributions=dists,
                                                                     values=values, state=state,
                                                                     system_attrs=self._generation()))


    def _generation(self) -> dict:
        """For NSGA-II, the generation optuna would give a trial asked now, as the system attribute it reads:
        a result nobody proposed (a resumed history) then belongs to a generation as it did when it ran, and
        the next proposals are children of the parents those generations select, not generation 0's random
        samples. Optuna's rule: the latest generation with a completed trial, or the one after it once it
        has ``population_size`` completed trials. Other samplers keep no generations."""
        if self.sampler != "nsga2":
            return {}
        sampler = self.study.sampler
        key_of = getattr(sampler, "_get_generation_key", None)  # optuna >= 4; before: a module constant
        key = key_of() if callable(key_of) else "nsga2:generation"
        latest, members = 0, 0
        for trial in self.study.get_trials(deepcopy=False, states=(self._optuna.trial.TrialState.COMPLETE,)):
            generation = trial.system_attrs.get(key)
            if generation is None:
                continue
            if generation > latest:
                latest, members = generation, 1
            elif generation == latest:
                members += 1
        return {key: latest + 1 if members >= self.population_size else latest}


class OptunaTPE(OptunaSampler):
    """Optuna's multivariate TPE (tree-structured Parzen estimator), grouped for conditional decisions."""

    name = "optuna-tpe"

    def __init__(self, space: Space, seed: int = 0, n_startup_trials: int | None = None, objectives: int = 1):
        super().__init__(space, seed, sampler="tpe", n_startup_trials=n_startup_trials, objectives=objectives)


class OptunaNSGA2(OptunaSampler):
    """Optuna's NSGA-II genetic algorithm (uniform crossover and mutation of the decisions)."""

    name = "optuna-nsga2"

    def __init__(self, space: Space, seed: int = 0, population_size: int | None = None, objectives: int = 1):
        super().__init__(space, seed, sampler="nsga2", population_size=population_size, objectives=objectives)


class OptunaRandom(OptunaSampler):
    """Optuna's random sampler (independent uniform decisions): a baseline through the same path."""

    name = "optuna-random"

    def __init__(self, space: Space, seed: int = 0, objectives: int = 1):
        super().__init__(space, seed, sampler="random", objectives=objectives)
