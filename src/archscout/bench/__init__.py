"""``archscout bench``: strategies × seeds × query budgets on a table benchmark, with peers, under one protocol
(:mod:`.runs`), and its files: results.json, results.md and plots (:mod:`.report`)."""
from .report import markdown, write_results
from .runs import (BENCHMARKS, DEFAULT_STRATEGIES, PARETO_DEFAULT_STRATEGIES, PARETO_TUNING_GRIDS, REPORT_DATASETS,
                   REPORT_SEED_START, TUNING_DATASETS, TUNING_GRIDS, TUNING_SEEDS, best_test, compare, front_quality,
                   igd_plus, rank_summary, run_bench, run_once, run_pareto, space_optimum, summarise, summarise_pareto,
                   true_front, tune)

__all__ = ["BENCHMARKS", "DEFAULT_STRATEGIES", "PARETO_DEFAULT_STRATEGIES", "PARETO_TUNING_GRIDS", "REPORT_DATASETS",
           "REPORT_SEED_START", "TUNING_DATASETS", "TUNING_GRIDS", "TUNING_SEEDS", "best_test", "compare",
           "front_quality", "igd_plus", "markdown", "rank_summary", "run_bench", "run_once", "run_pareto",
           "space_optimum", "summarise", "summarise_pareto", "true_front", "tune", "write_results"]
