"""The metric vocabulary (one set of names for CLI, API, storage, reports) and constraint parsing."""
from __future__ import annotations

import operator
import re
from dataclasses import dataclass

from .checks import finite_number, positive_int
from .errors import ArchscoutError, unknown_name
from .registry import Registry

# Zero-cost proxies by name, declared here so that a metric name can be checked (``proxy@NAME``); the proxies
# themselves register in :mod:`archscout.evaluate.proxies`.
PROXY_FUNCTIONS: Registry = Registry("proxy")

# name -> direction ("max" is better when larger)
METRICS: dict[str, str] = {
    "accuracy": "max",        # validation accuracy, used for selection; accuracy@int8 after INT8 quantization
    "test_accuracy": "max",   # final, reported only
    "loss": "min",
    "params": "min",
    "flops": "min",
    "size_bytes": "min",      # bare: fp32; qualified as size_bytes@fp32 / @fp16 / @int8
    "latency_ms": "min",      # bare: PyTorch eager on this CPU at batch 1; qualified: latency_ms@onnxruntime:b8
    "memory_mb": "min",       # peak memory of a batch-1 inference (PyTorch eager, CPU)
    "train_seconds": "min",
    "proxy": "max",           # a zero-cost proxy of the untrained network, always qualified: proxy@nwot
    "predicted_accuracy": "max",  # a learned predictor's estimate of the validation accuracy
    "predicted_accuracy_std": "min",  # the predictor's uncertainty about it
    # classification, on the validation part (test_NAME after the final retraining)
    "balanced_accuracy": "max",  # mean recall over classes
    "f1_macro": "max",
    "auroc": "max",           # binary: ROC AUC of the positive class; more classes: one-vs-rest, macro average
    "log_loss": "min",        # mean cross-entropy (the same as loss for classification)
    # regression, on the validation part in the target's own units
    "mse": "min",
    "mae": "min",
    "r2": "max",
}
# the metrics a training evaluator stores for each kind of task; the first is what a study selects on by default
KIND_METRICS: dict[str, tuple[str, ...]] = {
    "classification": ("accuracy", "balanced_accuracy", "f1_macro", "auroc", "log_loss"),
    "regression": ("r2", "mse", "mae"),
}
for _kind, _names in KIND_METRICS.items():
    for _name in _names:
        METRICS.setdefault(f"test_{_name}", METRICS[_name])  # final, reported only
BUILT_IN = frozenset(METRICS)
RUNTIMES = ("pytorch", "onnxruntime", "onnxruntime-int8", "cuda")  # cuda: PyTorch eager on the GPU, synchronised
PRECISIONS = ("fp32", "fp16", "int8")
# metrics measured on the untrained network: constraints on them reject a candidate before training
COST_METRICS = ("params", "flops", "size_bytes", "latency_ms", "memory_mb")
QUALIFIED_FORMS = ("proxy@NAME (a zero-cost proxy: archscout proxies --list)", "accuracy@int8", "size_bytes@fp32",
                   "size_bytes@fp16", "size_bytes@int8",
                   "latency_ms@RUNTIME:bN (RUNTIME: pytorch, onnxruntime, onnxruntime-int8, cuda; N: batch size)")
_LATENCY = re.compile(r"^latency_ms@([a-z0-9-]+)(?::b(\d+))?$")


def register_metric(name: str, direction: str) -> str:
    """Add a user evaluator's metric to the vocabulary (objectives, constraints, reports name it like a built-in).
    Registering a name again with the same direction is a no-op; a built-in or another direction is refused."""
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,63}", name):
        raise ArchscoutError(f"a metric name is letters, digits and _ (starting with a letter), got {name!r}")
    if direction not in ("max", "min"):
        raise ArchscoutError(f"metric {name!r}: the direction is max or min, got {direction!r}")
    if name in METRICS and (name in BUILT_IN or METRICS[name] != direction):
        if METRICS[name] == direction:
            return name
        raise ArchscoutError(f"metric {name!r} is already known with direction {METRICS[name]}; give it "
                             f"{METRICS[name]} or another name")
    METRICS[name] = direction
    return name


def metric_kind(metric: str) -> str | None:
    """The task kind a validation metric needs (classification or regression), None when any task has it."""
    base = base_name(metric).removeprefix("test_")
    return next((kind for kind, names in KIND_METRICS.items() if base in names), None)


def base_name(metric: str) -> str:
    return metric.split("@", 1)[0]


def check_metric(metric: str) -> str:
    """The canonical name of a metric (``latency_ms@pytorch:b1`` is ``latency_ms``, ``size_bytes`` is
    ``size_bytes@fp32``); unknown names and qualifiers are errors that list the valid ones."""
    if not isinstance(metric, str):
        raise ArchscoutError(f"a metric is named by a string, got {metric!r}")
    metric = metric.strip()
    base = base_name(metric)
    if base not in METRICS:
        raise unknown_name("metric", metric, [m if m != "proxy" else "proxy@NAME" for m in METRICS])
    if "@" not in metric:
        if base == "proxy":
            names = ", ".join(PROXY_FUNCTIONS.names(sort=False))
            raise ArchscoutError(f"name the proxy: proxy@NAME, with NAME one of {names}")
        return "size_bytes@fp32" if base == "size_bytes" else metric
    qualifier = metric.split("@", 1)[1]
    if base == "proxy":
        PROXY_FUNCTIONS.canonical(qualifier)
        return metric
    if base == "accuracy" and qualifier == "int8":
        return metric
    if base == "size_bytes" and qualifier in PRECISIONS:
        return metric
    if base == "latency_ms":
        m = _LATENCY.match(metric)
        if m and m.group(1) in RUNTIMES:
            batch = int(m.group(2) or 1)
            positive_int(batch, f"metric {metric!r}: the batch size")
            return "latency_ms" if (m.group(1), batch) == ("pytorch", 1) else f"latency_ms@{m.group(1)}:b{batch}"
    raise ArchscoutError(f"unknown metric qualifier in {metric!r}; qualified metrics are "
                         f"{', '.join(QUALIFIED_FORMS)}")


