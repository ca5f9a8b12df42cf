"""The protocol of ``archscout bench``: strategies × seeds × query budgets on a table benchmark, with peers.

A run gives a strategy a fresh table lookup and asks until it has queried ``max(budgets)``
distinct architectures (a repeated proposal is answered from what the run already knows and
does not count, as in a study). The protocol (docs/benchmarks/protocol.md, "The benchmark protocol"):

* **Headline: what a user gets.** One objective: the *test* accuracy of the architecture the
  run picks by validation after B queries, and its test regret (the space's best test accuracy
  minus it). The validation regret is kept as a diagnostic of the optimiser. Several objectives:
  the front the run found on validation accuracy, scored on *test* accuracy — the hypervolume of
  its members' (test accuracy, cost) points over the true test front's, with IGD+ beside it;
  the validation hypervolume ratio is the diagnostic.
* **Hypervolume.** Every objective in minimisation form; latency and parameters on a log10
  scale (their tails are long: on NAS-Bench-Graph the slowest architecture is ~20× the
  fastest); each objective scaled so that the true front's ideal point is 0 and its nadir 1;
  the reference point is the nadir plus 10 % of the front's range (1.1, ..., 1.1). A point
  beyond the reference adds nothing.
* **Anytime.** The area under the headline's curve over queries 1..B, divided by B.
* **No tuning on what is reported.** Strategy defaults were chosen on each table's tuning
  datasets (:attr:`TableBenchmark.tuning_datasets`, NAS-Bench-Graph's are TUNING_DATASETS) with
  seeds TUNING_SEEDS; a report runs on the table's report datasets with seeds from
  REPORT_SEED_START. With ``tune=True`` every strategy, peers included, gets the same tuning
  budget first: each configuration of its grid (TUNING_GRIDS: four per strategy that has
  options) run on the tuning datasets and seeds, and the best by the headline is used for the report.
* **Statistics.** Means with 95 % Student-t intervals over seeds; every archscout strategy
  against every peer with a bootstrap interval of the difference of means, Bonferroni-corrected
  for the number of comparisons in the report; average ranks over datasets with the Nemenyi
  critical difference.
* **Noise.** Each table states its own (:attr:`TableBenchmark.noise`, printed in every report):
  NAS-Bench-Graph's light tables hold one validation and one test figure per architecture, so a
  lookup is noise-free.

What the bench knows of a table it asks the table's :class:`~archscout.evaluate.tables.TableBenchmark`
(:func:`table_of`): no code here names a benchmark. Runs go through the strategies' ask/tell
directly, in memory: the study loop adds storage and bookkeeping (about 2 ms a trial), which a
benchmark of strategies leaves out.
"""
from __future__ import annotations

from functools import lru_cache

from ..errors import ArchscoutError
from ..evaluate.tables import TABLES, BenchRow, TableBenchmark, table_of
from ..metrics import parse_objectives
from ..space import Architecture, Space

BENCHMARKS = tuple(TABLES.names(sort=False))
DEFAULT_BENCHMARK = "nas-bench-graph"
DEFAULT_STRATEGIES = ("random", "evolution", "local_search", "bo", "bananas", "rl", "optuna-tpe")
PEERS = ("random", "optuna-tpe")  # what a user would run without archscout: the reference points
PARETO_DEFAULT_STRATEGIES = ("random", "nsga2", "linas", "linas-lite", "optuna-nsga2", "optuna-tpe")
PARETO_PEERS = ("random", "optuna-nsga2", "optuna-tpe")
TABLE_METRICS = {"accuracy": 0, "latency_ms": 2, "params": 3}  # objective -> its column in a table row
TEST_COLUMN = 1  # the table's reported (test) accuracy: reported, never told to a strategy
LOG_SCALED = ("latency_ms", "params")  # long-tailed: compared on a log10 scale
REFERENCE_MARGIN = 0.1  # the hypervolume reference point: the true front's nadir + 10 % of its range
MAX_ASKS_PER_QUERY = 50  # a strategy that proposes only repeats is stopped after this many asks per query

