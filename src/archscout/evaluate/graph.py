"""Full-graph training of graph neural networks on a graph task: the train evaluator for node classification.

Every step is one forward pass over the whole graph and one optimisation step on the
training nodes' loss (an epoch, in GNN terms), so ``TrainConfig.steps`` counts epochs and
the batch size does not apply. Selection scores the validation nodes; the final retraining
trains on training and validation nodes and scores the test nodes.
"""
from __future__ import annotations

import io
import math
import time

import numpy as np

from ..cost import count_flops, count_params, measure_latency, size_bytes
from ..errors import ArchscoutError, TrialFailed
from ..space import Architecture
from ..tasks import GraphTask
from .base import Evaluation
from .measure import LatencyConfig
from .train_evaluator import TrainingEvaluator
from .training import TrainConfig, make_optimizer, make_schedule, optimisation_step

FLOPS_NOTE = ("torch.utils.flop_counter on one full-graph forward: dense layers (linear maps, matmuls) only; "
              "message passing over the edges (gather / scatter) is not counted")


def _steps(cfg: TrainConfig) -> int:
    """Full-graph steps: ``steps``, or ``epochs`` rounded up (one step sees every node)."""
    return cfg.steps if cfg.epochs is None else max(1, math.ceil(cfg.epochs))


def train_graph(model, x, edge_index, y, mask, cfg: TrainConfig, seed: int = 0, guard=None) -> dict:
    """Train in place on the nodes of ``mask`` (full batch); TrialFailed when the loss turns NaN or
    infinite or ``guard.check()`` (checked every step) raises. Returns steps, seconds, the last loss."""
    import torch

    torch.manual_seed(seed)
    total = _steps(cfg)
    opt = make_optimizer(model, cfg)
    sched = make_schedule(opt, cfg, total)
    idx = torch.as_tensor(np.flatnonzero(mask))
    target = y[idx]
    model.train()
    t0 = time.perf_counter()
    loss = None
    for step in range(total):
        if guard is not None:
            guard.check()
        loss = torch.nn.functional.cross_entropy(model(x, edge_index)[idx], target)
        optimisation_step(loss, opt, sched, step, total)
    assert loss is not None  # TrainConfig validates steps >= 1 and _steps returns >= 1
    return {"steps": total, "train_seconds": time.perf_counter() - t0, "train_loss": loss.item()}


def evaluate_graph(model, x, edge_index, y, mask) -> dict:
    """Accuracy and mean cross-entropy loss on the nodes of ``mask`` (one full-graph forward, eval mode)."""
    import torch

    idx = torch.as_tensor(np.flatnonzero(mask))
    model.eval()
    with torch.inference_mode():
        out = model(x, edge_index)[idx]
        loss = float(torch.nn.functional.cross_entropy(out, y[idx]))
        correct = int((out.argmax(1) == y[idx]).sum())
    model.train()
    if not math.isfinite(loss):
        raise TrialFailed(f"evaluation produced a non-finite loss ({loss})")
    return {"accuracy": correct / len(idx), "loss": loss}


