"""The ``supernet:FILE`` evaluator: scores sub-networks with weights inherited from a trained supernet.

Each candidate (an architecture of the supernet's elastic space, see
:mod:`archscout.oneshot.supernet.elastic`) is extracted from the supernet as a stand-alone network carrying
the shared weights, its batch-norm statistics are re-estimated on ``RECALIBRATION_SAMPLES`` training
samples (the same samples for every candidate), and it is scored on the validation data: no training per
candidate. The cost metrics (parameters, FLOPs, latency, and whatever the study names: INT8 size and
accuracy, other runtimes) are measured on the extracted network as the training evaluator measures them,
so a cost constraint refuses a candidate before it is scored. ``accuracy@int8`` quantizes the extracted
network with its own policy (ONNX Runtime, static) and scores it.

A fidelity (``{"steps": N}``, from a multi-fidelity scheduler with ``max_fidelity``) fine-tunes the inherited
weights for N steps of the study's training recipe before scoring: the schedulers then promote candidates from
inherited scores through short fine-tunings to longer ones (each rung starts again from the inherited weights;
nothing is continued from a checkpoint).

The study searches the supernet's elastic space whatever ``--space`` names, if it names the supernet's
base space (``conv1d`` for a ``conv1d`` supernet) or the elastic space itself; other spaces are refused.
The final retraining either fine-tunes the chosen sub-network from its inherited weights
(``supernet:FILE`` or ``supernet:FILE,final=finetune``, the default) or retrains it from scratch
(``final=scratch``); both train with the study's final recipe.
"""
from __future__ import annotations

import io
import os
from typing import ClassVar

from ...errors import ArchscoutError, TrialFailed
from ...evaluate.base import EVALUATORS, Evaluation
from ...evaluate.measure import LatencyConfig, NetworkEvaluator
from ...evaluate.training import TrainConfig, fit, predict, scores
from ...space import Architecture

RECALIBRATION_SAMPLES = 2000
RECALIBRATION_BATCH = 200
FINALS = ("finetune", "scratch")


def _split_options(options: str) -> tuple[str, str]:
    """``PATH[,final=finetune|scratch]`` -> (path, final)."""
    path, final = options, "finetune"
    head, sep, tail = options.rpartition(",")
    if sep and tail.startswith("final="):
        path, final = head, tail[len("final="):]
        if final not in FINALS:
            raise ArchscoutError(f"supernet: final={final!r}; it is one of {', '.join(FINALS)} (fine-tune the "
                                 f"inherited weights, or retrain from scratch)")
    if not path:
        raise ArchscoutError("name the supernet file: --evaluator supernet:FILE (train one with `archscout "
                             "supernet train --task ... --space ... --out FILE`)")
    return path, final


def _load(path: str):
    from .store import load_supernet
    return load_supernet(path)


def _check_task(path: str, header: dict, task) -> None:
    """Refuse ``task`` (as a study names it, or a Task) when the supernet was trained on another one, naming both
    and what to do: search the supernet's own task, or train a supernet on this one."""
    from ...tasks.catalog import TASKS, task_name_of

    name, trained = task_name_of(task), header["task"]
    if name is None or name == trained:
        return
    own = f"--task {trained}" if trained in TASKS else f"--task FILE, the data file {trained!r} it was trained on"
    given = task if isinstance(task, str) else name
    raise ArchscoutError(f"the supernet in {path!r} was trained on task {trained!r}, not {name!r}: search task "
                         f"{trained!r} with it ({own}), or train a supernet on task {name!r} first (`archscout "
                         f"supernet train --task {given} --space ... --out FILE`)")


