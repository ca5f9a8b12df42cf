"""``archscout bench``: strategies × seeds × query budgets on a table benchmark, with peers, under one protocol.

:mod:`.protocol` (the rules, the defaults and what the bench asks of a table), :mod:`.runs` (one-objective runs and
running many), :mod:`.pareto` (multi-objective runs), :mod:`.statistics` (summaries, comparisons, ranks),
:mod:`.tuning`, :mod:`.suite` (a whole bench: :func:`run_bench`) and :mod:`.report` (results.json, results.md and
plots)."""
from .pareto import front_quality, igd_plus, run_pareto, true_front
from .protocol import (
    BENCHMARKS,
    DEFAULT_STRATEGIES,
    PARETO_DEFAULT_STRATEGIES,
    PARETO_TUNING_GRIDS,
    REPORT_DATASETS,
    REPORT_SEED_START,
    TUNING_DATASETS,
    TUNING_GRIDS,
    TUNING_SEEDS,
    benchmark_of,
    load_table,
)
from .report import markdown, write_results
from .runs import best_test, run_once, space_optimum
from .statistics import compare, rank_summary, summarise, summarise_pareto
from .suite import run_bench
from .tuning import tune

__all__ = ["BENCHMARKS", "DEFAULT_STRATEGIES", "PARETO_DEFAULT_STRATEGIES", "PARETO_TUNING_GRIDS", "REPORT_DATASETS",
           "REPORT_SEED_START", "TUNING_DATASETS", "TUNING_GRIDS", "TUNING_SEEDS", "benchmark_of", "best_test",
           "compare", "front_quality", "igd_plus", "load_table", "markdown", "rank_summary", "run_bench", "run_once",
           "run_pareto", "space_optimum", "summarise", "summarise_pareto", "true_front", "tune", "write_results"]