# the split between what defaults are tuned on and what is reported (see the module docstring)
TUNING_DATASETS = TABLES.get(DEFAULT_BENCHMARK).tuning_datasets
REPORT_DATASETS = TABLES.get(DEFAULT_BENCHMARK).report_datasets
TUNING_SEEDS = tuple(range(10))
REPORT_SEED_START = 100
TUNING_BUDGET = 100
# the same number of configurations (the default first) for every strategy that has options, peers included
TUNING_GRIDS: dict[str, list[dict]] = {
    "evolution": [{}, {"population_size": 10, "sample_size": 3}, {"population_size": 50, "sample_size": 10},
                  {"population_size": 20, "sample_size": 10}],
    "bo": [{}, {"kappa": 0.5}, {"kappa": 2.0}, {"acquisition": "its"}],
    "rl": [{}, {"lr": 0.05}, {"lr": 0.01}, {"entropy_weight": 0.05}],
    "optuna-tpe": [{}, {"n_startup_trials": 5}, {"n_startup_trials": 20}, {"n_startup_trials": 40}],
}
PARETO_TUNING_GRIDS: dict[str, list[dict]] = {
    "nsga2": [{}, {"population_size": 16}, {"population_size": 25}, {"population_size": 50}],
    "optuna-nsga2": [{}, {"population_size": 8}, {"population_size": 16}, {"population_size": 25}],
    "linas-lite": [{}, {"population_size": 10}, {"batch": 5}, {"inner_generations": 20}],
    "optuna-tpe": [{}, {"n_startup_trials": 5}, {"n_startup_trials": 20}, {"n_startup_trials": 40}],
}
DATASETS = tuple(d for _, table in TABLES.items() for d in table.datasets)

Objectives = tuple[tuple[str, str], ...]  # ((metric, "max" or "min"), ...)


def benchmark_of(dataset: str) -> str:
    """Which benchmark a dataset name belongs to (their names do not overlap)."""
    return table_of(dataset).name


def table(benchmark: str) -> TableBenchmark:
    """The table benchmark of that name."""
    return TABLES.get(benchmark)


def check_dataset(dataset: str, benchmark: str | None = None) -> str:
    if benchmark is None:
        table_of(dataset)
        return dataset
    return table(benchmark).check_dataset(dataset)


@lru_cache(maxsize=len(DATASETS))
def load_table(dataset: str) -> dict[int, BenchRow]:
    """{key: (told validation accuracy, reported accuracy, latency in ms, parameters)} of a dataset's table (see
    each table's ``told``, ``reported`` and ``noise``)."""
    return table_of(dataset).rows(dataset)


def space_for(dataset: str) -> Space:
    """The space a dataset's table is searched in (one architecture per table row)."""
    return table_of(dataset).space_for(dataset)


def table_key(dataset: str, arch: Architecture) -> int:
    """An architecture's row key in the dataset's table."""
    return table_of(dataset).key(arch)


def checkpoints(horizon: int, budgets: list[int]) -> list[int]:
    """Queries at which a run's curve is kept in results.json: about 10 per decade, and every budget."""
    points = {b for b in budgets if b <= horizon} | {horizon}
    q = 1.0
    while q < horizon:
        points.add(int(round(q)))
        q *= 10 ** 0.1
    return sorted(p for p in points if p >= 1)


def check_objectives(objectives) -> Objectives:
    """((metric, direction), ...) from ``("accuracy:max", "latency_ms:min")`` or any form
    :func:`archscout.metrics.parse_objectives` reads: two or more of the table's metrics."""
    parsed = parse_objectives(objectives)
    for metric, _ in parsed:
        if metric == "test_accuracy":
            raise ArchscoutError("test_accuracy cannot be an objective: the benchmark selects on the validation "
                                 "accuracy (accuracy) and reports test accuracy only")
        if metric not in TABLE_METRICS:
            raise ArchscoutError(f"the benchmark tables do not hold {metric!r}; objectives can use "
                                 f"{', '.join(TABLE_METRICS)} (accuracy is the validation accuracy)")
    if len(parsed) < 2:
        raise ArchscoutError("a multi-objective benchmark needs two or more objectives, e.g. "
                             "accuracy:max,latency_ms:min (without objectives the benchmark is single-objective)")
    return tuple(parsed)
