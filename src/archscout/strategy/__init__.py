"""Search strategies (ask/tell) and the registry that names them."""
from __future__ import annotations

import inspect

from ..errors import ArchscoutError, unknown_name
from ..space import Space
from ._base import Strategy
from ._bo import BayesianOptimization
from ._evolution import RegularizedEvolution
from ._linas import LINAS
from ._local import LocalSearch
from ._nsga2 import NSGA2
from ._optuna import OptunaNSGA2, OptunaRandom, OptunaSampler, OptunaTPE
from ._random import RandomSearch
from ._rl import ReinforceController

_REGISTRY: dict[str, type[Strategy]] = {
    "random": RandomSearch,
    "evolution": RegularizedEvolution,
    "local_search": LocalSearch,
    "rl": ReinforceController,
    "optuna": OptunaSampler,
    "optuna-tpe": OptunaTPE,
    "optuna-nsga2": OptunaNSGA2,
    "optuna-random": OptunaRandom,
    "bo": BayesianOptimization,
    "nsga2": NSGA2,
    "linas": LINAS,
}
_ALIASES = {"re": "evolution", "regularized_evolution": "evolution", "ls": "local_search", "rs": "random",
            "bananas": "bo", "bayesian": "bo", "reinforce": "rl", "graphnas": "rl",
            "nsga-ii": "nsga2", "nsga_ii": "nsga2"}


def list_strategies() -> list[str]:
    return sorted(_REGISTRY)


def describe_strategy(name: str) -> str:
    return (inspect.getdoc(_REGISTRY[name]) or "").splitlines()[0]


def multi_objective_strategies() -> list[str]:
    return sorted(k for k, cls in _REGISTRY.items() if cls.multi_objective)


def make_strategy(name: str | Strategy, space: Space, seed: int = 0, objectives: int = 1, **options) -> Strategy:
    """A strategy by name with its options (``population_size=…``) for a study of ``objectives`` objectives;
    unknown names and options, and a one-objective strategy for several objectives, are errors."""
    if isinstance(name, Strategy):
        return name
    key = _ALIASES.get(name, name)
    if key not in _REGISTRY:
        raise unknown_name("strategy", name, _REGISTRY)
    cls = _REGISTRY[key]
    if objectives > 1 and not cls.multi_objective:
        raise ArchscoutError(f"strategy {key!r} optimises one objective; for {objectives} objectives use one of "
                             f"{', '.join(multi_objective_strategies())}")
    accepted = [p for p in inspect.signature(cls.__init__).parameters
                if p not in ("self", "space", "seed", "objectives")]
    bad = [k for k in options if k not in accepted]
    if bad:
        raise ArchscoutError(f"strategy {key!r} has no option(s) {', '.join(bad)}; "
                             f"its options: {', '.join(accepted) or 'none'}")
    if "objectives" in inspect.signature(cls.__init__).parameters:
        options["objectives"] = objectives
    return cls(space, seed=seed, **options)


def canonical_name(name: str) -> str:
    key = _ALIASES.get(name, name)
    if key not in _REGISTRY:
        raise unknown_name("strategy", name, _REGISTRY)
    return key


__all__ = ["Strategy", "BayesianOptimization", "RandomSearch", "RegularizedEvolution", "LocalSearch",
           "make_strategy", "list_strategies", "multi_objective_strategies", "canonical_name",
           "ReinforceController", "OptunaSampler", "OptunaTPE", "OptunaNSGA2", "OptunaRandom",
           "NSGA2", "LINAS"]
