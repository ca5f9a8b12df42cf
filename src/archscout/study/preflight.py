"""Checks made before a search stores anything: budgets, where trials run, the task's data, the space against
the task, constraints that no architecture can meet, and the latency tables that prescreen candidates."""
from __future__ import annotations

import re

from ..checks import non_negative_int, positive_int, positive_number
from ..errors import ArchscoutError
from ..execute import Executor, make_executor
from ..metrics import Constraint
from .recovery import INTERRUPT_POLICIES

DEFAULT_MAX_FAILURES = 20  # failed trials in a row that stop a search


def parse_duration(text: str | float | int | None, what: str = "time budget") -> float | None:
    """Seconds from ``90``, ``90s``, ``30m``, ``1.5h``, ``1h30m``; None passes through."""
    if text is None:
        return None
    if isinstance(text, bool):
        raise ArchscoutError(f"cannot read {what} {text!r}; use e.g. 90s, 30m, 1.5h or 1h30m")
    if isinstance(text, (int, float)):  # seconds
        return float(positive_number(text, what))
    s = str(text).strip().lower()
    parts = re.findall(r"(\d+(?:\.\d+)?)\s*([hms]?)", s)
    if not s or not parts or re.sub(r"(\d+(?:\.\d+)?)\s*([hms]?)", "", s).strip():
        raise ArchscoutError(f"cannot read {what} {text!r}; use e.g. 90s, 30m, 1.5h or 1h30m")
    seconds = sum(float(n) * {"h": 3600, "m": 60, "s": 1, "": 1}[u] for n, u in parts)
    return float(positive_number(seconds, f"{what} {text!r}"))  # e.g. time budget '0s' ..., got 0.0


def check_budget(trials: int | None, time_budget: str | float | None) -> float | None:
    """Validate a search budget; returns the time budget in seconds (or None)."""
    seconds = parse_duration(time_budget)
    if trials is None and seconds is None:
        raise ArchscoutError("give a budget: a number of trials (--trials), a time budget (--time-budget), or both")
    if trials is not None:
        positive_int(trials, "the number of trials")
    return seconds


def check_search_options(workers: int = 1, executor=None, address: str | None = None,
                         trial_timeout: str | float | None = None, trial_memory_mb: float | None = None,
                         max_failures: int | None = DEFAULT_MAX_FAILURES, on_interrupted: str = "requeue"):
    """Validate where and how trials run; returns (executor, per-trial time limit in seconds or None)."""
    time_limit = parse_duration(trial_timeout, "per-trial time limit") if trial_timeout is not None else None
    if trial_memory_mb is not None:
        positive_number(trial_memory_mb, "the per-trial memory limit in MB")
    if max_failures is not None:
        non_negative_int(max_failures, "--max-failures")
    if on_interrupted not in INTERRUPT_POLICIES:
        raise ArchscoutError(f"unknown policy for interrupted trials {on_interrupted!r}; "
                             f"valid: {', '.join(INTERRUPT_POLICIES)}")
    ex = executor if isinstance(executor, Executor) else make_executor(
        executor, workers, address, time_limit, trial_memory_mb)
    if ex.name == "ray" and address is not None:
        from ..execute.ray import check_reachable
        check_reachable(address)  # before anything is stored
    return ex, time_limit



def latency_bounds(study) -> list[Constraint]:
    """The constraints a latency lookup table can screen: upper bounds on PyTorch / ONNX Runtime latency."""
    from ..metrics import latency_spec

    return [c for c in study.constraints if c.op in ("<=", "<")
            and (latency_spec(c.metric) or ("", 0))[0] in ("pytorch", "onnxruntime")]


def attach_latency_tables(study, evaluator) -> None:
    """Per-operator latency lookup tables (built by measuring here, a few seconds each) for the study's
    latency upper bounds on PyTorch and ONNX Runtime: candidates estimated clearly over a bound are
    stored infeasible without being measured."""
    from ..cost.latency_table import LatencyTable
    from ..metrics import latency_spec

    for c in latency_bounds(study):
        runtime, batch = latency_spec(c.metric) or ("pytorch", 1)  # latency_bounds keeps latency metrics only
        table = LatencyTable.build(study.space, study.task.input_shape, study.task.num_classes, samples=100,
                                   runtime=runtime, batch_size=batch, threads=study.latency.threads or 1,
                                   seed=study.seed, calibration=20)
        evaluator.prescreen[c.metric] = (table, c.bound)


def check_meetable(study) -> None:
    """Refuse, before anything is stored, a constraint that no architecture of the space can meet."""
    from .bounds import check_table, check_trained, check_unit_range

    check_unit_range(study.constraints)
    if study.evaluator_spec.needs_task:
        check_trained(study.constraints, study.space, study.evaluator(), study.seed)
    else:
        rows = study.evaluator().rows()
        if rows is not None:
            check_table(study.constraints, rows, f"in the {study.evaluator_spec} table")


def check_kind(study, task) -> None:
    """Objectives, constraints and measured metrics of the task's kind: no r2 on classes, no accuracy on a
    regression."""
    from ..metrics import metric_kind
    kind = getattr(task, "kind", "classification")
    names = [m for m, _ in study.objectives] + [c.metric for c in study.constraints] + list(study.measure)
    for metric in names:
        needs = metric_kind(metric)
        if needs is not None and needs != kind:
            what = "a regression" if kind == "regression" else f"classification ({task.num_classes} classes)"
            raise ArchscoutError(f"{metric} is a {needs} metric, but task {task.name!r} is {what}; a {kind} task "
                                 f"is measured by {', '.join(_kind_metrics(kind))}")


def check_devices(study) -> None:
    """A GPU latency (latency_ms@cuda:bN) needs a CUDA GPU here: one clear error before anything is stored."""
    from ..metrics import latency_spec
    names = [m for m, _ in study.objectives] + [c.metric for c in study.constraints] + list(study.measure)
    gpu = [m for m in names if (latency_spec(m) or ("",))[0] == "cuda"]
    if gpu:
        import torch
        if not torch.cuda.is_available():
            raise ArchscoutError(f"{gpu[0]} is measured on a CUDA GPU, and PyTorch sees none on this machine; "
                                 f"measure latency_ms (CPU) or latency_ms@onnxruntime:b1 here, or search on a "
                                 f"machine with a GPU")


def _kind_metrics(kind: str) -> tuple:
    from ..metrics import KIND_METRICS
    return KIND_METRICS[kind]


def check_space_fits(study, task) -> None:
    """A space that cannot take the task's inputs at all is the user's error, not a failing trial."""
    reason = study.space.accepts(task, seed=study.seed)
    if reason is not None:
        raise ArchscoutError(f"space {study.space.name!r} does not fit task {task.name!r}: {reason}")


def check_task(study, task) -> None:
    """Enough data to search on, and the same data as the study was searched on before (its fingerprint)."""
    if len(task.train) < 2 or len(task.valid) < 1:
        raise ArchscoutError(f"task {task.name!r} has too little data to search on")
    config = study._stored_config()
    fingerprint = task.fingerprint()
    if "task_fingerprint" not in config:
        study.storage.update_config(study.id, {**config, "task_fingerprint": fingerprint})
    elif config["task_fingerprint"] != fingerprint:
        raise ArchscoutError(f"study {study.name!r} was searched on different data for task {task.name!r}; "
                             f"use a new study name for this data")
