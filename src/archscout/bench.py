"""``archscout bench``: strategies × seeds × query budgets on a tabular benchmark, with peers, in one command.

A run gives a strategy a fresh table lookup and asks until it has queried ``max(budgets)``
distinct architectures (a repeated proposal is answered from what the run already knows and
does not count, as in a study). At each budget B the run is scored by what it would pick
after B queries, the architecture with the best validation accuracy so far:

* valid regret: the space's best validation accuracy minus the picked one's, in points;
* test accuracy of the picked architecture (the benchmark's test figure; never used to pick);
* hit: whether the picked architecture is the space's best-validation one.

With ``objectives`` (``("accuracy:max", "latency_ms:min")``; the table's metrics are
``accuracy``, its validation accuracy, ``latency_ms`` and ``params``) the benchmark is
multi-objective: each query is told as the tuple of the architecture's values, oriented so
that higher is better, and a run is scored at each budget by its *hypervolume ratio*, the
hypervolume of the front of the architectures queried so far over that of the table's true
front. Both are taken in minimisation form with every objective min-max scaled to [0, 1]
over the whole table and the reference point (1, ..., 1); 1.0 means the true front's
hypervolume was reached.

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
from functools import lru_cache

import numpy as np

from .errors import ArchscoutError
from .evaluate.tabular import DATASETS, check_dataset, load_table, space_for
from .metrics import parse_objectives
from .pareto import hypervolume, nondominated, normalise, to_minimise
from .space import benchmark_key, get_space
from .strategy import Strategy, canonical_name, make_strategy

BENCHMARKS = ("nas-bench-graph",)
DEFAULT_STRATEGIES = ("random", "evolution", "bo", "rl", "optuna-tpe")
PEERS = ("random", "optuna-tpe")  # what a user would run without archscout: the reference points
PARETO_DEFAULT_STRATEGIES = ("random", "nsga2", "linas", "optuna-nsga2", "optuna-tpe")
PARETO_PEERS = ("random", "optuna-nsga2", "optuna-tpe")
TABLE_METRICS = {"accuracy": 0, "latency_ms": 2, "params": 3}  # objective -> its column in a table row
MAX_ASKS_PER_QUERY = 50  # a strategy that proposes only repeats is stopped after this many asks per query

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
        key = benchmark_key(arch)
        known[arch.id] = told(table[key])
        keys.append(key)
        strat.tell(arch, known[arch.id])
    return keys, asks


def run_once(dataset: str, strategy: str, seed: int, budget: int) -> dict:
    """One run: the best validation accuracy (and its architecture's test accuracy) after each query."""
    table = load_table(dataset)
    strat = make_strategy(strategy, get_space(space_for(dataset)), seed=seed)
    t0 = time.perf_counter()
    keys, asks = _query(strat, table, budget, lambda row: row[0])
    seconds = time.perf_counter() - t0
    best_valid, best_test, best_key = -math.inf, math.nan, None
    valid_curve, test_curve, key_curve = [], [], []
    for key in keys:
        valid, test = table[key][0], table[key][1]
        if valid > best_valid:
            best_valid, best_test, best_key = valid, test, key
        valid_curve.append(best_valid)
        test_curve.append(best_test)
        key_curve.append(best_key)
    return {"dataset": dataset, "strategy": strategy, "seed": seed, "queries": len(keys), "asks": asks,
            "seconds": seconds, "best_valid": valid_curve, "picked_test": test_curve,
            "picked_key": key_curve}


def space_optimum(dataset: str) -> tuple[float, set[int]]:
    """The best validation accuracy in the table and the keys that reach it."""
    table = load_table(dataset)
    top = max(r[0] for r in table.values())
    return top, {k for k, r in table.items() if r[0] == top}


def run_pareto(dataset: str, strategy: str | Strategy, seed: int, budget: int, objectives,
               at: list[int] | None = None, options: dict | None = None) -> dict:
    """One multi-objective run: the hypervolume ratio and front size after each number of queries in ``at``
    (default: the checkpoints up to ``budget``). ``strategy`` is a name (made with ``options``) or a strategy
    object; ``objectives`` as :func:`check_objectives` reads them."""
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
    scaled = scaled_objectives(dataset, objectives, keys)
    ratios, sizes = hypervolume_curve(scaled, true_front(dataset, objectives)["hypervolume"], at)
    return {"dataset": dataset, "strategy": strategy, "seed": seed, "queries": len(keys), "asks": asks,
            "seconds": seconds, "at_queries": at,
            "hv_ratio": ratios, "front_size": sizes, "front_keys": [keys[i] for i in nondominated(scaled)]}


def _minimised(dataset: str, objectives: Objectives, keys: list[int]) -> np.ndarray:
    table = load_table(dataset)
    return to_minimise([[table[k][TABLE_METRICS[m]] for m, _ in objectives] for k in keys],
                       [way for _, way in objectives])


@lru_cache(maxsize=4 * len(DATASETS))
def true_front(dataset: str, objectives: Objectives) -> dict:
    """The whole table's front: its keys, every objective's range in minimisation form (``lower``,
    ``upper``: the scaling to [0, 1]) and the front's hypervolume once scaled."""
    keys = list(load_table(dataset))
    F = _minimised(dataset, objectives, keys)
    lower, upper = F.min(axis=0), F.max(axis=0)
    front = nondominated(F)
    return {"keys": [keys[i] for i in front], "lower": lower, "upper": upper,
            "hypervolume": hypervolume(normalise(F[front], lower, upper), np.ones(len(objectives)))}


def scaled_objectives(dataset: str, objectives: Objectives, keys: list[int]) -> np.ndarray:
    """The architectures' objective values in minimisation form, scaled to [0, 1] over the whole table."""
    ref = true_front(dataset, objectives)
    return normalise(_minimised(dataset, objectives, keys), ref["lower"], ref["upper"])


def hypervolume_curve(scaled: np.ndarray, whole: float, at: list[int]) -> tuple[list[float], list[int]]:
    """For each q in ``at``: the hypervolume of the front of the first q rows of ``scaled`` (reference point
    (1, ..., 1)) over ``whole``, and that front's size. A run that stopped short keeps its last value."""
    reference = np.ones(scaled.shape[1])
    ratios, sizes = [], []
    for q in at:
        F = scaled[:q]
        front = F[nondominated(F)]
        ratios.append(hypervolume(front, reference) / whole)
        sizes.append(len(front))
    return ratios, sizes


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


def summarise_pareto(runs: list[dict], budgets: list[int]) -> list[dict]:
    """One row per dataset × strategy × budget: mean hypervolume ratio and size of the front found."""
    rows = []
    groups: dict[tuple[str, str], list[dict]] = {}
    for r in runs:
        groups.setdefault((r["dataset"], r["strategy"]), []).append(r)
    for (dataset, strategy), rs in groups.items():
        for b in budgets:
            at = [r["at_queries"].index(b) for r in rs]
            ratio, ratio_ci = mean_ci([r["hv_ratio"][i] for r, i in zip(rs, at)])
            rows.append({"dataset": dataset, "strategy": strategy, "budget": b, "seeds": len(rs),
                         "hv_ratio": ratio, "hv_ratio_ci95": ratio_ci,
                         "front_size": statistics.fmean(r["front_size"][i] for r, i in zip(rs, at)),
                         "runs_short_of_budget": sum(r["queries"] < b for r in rs),
                         "seconds_per_run": statistics.fmean(r["seconds"] for r in rs)})
    return rows


def check_objectives(objectives) -> Objectives:
    """((metric, direction), ...) from ``("accuracy:max", "latency_ms:min")`` or any form
    :func:`archscout.metrics.parse_objectives` reads: two or more of the table's metrics."""
    parsed = parse_objectives(objectives)
    for metric, _ in parsed:
        if metric == "test_accuracy":
            raise ArchscoutError("test_accuracy cannot be an objective: the benchmark selects on the validation "
                                 "accuracy (accuracy) and reports test accuracy only")
        if metric not in TABLE_METRICS:
            raise ArchscoutError(f"the NAS-Bench-Graph tables do not hold {metric!r}; objectives can use "
                                 f"{', '.join(TABLE_METRICS)} (accuracy is the validation accuracy)")
    if len(parsed) < 2:
        raise ArchscoutError("a multi-objective benchmark needs two or more objectives, e.g. "
                             "accuracy:max,latency_ms:min (without objectives the benchmark is single-objective)")
    return tuple(parsed)


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


def run_bench(benchmark: str = "nas-bench-graph", datasets: list[str] = DATASETS, strategies: list[str] | None = None,
              budgets: list[int] = (50, 100, 500), seeds: int = 20, workers: int = 1, progress=None,
              objectives=None) -> dict:
    """Every dataset × strategy × seed run to the largest budget; returns runs, summary rows and metadata.

    With ``objectives`` (``("accuracy:max", "latency_ms:min")``) the benchmark is multi-objective and its
    runs are scored by hypervolume ratio (see the module). ``strategies`` defaults to DEFAULT_STRATEGIES,
    or PARETO_DEFAULT_STRATEGIES with objectives.
    """
    pareto = objectives is not None
    if strategies is None:
        strategies = PARETO_DEFAULT_STRATEGIES if pareto else DEFAULT_STRATEGIES
    datasets, strategies, budgets = check_bench_args(benchmark, list(datasets), list(strategies), list(budgets),
                                                     seeds)
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ArchscoutError(f"workers must be a number >= 1, got {workers!r}")
    if pareto:
        objectives = check_objectives(objectives)
        for s in strategies:  # a one-objective strategy is refused here, naming the ones that handle several
            make_strategy(s, get_space("gnn"), objectives=len(objectives))
        at = checkpoints(max(budgets), budgets)
        jobs = [(run_pareto, (d, s, seed, max(budgets), objectives, at))
                for d in datasets for s in strategies for seed in range(seeds)]
    else:
        jobs = [(run_once, (d, s, seed, max(budgets))) for d in datasets for s in strategies for seed in range(seeds)]
    t0 = time.perf_counter()
    runs: list[dict] = []
    if workers == 1:
        for job in jobs:
            runs.append(_run_job(job))
            if progress:
                progress(len(runs), len(jobs), runs[-1])
    else:
        with ProcessPoolExecutor(workers, initializer=_one_thread) as pool:
            for run in pool.map(_run_job, jobs, chunksize=1):
                runs.append(run)
                if progress:
                    progress(len(runs), len(jobs), run)
    result = {"benchmark": benchmark, "datasets": datasets, "strategies": strategies, "budgets": budgets,
              "seeds": seeds}
    if pareto:
        fronts = {d: true_front(d, objectives) for d in datasets}
        result |= {"objectives": [f"{m}:{way}" for m, way in objectives],
                   "peers": [p for p in PARETO_PEERS if p in strategies], "summary": summarise_pareto(runs, budgets),
                   "true_front": {d: {"size": len(f["keys"]), "hypervolume": f["hypervolume"], "keys": f["keys"]}
                                  for d, f in fronts.items()}}
    else:
        result |= {"peers": [p for p in PEERS if p in strategies], "summary": summarise(runs, budgets),
                   "optimum": {d: 100 * space_optimum(d)[0] for d in datasets}}
    return result | {"runs": runs, "machine": _machine(workers), "wall_seconds": time.perf_counter() - t0,
                     "date": datetime.now(timezone.utc).strftime("%Y-%m-%d")}


def _run_job(job: tuple) -> dict:
    run, args = job
    return run(*args)


def _one_thread() -> None:
    from threadpoolctl import threadpool_limits
    threadpool_limits(1)


def _machine(workers: int) -> dict:
    import archscout
    return {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count(),
            "workers": workers, "archscout": getattr(archscout, "__version__", "?")}


# -- writing the results ------------------------------------------------------------------------

def markdown(result: dict) -> str:
    """A table per dataset: valid regret, picked test accuracy and hit rate (with objectives: hypervolume
    ratio and front size), by strategy and budget."""
    if "objectives" in result:
        return _tables(
            result, f", {' and '.join(result['objectives'])}",
            "HV ratio = hypervolume of the front of the architectures queried after B queries / hypervolume of "
            "the table's true front, both with every objective min-max scaled to [0, 1] over the whole table "
            "(minimisation form) and the reference point (1, ..., 1); front = architectures on the front found "
            "(mean). ± is the 95 % interval over seeds.",
            lambda d: f"{d} (true front: {result['true_front'][d]['size']} architectures)", ("HV ratio", "front"),
            lambda r: [f"{r['hv_ratio']:.3f} ± {r['hv_ratio_ci95']:.3f}", f"{r['front_size']:.1f}"])
    return _tables(
        result, "",
        "Valid regret = best validation accuracy in the space − best found (points); test = test accuracy "
        "of the architecture picked by validation; hit = runs that found the space's best-validation "
        "architecture. ± is the 95 % interval over seeds.",
        lambda d: f"{d} (best validation accuracy in the space {result['optimum'][d]:.2f} %)",
        ("regret", "test %", "hit"),
        lambda r: [f"{r['valid_regret']:.2f} ± {r['valid_regret_ci95']:.2f}",
                   f"{r['test_accuracy']:.2f} ± {r['test_accuracy_ci95']:.2f}", f"{100 * r['hit_rate']:.0f} %"])


def _tables(result: dict, what: str, explanation: str, heading, names: tuple, cells) -> str:
    """The report: a header, then per dataset a table of ``cells(summary row)`` by strategy and budget."""
    m = result["machine"]
    lines = [f"# {result['benchmark']}{what}: {', '.join(result['strategies'])} × {result['seeds']} seeds", "",
             f"Date {result['date']}; machine: {m['platform']}, {m['cpus']} CPUs, {m['workers']} worker(s); "
             f"wall time {result['wall_seconds']:.0f} s.", explanation, ""]
    by = {(r["dataset"], r["strategy"], r["budget"]): r for r in result["summary"]}
    budgets = result["budgets"]
    for d in result["datasets"]:
        lines += [f"## {heading(d)}", "",
                  "| strategy | " + " | ".join(f"B={b} {n}" for b in budgets for n in names) + " | s/run |",
                  "|---|" + "---|" * (len(names) * len(budgets) + 1)]
        for s in result["strategies"]:
            row = []
            for b in budgets:
                r = by[(d, s, b)]
                values = cells(r)
                values[0] += "*" if r["runs_short_of_budget"] else ""
                row += values
            row.append(f"{by[(d, s, budgets[-1])]['seconds_per_run']:.2f}")
            lines.append(f"| {s} | " + " | ".join(row) + " |")
        lines.append("")
    if any(r["runs_short_of_budget"] for r in result["summary"]):
        lines.append(f"\\* some runs stopped short of the budget: the strategy proposed only repeats "
                     f"({MAX_ASKS_PER_QUERY} asks per query); their last value is carried.")
    return "\n".join(lines) + "\n"


def plot(result: dict, dataset: str, path: str) -> None:
    """Mean valid regret (with objectives: hypervolume ratio) against queries, with the 95 % band, one line
    per strategy."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if "objectives" in result:
        _plot_pareto(result, dataset, path, plt)
        return

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


def _plot_pareto(result: dict, dataset: str, path: str, plt) -> None:
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for s in result["strategies"]:
        runs = [r for r in result["runs"] if r["dataset"] == dataset and r["strategy"] == s]
        xs = runs[0]["at_queries"]
        stats = [mean_ci([r["hv_ratio"][i] for r in runs]) for i in range(len(xs))]
        means = [m for m, _ in stats]
        halves = [0.0 if math.isnan(h) else h for _, h in stats]
        line, = ax.plot(xs, means, label=s, linestyle="--" if s in PARETO_PEERS else "-")
        # a ratio is never above 1: the interval is cut there
        ax.fill_between(xs, [m - h for m, h in zip(means, halves)], [min(1.0, m + h) for m, h in zip(means, halves)],
                        color=line.get_color(), alpha=0.15)
    ax.set_xscale("log")
    ax.set_ylim(top=1.0)
    ax.set_xlabel("distinct architectures queried")
    ax.set_ylabel("hypervolume ratio")
    ax.set_title(f"NAS-Bench-Graph {dataset}, {' and '.join(result['objectives'])}: {result['seeds']} seeds",
                 fontsize="medium")
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
    """The result with each run's curves kept at the checkpoints only (full curves are ~30 MB for 900 runs).
    Multi-objective runs keep their curves at the checkpoints already."""
    if "objectives" in result:
        return result
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


__all__ = ["run_bench", "run_once", "run_pareto", "write_results", "markdown", "summarise", "summarise_pareto",
           "true_front", "hypervolume_curve", "BENCHMARKS", "DEFAULT_STRATEGIES", "PARETO_DEFAULT_STRATEGIES"]
