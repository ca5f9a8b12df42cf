"""The ``train`` evaluator: budgeted training of every candidate, scored on the validation part."""
from __future__ import annotations

from typing import ClassVar

import numpy as np

from ..errors import ArchscoutError
from ..space import Architecture
from .base import EVALUATORS, Evaluation
from .measure import LatencyConfig, NetworkEvaluator
from .training import TrainConfig, fit, predict, scores


@EVALUATORS.register("train")
class TrainingEvaluator(NetworkEvaluator):
    """Trains each candidate on the task's training part with a fixed budget and scores it on validation.

    Cost metrics (params, FLOPs, fp32 size) are measured before training so that cost
    constraints can reject a candidate without training it; latency is measured on the
    trained network (PyTorch eager, CPU). A fidelity (``steps`` or ``epochs``) replaces the
    study's training budget for one trial. On a graph task it is full-graph GNN training
    (:mod:`archscout.evaluate.graph`).
    """

    name = "train"
    measures: ClassVar[tuple[str, ...]] = ("accuracy", "loss", "params", "flops", "size_bytes@fp32", "latency_ms",
                                           "train_seconds", "train_loss", "balanced_accuracy", "f1_macro", "auroc",
                                           "log_loss")
    # on a regression task these replace the classification metrics (accuracy, ...; see metrics.KIND_METRICS)
    regression_measures: ClassVar[tuple[str, ...]] = ("r2", "mse", "mae")
    trains = True
    fidelities = ("steps", "epochs")

    @classmethod
    def parse_options(cls, options: str, *, load: bool = True) -> str:
        if options:
            raise ArchscoutError("the train evaluator takes no options here; use --steps, --lr, ... (train) or "
                                 "--objectives proxy@NAME (zero-cost) instead")
        return ""

    @classmethod
    def can_measure(cls, metric: str, options: str = "") -> bool:
        return metric in cls.regression_measures or super().can_measure(metric, options)

    @classmethod
    def default_fidelity(cls, options: str, train: TrainConfig) -> dict | None:
        return {"steps": train.steps} if train.epochs is None else {"epochs": train.epochs}

    @classmethod
    def budget(cls, options: str, train: TrainConfig) -> str:
        return train.budget_key()

    @classmethod
    def create(cls, options: str = "", *, task=None, train: TrainConfig | None = None,
               latency: LatencyConfig | None = None, metrics: tuple | list = ()) -> NetworkEvaluator:
        from ..tasks import GraphTask
        if isinstance(task, GraphTask):
            from .graph import GraphTrainingEvaluator
            return GraphTrainingEvaluator(task, train, latency, metrics)
        return cls(task, train, latency, metrics)

    @property
    def budget_key(self) -> str:
        return self.train_config.budget_key()

    def fidelity_key(self, fidelity: dict | None) -> str:
        return self.config_at(fidelity).budget_key()

    def config_at(self, fidelity: dict | None) -> TrainConfig:
        """The training settings of a trial at ``fidelity`` (``steps`` or ``epochs``; None: the study's)."""
        if not fidelity:
            return self.train_config
        self.check_fidelity(fidelity)
        if len(fidelity) > 1:
            raise ArchscoutError(f"a training fidelity is steps or epochs, not both: {fidelity!r}")
        if "steps" in fidelity:
            if int(fidelity["steps"]) != fidelity["steps"]:
                raise ArchscoutError(f"fidelity steps must be a whole number, got {fidelity['steps']!r}")
            return self.train_config.with_(steps=int(fidelity["steps"]), epochs=None)
        return self.train_config.with_(epochs=float(fidelity["epochs"]))

    def evaluate(self, arch: Architecture, seed: int = 0, cost_check=None, guard=None,
                 fidelity: dict | None = None) -> Evaluation:
        """Metrics: accuracy, loss (validation), params, flops, size, latency, train_seconds.

        ``cost_check(metrics) -> reason | None`` is called after the cost metrics are measured;
        a reason stops the evaluation before training (TrialFailed carries the partial metrics).
        ``guard`` (a :class:`~archscout.evaluate.runner.Guard`) enforces per-trial limits during training.
        ``fidelity``: ``{"steps": N}`` or ``{"epochs": E}`` instead of the study's training budget.
        """
        config = self.with_recipe(self.config_at(fidelity), arch)
        details: dict = {}
        model, metrics = self.build_and_cost(arch, seed, cost_check, details)
        task = self.task
        device = self.torch_device()
        splits = task.cv_splits()
        results, seconds, losses, steps, curve = [], 0.0, [], 0, []
        for fold, (train_part, valid_part) in enumerate(splits):
            if fold:  # every fold trains a fresh network from the same initialisation seed
                model = self.build(arch, seed)
            stats = fit(model, train_part, config, seed=seed, guard=guard, kind=task.kind, device=device,
                        amp=config.amp,
                        report=lambda step, loss, fold=fold: curve.append([fold, step, round(loss, 6)]))
            results.append(scores(predict(model, valid_part, device=device, amp=config.amp), valid_part.y, task.kind,
                                  task.preprocessing))
            seconds += stats["train_seconds"]
            losses.append(stats["train_loss"])
            steps += stats["steps"]
        model.to("cpu")
        names = [k for k in results[0] if all(k in r for r in results)]
        metrics.update({k: float(np.mean([r[k] for r in results])) for k in names})
        metrics["train_seconds"] = seconds
        metrics["train_loss"] = float(np.mean(losses))
        if len(splits) > 1:
            details["folds"] = [{k: round(v, 6) for k, v in r.items()} for r in results]
        if "accuracy@int8" in self.extra:
            metrics.update(self.quantized_accuracy(model, arch))
        details["train"] = {"steps": steps, **config.as_dict()}
        details["curve"] = curve  # [fold, step, running training loss], about ten per fold
        if self.device != "cpu":
            details["device"] = str(device) + (" (mixed precision)" if config.amp else "")
        return Evaluation(metrics, details)
