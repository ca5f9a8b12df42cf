"""``archscout bench``: strategies × seeds × query budgets on a tabular benchmark, with peers, in one command.

A run gives a strategy a fresh table lookup and asks until it has queried ``max(budgets)``
distinct architectures (a repeated proposal is answered from what the run already knows and
does not count, as in a study). At each budget B the run is scored by what it would pick
after B queries, the architecture with the best validation accuracy so far:

* valid regret: the space's best validation accuracy minus the picked one's, in points;
* test accuracy of the picked architecture (the benchmark's test figure; never used to pick);
* hit: whether the picked architecture is the space's best-validation one.

Means come with 95 % intervals over seeds (Student's t for means, Wilson for hit rates).
Runs go through the strategies' ask/tell directly, in memory: the study loop adds storage
and bookkeeping (about 2 ms a trial), which a benchmark of strategies leaves out.
"""
from __future__ import annotations

import json
import math
import os
import platform
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, timezone

from .errors import ArchscoutError
from .evaluate.tabular import DATASETS, check_dataset, load_table, space_for
from .space import benchmark_key, get_space
from .strategy import canonical_name, make_strategy

BENCHMARKS = ("nas-bench-graph",)
DEFAULT_STRATEGIES = ("random", "evolution", "bo", "rl", "optuna-tpe")
PEERS = ("random", "optuna-tpe")  # what a user would run without archscout: the reference points
MAX_ASKS_PER_QUERY = 50  # a strategy that proposes only repeats is stopped after this many asks per query


def run_once(dataset: str, strategy: str, seed: int, budget: int) -> dict:
    """One run: the best validation accuracy (and its architecture's test accuracy) after each query."""
    table = load_table(dataset)
    space = get_space(space_for(dataset))
    strat = make_strategy(strategy, space, seed=seed)
    known: dict[str, float] = {}
    best_valid, best_test, best_key = -math.inf, math.nan, None
    valid_curve, test_curve, key_curve = [], [], []
    asks = 0
    t0 = time.perf_counter()
    while len(known) < budget and asks < MAX_ASKS_PER_QUERY * budget:
        arch = strat.ask()
        asks += 1
        if arch.id in known:
            strat.tell(arch, known[arch.id])
            continue
        key = benchmark_key(arch)
        valid, test = table[key][0], table[key][1]
        known[arch.id] = valid
        strat.tell(arch, valid)
        if valid > best_valid:
            best_valid, best_test, best_key = valid, test, key
        valid_curve.append(best_valid)
        test_curve.append(best_test)
        key_curve.append(best_key)
    return {"dataset": dataset, "strategy": strategy, "seed": seed, "queries": len(known), "asks": asks,
            "seconds": time.perf_counter() - t0, "best_valid": valid_curve, "picked_test": test_curve,
            "picked_key": key_curve}


def space_optimum(dataset: str) -> tuple[float, set[int]]:
    """The best validation accuracy in the table and the keys that reach it."""
    table = load_table(dataset)
    top = max(r[0] for r in table.values())
    return top, {k for k, r in table.items() if r[0] == top}


def _t95(n: int) -> float:
    if n < 2:
        return math.nan
    from scipy.stats import t
    return float(t.ppf(0.975, n - 1))


def mean_ci(values: list[float]) -> tuple[float, float]:
    """Mean and the half-width of its 95 % interval (Student's t)."""
    if not values:
        return math.nan, math.nan
    m = statistics.fmean(values)
    if len(values) < 2:
        return m, math.nan
    return m, _t95(len(values)) * statistics.stdev(values) / math.sqrt(len(values))


