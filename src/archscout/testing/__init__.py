"""The contract suite, shipped: check your own strategy, space or evaluator against the promises every built-in
keeps (``check_evaluator("mypkg.evals:my_eval")``), or parametrize a pytest test with every check
(``@parametrize_with_contracts(evaluators=[...])``). See :mod:`archscout.testing.contracts` and
docs/extending.md. pytest is imported only by :func:`parametrize_with_contracts`."""
from .contracts import (
    EVALUATOR_CHECKS,
    SPACE_CHECKS,
    STRATEGY_CHECKS,
    EvaluatorCase,
    SpaceCase,
    StrategyCase,
    check_evaluator,
    check_evaluator_cost_check,
    check_evaluator_fidelity_key,
    check_evaluator_metrics,
    check_evaluator_spec,
    check_evaluator_unknown_fidelity,
    check_evaluator_without_task,
    check_space,
    check_space_builds,
    check_space_encodings,
    check_space_json,
    check_space_variation,
    check_strategy,
    check_strategy_failures,
    check_strategy_in_space,
    check_strategy_resume,
    check_strategy_resume_in_another_process,
    check_strategy_seed,
    check_unknown_name,
    contracts,
    parametrize_with_contracts,
    strategy_cases,
)

__all__ = ["EVALUATOR_CHECKS", "SPACE_CHECKS", "STRATEGY_CHECKS", "EvaluatorCase", "SpaceCase", "StrategyCase",
           "check_evaluator", "check_evaluator_cost_check", "check_evaluator_fidelity_key", "check_evaluator_metrics",
           "check_evaluator_spec", "check_evaluator_unknown_fidelity", "check_evaluator_without_task", "check_space",
           "check_space_builds", "check_space_encodings", "check_space_json", "check_space_variation",
           "check_strategy", "check_strategy_failures", "check_strategy_in_space", "check_strategy_resume",
           "check_strategy_resume_in_another_process", "check_strategy_seed", "check_unknown_name", "contracts",
           "parametrize_with_contracts", "strategy_cases"]