@EVALUATORS.register("supernet")
class SupernetEvaluator(NetworkEvaluator):
    """Scores each candidate with the weights it inherits from a trained supernet (BN recalibrated), no training.

    Spec: ``supernet:FILE`` or ``supernet:FILE,final=finetune|scratch`` (a file written by ``archscout
    supernet train``).
    """

    name = "supernet"
    holds = "supernet was trained on"
    fidelities = ("steps",)  # fine-tuning steps from the inherited weights before scoring (none: inherited only)
    measures: ClassVar[tuple[str, ...]] = ("accuracy", "loss", "balanced_accuracy", "f1_macro", "auroc", "log_loss",
                                           "params", "flops", "latency_ms", "size_bytes@fp32")

    def __init__(self, path: str, final_mode: str, task, train: TrainConfig | None = None,
                 latency: LatencyConfig | None = None, metrics: tuple | list = ()):
        super().__init__(task, train, latency, metrics)
        self.path, self.final_mode = path, final_mode
        self.supernet, self.header = _load(path)
        if task is not None:
            _check_task(path, self.header, task)
        if task is not None and task.fingerprint() != self.header["task_fingerprint"]:
            raise ArchscoutError(f"the supernet in {path!r} was trained on other data of task {task.name!r} "
                                 f"(its options or its files changed); train it again on this data")
        self._calibration: list | None = None

    # -- what a study asks of a spec -----------------------------------------------------------------------
    @classmethod
    def parse_options(cls, options: str, *, load: bool = True) -> str:
        path, final = _split_options(options)
        if load:
            _load(path)
        return os.path.abspath(path) + ("" if final == "finetune" else f",final={final}")

    @classmethod
    def searched_space(cls, options: str, space):
        from .elastic import ElasticSpec, elastic_spec
        path, _ = _split_options(options)
        try:
            spec = ElasticSpec.from_dict(_load(path)[1]["spec"])
        except ArchscoutError:  # a study opened to read its trials, the file gone: the built-in elastic space
            base = space.name[:-len("-elastic")] if space.name.endswith("-elastic") else space.name
            try:
                spec = elastic_spec(base)
            except ArchscoutError:
                return space
        return spec.space() if space.name in (spec.base, spec.name) else space

    @classmethod
    def check_space(cls, options: str, space) -> None:
        header = _load(_split_options(options)[0])[1]
        base = header["spec"]["base"]
        if space.name != f"{base}-elastic":
            raise ArchscoutError(f"the supernet:{options} supernet holds sub-networks of the {base!r} space, not "
                                 f"{space.name!r}; use --space {base} (or leave it out)")

    @classmethod
    def check_task(cls, options: str, task) -> None:
        if task is not None:
            path = _split_options(options)[0]
            _check_task(path, _load(path)[1], task)

    @classmethod
    def required_space(cls, options: str = "") -> str | None:
        return _load(_split_options(options)[0])[1]["spec"]["base"]

    @classmethod
    def source_fingerprint(cls, options: str = "") -> str | None:
        return _load(_split_options(options)[0])[1]["fingerprint"]

    @classmethod
    def create(cls, options: str = "", *, task=None, train: TrainConfig | None = None,
               latency: LatencyConfig | None = None, metrics: tuple | list = ()) -> SupernetEvaluator:
        path, final = _split_options(options)
        return cls(path, final, task, train, latency, metrics)

    @property
    def spec(self) -> str:
        return f"supernet:{self.path}" + ("" if self.final_mode == "finetune" else f",final={self.final_mode}")

    @property
    def budget_key(self) -> str:
        return f"supernet:{self.header['fingerprint']}"

    # -- scoring -------------------------------------------------------------------------------------------
    def build(self, arch: Architecture, seed: int):
        reason = self.supernet.spec.check(arch.values)
        if reason is not None:
            raise TrialFailed(f"not a sub-network of the supernet: {reason}")
        return self.supernet.extract(arch.values)

    def calibration_batches(self) -> list:
        """The training samples every candidate's batch norms are re-estimated on (fixed: seed 0)."""
        import numpy as np
        import torch

        if self._calibration is None:
            n = len(self.task.train)
            idx = np.random.default_rng(0).permutation(n)[:min(n, RECALIBRATION_SAMPLES)]
            X = torch.as_tensor(self.task.train.take(np.sort(idx)))
            self._calibration = [X[i:i + RECALIBRATION_BATCH] for i in range(0, len(X), RECALIBRATION_BATCH)]
        return self._calibration

    def __getstate__(self):
        return {**super().__getstate__(), "_calibration": None}

    def evaluate(self, arch: Architecture, seed: int = 0, cost_check=None, guard=None,
                 fidelity: dict | None = None) -> Evaluation:
        from .net import recalibrate

        steps = 0
        if fidelity:
            self.check_fidelity(fidelity)
            steps = fidelity["steps"]
            if steps != int(steps):
                raise ArchscoutError(f"the supernet evaluator's fidelity is whole fine-tuning steps, got {steps!r}")
            steps = int(steps)
        details: dict = {}
        model, metrics = self.build_and_cost(arch, seed, cost_check, details)
        if guard is not None:
            guard.check()
        recalibrate(model, self.calibration_batches())
        task = self.task
        if steps:  # a fidelity: fine-tune the inherited weights for that many steps first (a restart at each rung)
            config = self.with_recipe(self.train_config, arch).with_(steps=steps, epochs=None, horizon=None)
            fit(model, task.train, config, seed=seed, guard=guard, kind=task.kind, device=self.torch_device())
            model.to("cpu")
            recalibrate(model, self.calibration_batches())
        res = scores(predict(model, task.valid), task.valid.y, task.kind, task.preprocessing)
        metrics.update(res)
        if "accuracy@int8" in self.extra:
            metrics.update(self.quantized_accuracy(model, arch))
        details["supernet"] = {"file": self.path, "fingerprint": self.header["fingerprint"],
                               "method": self.header["training"]["method"],
                               "recalibration_samples": sum(len(b) for b in self.calibration_batches()),
                               "fine_tune_steps": steps}
        return Evaluation(metrics, details)

    def final(self, arch: Architecture, seed: int, train_config: TrainConfig) -> tuple[Evaluation, bytes]:
        """Fine-tune the inherited weights (``final=finetune``) or retrain from scratch (``final=scratch``) on
        training + validation data, then score on the test part."""
        if self.final_mode == "scratch":
            ev, state = super().final(arch, seed, train_config)
            ev.details["final_mode"] = "scratch"
            return ev, state
        import torch

        from ...cost import count_params
        from .net import recalibrate

        task = self.task
        if task.test is None:
            raise ArchscoutError(f"task {task.name!r} has no test split to report on")
        device = self.torch_device()
        train_config = self.with_recipe(train_config, arch)
        torch.manual_seed(seed)
        model = self.build(arch, seed)
        recalibrate(model, self.calibration_batches())
        inherited = scores(predict(model, task.test), task.test.y, task.kind, task.preprocessing)
        stats = fit(model, task.full_train(), train_config, seed=seed, kind=task.kind, device=device,
                    amp=train_config.amp)
        res = scores(predict(model, task.test, device=device, amp=train_config.amp), task.test.y, task.kind,
                     task.preprocessing)
        model.to("cpu")
        buf = io.BytesIO()
        torch.save(model.state_dict(), buf)
        metrics = {f"test_{k}": v for k, v in res.items()}
        metrics.update({f"test_{k}_inherited": v for k, v in inherited.items()})
        metrics.update({"train_seconds": stats["train_seconds"], "params": count_params(model)})
        if "accuracy@int8" in self.extra:
            metrics.update(self.quantized_accuracy(model, arch, "test"))
        return Evaluation(metrics, {"train": train_config.as_dict(), "final_mode": "finetune"}), buf.getvalue()