class GraphTrainingEvaluator(TrainingEvaluator):
    """Trains each candidate on a :class:`~archscout.tasks.GraphTask` (full graph, training nodes' loss)
    and scores it on the validation nodes.

    Metrics as :class:`TrainingEvaluator`: params, FLOPs, fp32 size and the latency of a
    full-graph inference (PyTorch eager, CPU) on the untrained network, so a cost constraint
    rejects a candidate untrained. Other runtimes, INT8 and peak memory are not measured for
    graph networks. It keeps no checkpoints (a fidelity trains from the start) and no learning curve.
    """

    resumable = False
    # a GraphTask stands in for the base class's Task by duck typing (it is not a subclass)
    task: GraphTask  # type: ignore[assignment]

    def __init__(self, task: GraphTask, train: TrainConfig | None = None, latency: LatencyConfig | None = None,
                 metrics: tuple | list = ()):
        super().__init__(task, train, latency, metrics)  # type: ignore[arg-type]  # a GraphTask, duck-typed
        if self.extra:
            raise ArchscoutError(f"graph networks are measured for {', '.join(self.measures)}; "
                                 f"{', '.join(self.extra)} cannot be measured on a graph task")
        self._tensors: tuple | None = None

    def __getstate__(self):  # workers rebuild the tensors from the task's arrays
        return {**super().__getstate__(), "_tensors": None}

    def graph(self):
        """The task as tensors: features, edges, labels."""
        import torch

        if self._tensors is None:
            t = self.task
            self._tensors = (torch.from_numpy(t.x), torch.from_numpy(t.edge_index), torch.from_numpy(t.y))
        return self._tensors

    def static_costs(self, model, arch: Architecture | None = None) -> dict:
        x, edge_index, _ = self.graph()
        try:
            flops = count_flops(model, self.task.input_shape, inputs=(x, edge_index))
        except (RuntimeError, TypeError) as e:
            raise TrialFailed(f"forward pass failed on the task's graph: {type(e).__name__}: {e}") from None
        return {"params": count_params(model), "flops": flops, "size_bytes@fp32": size_bytes(model, 32)}

    def costs(self, model, arch: Architecture | None = None, details: dict | None = None) -> dict:
        metrics = self.static_costs(model, arch)
        lat = self._latency(model)
        if details is not None:
            details["latency"] = lat
        return {**metrics, "latency_ms": lat["median_ms"]}

    def _latency(self, model) -> dict:
        x, edge_index, _ = self.graph()
        lat = measure_latency(model, self.task.input_shape, 1, self.latency.warmup, self.latency.repeats,
                              self.latency.threads, inputs=(x, edge_index))
        return {**lat.as_dict(), "graph_nodes": self.task.num_nodes, "graph_edges": self.task.num_edges}

    def evaluate(self, arch: Architecture, seed: int = 0, cost_check=None, guard=None,
                 fidelity: dict | None = None) -> Evaluation:
        """Metrics: accuracy, loss (validation nodes), params, flops, size, latency, train_seconds, train_loss.

        ``cost_check`` and ``guard`` as for :meth:`TrainingEvaluator.evaluate`; ``train_loss`` is the
        training nodes' loss at the last step (with dropout).
        """
        config = self.with_recipe(self.config_at(fidelity), arch)  # a space with a searched recipe
        details: dict = {}
        model, metrics = self.build_and_cost(arch, seed, cost_check, details)
        x, edge_index, y = self.graph()
        stats = train_graph(model, x, edge_index, y, self.task.train_mask, config, seed=seed, guard=guard)
        metrics.update(evaluate_graph(model, x, edge_index, y, self.task.valid_mask))
        metrics["train_seconds"] = stats["train_seconds"]
        metrics["train_loss"] = stats["train_loss"]
        details.update({"flops": FLOPS_NOTE,
                        "train": {"steps": stats["steps"], "full_batch": True, **config.as_dict()}})
        return Evaluation(metrics, details)

    def final(self, arch: Architecture, seed: int, train_config: TrainConfig) -> tuple[Evaluation, bytes]:
        """Retrain on the training and validation nodes, score the test nodes; returns the state dict bytes too."""
        import torch

        if self.task.test is None:
            raise ArchscoutError(f"task {self.task.name!r} has no test nodes to report on")
        train_config = self.with_recipe(train_config, arch)
        model = self.build(arch, seed)
        x, edge_index, y = self.graph()
        stats = train_graph(model, x, edge_index, y, self.task.train_mask | self.task.valid_mask, train_config,
                            seed=seed)
        res = evaluate_graph(model, x, edge_index, y, self.task.test_mask)
        lat = self._latency(model)
        buf = io.BytesIO()
        torch.save(model.state_dict(), buf)
        metrics = {"test_accuracy": res["accuracy"], "test_loss": res["loss"], "train_seconds": stats["train_seconds"],
                   "params": count_params(model), "latency_ms": lat["median_ms"]}
        details = {"latency": lat, "train": {"steps": stats["steps"], "full_batch": True, **train_config.as_dict()}}
        return Evaluation(metrics, details), buf.getvalue()


TrainingEvaluator.add_variant(GraphTask, GraphTrainingEvaluator)
