"""Running one trial wherever it runs (in the search process, a pool worker, a Ray task).

``TrialRunner`` is what an executor ships to its workers: the evaluator, the space and the
constraints. It turns every way a candidate can go wrong into a stored outcome with a
reason (an exception, a NaN metric, the per-trial time or memory limit), so one bad
candidate never stops a search.
"""
from __future__ import annotations

import math
import os
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import TrialFailed
from ..metrics import Constraint
from ..space import Architecture, Space


@dataclass
class Outcome:
    status: str  # complete | failed | infeasible
    metrics: dict = field(default_factory=dict)
    details: dict = field(default_factory=dict)
    error: str | None = None


class Guard:
    """Per-trial limits an evaluator checks as it goes (between training steps): wall time and memory.

    The process executors also enforce both from outside (they stop the worker), for code
    that never returns to a check.
    """

    def __init__(self, time_limit: float | None = None, memory_mb: float | None = None, stop_rule=None):
        from ..evaluate.stopping import CurveWatcher
        self.time_limit, self.memory_mb = time_limit, memory_mb
        self.start = time.monotonic()
        self._calls = 0
        self._proc: Any = None  # psutil.Process of this process, made on first use
        self.stop_rule = stop_rule
        self.watcher = CurveWatcher(stop_rule)

    def observe(self, step: int, values: dict) -> None:
        """A validated point of the learning curve: raises :class:`~archscout.evaluate.stopping.EarlyStopped`
        when the study's early-stopping rule (if any) ends the trial here."""
        self.watcher.observe(step, values)

    def check(self) -> None:
        if self.time_limit is not None and time.monotonic() - self.start > self.time_limit:
            raise TrialFailed(f"exceeded the per-trial time limit of {self.time_limit:g} s")
        if self.memory_mb is not None:
            self._calls += 1
            if self._calls % 10 == 1:  # psutil is cheap but not free
                import psutil

                self._proc = self._proc or psutil.Process()
                rss = self._proc.memory_info().rss / 2**20
                if rss > self.memory_mb:
                    raise TrialFailed(f"exceeded the per-trial memory limit of {self.memory_mb:g} MB "
                                      f"(process RSS {rss:,.0f} MB)")


class TrialRunner:
    """Evaluates an architecture (given as JSON) and returns an :class:`Outcome`; never raises for a
    candidate's own failure."""

    def __init__(self, evaluator, space: Space, constraints: Sequence[Constraint] = (),
                 time_limit: float | None = None, memory_mb: float | None = None):
        self.evaluator, self.space = evaluator, space
        self.constraints = list(constraints)
        self.time_limit, self.memory_mb = time_limit, memory_mb

    def prepare(self) -> None:
        """Called once in each worker process before its first trial."""
        prepare = getattr(self.evaluator, "prepare", None)
        if prepare is not None:
            prepare()

    def __call__(self, arch_json: str, seed: int, fidelity: dict | None = None, stop_rule=None) -> Outcome:
        cost = [c for c in self.constraints if c.before_training]

        def cost_check(m: dict, proxies_done: bool = False) -> str | None:
            """Why ``m`` breaks a constraint checked before training (None if it does not, or not yet); once
            the proxies are computed (``proxies_done``), a constrained proxy that is missing fails the trial."""
            if proxies_done:
                missing = [c for c in cost if c.metric.startswith("proxy@") and c.metric not in m]
                if missing:
                    raise TrialFailed(f"constraint {missing[0]} cannot be checked: {missing[0].metric} could not be "
                                      f"computed")
            return next((r for r in (c.check(m) for c in cost) if r), None)

        from ..evaluate.base import Infeasible
        from ..evaluate.stopping import EarlyStopped

        try:
            arch = Architecture.from_json(arch_json, self.space)
            guard = Guard(self.time_limit, self.memory_mb, stop_rule)
            if fidelity:
                ev = self.evaluator.evaluate(arch, seed=seed, cost_check=cost_check, guard=guard, fidelity=fidelity)
            else:  # an evaluator written before fidelities existed takes no such argument
                ev = self.evaluator.evaluate(arch, seed=seed, cost_check=cost_check, guard=guard)
        except Infeasible as e:
            return Outcome("infeasible", e.metrics, {}, str(e))
        except EarlyStopped as e:
            details = {**e.details, "stopped": {"step": e.step, "rule": guard.stop_rule.describe(),
                                                "threshold": e.threshold}}
            return Outcome("stopped", e.metrics, details, str(e))
        except TrialFailed as e:
            return Outcome("failed", {}, {}, str(e))
        except MemoryError:
            return Outcome("failed", {}, {}, "ran out of memory (MemoryError)")
        except Exception as e:  # noqa: BLE001 - any error of a candidate is its trial's failure
            return Outcome("failed", {}, {}, f"{type(e).__name__}: {e}")
        finally:
            after = getattr(self.evaluator, "after_trial", None)
            if after is not None:  # e.g. give a trained network's memory back to the OS
                after()
        ev.details.setdefault("worker", {"host": socket.gethostname(), "pid": os.getpid()})
        bad = [k for k, v in ev.metrics.items() if isinstance(v, float) and not math.isfinite(v)]
        if bad:
            return Outcome("failed", ev.metrics, ev.details,
                           f"non-finite metric(s): {', '.join(f'{k}={ev.metrics[k]}' for k in bad)}")
        violated = next((r for r in (c.check(ev.metrics) for c in self.constraints) if r), None)
        if violated:
            return Outcome("infeasible", ev.metrics, ev.details, violated)
        return Outcome("complete", ev.metrics, ev.details, None)
