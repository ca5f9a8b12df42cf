"""The registry that names the search strategies, and making one by name with its options."""
from __future__ import annotations

import inspect

from ..errors import ArchscoutError
from ..registry import Registry
from ..space import Space
from ._bananas import BANANAS
from ._base import Strategy
from ._bo import BayesianOptimization
from ._evolution import RegularizedEvolution
from ._linas import LINAS
from ._linas_lite import LINASLite
from ._local import HillClimbing, LocalSearch
from ._nsga2 import NSGA2
from ._optuna import OptunaNSGA2, OptunaRandom, OptunaSampler, OptunaTPE
from ._random import RandomSearch
from ._rl import ReinforceController
from .fidelity import ASHA, ASHAKDE, BOHB, MOASHA, Auto, Hyperband, PriorBand, SuccessiveHalving

STRATEGIES: Registry[type[Strategy]] = Registry("strategy")
STRATEGIES.register("random", RandomSearch, aliases=("rs",))
STRATEGIES.register("evolution", RegularizedEvolution, aliases=("re", "regularized_evolution"))
STRATEGIES.register("local_search", LocalSearch, aliases=("ls",))
STRATEGIES.register("hill_climb", HillClimbing, aliases=("hill_climbing",))
STRATEGIES.register("rl", ReinforceController, aliases=("reinforce",))
STRATEGIES.register("optuna", OptunaSampler)
STRATEGIES.register("optuna-tpe", OptunaTPE)
STRATEGIES.register("optuna-nsga2", OptunaNSGA2)
STRATEGIES.register("optuna-random", OptunaRandom)
STRATEGIES.register("bo", BayesianOptimization, aliases=("bayesian",))
STRATEGIES.register("bananas", BANANAS)
STRATEGIES.register("nsga2", NSGA2, aliases=("nsga-ii", "nsga_ii"))
STRATEGIES.register("linas", LINAS)
STRATEGIES.register("linas-lite", LINASLite)
STRATEGIES.register("successive-halving", SuccessiveHalving, aliases=("sh",))
STRATEGIES.register("hyperband", Hyperband)
STRATEGIES.register("priorband", PriorBand)
STRATEGIES.register("asha", ASHA)
STRATEGIES.register("bohb", BOHB)
STRATEGIES.register("mo-asha", MOASHA)
STRATEGIES.register("asha-kde", ASHAKDE)
STRATEGIES.register("auto", Auto, aliases=("default",))


def list_strategies(pattern: str | None = None) -> list[str]:
    return STRATEGIES.names(pattern)


def describe_strategy(name: str) -> str:
    return STRATEGIES.describe(name)


def multi_objective_strategies() -> list[str]:
    return [k for k, cls in STRATEGIES.items() if cls.multi_objective]


def make_strategy(name: str | Strategy, space: Space, seed: int = 0, objectives: int = 1,
                  fidelity: dict | None = None, **options) -> Strategy:
    """A strategy by name with its options (``population_size=…``) for a study of ``objectives`` objectives;
    unknown names and options, and a one-objective strategy for several objectives, are errors. ``fidelity``
    is the study's own (top) fidelity in its evaluator's terms (``{"steps": 1000}``; None: it has no such
    scale), given to a strategy whose constructor takes it (a multi-fidelity scheduler)."""
    if isinstance(name, Strategy):
        return name
    key = STRATEGIES.canonical(name)
    cls = STRATEGIES.get(key)
    if objectives > 1 and not cls.multi_objective:
        raise ArchscoutError(f"strategy {key!r} optimises one objective; for {objectives} objectives use one of "
                             f"{', '.join(multi_objective_strategies())}")
    accepted = strategy_options(key)
    bad = [k for k in options if k not in accepted]
    if bad:
        raise ArchscoutError(f"strategy {key!r} has no option(s) {', '.join(bad)}; "
                             f"its options: {', '.join(accepted) or 'none'}")
    params = inspect.signature(cls.__init__).parameters
    if "objectives" in params:
        options["objectives"] = objectives
    if "fidelity" in params:
        options["fidelity"] = fidelity
    return cls(space, seed=seed, **options)


def strategy_options(name: str) -> list[str]:
    """The options a strategy takes (its constructor's keywords besides the space, seed and objectives)."""
    cls = STRATEGIES.get(name)
    return [p for p in inspect.signature(cls.__init__).parameters if p not in ("self", "space", "seed", "objectives", "fidelity")]


def canonical_name(name: str) -> str:
    return STRATEGIES.canonical(name)
