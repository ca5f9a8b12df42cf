"""Search strategies (ask/tell) and the registry that names them (:mod:`.registry`)."""
from ._bananas import BANANAS
from ._base import Proposal, Result, Strategy
from ._bo import BayesianOptimization
from ._evolution import RegularizedEvolution
from ._linas import LINAS
from ._linas_lite import LINASLite
from ._local import HillClimbing, LocalSearch
from ._nsga2 import NSGA2
from ._optuna import OptunaNSGA2, OptunaRandom, OptunaSampler, OptunaTPE
from ._random import RandomSearch
from ._rl import ReinforceController
from .fidelity import ASHA, ASHAKDE, BOHB, MOASHA, Hyperband, PriorBand, SuccessiveHalving
from .registry import (
    STRATEGIES,
    canonical_name,
    list_strategies,
    make_strategy,
    multi_objective_strategies,
    strategy_options,
)
from .registry import describe_strategy as describe_strategy

__all__ = ["Proposal", "Result", "STRATEGIES", "strategy_options", "Strategy", "BayesianOptimization", "RandomSearch", "RegularizedEvolution", "LocalSearch", "HillClimbing",
           "make_strategy", "list_strategies", "multi_objective_strategies", "canonical_name",
           "ReinforceController", "OptunaSampler", "OptunaTPE", "OptunaNSGA2", "OptunaRandom",
           "NSGA2", "LINAS", "LINASLite", "BANANAS", "SuccessiveHalving", "Hyperband", "PriorBand", "ASHA", "ASHAKDE", "BOHB", "MOASHA"]
