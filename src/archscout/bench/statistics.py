"""The statistics of ``archscout bench`` (see :mod:`.protocol`): a run's headline, summary rows with 95 %
intervals over seeds, comparisons with the peers and average ranks over datasets."""
from __future__ import annotations

import statistics

from ..stats import anytime_area, average_ranks, bootstrap_difference, mean_ci, nemenyi_cd, verdict
from .runs import best_test, space_optimum


def index(run: dict, budget: int) -> int:
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
    return 100 * run["picked_test"][index(run, budget)]


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
            _with_ci(row, "valid_regret", [100 * (top - r["best_valid"][index(r, b)]) for r in rs])
            _with_ci(row, "test_area", [r["test_area"][str(b)] if "test_area" in r  # else a full curve in memory
                                        else 100 * anytime_area(r["picked_test"], b) for r in rs])
            row["best_validation_pick_rate"] = sum(r["picked_key"][index(r, b)] in space_optimum(dataset)[1]
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
