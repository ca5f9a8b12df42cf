"""Training-free evaluators: zero-cost proxies (``zero-cost``) and a learned predictor (``predictor:FILE``).

Both build each candidate, measure its costs as the training evaluator does (so cost
constraints work the same) and score the untrained network instead of training it: a
search with them takes a fraction of a second per candidate. A study with either still
retrains its best candidates at the end (``finalize``), so it hands back a trained model.
"""
from __future__ import annotations

import math
import os
from typing import ClassVar

from ..errors import ArchscoutError, TrialFailed
from ..space import Architecture
from .base import EVALUATORS, Evaluation, Evaluator
from .measure import LatencyConfig, NetworkEvaluator
from .proxies import BATCH_SIZE
from .training import TrainConfig

DEFAULT_PROXY = "nwot"  # the objective of a zero-cost study that names none (NASWOT: strong and cheap)
TRAINING_FREE_MEASURES = ("params", "flops", "size_bytes@fp32", "latency_ms")


@EVALUATORS.register("zero-cost")
class ZeroCostEvaluator(Evaluator):
    """Scores each untrained candidate with the zero-cost proxies the study names (``proxy@NAME``).

    Cost metrics (params, FLOPs, fp32 size, PyTorch latency at batch 1, and what else the study
    names) are measured on the same network by the measurer the ``train`` evaluator uses on the
    task (``self.measurer``: graph networks on a graph task). A named proxy that cannot score a
    candidate fails the trial with the proxy's reason.
    """

    name = "zero-cost"
    measures: ClassVar[tuple[str, ...]] = TRAINING_FREE_MEASURES + ("proxy@NAME",)
    on_request: ClassVar[tuple[str, ...]] = ("latency_ms@", "size_bytes@", "memory_mb", "proxy@")
    needs_task = True

    def __init__(self, task, train: TrainConfig | None = None, latency: LatencyConfig | None = None,
                 metrics: tuple | list = ()):
        from .train_evaluator import TrainingEvaluator

        self.task = task
        self.measurer: NetworkEvaluator = TrainingEvaluator.create(task=task, train=train, latency=latency,
                                                                   metrics=list(metrics))
        self.required = [m for m in metrics if m.startswith("proxy@")]

    @classmethod
    def parse_options(cls, options: str, *, load: bool = True) -> str:
        if options:
            raise ArchscoutError(f"the {cls.name} evaluator takes no options here; use --steps, --lr, ... (train) "
                                 f"or --objectives proxy@NAME (zero-cost) instead")
        return ""

    @classmethod
    def default_objective(cls, options: str = "") -> str:
        return f"proxy@{DEFAULT_PROXY}"

    @classmethod
    def create(cls, options: str = "", *, task=None, train: TrainConfig | None = None,
               latency: LatencyConfig | None = None, metrics: tuple | list = ()) -> ZeroCostEvaluator:
        return cls(task, train, latency, metrics)

    # what a study, a guide and the final retraining use of the measurer, by name
    @property
    def train_config(self) -> TrainConfig:
        return self.measurer.train_config

    @property
    def latency(self) -> LatencyConfig:
        return self.measurer.latency

    @property
    def prescreen(self) -> dict:
        return self.measurer.prescreen

    def build(self, arch: Architecture, seed: int):
        return self.measurer.build(arch, seed)

    def static_costs(self, model, arch: Architecture | None = None) -> dict:
        return self.measurer.static_costs(model, arch)

    def costs(self, model, arch: Architecture | None = None, details: dict | None = None) -> dict:
        return self.measurer.costs(model, arch, details)

    def proxy_inputs(self) -> tuple:
        return self.measurer.proxy_inputs()

    def quantize(self, model_bytes: bytes, arch: Architecture | None):
        return self.measurer.quantize(model_bytes, arch)

    def after_trial(self) -> None:
        self.measurer.after_trial()

    def final(self, arch: Architecture, seed: int, train_config: TrainConfig) -> tuple[Evaluation, bytes]:
        return self.measurer.final(arch, seed, train_config)

    def evaluate(self, arch: Architecture, seed: int = 0, cost_check=None, guard=None,
                 fidelity: dict | None = None) -> Evaluation:
        if fidelity:
            self.check_fidelity(fidelity)
        details: dict = {}
        _, metrics = self.measurer.build_and_cost(arch, seed, cost_check, details)
        missing = [m for m in self.required if m not in metrics]
        if missing:
            reasons = details.get("proxy_errors", {})
            raise TrialFailed("; ".join(reasons.get(m.split("@", 1)[1], f"{m} was not computed") for m in missing))
        graph = getattr(self.task, "edge_index", None) is not None
        batch = f"the whole graph, {BATCH_SIZE} training nodes" if graph else f"{BATCH_SIZE} training samples"
        details["proxies"] = {"batch": f"{batch}, seed 0", "seed": seed}
        return Evaluation(metrics, details)


