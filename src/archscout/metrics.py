"""The metric vocabulary (one set of names for CLI, API, storage, reports) and constraint parsing."""
from __future__ import annotations

import math
import operator
import re
from dataclasses import dataclass

from .errors import ArchscoutError, unknown_name

# name -> direction ("max" is better when larger)
METRICS: dict[str, str] = {
    "accuracy": "max",        # validation accuracy, used for selection
    "test_accuracy": "max",   # final, reported only
    "loss": "min",
    "params": "min",
    "flops": "min",
    "size_bytes": "min",      # qualified as size_bytes@fp32 / @fp16 / @int8
    "latency_ms": "min",      # bare: PyTorch eager on this CPU at batch 1; qualified: latency_ms@pytorch:b1
    "memory_mb": "min",
    "train_seconds": "min",
}
COST_METRICS = ("params", "flops", "size_bytes")  # measured before training: constraints on them skip training


def base_name(metric: str) -> str:
    return metric.split("@", 1)[0]


def check_metric(metric: str) -> str:
    if base_name(metric) not in METRICS:
        raise unknown_name("metric", metric, METRICS)
    return metric


def direction(metric: str) -> str:
    return METRICS[base_name(check_metric(metric))]


_OPS = {"<=": operator.le, ">=": operator.ge, "<": operator.lt, ">": operator.gt, "==": operator.eq}
_PATTERN = re.compile(r"^\s*([A-Za-z_][\w@:.]*)\s*(<=|>=|==|<|>)\s*([-+0-9_.eE]+)\s*$")


@dataclass(frozen=True)
class Constraint:
    """``metric op bound``, e.g. ``params <= 20_000`` or ``latency_ms < 2``."""

    metric: str
    op: str
    bound: float

    @classmethod
    def parse(cls, text: "str | Constraint") -> "Constraint":
        if isinstance(text, Constraint):
            return text
        m = _PATTERN.match(str(text))
        if not m:
            raise ArchscoutError(f"cannot read constraint {text!r}; write it as 'METRIC OP NUMBER', "
                                 f"e.g. 'params <= 20000' (OP is one of <=, >=, <, >, ==)")
        metric, op, num = m.groups()
        check_metric(metric)
        try:
            bound = float(num.replace("_", ""))
        except ValueError:
            raise ArchscoutError(f"constraint {text!r}: {num!r} is not a number") from None
        if not math.isfinite(bound):
            raise ArchscoutError(f"constraint {text!r}: the bound must be finite")
        return cls(metric, op, bound)

    @property
    def is_cost(self) -> bool:
        return base_name(self.metric) in COST_METRICS

    def check(self, metrics: dict) -> str | None:
        """None when satisfied (or not measured yet), else the reason it is violated."""
        value = metrics.get(self.metric)
        if value is None:
            return None
        if _OPS[self.op](value, self.bound):
            return None
        return f"{self.metric} = {value:,.6g} violates {self}"

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {self.bound:g}"
