"""The ``train`` evaluator: budgeted training of every candidate, scored on the validation part."""
from __future__ import annotations

from typing import ClassVar

import numpy as np

from ..errors import ArchscoutError, TrialFailed
from ..space import Architecture
from .base import EVALUATORS, Evaluation
from .measure import LatencyConfig, NetworkEvaluator
from .stopping import EarlyStopped, columns
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
    variants: ClassVar[list[tuple[type, type]]] = []  # (task type, evaluator subclass): see add_variant
    measures: ClassVar[tuple[str, ...]] = ("accuracy", "loss", "params", "flops", "size_bytes@fp32", "latency_ms",
                                           "train_seconds", "train_loss", "balanced_accuracy", "f1_macro", "auroc",
                                           "log_loss")
    # on a regression task these replace the classification metrics (accuracy, ...; see metrics.KIND_METRICS)
    regression_measures: ClassVar[tuple[str, ...]] = ("r2", "mse", "mae")
    trains = True
    resumable = True  # trains through fit(): continues from checkpoints (see archscout.evaluate.checkpoints)
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
        variant = next((v for kind, v in cls.variants if isinstance(task, kind)), cls)
        return variant(task, train, latency, metrics)

    @classmethod
    def add_variant(cls, task_type: type, evaluator: type[TrainingEvaluator]) -> None:
        """Train tasks of ``task_type`` with ``evaluator`` (a subclass): how the graph trainer plugs in."""
        cls.variants.append((task_type, evaluator))

    @property
    def budget_key(self) -> str:
        return self.train_config.budget_key()

    def fidelity_key(self, fidelity: dict | None) -> str:
        return self.config_at(fidelity).budget_key()

    def config_at(self, fidelity: dict | None) -> TrainConfig:
        """The training settings of a trial at ``fidelity`` (``steps`` or ``epochs``; None: the study's). Below
        the study's budget in ``continue`` mode, the run keeps the study's schedule and stops early (its
        ``horizon`` is the study's budget), so a promotion continues it; in ``restart`` mode it has a
        schedule of its own."""
        if not fidelity:
            return self.train_config
        self.check_fidelity(fidelity)
        if len(fidelity) > 1:
            raise ArchscoutError(f"a training fidelity is steps or epochs, not both: {fidelity!r}")
        own = self.train_config
        if "steps" in fidelity:
            if int(fidelity["steps"]) != fidelity["steps"]:
                raise ArchscoutError(f"fidelity steps must be a whole number, got {fidelity['steps']!r}")
            steps = int(fidelity["steps"])
            horizon: float | None = own.steps if own.epochs is None and own.fidelity_mode == "continue" \
                and steps < own.steps else None
            return own.with_(steps=steps, epochs=None, horizon=horizon)
        epochs = float(fidelity["epochs"])
        horizon = own.epochs if own.epochs is not None and own.fidelity_mode == "continue" and epochs < own.epochs \
            else None
        return own.with_(epochs=epochs, horizon=horizon)

    def evaluate(self, arch: Architecture, seed: int = 0, cost_check=None, guard=None,
                 fidelity: dict | None = None) -> Evaluation:
        """Metrics: accuracy, loss (validation), params, flops, size, latency, train_seconds.

        ``cost_check(metrics) -> reason | None`` is called after the cost metrics are measured;
        a reason stops the evaluation before training (TrialFailed carries the partial metrics).
        ``guard`` (a :class:`~archscout.execute.trial.Guard`) enforces per-trial limits during training.
        ``fidelity``: ``{"steps": N}`` or ``{"epochs": E}`` instead of the study's training budget.
        """
        config = self.with_recipe(self.config_at(fidelity), arch)
        details: dict = {}
        model, metrics = self.build_and_cost(arch, seed, cost_check, details)
        task = self.task
        device = self.torch_device()
        splits = task.cv_splits()
        results, seconds, losses, steps, curve, curves = [], 0.0, [], 0, [], []
        lines: list = []
        start = 0
        try:
            for fold, (train_part, valid_part) in enumerate(splits):
                if fold:  # every fold trains a fresh network from the same initialisation seed
                    model = self.build(arch, seed)

                def validate(step, model=model, valid_part=valid_part):
                    return scores(predict(model, valid_part, device=device, amp=config.amp), valid_part.y,
                                  task.kind, task.preprocessing)

                def observe(step, values, points):
                    if guard is None or len(splits) > 1 or getattr(guard, "observe", None) is None:
                        return  # early stopping watches a single run
                    try:
                        guard.observe(step, values)
                    except EarlyStopped as e:
                        e.metrics = {**metrics, **values}
                        e.details = {**details, "learning_curve": columns(points)}
                        raise

                line = self.checkpoints.line(arch.id, config, seed, fold) if self.checkpoints is not None else None
                lines.append(line)
                stats = fit(model, train_part, config, seed=seed, guard=guard, kind=task.kind, device=device,
                            amp=config.amp, validate=validate, observe=observe, checkpoint=line,
                            report=lambda step, loss, fold=fold: curve.append([fold, step, round(loss, 6)]))
                if fold == 0:
                    start = stats["start"]
                curves.append(stats["curve"])
                last = stats["curve"][-1] if stats["curve"] else None
                results.append({k: v for k, v in last.items() if k != "step"} if last is not None else
                               validate(None))
                seconds += stats["train_seconds"]
                losses.append(stats["train_loss"])
                steps += stats["steps"]
        except TrialFailed:  # failed or stopped early: nothing will continue these runs
            for line in lines:
                if line is not None:
                    line.discard()
            raise
        model.to("cpu")
        names = [k for k in results[0] if all(k in r for r in results)]
        metrics.update({k: float(np.mean([r[k] for r in results])) for k in names})
        metrics["train_seconds"] = seconds
        metrics["train_loss"] = float(np.mean(losses))
        if len(splits) > 1:
            details["folds"] = [{k: round(v, 6) for k, v in r.items()} for r in results]
        if "accuracy@int8" in self.extra:
            metrics.update(self.quantized_accuracy(model, arch))
        details["train"] = {**config.as_dict(), "trained_steps": steps}  # fewer when continued
        details["curve"] = curve  # [fold, step, running training loss], about ten per fold
        details["learning_curve"] = columns(mean_curve(curves))
        if start:
            details["continued_from"] = {"step": start}
        if self.device != "cpu":
            details["device"] = str(device) + (" (mixed precision)" if config.amp else "")
        return Evaluation(metrics, details)


def mean_curve(curves: list[list[dict]]) -> list[dict]:
    """The validation points of several folds' runs averaged at the steps every fold has."""
    if len(curves) == 1:
        return curves[0]
    common = set.intersection(*({p["step"] for p in c} for c in curves)) if curves else set()
    out = []
    for step in sorted(common):
        points = [next(p for p in c if p["step"] == step) for c in curves]
        names = [k for k in points[0] if k != "step" and all(k in p for p in points)]
        out.append({"step": step, **{k: float(np.mean([p[k] for p in points])) for k in names}})
    return out
