"""Pareto fronts of several objectives: non-dominated sorting, crowding distance and hypervolume (pymoo).

Every function takes a matrix ``F`` of shape (points, objectives) in *minimisation* form
(use :func:`to_minimise` to flip maximised objectives) and is pure.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def to_minimise(values, directions: Sequence[str]) -> np.ndarray:
    """Rows of objective values -> minimisation form (maximised columns negated)."""
    F = np.asarray(values, dtype=float).reshape(-1, len(directions))
    signs = np.array([-1.0 if d == "max" else 1.0 for d in directions])
    return F * signs


def pareto_ranks(F) -> np.ndarray:
    """The non-domination rank of every row (0 = on the front, 1 = on the front once rank 0 is removed, ...)."""
    from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting

    F = np.asarray(F, dtype=float)
    ranks = np.zeros(len(F), dtype=int)
    if len(F) == 0:
        return ranks
    for rank, front in enumerate(NonDominatedSorting().do(F)):
        ranks[np.asarray(front, dtype=int)] = rank
    return ranks


def nondominated(F) -> np.ndarray:
    """Indices of the rows no other row dominates (duplicates of a front point are all kept)."""
    F = np.asarray(F, dtype=float)
    if len(F) == 0:
        return np.zeros(0, dtype=int)
    return np.flatnonzero(pareto_ranks(F) == 0)


def crowding_distance(F) -> np.ndarray:
    """NSGA-II's crowding distance of each row of one front (boundary points get infinity)."""
    from pymoo.operators.survival.rank_and_crowding.metrics import calc_crowding_distance

    F = np.asarray(F, dtype=float)
    if len(F) <= 2:
        return np.full(len(F), np.inf)
    return np.asarray(calc_crowding_distance(F), dtype=float)


def hypervolume(F, reference) -> float:
    """The volume dominated by the rows of ``F`` and bounded by ``reference`` (points beyond it count nothing)."""
    from pymoo.indicators.hv import HV

    F = np.asarray(F, dtype=float)
    ref = np.asarray(reference, dtype=float)
    if len(F) == 0:
        return 0.0
    inside = F[np.all(F < ref, axis=1)]
    if len(inside) == 0:
        return 0.0
    return float(HV(ref_point=ref)(inside))


def normalise(F, lower, upper) -> np.ndarray:
    """Scale each column to [0, 1] between ``lower`` and ``upper`` (a zero range maps to 0)."""
    F = np.asarray(F, dtype=float)
    lo, hi = np.asarray(lower, dtype=float), np.asarray(upper, dtype=float)
    span = np.where(hi > lo, hi - lo, 1.0)
    return (F - lo) / span
