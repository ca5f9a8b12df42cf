"""Tuning under the protocol of ``archscout bench`` (see :mod:`.protocol`): every strategy's grid of configurations
run on the tuning datasets and seeds, and the configuration with the best mean headline chosen."""
from __future__ import annotations

import statistics
from collections.abc import Iterable

import numpy as np

from .pareto import run_pareto
from .protocol import (
    PARETO_TUNING_GRIDS,
    TUNING_BUDGET,
    TUNING_DATASETS,
    TUNING_GRIDS,
    TUNING_SEEDS,
    Objectives,
    check_objectives,
)
from .runs import Job, run_jobs, run_once
from .statistics import headline


def grid_for(strategy: str, pareto: bool) -> list[dict]:
    """The configurations a strategy is tuned over (only its defaults for a strategy with no grid)."""
    return (PARETO_TUNING_GRIDS if pareto else TUNING_GRIDS).get(strategy, [{}])


def tune(strategies: list[str], objectives=None, datasets: Iterable[str] = TUNING_DATASETS,
         seeds: Iterable[int] = TUNING_SEEDS, budget: int = TUNING_BUDGET, workers: int = 1, progress=None) -> dict:
    """Each strategy's grid run on the tuning datasets and seeds at ``budget`` queries; the configuration with
    the best mean headline (test accuracy, or test hypervolume ratio), averaged over datasets, is chosen."""
    pareto = objectives is not None
    parsed = check_objectives(objectives) if pareto else None
    datasets, seeds = list(datasets), list(seeds)
    jobs, labels = _jobs(strategies, parsed, datasets, seeds, budget)
    runs = run_jobs(jobs, workers, progress)
    scores: dict[str, list[float]] = {}
    for s in strategies:
        grid = grid_for(s, pareto)
        if len(grid) == 1:
            scores[s] = [float("nan")]
            continue
        scores[s] = [statistics.fmean(
            statistics.fmean(headline(r, budget) for r, lab in zip(runs, labels) if lab == (s, i, d))
            for d in datasets) for i in range(len(grid))]
    chosen = {s: grid_for(s, pareto)[int(np.nanargmax(scores[s])) if len(scores[s]) > 1 else 0] for s in strategies}
    return {"datasets": list(datasets), "seeds": list(seeds), "budget": budget,
            "grids": {s: grid_for(s, pareto) for s in strategies}, "scores": scores, "chosen": chosen}


def _jobs(strategies: list[str], objectives: Objectives | None, datasets: list[str], seeds: list[int],
          budget: int) -> tuple[list[Job], list[tuple[str, int, str]]]:
    """The runs of every configuration of every grid, and their labels (strategy, configuration, dataset)."""
    jobs: list[Job] = []
    labels = []
    for s in strategies:
        grid = grid_for(s, objectives is not None)
        if len(grid) == 1:
            continue  # nothing to choose: run at its defaults, as the paper gives them
        for i, options in enumerate(grid):
            for d in datasets:
                for seed in seeds:
                    jobs.append((run_pareto, (d, s, seed, budget, objectives, [budget], options)) if objectives is not None
                                else (run_once, (d, s, seed, budget, options)))
                    labels.append((s, i, d))
    return jobs, labels
