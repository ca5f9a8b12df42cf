"""The default search: what ``archscout search`` runs when no ``--strategy`` is given (or ``--strategy auto``).

Each setting below was chosen on other tasks than the benchmarks report (docs/default-search.md gives the
ablation, its commands and figures). A user's own option always wins: these fill in only what is not given.

* the strategy ``auto`` (:class:`archscout.strategy.fidelity.Auto`): asha-kde whose first candidates come from the
  space's priors;
* the space, by the task's inputs (:func:`space_for`): the architecture and its training recipe together, with
  priors on both (``conv1d-recipe``, ``conv2d-recipe``, ``mlp-recipe``, whose linear end is a linear model);
* how the lower rungs train (:data:`FIDELITY_MODE`);
* the workers (:func:`parallelism`): two or more 1-thread workers where candidates are small and the search long
  enough to pay for starting them, else one worker on every core;
* the best revalidated with more seeds before the choice (the command line's ``--revalidate 3``, already its
  default), the chosen one retrained (``--top-k`` :data:`TOP_K`), and a ``--time-budget`` that bounds the whole
  command (:mod:`archscout.study.timing`).
"""
from __future__ import annotations

STRATEGY = "auto"
FIDELITY_MODE = "continue"  # chosen on digits (docs/default-search.md)
SMALL_INPUT = 4096  # input values per sample up to which candidates are small enough for 1-thread workers
TOP_K = 1  # the revalidation chose it: retrain that one
POOL_AFTER = 600.0  # seconds of budget from which starting worker processes (seconds each) pays


MULTI_OBJECTIVE = "mo-asha"  # the default with several objectives: no prior sampling there yet
OTHER_EVALUATORS = "evolution"  # the default for an evaluator that does not train (lookups, proxies, your own)


def strategy_for(strategy: str | None, evaluator: str, objectives: int) -> str:
    """The strategy a search runs: ``strategy`` when given; else :data:`STRATEGY` for the training evaluator and
    one objective, :data:`MULTI_OBJECTIVE` for several, :data:`OTHER_EVALUATORS` for any other evaluator (lookups and
    proxies have no training budget to climb in rungs)."""
    if strategy is not None:
        return strategy
    if evaluator != "train":
        return OTHER_EVALUATORS
    return STRATEGY if objectives <= 1 else MULTI_OBJECTIVE


def is_default(strategy: str) -> bool:
    """Whether the default search's settings apply: its strategy (by name or alias) with the training evaluator."""
    from ..errors import ArchscoutError
    from ..strategy import STRATEGIES
    try:
        return STRATEGIES.canonical(strategy) == STRATEGY
    except ArchscoutError:  # an unknown name is reported where the study is made
        return False


def space_for(task) -> str:
    """The default space for a loaded task: by its inputs, signals (channels, length) ``conv1d-recipe``, images
    (channels, height, width) ``conv2d-recipe``, a vector of features ``mlp-recipe``; a graph task ``gnn``."""
    from ..tasks import GraphTask
    shape = getattr(task, "input_shape", None)
    if shape is None or isinstance(task, GraphTask):  # a graph task's input_shape is its node features
        return "gnn"
    return {2: "conv1d-recipe", 3: "conv2d-recipe"}.get(len(shape), "mlp-recipe")


def parallelism(task, seconds: float | None, cores: int) -> tuple[int, int | None]:
    """(workers, threads per worker): ``cores`` workers when each sample has at most :data:`SMALL_INPUT` values
    (small networks gain little from a second thread: docs/benchmarks/throughput.md measured 1.48x the trials per
    minute with two 1-thread workers on MNIST-1D) and the time budget is at least :data:`POOL_AFTER`; else one worker.
    The threads stay the default (None): the cores shared among the workers, one each here, while the revalidation
    and the final retraining, in the command's own process, use every core."""
    shape = getattr(task, "input_shape", None)
    size = 1
    for n in shape or (SMALL_INPUT + 1,):
        size *= int(n)
    if cores >= 2 and size <= SMALL_INPUT and seconds is not None and seconds >= POOL_AFTER:
        return cores, None
    return 1, None