def wilson(hits: int, n: int) -> tuple[float, float]:
    """95 % Wilson interval of a rate."""
    if n == 0:
        return math.nan, math.nan
    z, p = 1.959964, hits / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def summarise(runs: list[dict], budgets: list[int]) -> list[dict]:
    """One row per dataset × strategy × budget."""
    rows = []
    groups: dict[tuple[str, str], list[dict]] = {}
    for r in runs:
        groups.setdefault((r["dataset"], r["strategy"]), []).append(r)
    for (dataset, strategy), rs in groups.items():
        top, best_keys = space_optimum(dataset)
        for b in budgets:
            regrets, tests, hits, short = [], [], 0, 0
            for r in rs:
                i = min(b, len(r["best_valid"])) - 1
                short += len(r["best_valid"]) < b
                regrets.append(100 * (top - r["best_valid"][i]))
                tests.append(100 * r["picked_test"][i])
                hits += r["picked_key"][i] in best_keys
            regret, regret_ci = mean_ci(regrets)
            test, test_ci = mean_ci(tests)
            low, high = wilson(hits, len(rs))
            rows.append({"dataset": dataset, "strategy": strategy, "budget": b, "seeds": len(rs),
                         "valid_regret": regret, "valid_regret_ci95": regret_ci, "test_accuracy": test,
                         "test_accuracy_ci95": test_ci, "hit_rate": hits / len(rs), "hit_rate_ci95": [low, high],
                         "runs_short_of_budget": short,
                         "seconds_per_run": statistics.fmean(r["seconds"] for r in rs)})
    return rows


def check_bench_args(benchmark: str, datasets: list[str], strategies: list[str], budgets: list[int],
                     seeds: int) -> tuple[list[str], list[str], list[int]]:
    if benchmark not in BENCHMARKS:
        from .errors import unknown_name
        raise unknown_name("benchmark", benchmark, BENCHMARKS)
    datasets = [check_dataset(d) for d in datasets]
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


