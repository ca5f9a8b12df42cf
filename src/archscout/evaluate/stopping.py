"""Early stopping of a running trial from its learning curve: the median and percentile rules.

They follow Optuna's ``MedianPruner`` / ``PercentilePruner`` (and the median stopping rule of Google Vizier,
Golovin et al. 2017): at each step where the trial is validated, its best value so far is compared with the
values that the study's *completed* trials of the same training run length had at that step; the trial is
stopped when it is not in the kept top ``percentile`` per cent (``median`` keeps the top half). Nothing is
stopped before ``min_trials`` completed trials have a value at that step, or before ``warmup`` steps.

How it differs from Optuna's: the comparison values are taken when the trial starts (the search process
computes them from the stored trials and ships them with the trial to its worker), not read live from
the storage at every step; trials that finish meanwhile count from the next trial on. With several
objectives the rule watches the first. With ``--folds`` it is not applied (each fold is a run of its own).

A stopped trial is stored with status ``stopped``, its metrics as they were at that step, and why.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np

from ..errors import ArchscoutError, TrialFailed

RULES = ("median", "percentile")
MIN_TRIALS = 5


class EarlyStopped(TrialFailed):
    """Raised in a trial that a stopping rule ended: ``step`` where it stopped, the metrics it had then."""

    def __init__(self, reason: str, step: int, threshold: float, metrics: dict | None = None,
                 details: dict | None = None):
        super().__init__(reason)
        self.step, self.threshold = step, threshold
        self.metrics = dict(metrics or {})
        self.details = dict(details or {})


def parse_rule(text: str | None) -> tuple[str, float] | None:
    """``median`` → ("median", 50); ``percentile:P`` (keep the top P %, 0 < P < 100) → ("percentile", P);
    None / "" / "none" → None."""
    if text is None or str(text).strip().lower() in ("", "none", "off"):
        return None
    name, _, arg = str(text).strip().lower().partition(":")
    if name == "median" and not arg:
        return ("median", 50.0)
    if name == "percentile":
        try:
            p = float(arg)
        except ValueError:
            p = math.nan
        if 0 < p < 100:
            return ("percentile", p)
        raise ArchscoutError(f"early stopping percentile:P keeps the top P per cent of trials at each step, "
                             f"0 < P < 100; got {text!r}")
    raise ArchscoutError(f"unknown early stopping rule {text!r}; use median, percentile:P (e.g. percentile:25) "
                         f"or none")


def curve_family(budget: str) -> str:
    """Runs whose learning curves can be compared step by step: the same settings and schedule length. A run
    stopped early in a longer schedule (``steps=111/1000,...``) belongs with the full one (``steps=1000,...``)."""
    return re.sub(r"^(steps|epochs)=([0-9.e+-]+)/([0-9.e+-]+)", r"\1=\3", budget)


@dataclass
class StopRule:
    """The thresholds a trial is held to: per validated step, the value it must reach (its best so far)."""

    metric: str
    maximize: bool
    thresholds: dict[int, float] = field(default_factory=dict)
    rule: str = "median"
    percentile: float = 50.0
    warmup: int = 0

    @classmethod
    def from_curves(cls, curves: list[dict], metric: str, maximize: bool, rule: str = "median",
                    percentile: float = 50.0, min_trials: int = MIN_TRIALS, warmup: int = 0) -> StopRule | None:
        """The rule over ``curves`` (learning curves of completed trials, column form ``{"step": [...],
        metric: [...]}``); None when no step has ``min_trials`` values yet."""
        by_step: dict[int, list[float]] = {}
        for c in curves:
            values = c.get(metric)
            if not values:
                continue
            for step, v in zip(c.get("step", []), values):
                if v is not None and math.isfinite(v):
                    by_step.setdefault(int(step), []).append(float(v))
        q = 100.0 - percentile if maximize else percentile  # the value the kept top share reaches
        thresholds = {s: float(np.percentile(vs, q)) for s, vs in by_step.items() if len(vs) >= min_trials}
        if not thresholds:
            return None
        return cls(metric, maximize, thresholds, rule, percentile, warmup)

    def check(self, step: int, best: float) -> float | None:
        """The threshold ``best`` (the trial's best value so far) fails at ``step``, or None."""
        if step < self.warmup or step not in self.thresholds:
            return None
        t = self.thresholds[step]
        worse = best < t if self.maximize else best > t
        return t if worse else None

    def describe(self) -> str:
        return "median" if self.rule == "median" else f"percentile:{self.percentile:g}"


class CurveWatcher:
    """Follows one run's validated values and raises :class:`EarlyStopped` when ``rule`` says so."""

    def __init__(self, rule: StopRule | None):
        self.rule = rule
        self.best: float | None = None

    def observe(self, step: int, values: dict) -> None:
        if self.rule is None or self.rule.metric not in values:
            return
        v = float(values[self.rule.metric])
        if not math.isfinite(v):
            return
        if self.best is None or (v > self.best if self.rule.maximize else v < self.best):
            self.best = v
        threshold = self.rule.check(step, self.best)
        if threshold is not None:
            kept = "half" if self.rule.rule == "median" else f"{self.rule.percentile:g} %"
            raise EarlyStopped(f"stopped early at step {step} by the {self.rule.describe()} rule: best "
                               f"{self.rule.metric} so far {self.best:.6g}, not in the top {kept} of completed "
                               f"trials at that step (threshold {threshold:.6g})", step, threshold, dict(values))


def columns(points: list[dict]) -> dict:
    """Points ``[{"step": s, metric: v, ...}, ...]`` as the stored column form ``{"step": [...], metric: [...]}``
    (a metric missing at a point is None there)."""
    names: list[str] = []
    for p in points:
        names.extend(k for k in p if k != "step" and k not in names)
    out: dict = {"step": [int(p["step"]) for p in points]}
    for k in names:
        out[k] = [None if p.get(k) is None else round(float(p[k]), 6) for p in points]
    return out
