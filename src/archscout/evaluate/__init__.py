"""Evaluators: measure one architecture and return its metrics (see :mod:`.base` for the interface).

Built-in evaluators, each registered in :data:`EVALUATORS` by the module that defines it:
``train`` (budgeted training, :mod:`.train_evaluator`; on a graph task :mod:`.graph`),
``zero-cost`` and ``predictor:FILE`` (:mod:`.zero_cost`), ``supernet:FILE`` (:mod:`.supernet`), ``nas-bench-201:DATASET`` (:mod:`.nb201`), ``nas-bench-graph:DATASET``
(:mod:`.tabular`) and ``synthetic[:options]`` (:mod:`.synthetic`).
"""
from __future__ import annotations

from . import nb201, supernet, synthetic, tabular, user, zero_cost  # noqa: F401 - importing registers them
from .base import EVALUATORS, Evaluation, Evaluator, EvaluatorSpec, Infeasible
from .measure import CALIBRATION_SAMPLES, PRESCREEN_MARGIN, LatencyConfig, NetworkEvaluator, release_memory
from .train_evaluator import TrainingEvaluator
from .training import TrainConfig, evaluate, train

__all__ = ["EVALUATORS", "Evaluation", "Evaluator", "EvaluatorSpec", "Infeasible", "LatencyConfig",
           "NetworkEvaluator", "TrainingEvaluator", "TrainConfig", "train", "evaluate", "make_evaluator",
           "uses_task", "list_evaluators", "CALIBRATION_SAMPLES", "PRESCREEN_MARGIN", "release_memory"]


def list_evaluators(pattern: str | None = None) -> list[str]:
    return EVALUATORS.names(pattern)


def uses_task(spec: str | EvaluatorSpec) -> bool:
    """Whether the evaluator builds networks for a task (training them or scoring them untrained), as opposed
    to looking results up."""
    return EvaluatorSpec.parse(spec, load=False).needs_task


def measured_metrics(spec: str | EvaluatorSpec) -> tuple:
    """The metrics an evaluator stores for every trial it completes."""
    return EvaluatorSpec.parse(spec, load=False).measured()


def measurable(spec: str | EvaluatorSpec, metric: str) -> bool:
    """Whether the evaluator stores ``metric`` when a study names it."""
    return EvaluatorSpec.parse(spec, load=False).can_measure(metric)


def check_evaluator_spec(spec: str | EvaluatorSpec, load: bool = True) -> str:
    """A spec in canonical form (a predictor file by its absolute path); ``load=False``: do not read the
    files it names (a study opened for reading its trials)."""
    return EvaluatorSpec.parse(spec, load=load).text


def evaluator_space(spec: str | EvaluatorSpec) -> str | None:
    """The built-in space an evaluator requires, or None when any space works."""
    return EvaluatorSpec.parse(spec).required_space()


def make_evaluator(spec: str | EvaluatorSpec, task=None, train: TrainConfig | None = None,
                   latency: LatencyConfig | None = None, metrics: tuple | list = ()) -> Evaluator:
    """The evaluator of a spec for ``task``; ``metrics``: what the study's objectives and constraints name,
    measured besides the evaluator's own."""
    return EvaluatorSpec.parse(spec).create(task=task, train=train, latency=latency, metrics=metrics)
