"""Evaluators: measure one architecture and return its metrics (see :mod:`.base` for the interface).

Built-in evaluators, each registered in :data:`EVALUATORS` by the module that defines it:
``train`` (budgeted training, :mod:`.train_evaluator`; on a graph task :mod:`.graph`),
``zero-cost`` and ``predictor:FILE`` (:mod:`.zero_cost`), ``supernet:FILE`` (registered by :mod:`archscout.oneshot.supernet.evaluator`), ``nas-bench-201:DATASET`` (:mod:`.tables.nas_bench_201`), ``nas-bench-graph:DATASET``
(:mod:`.tables.nas_bench_graph`) and ``synthetic[:options]`` (:mod:`.tables.synthetic`); a table benchmark is one
module of :mod:`.tables`.
"""
from __future__ import annotations

from . import graph, tables, user, zero_cost  # noqa: F401 - importing registers them
from .base import EVALUATORS, Evaluation, Evaluator, Infeasible
from .measure import CALIBRATION_SAMPLES, PRESCREEN_MARGIN, LatencyConfig, NetworkEvaluator, release_memory
from .spec import (
    EvaluatorSpec,
    check_evaluator_spec,
    evaluator_space,
    list_evaluators,
    make_evaluator,
    measurable,
    measured_metrics,
    uses_task,
)
from .train_evaluator import TrainingEvaluator
from .training import TrainConfig, evaluate, train

__all__ = ["EVALUATORS", "Evaluation", "Evaluator", "EvaluatorSpec", "Infeasible", "LatencyConfig",
           "NetworkEvaluator", "TrainingEvaluator", "TrainConfig", "train", "evaluate", "make_evaluator",
           "uses_task", "list_evaluators", "check_evaluator_spec", "evaluator_space", "measurable", "measured_metrics", "CALIBRATION_SAMPLES", "PRESCREEN_MARGIN", "release_memory"]
