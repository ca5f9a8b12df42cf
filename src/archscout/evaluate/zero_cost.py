"""Training-free evaluators: zero-cost proxies (``zero-cost``) and a learned predictor (``predictor:FILE``).

Both build each candidate, measure its costs as the training evaluator does (so cost
constraints work the same) and score the untrained network instead of training it: a
search with them takes a fraction of a second per candidate. A study with either still
retrains its best candidates at the end (``finalize``), so it hands back a trained model.
"""
from __future__ import annotations

import math

from ..errors import ArchscoutError, TrialFailed
from ..space import Architecture
from . import Evaluation, LatencyConfig, TrainConfig
from .proxies import BATCH_SIZE

DEFAULT_PROXY = "nwot"  # the objective of a zero-cost study that names none (NASWOT: strong and cheap)


class ZeroCostEvaluator:
    """Scores each untrained candidate with the zero-cost proxies the study names (``proxy@NAME``).

    Cost metrics (params, FLOPs, fp32 size, PyTorch latency at batch 1, and what else the study
    names) are measured on the same network. A named proxy that cannot score a candidate fails
    the trial with the proxy's reason.
    """

    kind = "zero-cost"
    spec = "zero-cost"
    budget_key = "zero-cost"

    def __init__(self, task, train: TrainConfig | None = None, latency: LatencyConfig | None = None,
                 metrics: tuple | list = ()):
        from . import make_evaluator

        self.task = task
        self.trainer = make_evaluator("train", task, train, latency, metrics=list(metrics))
        self.required = [m for m in metrics if m.startswith("proxy@")]

    def __getattr__(self, name: str):
        """Everything but ``evaluate`` is the training evaluator's: building, costs, latency prescreening, the
        proxy batch, the final retraining, the clean-up between trials."""
        if name == "trainer":  # not set yet (while unpickling in a worker)
            raise AttributeError(name)
        return getattr(self.trainer, name)

    def evaluate(self, arch: Architecture, seed: int = 0, cost_check=None, guard=None) -> Evaluation:
        details: dict = {}
        _, metrics = self.build_and_cost(arch, seed, cost_check, details)
        missing = [m for m in self.required if m not in metrics]
        if missing:
            reasons = details.get("proxy_errors", {})
            raise TrialFailed("; ".join(reasons.get(m.split("@", 1)[1], f"{m} was not computed") for m in missing))
        graph = getattr(self.task, "edge_index", None) is not None
        batch = f"the whole graph, {BATCH_SIZE} training nodes" if graph else f"{BATCH_SIZE} training samples"
        details["proxies"] = {"batch": f"{batch}, seed 0", "seed": seed}
        return Evaluation(metrics, details)


class PredictorEvaluator(ZeroCostEvaluator):
    """Predicts each candidate's validation accuracy with a fitted predictor (see
    :mod:`archscout.evaluate.predictors`): ``predicted_accuracy`` and ``predicted_accuracy_std``
    (the predictor's uncertainty), with the proxies it reads and the cost metrics."""

    kind = "predictor"

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
        self.spec = f"predictor:{path}"
        self.budget_key = f"predictor:{self.header.get('fingerprint', path)}"

    def evaluate(self, arch: Architecture, seed: int = 0, cost_check=None, guard=None) -> Evaluation:
        ev = super().evaluate(arch, seed, cost_check, guard)
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
    import os

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
