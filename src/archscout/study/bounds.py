"""What a space's architectures can reach on a metric, to refuse a constraint none can meet before a search.

For a tabular benchmark the table gives the exact range. For trained networks the cost
metrics (parameters, FLOPs, sizes) are computed on a set of architectures that holds the
space's extreme corners (every choice at its first or last option, the fewest or most
stages), every one-step neighbour of each corner, and random samples; latency is measured
on the few cheapest of them. Accuracy-like metrics lie in [0, 1].
"""
from __future__ import annotations

import random

from ..errors import ArchscoutError
from ..metrics import Constraint, base_name

SAMPLES = 64
_UNIT = ("accuracy", "test_accuracy")
_STATIC = ("params", "flops", "size_bytes")
_TIMED = ("latency_ms", "memory_mb")  # measured on the cheapest few architectures only


class _Corner(random.Random):
    """A random source that always picks the first option and the fewest repeats (or the last and the most)."""

    def __init__(self, low: bool):
        super().__init__(0)
        self.low = low

    def randrange(self, start, stop=None, step=1):  # noqa: D102 - the space samples choices by index
        n = start if stop is None else stop - start
        return (0 if self.low else n - 1) + (0 if stop is None else start)

    def randint(self, a, b):
        return a if self.low else b


def examined(space, seed: int = 0, samples: int = SAMPLES) -> list:
    """The architectures whose costs stand for the space: both corners, their neighbours, random samples."""
    archs = []
    for low in (True, False):
        try:
            corner = space.sample(_Corner(low))
        except ArchscoutError:
            continue
        archs.append(corner)
        archs.extend(space.neighbors(corner))
    rng = random.Random(seed)
    archs.extend(space.sample(rng) for _ in range(samples))
    return list(dict.fromkeys(archs))


def space_costs(space, evaluator, metric: str, seed: int = 0) -> list[float] | None:
    """``metric`` (a cost computed from the network alone: parameters, FLOPs, FP32 size) over the examined
    architectures that build; None for any other metric."""
    if base_name(metric) not in _STATIC or metric.endswith("@int8"):  # an INT8 size is measured on the export
        return None
    values = []
    for arch in examined(space, seed):
        try:
            costs = evaluator.static_costs(evaluator.build(arch, seed), arch)
        except Exception:  # noqa: BLE001 - a candidate that cannot be built is the search's business
            continue
        if costs.get(metric) is not None:
            values.append(float(costs[metric]))
    return values or None


def unmeetable(constraint: Constraint, low: float, high: float) -> bool:
    """Whether no value in [low, high] satisfies the constraint."""
    op, b = constraint.op, constraint.bound
    return {"<=": low > b, "<": low >= b, ">=": high < b, ">": high <= b, "==": not low <= b <= high}[op]


def _explain(c: Constraint, low: float, high: float, where: str, note: str) -> str:
    def shown(x: float) -> str:  # whole numbers in full (1,363,220, not 1.36322e+06)
        return f"{x:,.0f}" if float(x).is_integer() and abs(x) < 1e15 else f"{x:,.6g}"
    return f"no architecture {where} can meet the constraint {c}: {c.metric} ranges from {shown(low)} to {shown(high)}{note}"


def check_unit_range(constraints: list[Constraint]) -> None:
    """Accuracies lie in [0, 1]: a bound outside it can never be met."""
    for c in constraints:
        if base_name(c.metric) in _UNIT and unmeetable(c, 0.0, 1.0):
            raise ArchscoutError(f"no architecture can meet the constraint {c}: {c.metric} is a fraction between "
                                 f"0 and 1 (write 0.9 for 90 %)")


def check_table(constraints: list[Constraint], rows: list[dict], where: str, note: str = "") -> None:
    """Refuse a constraint that no row meets (a tabular benchmark: its exact range)."""
    for c in constraints:
        values = [r[c.metric] for r in rows if r.get(c.metric) is not None]
        if values and unmeetable(c, min(values), max(values)):
            raise ArchscoutError(_explain(c, min(values), max(values), where, note))


def check_trained(constraints: list[Constraint], space, evaluator, seed: int = 0) -> None:
    """Refuse a cost constraint that none of the examined architectures meets (parameters, FLOPs, sizes;
    latency and peak memory on the cheapest few). A violation by some architecture only is for the search
    to avoid."""
    wanted = [c for c in constraints if base_name(c.metric) in _STATIC + _TIMED]
    if not wanted:
        return
    rows = []
    models = []
    for arch in examined(space, seed):
        try:
            model = evaluator.build(arch, seed)
            rows.append(evaluator.static_costs(model, arch))
            models.append((rows[-1].get("flops", 0), arch, model))
        except Exception:  # noqa: BLE001 - a candidate that cannot be built is the search's business
            continue
    if not rows:
        return
    where = f"of space {space.name!r}"
    note = f" over the {len(rows)} architectures examined (the space's corners, their neighbours and samples)"
    static = [c for c in wanted if base_name(c.metric) in _STATIC]
    for r in rows:  # an INT8 weight takes at least a byte: a lower bound, not the measured size
        r["size_bytes@int8"] = r["params"]
    check_table([c for c in static if c.metric != "size_bytes@int8" or c.op in ("<=", "<")], rows, where, note)
    timed = [c for c in wanted if c not in static]
    if timed:
        cheapest = sorted(models, key=lambda m: m[0])[:3]
        measured = []
        for _, arch, model in cheapest:
            try:
                measured.append(evaluator.costs(model, arch))
            except Exception:  # noqa: BLE001 - as above
                continue
        for c in timed:
            values = [m[c.metric] for m in measured if c.metric in m]
            if values and c.op in ("<=", "<") and unmeetable(c, min(values), min(values)):
                unit = "MB" if c.metric == "memory_mb" else "ms"
                raise ArchscoutError(f"no architecture of space {space.name!r} can meet the constraint {c}: its "
                                     f"cheapest architectures (fewest FLOPs of {len(rows)} examined) measure "
                                     f"{min(values):,.4g} {unit}")
