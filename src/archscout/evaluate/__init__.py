"""Evaluators: measure one architecture and return its metrics. Budgeted training is the first."""
from __future__ import annotations

import ctypes
import ctypes.util
import functools
import gc
import io
from dataclasses import dataclass, field

from ..cost import count_flops, count_params, measure_latency, size_bytes
from ..errors import ArchscoutError, TrialFailed
from ..space import Architecture
from ..tasks import GraphTask, Task
from .training import TrainConfig, evaluate, train

__all__ = ["Evaluation", "Infeasible", "LatencyConfig", "TrainingEvaluator", "TrainConfig", "train", "evaluate",
           "make_evaluator"]


class Infeasible(TrialFailed):
    """A candidate that violates a constraint; carries the metrics measured so far."""

    def __init__(self, reason: str, metrics: dict):
        super().__init__(reason)
        self.metrics = metrics


@dataclass
class Evaluation:
    metrics: dict
    details: dict = field(default_factory=dict)


def release_memory() -> None:
    """Give freed memory back to the OS between trials, so a long search stays flat in RSS.

    Networks of many different shapes leave the C heap fragmented; glibc's malloc_trim
    returns the free pages (a no-op on other C libraries).
    """
    gc.collect()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@functools.lru_cache(maxsize=1)
def _malloc_trim():
    name = ctypes.util.find_library("c")  # slow (it may run ldconfig): once per process
    if not name:
        return None
    try:
        return ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):
        return None


@dataclass(frozen=True)
class LatencyConfig:
    batch_size: int = 1
    warmup: int = 5
    repeats: int = 30


class TrainingEvaluator:
    """Trains each candidate on the task's training part with a fixed budget and scores it on validation.

    Cost metrics (params, FLOPs, fp32 size) are measured before training so that cost
    constraints can reject a candidate without training it; latency is measured on the
    trained network (PyTorch eager, CPU).
    """

    kind = "train"
    measures = ("accuracy", "loss", "params", "flops", "size_bytes@fp32", "latency_ms", "train_seconds",
                "train_loss")

    def __init__(self, task: Task, train: TrainConfig | None = None, latency: LatencyConfig | None = None):
        self.task = task
        self.train_config = train or TrainConfig()
        self.latency = latency or LatencyConfig()

    @property
    def budget_key(self) -> str:
        return self.train_config.budget_key()

    def after_trial(self) -> None:
        """Between trials: return freed memory to the OS (about 10 ms; a lookup evaluator skips it)."""
        release_memory()

    def build(self, arch: Architecture, seed: int):
        import torch

        torch.manual_seed(seed)
        try:
            return arch.build(self.task.input_shape, self.task.num_classes)
        except ArchscoutError as e:
            raise TrialFailed(f"cannot build: {e}") from None
        except (RuntimeError, ValueError) as e:
            raise TrialFailed(f"cannot build: {type(e).__name__}: {e}") from None

    def costs(self, model) -> dict:
        try:
            flops = count_flops(model, self.task.input_shape)
        except RuntimeError as e:
            raise TrialFailed(f"forward pass failed on the task's input shape: {e}") from None
        return {"params": count_params(model), "flops": flops, "size_bytes@fp32": size_bytes(model, 32)}

    def build_and_cost(self, arch: Architecture, seed: int, cost_check=None) -> tuple:
        """The untrained network and its cost metrics; Infeasible when ``cost_check`` gives a reason."""
        model = self.build(arch, seed)
        metrics = self.costs(model)
        if cost_check is not None:
            reason = cost_check(metrics)
            if reason:
                raise Infeasible(reason, metrics)
        return model, metrics

    def evaluate(self, arch: Architecture, seed: int = 0, cost_check=None, guard=None) -> Evaluation:
        """Metrics: accuracy, loss (validation), params, flops, size, latency, train_seconds.

        ``cost_check(metrics) -> reason | None`` is called after the cost metrics are measured;
        a reason stops the evaluation before training (TrialFailed carries the partial metrics).
        ``guard`` (a :class:`~archscout.evaluate.runner.Guard`) enforces per-trial limits during training.
        """
        model, metrics = self.build_and_cost(arch, seed, cost_check)
        stats = train(model, self.task.train.X, self.task.train.y, self.train_config, seed=seed, guard=guard)
        metrics.update(evaluate(model, self.task.valid.X, self.task.valid.y))
        metrics["train_seconds"] = stats["train_seconds"]
        metrics["train_loss"] = stats["train_loss"]
        lat = measure_latency(model, self.task.input_shape, self.latency.batch_size, self.latency.warmup,
                              self.latency.repeats)
        metrics["latency_ms"] = lat.median_ms
        details = {"latency": lat.as_dict(), "train": {"steps": stats["steps"], **self.train_config.as_dict()}}
        return Evaluation(metrics, details)

    def final(self, arch: Architecture, seed: int, train_config: TrainConfig) -> tuple[Evaluation, bytes]:
        """Retrain on training + validation data, score on the test part; returns the state dict bytes too."""
        import torch

        if self.task.test is None:
            raise ArchscoutError(f"task {self.task.name!r} has no test split to report on")
        model = self.build(arch, seed)
        full = self.task.full_train()
        stats = train(model, full.X, full.y, train_config, seed=seed)
        res = evaluate(model, self.task.test.X, self.task.test.y)
        lat = measure_latency(model, self.task.input_shape, self.latency.batch_size, self.latency.warmup,
                              self.latency.repeats)
        buf = io.BytesIO()
        torch.save(model.state_dict(), buf)
        metrics = {"test_accuracy": res["accuracy"], "test_loss": res["loss"], "train_seconds": stats["train_seconds"],
                   "params": count_params(model), "latency_ms": lat.median_ms}
        return Evaluation(metrics, {"latency": lat.as_dict(), "train": train_config.as_dict()}), buf.getvalue()