@EVALUATORS.register("predictor")
class PredictorEvaluator(ZeroCostEvaluator):
    """Predicts each untrained candidate's validation accuracy with a predictor fitted on trained ones.

    It stores ``predicted_accuracy`` and ``predicted_accuracy_std`` (the predictor's uncertainty; see
    :mod:`archscout.evaluate.predictors`), with the proxies it reads and the cost metrics.

    Spec: ``predictor:FILE`` (a file written by ``archscout proxies ... --save-predictor FILE``).
    """

    name = "predictor"
    holds = "predictor was fitted on"
    measures: ClassVar[tuple[str, ...]] = ("predicted_accuracy", "predicted_accuracy_std") + TRAINING_FREE_MEASURES \
        + ("proxy@NAME",)

    def __init__(self, path: str, task, train: TrainConfig | None = None, latency: LatencyConfig | None = None,
                 metrics: tuple | list = ()):
        self.path = path
        self.predictor, self.header = load_predictor(path)
        fitted_task = self.header.get("task")
        if fitted_task is not None and task is not None and task.name != fitted_task:
            raise ArchscoutError(f"the predictor in {path!r} was fitted on task {fitted_task!r}, not {task.name!r}: "
                                 f"its proxies are computed on that task's data")
        needed = [f"proxy@{p}" for p in self.predictor.proxies]
        super().__init__(task, train, latency, list(dict.fromkeys(list(metrics) + needed)))
        # a proxy that fails (nwot without ReLU, zen without BatchNorm) is a missing feature, which the
        # predictors take; only the proxies the study itself names must be there
        self.required = [m for m in metrics if m.startswith("proxy@")]

    @classmethod
    def parse_options(cls, options: str, *, load: bool = True) -> str:
        if not options:
            raise ArchscoutError("name the predictor file: --evaluator predictor:FILE (write one with "
                                 "`archscout proxies ... --save-predictor FILE`)")
        if load:
            load_predictor(options)
        return os.path.abspath(options)

    @classmethod
    def required_space(cls, options: str = "") -> str | None:
        return load_predictor(options)[1].get("space")

    @classmethod
    def source_fingerprint(cls, options: str = "") -> str | None:
        return load_predictor(options)[1].get("fingerprint")

    @classmethod
    def check_space(cls, options: str, space) -> None:
        super().check_space(options, space)
        header = load_predictor(options)[1]
        if header.get("space_fingerprint") not in (None, space.fingerprint()):
            raise ArchscoutError(f"the predictor:{options} predictor was fitted on another definition of the "
                                 f"{space.name!r} space; fit it again on this one")

    @classmethod
    def default_objective(cls, options: str = "") -> str:
        return "predicted_accuracy"

    @classmethod
    def create(cls, options: str = "", *, task=None, train: TrainConfig | None = None,
               latency: LatencyConfig | None = None, metrics: tuple | list = ()) -> PredictorEvaluator:
        return cls(options, task, train, latency, [m for m in metrics if not m.startswith("predicted_accuracy")])

    @property
    def spec(self) -> str:
        return f"predictor:{self.path}"

    @property
    def budget_key(self) -> str:
        return f"predictor:{self.header.get('fingerprint', self.path)}"

    def evaluate(self, arch: Architecture, seed: int = 0, cost_check=None, guard=None,
                 fidelity: dict | None = None) -> Evaluation:
        ev = super().evaluate(arch, seed, cost_check, guard, fidelity)
        scores = {p: ev.metrics.get(f"proxy@{p}") for p in self.predictor.proxies}
        mean, std = self.predictor.predict([arch], [scores], return_std=True)
        if not (math.isfinite(mean[0]) and math.isfinite(std[0])):
            raise TrialFailed("the predictor gave a non-finite prediction")
        ev.metrics["predicted_accuracy"] = float(mean[0])
        ev.metrics["predicted_accuracy_std"] = float(std[0])
        ev.details["predictor"] = {k: v for k, v in self.header.items() if k != "magic"}
        return ev


def load_predictor(path: str):
    """A predictor file's predictor and header (cached per path and modification time)."""
    from .predictors import load

    try:
        stamp = os.stat(path).st_mtime_ns
    except OSError:
        raise ArchscoutError(f"no predictor file at {path!r}; write one with `archscout proxies ... "
                             f"--save-predictor FILE`") from None
    key = (os.path.abspath(path), stamp)
    if key not in _LOADED:
        _LOADED[key] = load(path)
    return _LOADED[key]


_LOADED: dict = {}
