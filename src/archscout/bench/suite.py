"""A whole ``archscout bench``: every dataset × strategy × seed run under the protocol (see :mod:`.protocol`),
tuned first on request, summarised, compared with the peers and ranked."""
from __future__ import annotations

import os
import platform
import time
from datetime import UTC, datetime

from ..checks import int_at_least, positive_int
from ..errors import ArchscoutError, unknown_name
from ..space import get_space
from ..stats import anytime_area
from ..strategy import canonical_name, make_strategy
from .pareto import run_pareto, true_front
from .protocol import (
    BENCHMARKS,
    DEFAULT_STRATEGIES,
    LOG_SCALED,
    PARETO_DEFAULT_STRATEGIES,
    PARETO_PEERS,
    PEERS,
    REPORT_SEED_START,
    TUNING_SEEDS,
    Objectives,
    check_dataset,
    check_objectives,
    checkpoints,
    load_table,
    space_for,
    table,
)
from .runs import Job, best_test, run_jobs, run_once, space_optimum
from .statistics import compare, rank_summary, summarise, summarise_pareto
from .tuning import tune


def check_bench_args(benchmark: str, datasets: list[str], strategies: list[str], budgets: list[int],
                     seeds: int) -> tuple[list[str], list[str], list[int]]:
    if benchmark not in BENCHMARKS:
        raise unknown_name("benchmark", benchmark, BENCHMARKS)
    datasets = [check_dataset(d, benchmark) for d in datasets]
    strategies = [canonical_name(s) for s in strategies]
    if not datasets or not strategies or not budgets:
        raise ArchscoutError("give at least one dataset, strategy and budget")
    for b in budgets:
        if isinstance(b, bool) or not isinstance(b, int) or b < 1:
            raise ArchscoutError(f"budgets are numbers of queries >= 1, got {b!r}")
    for d in datasets:
        size = len(load_table(d))
        if max(budgets) > size:
            raise ArchscoutError(f"a budget of {max(budgets)} queries is more than the {size} architectures "
                                 f"of the {d} table")
    positive_int(seeds, "seeds")
    return list(dict.fromkeys(datasets)), list(dict.fromkeys(strategies)), sorted(set(budgets))


def _check_int(name: str, value, low: int) -> None:
    int_at_least(value, name, low)