def latency_spec(metric: str) -> tuple[str, int] | None:
    """(runtime, batch size) of a latency metric in canonical form, else None."""
    if metric == "latency_ms":
        return "pytorch", 1
    m = _LATENCY.match(metric)
    return (m.group(1), int(m.group(2) or 1)) if m else None


def is_int8(metric: str) -> bool:
    """Whether measuring the metric needs the INT8-quantized network."""
    return metric.endswith("@int8") or "@onnxruntime-int8" in metric


def direction(metric: str) -> str:
    return METRICS[base_name(check_metric(metric))]


def parse_objectives(objectives) -> list[tuple[str, str]]:
    """[(metric, direction)] from ``"accuracy:max,latency_ms:min"``, a list of such items, or a dict
    ``{"accuracy": "max"}``; a missing direction is the metric's natural one."""
    if isinstance(objectives, str):
        items = [p for p in objectives.split(",") if p.strip()]
    elif isinstance(objectives, dict):
        items = [f"{k}:{v}" for k, v in objectives.items()]
    elif isinstance(objectives, (list, tuple)):
        items = [f"{o[0]}:{o[1]}" if isinstance(o, (list, tuple)) else o for o in objectives]
    else:
        raise ArchscoutError(f"objectives are written 'accuracy:max,latency_ms:min' (or a dict), got {objectives!r}")
    if not items:
        raise ArchscoutError("give at least one objective, e.g. accuracy:max")
    out: list[tuple[str, str]] = []
    for item in items:
        if not isinstance(item, str):
            raise ArchscoutError(f"cannot read objective {item!r}; write METRIC:max or METRIC:min")
        way: str | None
        name, sep, way = item.strip().rpartition(":")
        if sep and not name.strip():
            raise ArchscoutError(f"cannot read objective {item.strip()!r}; write METRIC:max or METRIC:min")
        if not sep or way not in ("max", "min"):
            if sep and not re.fullmatch(r"b\d+", way):  # the colon of a latency qualifier is followed by bN
                raise ArchscoutError(f"cannot read objective {item.strip()!r}: the direction after the colon is "
                                     f"max or min")
            name, way = item.strip(), None  # no direction given: the metric's natural one
        metric = check_metric(name)
        if metric in [m for m, _ in out]:
            raise ArchscoutError(f"objective {metric!r} is given twice; name each metric once")
        out.append((metric, way or METRICS[base_name(metric)]))
    return out


_OPS = {"<=": operator.le, ">=": operator.ge, "<": operator.lt, ">": operator.gt, "==": operator.eq}
_PATTERN = re.compile(r"^\s*([A-Za-z_][\w@:.]*)\s*(<=|>=|==|<|>)\s*([-+0-9_.eE]+)\s*$")


@dataclass(frozen=True)
class Constraint:
    """``metric op bound``, e.g. ``params <= 20_000`` or ``latency_ms < 2``."""

    metric: str
    op: str
    bound: float

    @classmethod
    def parse(cls, text: str | Constraint) -> Constraint:
        if isinstance(text, Constraint):
            return text
        m = _PATTERN.match(str(text))
        if not m:
            raise ArchscoutError(f"cannot read constraint {text!r}; write it as 'METRIC OP NUMBER', "
                                 f"e.g. 'params <= 20000' (OP is one of <=, >=, <, >, ==)")
        metric, op, num = m.groups()
        metric = check_metric(metric)
        try:
            bound = float(num.replace("_", ""))
        except ValueError:
            raise ArchscoutError(f"constraint {text!r}: {num!r} is not a number") from None
        finite_number(bound, f"constraint {text!r}: the bound")
        return cls(metric, op, bound)

    @property
    def is_cost(self) -> bool:
        """A hardware cost: measured on the untrained network."""
        return base_name(self.metric) in COST_METRICS

    @property
    def before_training(self) -> bool:
        """Measured on the untrained network (a cost or a zero-cost proxy), so checked before training."""
        return self.is_cost or self.metric.startswith("proxy@")

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


PERCENT = ("accuracy", "test_accuracy", "predicted_accuracy")  # fractions, shown in %
HEADLINES = ("test_accuracy", "test_r2")  # what a final retraining is summed up by: classification, regression


def final_headline(final: dict) -> str | None:
    """The test metric a final retraining summary leads with (test_accuracy, or test_r2 for a regression)."""
    final = final or {}
    known = next((m for m in HEADLINES if f"{m}_mean" in final), None)
    return known or next((k[:-5] for k in final if k.startswith("test_") and k.endswith("_mean")), None)


def final_key(final: dict) -> float:
    """A retrained trial's headline test mean, for ordering (higher is better)."""
    metric = final_headline(final)
    if not metric:
        return float("-inf")
    return -final[metric + "_mean"] if METRICS.get(metric) == "min" else final[metric + "_mean"]
