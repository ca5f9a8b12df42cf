"""One-objective runs of ``archscout bench`` (see :mod:`.protocol`), the query loop every run shares, the space's
optimum a run is scored against, and running many runs on worker processes."""
from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from functools import lru_cache
from typing import cast

import numpy as np

from ..space import Architecture, get_space
from ..strategy import Strategy, make_strategy
from .protocol import DATASETS, MAX_ASKS_PER_QUERY, TEST_COLUMN, load_table, space_for, table_key


def query(strat: Strategy, dataset: str, budget: int, told: Callable) -> tuple[list[int], int]:
    """Ask until ``budget`` distinct architectures were queried; a repeat is told again from what the run
    knows and does not count. ``told(row)`` is what the strategy hears of a table row. Returns the queried
    keys in order and the number of asks."""
    table = load_table(dataset)
    known: dict[str, float | tuple] = {}
    keys: list[int] = []
    asks = 0
    while len(known) < budget and asks < MAX_ASKS_PER_QUERY * budget:
        arch = cast(Architecture, strat.ask())  # the bench runs strategies that propose at once
        asks += 1
        if arch.id in known:
            strat.tell(arch, known[arch.id])
            continue
        key = table_key(dataset, arch)
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
    keys, asks = query(strat, dataset, budget, lambda row: row[0])
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


# -- many runs ----------------------------------------------------------------------------------------

Job = tuple[Callable[..., dict], tuple]  # (run_once or run_pareto, its arguments)


def run_jobs(jobs: list[Job], workers: int, progress) -> list[dict]:
    """Every job's run, in order, on ``workers`` processes (in this one for 1); ``progress(done, total, run)``
    after each."""
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


def _run_job(job: Job) -> dict:
    run, args = job
    return run(*args)


def _one_thread() -> None:
    from threadpoolctl import threadpool_limits
    threadpool_limits(1)
