"""Multi-objective runs of ``archscout bench``: the front a run finds on validation, scored on test against the
table's true front (hypervolume ratio and IGD+, see :mod:`.protocol`)."""
from __future__ import annotations

import time
from functools import lru_cache

import numpy as np

from ..pareto import hypervolume, nondominated, to_minimise
from ..space import get_space
from ..strategy import Strategy, make_strategy
from .protocol import (
    DATASETS,
    LOG_SCALED,
    REFERENCE_MARGIN,
    TABLE_METRICS,
    TEST_COLUMN,
    Objectives,
    check_objectives,
    checkpoints,
    load_table,
    space_for,
)
from .runs import query


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
    space = get_space(space_for(dataset))
    strat = make_strategy(strategy, space, seed=seed, objectives=len(objectives), **(options or {}))
    columns = [TABLE_METRICS[m] for m, _ in objectives]
    signs = [1.0 if way == "max" else -1.0 for _, way in objectives]  # told oriented: higher is better
    t0 = time.perf_counter()
    keys, asks = query(strat, dataset, budget, lambda row: tuple(sign * row[c] for sign, c in zip(signs, columns)))
    seconds = time.perf_counter() - t0
    at = checkpoints(budget, [budget]) if at is None else list(at)
    curve, quality, front = _front_after_each_query(dataset, objectives, keys)
    out = {"dataset": dataset, "strategy": strategy if isinstance(strategy, str) else strategy.name,
           "options": dict(options or {}), "seed": seed, "queries": len(keys), "asks": asks,
           "seconds": seconds, "at_queries": at, "test_hv_curve": curve}
    for name in ("valid_hv_ratio", "test_hv_ratio", "test_igd_plus", "front_size"):
        out[name] = [quality[min(q, len(keys))][name] if keys else (0 if name == "front_size" else np.nan)
                     for q in at]
    picked = [i for i in range(len(keys)) if i in front] if keys else []
    out["front_keys"] = [keys[i] for i in picked]
    return out


def _front_after_each_query(dataset: str, objectives: Objectives,
                            keys: list[int]) -> tuple[list[float], dict[int, dict], set[int]]:
    """The test hypervolume ratio after every query, the front's quality after every query (recomputed only when
    a point may enter the front) and the indices of the final front."""
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
    return curve, quality, front