EVALUATORS = ("train", "synthetic", "nas-bench-graph")


def measured_metrics(spec: str) -> tuple:
    """The metrics an evaluator (by spec) stores for every trial it completes."""
    name = spec.split(":", 1)[0]
    if name == "synthetic":
        from .synthetic import SyntheticEvaluator
        return SyntheticEvaluator.measures
    if name == "nas-bench-graph":
        from .tabular import NasBenchGraphEvaluator
        return NasBenchGraphEvaluator.measures
    return TrainingEvaluator.measures


def check_evaluator_spec(spec: str) -> str:
    """Validate an evaluator name (``train``, ``synthetic[:options]``, ``nas-bench-graph:DATASET``);
    returns it in canonical form."""
    from ..errors import unknown_name

    if not isinstance(spec, str):
        raise ArchscoutError(f"an evaluator is named by a string, got {spec!r}")
    name = spec.split(":", 1)[0]
    if name == "train":
        if spec != "train":
            raise ArchscoutError("the train evaluator takes no options here; use --steps, --lr, ... instead")
        return "train"
    if name == "synthetic":
        from .synthetic import SyntheticEvaluator
        return SyntheticEvaluator.parse(spec).spec
    if name == "nas-bench-graph":
        from .tabular import NasBenchGraphEvaluator
        return NasBenchGraphEvaluator.parse(spec).spec
    raise unknown_name("evaluator", name, EVALUATORS)


def evaluator_space(spec: str) -> str | None:
    """The built-in space an evaluator requires (a tabular benchmark's), or None when any space works."""
    if spec.split(":", 1)[0] == "nas-bench-graph":
        from .tabular import NasBenchGraphEvaluator
        return NasBenchGraphEvaluator.parse(spec).space_name
    return None


def make_evaluator(spec: str, task: Task | GraphTask | None = None, train: TrainConfig | None = None,
                   latency: LatencyConfig | None = None):
    """The evaluator of a spec; ``train`` on a graph task is full-graph GNN training (:mod:`.graph`)."""
    spec = check_evaluator_spec(spec)
    if spec == "train":
        if isinstance(task, GraphTask):
            from .graph import GraphTrainingEvaluator
            return GraphTrainingEvaluator(task, train, latency)
        return TrainingEvaluator(task, train, latency)
    if spec.startswith("nas-bench-graph:"):
        from .tabular import NasBenchGraphEvaluator
        return NasBenchGraphEvaluator.parse(spec)
    from .synthetic import SyntheticEvaluator
    return SyntheticEvaluator.parse(spec)