def run_bench(benchmark: str = "nas-bench-graph", datasets: list[str] = DATASETS,
              strategies: list[str] = DEFAULT_STRATEGIES, budgets: list[int] = (50, 100, 500), seeds: int = 20,
              workers: int = 1, progress=None) -> dict:
    """Every dataset × strategy × seed run to the largest budget; returns runs, summary rows and metadata."""
    datasets, strategies, budgets = check_bench_args(benchmark, list(datasets), list(strategies), list(budgets),
                                                     seeds)
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ArchscoutError(f"workers must be a number >= 1, got {workers!r}")
    jobs = [(d, s, seed, max(budgets)) for d in datasets for s in strategies for seed in range(seeds)]
    t0 = time.perf_counter()
    runs: list[dict] = []
    if workers == 1:
        for job in jobs:
            runs.append(run_once(*job))
            if progress:
                progress(len(runs), len(jobs), runs[-1])
    else:
        with ProcessPoolExecutor(workers, initializer=_one_thread) as pool:
            for run in pool.map(_run_job, jobs, chunksize=1):
                runs.append(run)
                if progress:
                    progress(len(runs), len(jobs), run)
    return {"benchmark": benchmark, "datasets": datasets, "strategies": strategies, "budgets": budgets,
            "seeds": seeds, "peers": [p for p in PEERS if p in strategies], "summary": summarise(runs, budgets),
            "optimum": {d: 100 * space_optimum(d)[0] for d in datasets}, "runs": runs,
            "machine": _machine(workers), "wall_seconds": time.perf_counter() - t0,
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%d")}


def _run_job(job: tuple) -> dict:
    return run_once(*job)


def _one_thread() -> None:
    from threadpoolctl import threadpool_limits
    threadpool_limits(1)


def _machine(workers: int) -> dict:
    import archscout
    return {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count(),
            "workers": workers, "archscout": getattr(archscout, "__version__", "?")}


# -- writing the results ------------------------------------------------------------------------

def markdown(result: dict) -> str:
    """A table per dataset: valid regret, picked test accuracy and hit rate, by strategy and budget."""
    lines = [f"# {result['benchmark']}: {', '.join(result['strategies'])} × {result['seeds']} seeds",
             "", f"Date {result['date']}; machine: {result['machine']['platform']}, "
                 f"{result['machine']['cpus']} CPUs, {result['machine']['workers']} worker(s); "
                 f"wall time {result['wall_seconds']:.0f} s.",
             "Valid regret = best validation accuracy in the space − best found (points); test = test accuracy "
             "of the architecture picked by validation; hit = runs that found the space's best-validation "
             "architecture. ± is the 95 % interval over seeds.", ""]
    by = {(r["dataset"], r["strategy"], r["budget"]): r for r in result["summary"]}
    for d in result["datasets"]:
        lines += [f"## {d} (best validation accuracy in the space {result['optimum'][d]:.2f} %)", "",
                  "| strategy | " + " | ".join(f"B={b} regret | B={b} test % | B={b} hit" for b in result["budgets"])
                  + " | s/run |",
                  "|---|" + "---|" * (3 * len(result["budgets"]) + 1)]
        for s in result["strategies"]:
            cells = []
            for b in result["budgets"]:
                r = by[(d, s, b)]
                flag = "*" if r["runs_short_of_budget"] else ""
                cells += [f"{r['valid_regret']:.2f} ± {r['valid_regret_ci95']:.2f}{flag}",
                          f"{r['test_accuracy']:.2f} ± {r['test_accuracy_ci95']:.2f}",
                          f"{100 * r['hit_rate']:.0f} %"]
            cells.append(f"{by[(d, s, result['budgets'][-1])]['seconds_per_run']:.2f}")
            lines.append(f"| {s} | " + " | ".join(cells) + " |")
        lines.append("")
    if any(r["runs_short_of_budget"] for r in result["summary"]):
        lines.append(f"\\* some runs stopped short of the budget: the strategy proposed only repeats "
                     f"({MAX_ASKS_PER_QUERY} asks per query); their last value is carried.")
    return "\n".join(lines) + "\n"


def plot(result: dict, dataset: str, path: str) -> None:
    """Mean valid regret against queries, with the 95 % band, one line per strategy."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    top = space_optimum(dataset)[0]
    horizon = max(result["budgets"])
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for s in result["strategies"]:
        curves = [r["best_valid"] for r in result["runs"] if r["dataset"] == dataset and r["strategy"] == s]
        xs, means, halves = [], [], []
        for q in range(1, horizon + 1):
            m, h = mean_ci([100 * (top - c[min(q, len(c)) - 1]) for c in curves])
            xs.append(q)
            means.append(m)
            halves.append(0.0 if math.isnan(h) else h)
        line, = ax.plot(xs, means, label=s, linestyle="--" if s in PEERS else "-")
        # regret is never negative: the interval is cut at 0
        ax.fill_between(xs, [max(0.0, m - h) for m, h in zip(means, halves)], [m + h for m, h in zip(means, halves)],
                        color=line.get_color(), alpha=0.15)
    ax.set_xscale("log")
    ax.set_yscale("symlog", linthresh=0.1)
    ax.set_ylim(bottom=0)
    ax.set_xlabel("distinct architectures queried")
    ax.set_ylabel("valid regret (points)")
    ax.set_title(f"NAS-Bench-Graph {dataset}: {result['seeds']} seeds, mean and 95 % interval")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


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
        n = len(r["best_valid"])
        idx = [min(q, n) - 1 for q in at]
        runs.append({**{k: v for k, v in r.items() if k not in ("best_valid", "picked_test", "picked_key")},
                     "at_queries": at, "best_valid": [r["best_valid"][i] for i in idx],
                     "picked_test": [r["picked_test"][i] for i in idx],
                     "picked_key": [r["picked_key"][i] for i in idx]})
    return {**result, "runs": runs}


def write_results(result: dict, out: str) -> list[str]:
    """results.json (summary, metadata, each run's curve at the checkpoints), results.md and one PNG per
    dataset under ``out``; returns the paths written."""
    if os.path.exists(out) and not os.path.isdir(out):
        raise ArchscoutError(f"--out {out!r} is a file; give a directory")
    try:
        os.makedirs(out, exist_ok=True)
    except OSError as e:
        raise ArchscoutError(f"cannot create the output directory {out!r}: {e.strerror}") from None
    paths = [os.path.join(out, "results.json"), os.path.join(out, "results.md")]
    with open(paths[0], "w") as f:
        json.dump(compact(result), f)
    with open(paths[1], "w") as f:
        f.write(markdown(result))
    for d in result["datasets"]:
        paths.append(os.path.join(out, f"{d}.png"))
        plot(result, d, paths[-1])
    return paths


__all__ = ["run_bench", "run_once", "write_results", "markdown", "summarise", "BENCHMARKS", "DEFAULT_STRATEGIES"]
