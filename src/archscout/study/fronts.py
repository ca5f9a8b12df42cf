"""Scores, leaderboard order and Pareto fronts of a study's trials, and its hypervolume reference point."""
from __future__ import annotations

import math

import numpy as np

from ..pareto import hypervolume, nondominated, to_minimise

REFERENCE_AFTER = 5  # results from which a multi-objective study fixes its hypervolume reference point


def score(objectives: list[tuple[str, str]], metrics: dict) -> float | tuple | None:
    """"Higher is better" value of the objectives (a tuple, one per objective, for several); None if any
    objective is missing or not finite."""
    values = []
    for metric, way in objectives:
        value = metrics.get(metric)
        if value is None or not math.isfinite(value):
            return None
        values.append(float(value) if way == "max" else -float(value))
    return tuple(values) if len(objectives) > 1 else values[0]


def minimised(objectives: list[tuple[str, str]], trials: list) -> np.ndarray:
    """The trials' objective values as a matrix to minimise (maximised objectives negated)."""
    return to_minimise([[t.metrics[m] for m, _ in objectives] for t in trials], [w for _, w in objectives])


def rank_key(objectives: list[tuple[str, str]], trial) -> tuple:
    """Leaderboard order: best first objective first; ties: the later objectives, the lower validation loss
    (accuracy on a few hundred validation samples ties often), the trial number."""
    s = score(objectives, trial.metrics)
    scores = s if isinstance(s, tuple) else (s,)
    return tuple(-v for v in scores) + (trial.metrics.get("loss", math.inf), trial.number)


def front_history(objectives: list[tuple[str, str]], reference: dict | None, trials: list) -> list[dict]:
    """The front after each finished trial, in finish order (see :meth:`Study.fronts`)."""
    weights = [w for _, w in objectives]
    ref = to_minimise([[reference[m] for m, _ in objectives]], weights)[0] \
        if reference is not None and len(reference) >= len(objectives) else None
    done = sorted((t for t in trials if t.status in ("complete", "infeasible", "failed")),
                  key=lambda t: (t.finished_at if t.finished_at is not None else math.inf, t.number))
    members: dict[int, np.ndarray] = {}
    hv, out = None, []
    for i, t in enumerate(done, 1):
        changed = False
        if t.status == "complete" and score(objectives, t.metrics) is not None:
            p = to_minimise([[t.metrics[m] for m, _ in objectives]], weights)[0]
            if not any(np.all(q <= p) and np.any(q < p) for q in members.values()):
                members = {n: q for n, q in members.items() if not (np.all(p <= q) and np.any(p < q))}
                members[t.number] = p
                changed = True
        if ref is not None and members and (changed or hv is None):
            hv = hypervolume(np.array(list(members.values())), ref)
        out.append({"finished": i, "trial": t.number, "front": sorted(members), "hypervolume": hv})
    return out


def front_with(objectives: list[tuple[str, str]], points: dict[int, tuple], ref: np.ndarray | None) -> dict:
    """The front (trial numbers) and hypervolume at ``ref`` (minimisation form) of ``points``."""
    numbers = sorted(points)
    F = to_minimise([points[n] for n in numbers], [w for _, w in objectives])
    front = [numbers[i] for i in nondominated(F)] if numbers else []
    hv = hypervolume(F[np.isin(numbers, front)], ref) if ref is not None and front else None
    return {"front": front, "hypervolume": hv}


REFERENCE_SOURCES = {
    "given": "given by the user",
    "accuracy": "0 for a maximised accuracy",
    "constraint": "the bound of a constraint on the metric",
    "table": "the lookup table's worst value",
    "space": "the worst value over the space's examined architectures (its corners, their neighbours and "
             "samples) plus 10 % of their range",
    "study": "this study's first results: their worst value plus half their range",
}


def default_reference(objectives, constraints, given: dict | None, rows: list[dict] | None,
                      F: np.ndarray, space_values=None) -> tuple[dict, dict] | None:
    """A reference point and where each coordinate came from (REFERENCE_SOURCES), per objective the first of:
    the user's value; 0 for a maximised accuracy; the bound of a constraint on that metric; a lookup table's
    worst value; for a cost computed from the network alone (``space_values(metric)`` gives its values over
    the space's examined architectures, or None) their worst plus 10 % of their range; once REFERENCE_AFTER
    results exist, their worst value plus half their range. The first five depend on the problem only, so two
    studies of one problem share them; the last depends on the study. None until every objective has one."""
    ref = dict(given or {})
    sources = {m: "given" for m in ref}
    for j, (metric, way) in enumerate(objectives):
        if metric in ref:
            continue
        bound = [c.bound for c in constraints if c.metric == metric
                 and c.op in (("<=", "<") if way == "min" else (">=", ">"))]
        values = space_values(metric) if space_values is not None and rows is None else None
        if way == "max" and metric.split("@")[0] == "accuracy":
            ref[metric], sources[metric] = 0.0, "accuracy"
        elif bound:
            ref[metric], sources[metric] = float(max(bound) if way == "min" else min(bound)), "constraint"
        elif rows is not None and metric in rows[0]:
            table = [r[metric] for r in rows]
            ref[metric], sources[metric] = float(max(table) if way == "min" else min(table)), "table"
        elif values:
            worst, best = (max(values), min(values)) if way == "min" else (min(values), max(values))
            ref[metric], sources[metric] = float(worst + 0.1 * (worst - best)), "space"
        elif len(F) >= REFERENCE_AFTER:
            worst, best = F[:, j].max(), F[:, j].min()
            value = worst + 0.5 * ((worst - best) or abs(worst) or 1.0)
            ref[metric], sources[metric] = float(value if way == "min" else -value), "study"
        else:
            return None
    return ref, sources


def spread(front: list, k: int) -> list:
    """``k`` members of a front (sorted by its first objective) evenly spaced along it, both ends included."""
    if len(front) <= k:
        return list(front)
    if k == 1:
        return front[:1]
    picks = sorted({round(i * (len(front) - 1) / (k - 1)) for i in range(k)})
    return [front[i] for i in picks]