def run_bench(benchmark: str = "nas-bench-graph", datasets=None, strategies: list[str] | None = None,
              budgets=(50, 100, 500), seeds: int = 20, workers: int = 1, progress=None, objectives=None,
              seed_start: int = REPORT_SEED_START, tune_first: bool = False, options: dict | None = None) -> dict:
    """Every dataset × strategy × seed run to the largest budget; returns runs, summary rows, comparisons with
    the peers, average ranks and metadata.

    With ``objectives`` (``("accuracy:max", "latency_ms:min")``) the benchmark is multi-objective (see
    :mod:`.protocol`). ``datasets`` defaults to the table's report datasets. ``strategies`` defaults to
    DEFAULT_STRATEGIES, or PARETO_DEFAULT_STRATEGIES with objectives. Seeds are ``seed_start`` .. ``seed_start +
    seeds - 1``. With ``tune_first`` each strategy is first tuned over its grid on the table's tuning datasets
    (:func:`~.tuning.tune`) and reported with the configuration chosen there; ``options`` ({strategy: {option:
    value}}) sets configurations by hand instead.
    """
    pareto = objectives is not None
    if strategies is None:
        strategies = list(PARETO_DEFAULT_STRATEGIES if pareto else DEFAULT_STRATEGIES)
    if datasets is None and benchmark in BENCHMARKS:
        datasets = table(benchmark).report_datasets
    datasets, strategies, budgets = check_bench_args(benchmark, list(datasets or ()), list(strategies), list(budgets),
                                                     seeds)
    _check_int("workers", workers, 1)
    _check_int("seed_start", seed_start, 0)
    options = _check_options(options, strategies)
    parsed = check_objectives(objectives) if pareto else None
    for s in strategies:  # bad options and a one-objective strategy for several objectives are refused here
        make_strategy(s, get_space(space_for(datasets[0])), objectives=len(parsed) if parsed else 1,
                      **options.get(s, {}))
    t0 = time.perf_counter()
    tuning = None
    if tune_first:
        tuning = tune(strategies, parsed, datasets=table(benchmark).tuning_datasets, workers=workers,
                      progress=progress)
        options = {**tuning["chosen"], **options}
    seed_list = range(seed_start, seed_start + seeds)
    runs = run_jobs(_jobs(datasets, strategies, seed_list, budgets, parsed, options), workers, progress)
    for r in runs:  # the anytime areas, while the runs hold every query's value
        curve = r["test_hv_curve"] if pareto else [100 * v for v in r["picked_test"]]
        r["test_area"] = {str(b): anytime_area(curve, b) for b in budgets}
    peers = [p for p in (PARETO_PEERS if pareto else PEERS) if p in strategies]
    summary = summarise_pareto(runs, budgets) if pareto else summarise(runs, budgets)
    result = {"benchmark": benchmark, "datasets": datasets, "strategies": strategies, "budgets": budgets,
              "seeds": seeds, "seed_start": seed_start, "peers": peers, "options": {s: options.get(s, {})
                                                                                   for s in strategies},
              "tuning": tuning, "tuned_on": {"datasets": list(table(benchmark).tuning_datasets),
                                             "seeds": list(TUNING_SEEDS)},
              "noise": table(benchmark).noise, "summary": summary, "comparisons": compare(runs, budgets, peers),
              "ranks": rank_summary(summary, budgets, "test_hv_ratio" if pareto else "test_accuracy")}
    result |= _fronts(datasets, parsed) if parsed else _optima(datasets)
    return result | {"runs": runs, "machine": _machine(workers), "wall_seconds": time.perf_counter() - t0,
                     "date": datetime.now(UTC).strftime("%Y-%m-%d")}


def _check_options(options: dict | None, strategies: list[str]) -> dict[str, dict]:
    """{canonical strategy name: its options}, refusing options for a strategy the bench does not run."""
    checked = {canonical_name(s): dict(o) for s, o in (options or {}).items()}
    unknown = [s for s in checked if s not in strategies]
    if unknown:
        raise ArchscoutError(f"options are given for {', '.join(unknown)}, which the benchmark does not run")
    return checked


def _jobs(datasets: list[str], strategies: list[str], seeds: range, budgets: list[int],
          objectives: Objectives | None, options: dict[str, dict]) -> list[Job]:
    """Every dataset × strategy × seed run to the largest budget (multi-objective runs keep the checkpoints)."""
    if objectives is not None:
        at = checkpoints(max(budgets), budgets)
        return [(run_pareto, (d, s, seed, max(budgets), objectives, at, options.get(s)))
                for d in datasets for s in strategies for seed in seeds]
    return [(run_once, (d, s, seed, max(budgets), options.get(s)))
            for d in datasets for s in strategies for seed in seeds]


def _fronts(datasets: list[str], objectives: Objectives) -> dict:
    """What a multi-objective result adds: its objectives, those on a log scale and each dataset's true test
    front."""
    fronts = {d: true_front(d, objectives, test=True) for d in datasets}
    return {"objectives": [f"{m}:{way}" for m, way in objectives],
            "log_scaled": [m for m, _ in objectives if m in LOG_SCALED],
            "true_front": {d: {"size": len(f["keys"]), "hypervolume": f["hypervolume"], "keys": f["keys"],
                               "ideal": f["ideal"].tolist(), "nadir": f["nadir"].tolist()}
                           for d, f in fronts.items()}}


def _optima(datasets: list[str]) -> dict:
    """What a one-objective result adds: each dataset's best validation and best test accuracy (%)."""
    return {"optimum": {d: 100 * space_optimum(d)[0] for d in datasets},
            "best_test": {d: 100 * best_test(d) for d in datasets}}


def _machine(workers: int) -> dict:
    from importlib.metadata import PackageNotFoundError, version
    try:
        release = version("archscout")
    except PackageNotFoundError:
        release = "?"
    return {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count(),
            "workers": workers, "archscout": release}
