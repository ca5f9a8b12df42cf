"""Study: one named search (space, task, objective, constraints, strategy, budget, seed) and its loop."""
from __future__ import annotations

import collections
import hashlib
import math
import re
import statistics
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable, Iterable

import numpy as np

from .errors import ArchscoutError
from .evaluate import EvaluatorSpec, LatencyConfig, release_memory
from .evaluate.runner import Outcome, TrialRunner
from .evaluate.training import TrainConfig
from .execute import Executor, make_executor
from .metrics import Constraint, direction, parse_objectives
from .pareto import hypervolume, nondominated, to_minimise
from .space import Architecture, Space, get_space
from .storage import FINISHED, PROCESS_DIED, Storage, TrialRow
from .strategy import canonical_name, make_strategy
from .tasks import GraphTask, Task, check_task_name, get_task

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,199}$")
MAX_DUPLICATE_STREAK = 500
DEFAULT_MAX_FAILURES = 20  # failed trials in a row that stop a search
MAX_INTERRUPTIONS = 3  # an architecture whose process died this many times is stored failed, not retried
INTERRUPT_POLICIES = ("requeue", "fail")
STALE_AFTER = 60.0  # seconds without a heartbeat after which a process on another host counts as dead
HEARTBEAT_EVERY = 5.0
SYNC_EVERY = 2.0  # seconds between looks for results stored by other processes
RECOVER_EVERY = 30.0  # seconds between looks for trials of dead processes
REFERENCE_AFTER = 5  # results from which a multi-objective study fixes its hypervolume reference point


def parse_duration(text: str | float | int | None, what: str = "time budget") -> float | None:
    """Seconds from ``90``, ``90s``, ``30m``, ``1.5h``, ``1h30m``; None passes through."""
    if text is None:
        return None
    if isinstance(text, bool):
        raise ArchscoutError(f"cannot read {what} {text!r}; use e.g. 90s, 30m, 1.5h or 1h30m")
    if isinstance(text, (int, float)):
        seconds = float(text)
    else:
        s = str(text).strip().lower()
        parts = re.findall(r"(\d+(?:\.\d+)?)\s*([hms]?)", s)
        if not s or not parts or re.sub(r"(\d+(?:\.\d+)?)\s*([hms]?)", "", s).strip():
            raise ArchscoutError(f"cannot read {what} {text!r}; use e.g. 90s, 30m, 1.5h or 1h30m")
        seconds = sum(float(n) * {"h": 3600, "m": 60, "s": 1, "": 1}[u] for n, u in parts)
    if not seconds > 0 or not math.isfinite(seconds):
        raise ArchscoutError(f"{what} must be positive, got {text!r}")
    return seconds


def check_budget(trials: int | None, time_budget: str | float | None) -> float | None:
    """Validate a search budget; returns the time budget in seconds (or None)."""
    seconds = parse_duration(time_budget)
    if trials is None and seconds is None:
        raise ArchscoutError("give a budget: a number of trials (--trials), a time budget (--time-budget), or both")
    if trials is not None and (not isinstance(trials, int) or isinstance(trials, bool) or trials < 1):
        raise ArchscoutError(f"the number of trials must be a positive integer, got {trials!r}")
    return seconds


@dataclass
class Trial:
    """One evaluated (or failed) candidate as stored."""

    number: int
    arch: Architecture
    status: str
    metrics: dict
    details: dict
    error: str | None
    budget: str
    seed: int
    duration: float | None
    id: int
    final: dict = field(default_factory=dict)  # test_accuracy mean/std over seeds, when retrained
    _study: "Study | None" = field(default=None, repr=False)
    started_at: float | None = None  # Unix time
    finished_at: float | None = None

    def build(self):
        """An untrained ``nn.Module`` for the study's task."""
        task = self._study.task
        return self.arch.build(task.input_shape, task.num_classes)

    def export(self, path: str, seed: int = 0, formats=("onnx", "state"), int8: bool = False) -> dict:
        """Write the model of the retraining with ``seed`` to ``path`` in ``formats`` ("onnx": model.onnx,
        "torchscript": model.ts, "state": model.pt, the state dict), with architecture.json and
        metrics.json; ``int8``: also model.int8.onnx (for a study that measured INT8). Each file is checked
        against PyTorch; returns metrics.json's content. A trial that did not complete is refused with
        its reason. See :func:`archscout.export.export_trial`; :func:`archscout.load` reads it back."""
        from .export import export_trial
        return export_trial(self._study, self, path, seed=seed, formats=formats, int8=int8)


class Study:
    """A named search stored in a database; re-creating it with the same name resumes it.

    Example::

        study = Study("digits-mlp", space="mlp", task="digits", storage="sqlite:///runs.db",
                      train={"steps": 300}, constraints=["params <= 20000"])
        study.run(strategy="evolution", trials=20)
        best = study.best()
    """

    def __init__(self, name: str | None = None, *, space: str | Space | None = None, task: str | Task | None = None,
                 objective: str | None = None, objectives=None, constraints: Iterable[str] = (),
                 strategy: str = "evolution", strategy_options: dict | None = None,
                 storage: str | Storage = "sqlite:///archscout.db", train: TrainConfig | dict | None = None,
                 final_train: TrainConfig | dict | None = None, seed: int = 0,
                 latency: LatencyConfig | None = None, evaluator: str = "train",
                 reference_point: dict | None = None, measure: Iterable[str] = (),
                 prescreen_latency: bool = False, guide: str | dict | None = None, _reading: bool = False):
        # _reading: opened to read its trials (show, report, ...), so the task's data and a predictor file
        # it was searched with need not be found here
        if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
            raise ArchscoutError(f"seed must be a non-negative integer, got {seed!r}")
        self.evaluator_spec = EvaluatorSpec.parse(evaluator, load=not _reading)
        required = None if _reading else self.evaluator_spec.required_space()
        self.space = get_space(space if space is not None else required or "conv1d")
        # the fingerprint of a file the evaluator reads (a predictor's contents), stored with the study
        self._predictor = None
        if not _reading:
            self.evaluator_spec.check_space(self.space)
            self._predictor = self.evaluator_spec.source_fingerprint()
        if task is None and self.evaluator_spec.needs_task:
            task = "mnist1d"
        elif task is not None and not self.evaluator_spec.needs_task:
            raise ArchscoutError(f"the {self.evaluator_spec.name} evaluator trains nothing, so a task has "
                                 f"no effect; leave out the task (--task)")
        self._task_ref = task
        self._task: Task | GraphTask | None = task if isinstance(task, (Task, GraphTask)) else None
        task_name = task.name if isinstance(task, (Task, GraphTask)) else (None if task is None else str(task))
        if isinstance(task, str) and not _reading:
            check_task_name(task)  # the data itself is loaded when first needed
        if name is not None and not isinstance(name, str):
            raise ArchscoutError(f"a study name is a string, got {name!r}")
        self.name = f"{_safe(task_name or self.evaluator_spec.name)}-{self.space.name}" if name is None \
            else name
        if not _NAME.match(self.name):
            raise ArchscoutError(f"study name {self.name!r}: use letters, digits and . _ - : (up to 200), "
                                 f"starting with a letter or digit")
        if objective is not None and objectives is not None:
            raise ArchscoutError("give either objective (one metric) or objectives (several), not both")
        self.objectives = parse_objectives(objectives if objectives is not None else
                                           (objective or self.evaluator_spec.default_objective()))
        for metric, _ in self.objectives:
            if metric == "test_accuracy":
                raise ArchscoutError("an objective cannot be test_accuracy: selection uses validation data only")
            if not self.evaluator_spec.can_measure(metric):
                raise ArchscoutError(f"the objective {metric!r} is not measured by the {self.evaluator_spec} "
                                     f"evaluator; it measures {', '.join(self.evaluator_spec.measured())}")
        self.objective = self.objectives[0][0]  # the leaderboard's first sort key
        self.measure = _measure_list(measure, self.evaluator_spec)
        self.prescreen_latency = bool(prescreen_latency)
        self.constraints = [_measured(Constraint.parse(c), self.evaluator_spec) for c in constraints]
        from .guide import check_guide
        self.guide = check_guide(guide, self)
        self.reference_point = _check_reference(reference_point, self.objectives)
        if self.prescreen_latency and (not self.evaluator_spec.needs_task or not self._latency_bounds()):
            raise ArchscoutError("latency prescreening needs the train evaluator and an upper bound on a PyTorch or "
                                 "ONNX Runtime latency to screen against, e.g. --constraint 'latency_ms <= 2'")
        self.strategy_name = canonical_name(strategy)
        self.strategy_options = dict(strategy_options or {})
        make_strategy(self.strategy_name, self.space, seed=seed, objectives=len(self.objectives),
                      **self.strategy_options)  # validate options (and that it handles several objectives)
        self.train_config = _train_config(train, TrainConfig())
        self.final_train = _train_config(final_train, self.train_config.with_(
            steps=self.train_config.steps * 3, epochs=None if self.train_config.epochs is None
            else self.train_config.epochs * 3))
        self.seed = seed
        self.latency = latency or LatencyConfig()
        self.storage = storage if isinstance(storage, Storage) else Storage(storage)
        config = self._config(task_name)
        row = self.storage.get_study(self.name)
        if row is None:
            if self.evaluator_spec.needs_task:  # bad data or a space that cannot take it: refuse before storing
                self._check_space_fits(self.task)
            self._check_meetable()
            row = self.storage.create_study(self.name, config)
        else:
            _check_same(self.name, row.config, config)
        self.id = row.id
        self._snapshot: list[Trial] | None = None  # see snapshot()

    # -- construction helpers -----------------------------------------------------------
    def _config(self, task_name: str) -> dict:
        return {
            "space": self.space.name, "space_fingerprint": self.space.fingerprint(),
            "task": task_name, "objective": self.objective, "objectives": [list(o) for o in self.objectives],
            "reference_point": self.reference_point, "measure": list(self.measure),
            "prescreen_latency": self.prescreen_latency, "guide": self.guide,
            "constraints": [str(c) for c in self.constraints], "strategy": self.strategy_name,
            "strategy_options": self.strategy_options, "seed": self.seed,
            "train": self.train_config.as_dict(), "final_train": self.final_train.as_dict(),
            "evaluator": self.evaluator_spec.text, "predictor": self._predictor,
            "budget": self.evaluator_spec.budget(self.train_config),
        }

    @classmethod
    def load(cls, name: str, storage: str | Storage = "sqlite:///archscout.db", space: Space | None = None,
             task: Task | None = None, check_task: bool = True) -> "Study":
        """Open an existing study with the settings it was created with. ``check_task=False`` opens a study
        whose task cannot be found here (arrays given in Python, a file elsewhere) for reading its trials;
        anything that needs the data then fails with the reason."""
        store = storage if isinstance(storage, Storage) else Storage(storage)
        row = store.get_study(name)
        if row is None:
            names = [s["name"] for s in store.list_studies()]
            from .errors import unknown_name
            if names:
                raise unknown_name("study", name, names)
            raise ArchscoutError(f"no study named {name!r} in {store.url} (the database holds no studies)")
        cfg = row.config
        if space is None:
            space = get_space(cfg["space"]) if cfg["space"] in _builtin_spaces() else None
            if space is None:
                raise ArchscoutError(f"study {name!r} uses the custom space {cfg['space']!r}; open it from Python "
                                     f"with Study.load(name, storage, space=...)")
        objectives = cfg.get("objectives") or [[cfg["objective"], direction(cfg["objective"])]]
        return cls(name, space=space, task=task if task is not None else cfg["task"], objectives=objectives,
                   constraints=cfg["constraints"], strategy=cfg["strategy"],
                   reference_point=cfg.get("reference_point"), measure=cfg.get("measure", ()),
                   prescreen_latency=cfg.get("prescreen_latency", False), guide=cfg.get("guide"),
                   strategy_options=cfg["strategy_options"], storage=store, train=cfg["train"],
                   final_train=cfg.get("final_train"), seed=cfg["seed"], evaluator=cfg.get("evaluator", "train"),
                   _reading=not check_task)

    @property
    def task(self) -> Task | GraphTask:
        if self._task is None:
            if self._task_ref is None:
                raise ArchscoutError(f"study {self.name!r} has no task (its evaluator is {self.evaluator_spec.text!r})")
            self._task = get_task(self._task_ref)
        return self._task

    def evaluator(self):
        """A fresh evaluator for this study's settings (and task, when the evaluator needs one)."""
        task = self.task if self.evaluator_spec.needs_task else None
        return self.evaluator_spec.create(task=task, train=self.train_config, latency=self.latency,
                                           metrics=self.needed_metrics)

    @property
    def needed_metrics(self) -> list[str]:
        """The metrics the objectives and constraints name (an evaluator measures them besides its own)."""
        names = [m for m, _ in self.objectives] + [c.metric for c in self.constraints] + list(self.measure)
        if self.guide:  # the proxies a guide ranks by are stored with every trained candidate
            names += [f"proxy@{p}" for p in self.guide["proxies"]]
        return list(dict.fromkeys(names))

    @property
    def multi_objective(self) -> bool:
        return len(self.objectives) > 1

    # -- reading ----------------------------------------------------------------------
    def _score(self, metrics: dict) -> float | tuple | None:
        """"Higher is better" value of the objective (a tuple, one per objective, for several); None if
        any objective is missing or not finite."""
        values = []
        for metric, way in self.objectives:
            value = metrics.get(metric)
            if value is None or not math.isfinite(value):
                return None
            values.append(float(value) if way == "max" else -float(value))
        return tuple(values) if self.multi_objective else values[0]

    def _minimised(self, trials: list[Trial]) -> np.ndarray:
        return to_minimise([[t.metrics[m] for m, _ in self.objectives] for t in trials],
                           [w for _, w in self.objectives])

    @contextmanager
    def snapshot(self):
        """Within the block, every read of the trials (``trials``, ``leaderboard``, ``front``, ...) sees them as
        they were when it began: one read of the storage, so the tables and figures of a report agree while
        a search goes on, and are drawn faster. Yields the trials. Within another snapshot, it is that one."""
        if self._snapshot is not None:
            yield list(self._snapshot)
            return
        self._snapshot = self.trials()
        try:
            yield list(self._snapshot)
        finally:
            self._snapshot = None

    def trials(self, status: str | None = None) -> list[Trial]:
        if self._snapshot is not None:
            return [t for t in self._snapshot if status is None or t.status == status]
        finals = self._final_summary()
        out = []
        for r in self.storage.trials(self.id):
            if status is not None and r.status != status:
                continue
            out.append(self._trial(r, finals.get(r.id, {})))
        return out

    def _trial(self, r: TrialRow, final: dict) -> Trial:
        arch = Architecture.from_json(r.arch, self.space)
        return Trial(r.number, arch, r.status, r.metrics, r.details, r.error, r.budget, r.seed, r.duration, r.id,
                     final, self, started_at=r.started_at, finished_at=r.finished_at)

    def _final_summary(self) -> dict[int, dict]:
        by_trial: dict[int, list] = {}
        for f in self.storage.finals(self.id):
            if f.budget == self.final_train.budget_key():
                by_trial.setdefault(f.trial_id, []).append(f)
        out = {}
        for tid, rows in by_trial.items():
            accs = [r.metrics["test_accuracy"] for r in rows]
            out[tid] = {"test_accuracy_mean": statistics.fmean(accs),
                        "test_accuracy_std": statistics.pstdev(accs) if len(accs) > 1 else 0.0,
                        "seeds": len(accs), "test_accuracies": accs}
            int8 = [r.metrics["test_accuracy@int8"] for r in rows if "test_accuracy@int8" in r.metrics]
            if len(int8) == len(rows):  # the retrained networks quantized to INT8, scored on the same test data
                out[tid].update({"test_accuracy_int8_mean": statistics.fmean(int8),
                                 "test_accuracy_int8_std": statistics.pstdev(int8) if len(int8) > 1 else 0.0,
                                 "size_bytes_int8": rows[0].metrics["size_bytes@int8"]})
        return out

    def leaderboard(self, n: int | None = None) -> list[Trial]:
        """Completed trials that meet every constraint, best first objective first (ties: the later objectives,
        then the lower validation loss)."""
        ranked = [t for t in self.trials("complete") if self._score(t.metrics) is not None]

        def key(t: Trial) -> tuple:
            score = self._score(t.metrics)
            scores = score if isinstance(score, tuple) else (score,)
            # accuracy on a few hundred validation samples ties often; the validation loss breaks ties
            return tuple(-v for v in scores) + (t.metrics.get("loss", math.inf), t.number)

        ranked.sort(key=key)
        return ranked[:n] if n else ranked

    def best(self) -> Trial:
        """The best trial by the (first) objective; with several objectives, the front's best on the first."""
        board = self.leaderboard(1)
        if not board:
            raise ArchscoutError(f"study {self.name!r} has no completed trial yet")
        return board[0]

    def front(self) -> list[Trial]:
        """The completed trials that meet every constraint and that no other such trial dominates on the
        objectives, best first objective first; with one objective, the best trial."""
        board = self.leaderboard()
        if not self.multi_objective or not board:
            return board[:1]
        on_front = set(nondominated(self._minimised(board)).tolist())
        return [t for i, t in enumerate(board) if i in on_front]

    def fronts(self) -> list[dict]:
        """The front after each finished trial (several objectives), in the order the trials finished,
        whichever process ran them: ``finished`` (trials finished so far), ``trial`` (the one that just
        finished), ``front`` (trial numbers) and its ``hypervolume`` at the study's reference point (None
        while none is fixed). Worked out from the trials, so it agrees with :meth:`front` however many
        processes searched (each stores the front it saw, without the others' latest results)."""
        if not self.multi_objective:
            return []
        weights = [w for _, w in self.objectives]
        reference = self.reference_point
        if reference is None or len(reference) < len(self.objectives):  # fixed by a search since this was opened?
            reference = self.storage.get_study(self.name).config.get("reference_point") or {}
        ref = to_minimise([[reference[m] for m, _ in self.objectives]], weights)[0] \
            if len(reference) >= len(self.objectives) else None
        done = sorted((t for t in self.trials() if t.status in ("complete", "infeasible", "failed")),
                      key=lambda t: (t.finished_at if t.finished_at is not None else math.inf, t.number))
        members: dict[int, np.ndarray] = {}
        hv, out = None, []
        for i, t in enumerate(done, 1):
            changed = False
            if t.status == "complete" and self._score(t.metrics) is not None:
                p = to_minimise([[t.metrics[m] for m, _ in self.objectives]], weights)[0]
                if not any(np.all(q <= p) and np.any(q < p) for q in members.values()):
                    members = {n: q for n, q in members.items() if not (np.all(p <= q) and np.any(p < q))}
                    members[t.number] = p
                    changed = True
            if ref is not None and members and (changed or hv is None):
                hv = hypervolume(np.array(list(members.values())), ref)
            out.append({"finished": i, "trial": t.number, "front": sorted(members), "hypervolume": hv})
        return out

    def trials_dataframe(self, status: str | None = None):
        """The trials as a pandas DataFrame, one row per trial in number order: ``number``, ``status``,
        ``architecture`` (short description), ``arch_id``, ``arch_json``, ``started``/``finished`` (UTC
        timestamps), ``duration_s``, ``budget``, ``seed``, ``error`` (why a trial failed or was infeasible),
        ``feasible`` (complete and within every constraint), ``on_front`` (Pareto-optimal; with one objective,
        the best), one column per stored metric (objectives first), and for retrained trials
        ``test_accuracy_mean``, ``test_accuracy_std`` and ``final_seeds``."""
        import pandas as pd

        with self.snapshot():  # rows, feasibility and the front from one read while a search goes on
            trials = self.trials(status)
            feasible = {t.number for t in self.leaderboard()}
            on_front = {t.number for t in self.front()}
        first = [m for m, _ in self.objectives]
        metrics = first + sorted({k for t in trials for k in t.metrics} - set(first))
        stamp = lambda v: None if v is None else pd.Timestamp(v, unit="s", tz="UTC")  # noqa: E731
        rows = []
        for t in trials:
            row = {"number": t.number, "status": t.status, "architecture": t.arch.describe(), "arch_id": t.arch.id,
                   "arch_json": t.arch.to_json(), "started": stamp(t.started_at), "finished": stamp(t.finished_at),
                   "duration_s": t.duration, "budget": t.budget, "seed": t.seed, "error": t.error,
                   "feasible": t.number in feasible, "on_front": t.number in on_front}
            row.update({m: t.metrics.get(m) for m in metrics})
            row.update({"test_accuracy_mean": t.final.get("test_accuracy_mean"),
                        "test_accuracy_std": t.final.get("test_accuracy_std"), "final_seeds": t.final.get("seeds", 0)})
            rows.append(row)
        columns = ["number", "status", "architecture", "arch_id", "arch_json", "started", "finished", "duration_s",
                   "budget", "seed", "error", "feasible", "on_front", *metrics, "test_accuracy_mean",
                   "test_accuracy_std", "final_seeds"]
        return pd.DataFrame(rows, columns=columns)

    def report(self, path: str | None = None, top: int = 5) -> dict:
        """Write the self-contained HTML report (default ``STUDY-report.html`` next to the SQLite file) and
        its figures as PNG files; returns the paths (``archscout report`` does the same)."""
        from .report.html import write_report
        return write_report(self, path, top)

    def _front_with(self, points: dict[int, tuple]) -> dict:
        """The front (trial numbers) and hypervolume of ``points`` (trial number -> objective values),
        fixing the study's reference point from the first results if the user gave none."""
        numbers = sorted(points)
        F = to_minimise([points[n] for n in numbers], [w for _, w in self.objectives])
        front = [numbers[i] for i in nondominated(F)] if numbers else []
        ref = self._reference(F)
        hv = hypervolume(F[np.isin(numbers, front)], ref) if ref is not None and front else None
        return {"front": front, "hypervolume": hv}

    def _reference(self, F: np.ndarray) -> np.ndarray | None:
        """The reference point in minimisation form, fixed (and stored) the first time it is needed. Per
        objective, the first of: the user's value; 0 for a maximised accuracy; the bound of a constraint
        on that metric; a tabular benchmark's worst value; once REFERENCE_AFTER results exist, their worst
        value plus half their range. Until then there is no hypervolume (None)."""
        if self.reference_point is None or len(self.reference_point) < len(self.objectives):
            config = self.storage.get_study(self.name).config
            stored = config.get("reference_point") or {}
            if len(stored) < len(self.objectives):  # first to fix it; another process may have done so
                stored = self._default_reference(F)
                if stored is None:
                    return None
                self.storage.update_config(self.id, {**config, "reference_point": stored})
            self.reference_point = stored
        return to_minimise([[self.reference_point[m] for m, _ in self.objectives]],
                           [w for _, w in self.objectives])[0]

    def _default_reference(self, F: np.ndarray) -> dict | None:
        ref = dict(self.reference_point or {})
        rows = None if self.evaluator_spec.needs_task else self.evaluator().rows()
        for j, (metric, way) in enumerate(self.objectives):
            if metric in ref:
                continue
            bound = [c.bound for c in self.constraints if c.metric == metric
                     and c.op in (("<=", "<") if way == "min" else (">=", ">"))]
            if way == "max" and metric.split("@")[0] == "accuracy":
                ref[metric] = 0.0
            elif bound:
                ref[metric] = float(max(bound) if way == "min" else min(bound))
            elif rows is not None and metric in rows[0]:
                values = [r[metric] for r in rows]
                ref[metric] = float(max(values) if way == "min" else min(values))
            elif len(F) >= REFERENCE_AFTER:
                worst, best = F[:, j].max(), F[:, j].min()
                value = worst + 0.5 * ((worst - best) or abs(worst) or 1.0)
                ref[metric] = float(value if way == "min" else -value)
            else:
                return None
        return ref

    @property
    def search_seconds(self) -> float:
        """Search time so far, over every run of the study (concurrent processes counted once)."""
        return self.storage.search_seconds(self.id)

    # -- the search loop ----------------------------------------------------------------
    def run(self, trials: int | None = None, time_budget: str | float | None = None, *,
            strategy: str | None = None, final_top_k: int = 3, final_seeds: int = 3,
            progress: bool | Callable | None = None, **search_options) -> "Study":
        """Search until ``trials`` trials (in total) or ``time_budget`` of search time (in total), then
        retrain the ``final_top_k`` best on all training data with ``final_seeds`` seeds (training
        evaluator only). ``search_options`` go to :meth:`search` (workers, executor, limits, ...)."""
        if strategy is not None and canonical_name(strategy) != self.strategy_name:
            raise ArchscoutError(f"study {self.name!r} uses strategy {self.strategy_name!r}, not {strategy!r}; "
                                 f"start a new study (another name) to compare strategies")
        self.search(trials=trials, time_budget=time_budget, progress=progress, **search_options)
        if final_top_k > 0 and final_seeds > 0 and self.evaluator_spec.needs_task:
            self.finalize(top_k=final_top_k, seeds=final_seeds, progress=progress)
        return self

    def search(self, trials: int | None = None, time_budget: str | float | None = None,
               progress: bool | Callable | None = None, *, workers: int = 1, executor: str | Executor | None = None,
               address: str | None = None, trial_timeout: str | float | None = None,
               trial_memory_mb: float | None = None, max_failures: int | None = DEFAULT_MAX_FAILURES,
               on_interrupted: str = "requeue", stale_after: float = STALE_AFTER) -> list[Trial]:
        """Search until ``trials`` trials (in total, finished or running) or ``time_budget`` of search time
        (in total, concurrent processes counted once).

        ``workers``/``executor``/``address``: where trials run (see :mod:`archscout.execute`).
        ``trial_timeout`` and ``trial_memory_mb``: per-trial limits; a trial over them is stored failed.
        ``max_failures``: stop (with an error naming the commonest reason) after that many failed trials
        in a row; ``None`` or 0 never stops. ``on_interrupted``: what happens to trials that were running
        when their process died: ``requeue`` (evaluated again; an architecture interrupted three times is
        stored failed) or ``fail``.
        """
        seconds = check_budget(trials, time_budget)
        ex, time_limit = check_search_options(workers, executor, address, trial_timeout, trial_memory_mb,
                                              max_failures, on_interrupted)
        evaluator = self.evaluator()
        if self.evaluator_spec.needs_task:
            self._check_task(self.task)
            self._check_space_fits(self.task)
            if self.prescreen_latency:
                self._attach_latency_tables(evaluator)
        runner = TrialRunner(evaluator, self.space, self.constraints, time_limit, trial_memory_mb)
        ex.start(runner)  # before anything is stored: an executor that cannot start leaves no trace
        try:
            others = [s for s in self.storage.sessions(self.id) if self.storage.session_alive(s, stale_after)]
            session = self.storage.open_session(self.id, ex.describe())
        except BaseException:
            ex.close()
            raise
        beat = _Heartbeat(self.storage, session)
        try:
            return _Loop(self, ex, runner, session, evaluator.budget_key, len(others), progress,
                         trials, seconds, max_failures, on_interrupted, stale_after).run()
        finally:
            ex.close()
            beat.stop()
            self.storage.close_session(session)

    def _recover(self, budget: str, policy: str, stale_after: float) -> list[Architecture]:
        """Mark the trials left running by processes that died, then return the architectures to evaluate
        again: every interrupted one (found now or earlier, by any process, or stopped by Ctrl-C) whose
        architecture no trial holds at this budget, oldest first. With policy ``fail`` nothing is returned and
        newly found trials are stored failed; an architecture under which the evaluating process itself died
        MAX_INTERRUPTIONS times is stored failed (it may be what kills the process)."""
        when = time.strftime("%Y-%m-%d %H:%M:%S")
        stale = set(self.storage.stale_trials(self.id, stale_after))
        if stale:
            sessions = {s.id: s for s in self.storage.sessions(self.id)}
            for r in self.storage.trials(self.id):
                if r.id not in stale:
                    continue
                executor = sessions[r.session_id].info.get("executor", "local") if r.session_id in sessions \
                    else "local"
                if executor == "local":  # the trial ran in the process that died: it may be the cause
                    prior = self.storage.count_interrupted(self.id, r.arch_id, r.budget)
                    reason = f"{PROCESS_DIED} (noticed at {when})"
                    fail = policy == "fail" or prior + 1 >= MAX_INTERRUPTIONS
                    if fail and policy != "fail":
                        reason += (f"; this architecture was interrupted {prior + 1} times, it is not retried "
                                   f"(it may be what stops the process)")
                else:  # a worker evaluated it; the search process died, not because of this trial
                    reason = f"interrupted: the search process stopped while a worker evaluated this trial " \
                             f"(noticed at {when})"
                    fail = policy == "fail"
                if policy == "fail":
                    reason += "; not retried (--on-interrupted fail)"
                self.storage.interrupt_trials([r.id], reason, fail=fail)
        if policy == "fail":
            return []
        rows = self.storage.trials(self.id)
        held = {r.arch_id for r in rows if r.budget == budget and r.status != "interrupted"}
        out, seen = [], set()
        for r in rows:
            if r.status == "interrupted" and r.budget == budget and r.arch_id not in held and r.arch_id not in seen:
                seen.add(r.arch_id)
                out.append(Architecture.from_json(r.arch, self.space))
        return out

    def _latency_bounds(self) -> list[Constraint]:
        """The constraints a latency lookup table can screen: upper bounds on PyTorch / ONNX Runtime latency."""
        from .metrics import latency_spec

        return [c for c in self.constraints if c.op in ("<=", "<") and latency_spec(c.metric) is not None
                and latency_spec(c.metric)[0] in ("pytorch", "onnxruntime")]

    def _attach_latency_tables(self, evaluator) -> None:
        """Per-operator latency lookup tables (built by measuring here, a few seconds each) for the study's
        latency upper bounds on PyTorch and ONNX Runtime: candidates estimated clearly over a bound are
        stored infeasible without being measured."""
        from .cost.latency_table import LatencyTable
        from .metrics import latency_spec

        for c in self._latency_bounds():
            spec = latency_spec(c.metric)
            table = LatencyTable.build(self.space, self.task.input_shape, self.task.num_classes, samples=100,
                                       runtime=spec[0], batch_size=spec[1], threads=self.latency.threads or 1,
                                       seed=self.seed, calibration=20)
            evaluator.prescreen[c.metric] = (table, c.bound)

    def _check_meetable(self) -> None:
        """Refuse, before anything is stored, a constraint that no architecture of the space can meet."""
        from .bounds import check_table, check_trained, check_unit_range

        check_unit_range(self.constraints)
        if self.evaluator_spec.needs_task:
            check_trained(self.constraints, self.space, self.evaluator(), self.seed)
        else:
            rows = self.evaluator().rows()
            if rows is not None:
                check_table(self.constraints, rows, f"in the {self.evaluator_spec} table")

    def _check_space_fits(self, task: Task | GraphTask) -> None:
        """A space that cannot take the task's inputs at all is the user's error, not a failing trial.

        Graph tasks and the gnn spaces (GNNSpace) go together only with each other: their networks
        take a whole graph, every other network one sample at a time.
        """
        reason = self.space.accepts(task, seed=self.seed)
        if reason is not None:
            raise ArchscoutError(f"space {self.space.name!r} does not fit task {task.name!r}: {reason}")

    def _check_task(self, task: Task) -> None:
        if len(task.train) < 2 or len(task.valid) < 1:
            raise ArchscoutError(f"task {task.name!r} has too little data to search on")
        config = self.storage.get_study(self.name).config
        fingerprint = task.fingerprint()
        if "task_fingerprint" not in config:
            self.storage.update_config(self.id, {**config, "task_fingerprint": fingerprint})
        elif config["task_fingerprint"] != fingerprint:
            raise ArchscoutError(f"study {self.name!r} was searched on different data for task {task.name!r}; "
                                 f"use a new study name for this data")

    # -- final retraining ---------------------------------------------------------------
    def finalize(self, top_k: int = 3, seeds: int = 3, progress: bool | Callable | None = None,
                 trials: Iterable[int] | None = None) -> list[Trial]:
        """Retrain the top-k trials (by the objective, on validation; with several objectives, k trials spread
        along the front) on all training data with ``seeds`` seeds; store test accuracy and weights.
        ``trials``: retrain these trial numbers instead. Pairs already stored are not trained again."""
        if top_k < 1 or seeds < 1:
            raise ArchscoutError("final retraining needs top_k >= 1 and seeds >= 1")
        if not self.evaluator_spec.needs_task:
            raise ArchscoutError(f"final retraining needs a task to train on; study {self.name!r} uses the lookup "
                                 f"evaluator {self.evaluator_spec.text!r}")
        if trials is not None:
            wanted = list(trials)
            by_number = {t.number: t for t in self.trials("complete")}
            missing = [n for n in wanted if n not in by_number]
            if missing:
                raise ArchscoutError(f"study {self.name!r} has no completed trial #{missing[0]} to retrain")
            top = [by_number[n] for n in wanted]
        elif self.multi_objective:
            top = spread(self.front(), top_k)
        else:
            top = self.leaderboard(top_k)
        if not top:
            n = len(self.trials())
            raise ArchscoutError(f"study {self.name!r} has no completed trial to retrain ({n} trials failed or "
                                 f"broke a constraint); see `archscout show {self.name} --failed` for the reasons")
        evaluator = self.evaluator()
        budget = self.final_train.budget_key()
        done = {(f.trial_id, f.seed) for f in self.storage.finals(self.id) if f.budget == budget}
        todo = [(t, s) for t in top for s in range(seeds) if (t.id, s) not in done]
        reporter = _reporter(progress, len(todo), None)
        reporter.start_final(len(todo))
        for i, (t, s) in enumerate(todo):
            metrics, _ = self._retrain(t, s, evaluator)
            reporter.final(t, s, metrics, i + 1, len(todo))
        reporter.stop()
        ids = {t.id for t in top}
        return [t for t in self.trials() if t.id in ids]

    def _retrain(self, trial: Trial, seed: int, evaluator=None) -> tuple[dict, bytes]:
        """Train ``trial`` on all training data with ``seed`` at the final budget and store the result."""
        ev, weights = (evaluator or self.evaluator()).final(trial.arch, seed=seed, train_config=self.final_train)
        release_memory()
        self.storage.add_final(self.id, trial.id, seed, self.final_train.budget_key(), ev.metrics, ev.details,
                               weights)
        return ev.metrics, weights

    def final_weights(self, trial: Trial, seed: int = 0) -> bytes | None:
        stored = self._stored_final(trial, seed)
        return None if stored is None else stored[1]

    def _stored_final(self, trial: Trial, seed: int) -> tuple[dict, bytes] | None:
        budget = self.final_train.budget_key()
        for f in self.storage.finals(self.id, with_weights=True):
            if f.trial_id == trial.id and f.seed == seed and f.budget == budget and f.weights is not None:
                return f.metrics, f.weights
        return None

    def final_run(self, trial: Trial, seed: int = 0) -> tuple[dict, bytes]:
        """The final retraining of ``trial`` with ``seed``: its metrics (test accuracy, ...) and weights as
        stored; run and stored first when there is none, so it becomes part of the trial's final summary."""
        if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
            raise ArchscoutError(f"a retraining seed is a non-negative integer, got {seed!r}")
        return self._stored_final(trial, seed) or self._retrain(trial, seed)


def _measured(c: Constraint, spec: EvaluatorSpec) -> Constraint:
    """A constraint on a metric the evaluator stores (bare size_bytes means fp32), else a clear error."""
    if c.metric == "size_bytes":
        c = Constraint("size_bytes@fp32", c.op, c.bound)
    if c.metric == "test_accuracy":
        raise ArchscoutError(f"constraint {c}: test accuracy is never used during the search (selection uses "
                             f"validation data only)")
    if not spec.can_measure(c.metric):
        raise ArchscoutError(f"constraint {c}: the {spec.name} evaluator does not measure "
                             f"{c.metric!r}; it measures {', '.join(spec.measured())}")
    return c


def spread(front: list, k: int) -> list:
    """``k`` members of a front (sorted by its first objective) evenly spaced along it, both ends included."""
    if len(front) <= k:
        return list(front)
    if k == 1:
        return front[:1]
    picks = sorted({round(i * (len(front) - 1) / (k - 1)) for i in range(k)})
    return [front[i] for i in picks]


def _measure_list(measure, spec: EvaluatorSpec) -> list[str]:
    """Metrics to measure for every trial besides the objectives and constraints (e.g. accuracy@int8)."""
    from .metrics import check_metric
    items = [p for p in measure.split(",") if p.strip()] if isinstance(measure, str) else list(measure)
    out = []
    for item in items:
        metric = check_metric(item)
        if not spec.can_measure(metric):
            raise ArchscoutError(f"cannot measure {metric!r}: the {spec.name} evaluator measures "
                                 f"{', '.join(spec.measured())}")
        out.append(metric)
    return list(dict.fromkeys(out))


def _check_reference(reference: dict | None, objectives: list[tuple[str, str]]) -> dict | None:
    """A user's hypervolume reference point: {objective metric: value}, finite numbers."""
    if reference is None:
        return None
    if not isinstance(reference, dict):
        raise ArchscoutError(f"a reference point is a dict {{metric: value}}, got {reference!r}")
    from .metrics import check_metric
    names = [m for m, _ in objectives]
    out = {}
    for key, value in reference.items():
        metric = check_metric(key)
        if metric not in names:
            raise ArchscoutError(f"reference point: {metric!r} is not an objective ({', '.join(names)})")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ArchscoutError(f"reference point: {metric} must be a finite number, got {value!r}")
        out[metric] = float(value)
    return out


def check_search_options(workers: int = 1, executor=None, address: str | None = None,
                         trial_timeout: str | float | None = None, trial_memory_mb: float | None = None,
                         max_failures: int | None = DEFAULT_MAX_FAILURES, on_interrupted: str = "requeue"):
    """Validate where and how trials run; returns (executor, per-trial time limit in seconds or None)."""
    time_limit = parse_duration(trial_timeout, "per-trial time limit") if trial_timeout is not None else None
    memory = trial_memory_mb
    if memory is not None and (isinstance(memory, bool) or not isinstance(memory, (int, float))
                               or not 0 < memory < math.inf):
        raise ArchscoutError(f"the per-trial memory limit must be a positive number of MB, got {trial_memory_mb!r}")
    if max_failures is not None and (not isinstance(max_failures, int) or isinstance(max_failures, bool)
                                     or max_failures < 0):
        raise ArchscoutError(f"--max-failures must be a non-negative integer, got {max_failures!r}")
    if on_interrupted not in INTERRUPT_POLICIES:
        raise ArchscoutError(f"unknown policy for interrupted trials {on_interrupted!r}; "
                             f"valid: {', '.join(INTERRUPT_POLICIES)}")
    ex = executor if isinstance(executor, Executor) else make_executor(
        executor, workers, address, time_limit, trial_memory_mb)
    if ex.name == "ray" and address is not None:
        from .execute.ray import _check_reachable
        _check_reachable(address)  # before anything is stored
    return ex, time_limit


def _builtin_spaces() -> list[str]:
    from .space import list_spaces
    return list_spaces()


def _safe(name: str) -> str:
    import os
    base = os.path.splitext(os.path.basename(os.path.normpath(name)))[0]  # a graph folder may end in '/'
    return re.sub(r"[^A-Za-z0-9_.-]", "_", base) or "task"


def _train_config(value: TrainConfig | dict | None, default: TrainConfig) -> TrainConfig:
    if value is None:
        return default
    if isinstance(value, TrainConfig):
        return value
    if not isinstance(value, dict):
        raise ArchscoutError(f"training settings must be a TrainConfig or a dict, got {value!r}")
    fields = TrainConfig.__dataclass_fields__
    bad = [k for k in value if k not in fields]
    if bad:
        raise ArchscoutError(f"unknown training setting(s) {', '.join(bad)}; known: {', '.join(fields)}")
    return TrainConfig(**value)


def _check_same(name: str, stored: dict, wanted: dict) -> None:
    keys = ["space", "space_fingerprint", "task", "objective", "objectives", "constraints", "strategy",
            "strategy_options", "seed", "budget", "final_train", "evaluator", "guide", "predictor"]
    stored = dict(stored)
    for k in ("evaluator", "budget"):  # a file stored by the path it was given, relative or not
        if isinstance(stored.get(k), str) and stored.get("evaluator", "train") != "train":
            try:
                stored[k] = EvaluatorSpec.parse(stored[k], load=False).text
            except ArchscoutError:  # a budget that names no evaluator (a training budget): compared as stored
                pass
    diff = [k for k in keys if k in stored and stored.get(k) != wanted.get(k)
            and not (k == "predictor" and wanted.get(k) is None)]  # opened for reading: the file was not read
    if diff:
        parts = "; ".join(f"{k}: stored {stored.get(k)!r}, asked {wanted.get(k)!r}" for k in diff
                          if k != "space_fingerprint")
        raise ArchscoutError(f"study {name!r} already exists with other settings ({parts or 'space definition'}). "
                             f"Resume it with the same settings, or pick another name with --study")


def _reporter(progress, trials, seconds):
    from .report.progress import make_reporter
    return make_reporter(progress, trials, seconds)


class _Heartbeat:
    """Marks the search process alive in storage every few seconds (a background thread)."""

    def __init__(self, storage: Storage, session: int, every: float = HEARTBEAT_EVERY):
        self.storage, self.session, self.every = storage, session, every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="archscout-heartbeat", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            try:
                self.storage.heartbeat(self.session)
            except Exception:  # noqa: BLE001 - a missed beat is harmless; the next one retries
                pass

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)


class _Loop:
    """One search process's loop: ask, claim, submit, collect, store, tell, until a budget is met."""

    def __init__(self, study: Study, executor: Executor, runner: TrialRunner, session: int, budget: str,
                 index: int, progress, trials: int | None, seconds: float | None, max_failures: int | None,
                 policy: str, stale_after: float):
        self.study, self.store, self.ex, self.runner = study, study.storage, executor, runner
        self.session, self.budget = session, budget
        self.trials, self.seconds = trials, seconds
        self.max_failures, self.policy, self.stale_after = max_failures, policy, stale_after
        # the first process of a study proposes from the study's seed; processes that join a running
        # search get seeds of their own, so they do not propose the same candidates
        seed = study.seed if index == 0 else int(hashlib.sha256(f"{study.seed}/{index}".encode()).hexdigest()[:8], 16)
        self.strategy = make_strategy(study.strategy_name, study.space, seed=seed, objectives=len(study.objectives),
                                      **study.strategy_options)
        self.reporter = _reporter(progress, trials, seconds)
        self.known: dict[str, dict | None] = {}  # arch id -> metrics (None: failed/infeasible) at this budget
        self.told: set[int] = set()
        self.inflight: dict[int, tuple[TrialRow, Architecture]] = {}
        self.requeue: list[Architecture] = []
        self.best: float | None = None  # of the first objective, "higher is better"
        self.points: dict[int, tuple] = {}  # trial number -> objective values, of complete trials
        self.counted = 0
        self.failed_in_row: list[str] = []
        self.new: list[Trial] = []
        self.guide = None
        if study.guide:
            from .guide import Guide
            self.guide = Guide(study.guide, study.evaluator(), study.space, study.seed, study.constraints)
        self.trained: dict[str, tuple] = {}  # arch id -> (arch, metrics, score): what a guide learns from
        self.guided: dict[str, dict] = {}  # arch id -> how the guide picked it, stored with its trial

    def _learn(self, r: TrialRow, arch: Architecture | None = None) -> Trial:
        arch = arch or Architecture.from_json(r.arch, self.study.space)
        score = self.study._score(r.metrics) if r.status == "complete" else None
        if r.budget == self.budget:
            self.known[r.arch_id] = r.metrics if r.status == "complete" else None
            if score is not None:
                self.trained[r.arch_id] = (arch, r.metrics, score)
        self.strategy.tell(arch, score)
        self.told.add(r.id)
        self.counted += 1
        if score is not None:
            self.points[r.number] = tuple(r.metrics[m] for m, _ in self.study.objectives)
            first = score[0] if isinstance(score, tuple) else score
            if self.best is None or first > self.best:
                self.best = first
        return Trial(r.number, arch, r.status, r.metrics, r.details, r.error, r.budget, r.seed, r.duration, r.id,
                     {}, self.study)

    def _best_shown(self) -> float | None:
        """The best value of the first objective so far, in its own units."""
        if self.best is None or self.study.objectives[0][1] == "max":
            return self.best
        return -self.best

    def _used(self) -> float:
        return self.base_used + time.monotonic() - self.t0

    def run(self) -> list[Trial]:
        study = self.study
        self.requeue = study._recover(self.budget, self.policy, self.stale_after)
        for r in self.store.trials(study.id):
            if r.status in FINISHED:
                self._learn(r)
        if self.told:
            self.strategy.resume(len(self.told))
        self.t0, self.base_used = time.monotonic(), self.store.search_seconds(study.id)
        self.reporter.start(self.counted, self.base_used, self._best_shown(), study)
        stop: str | None = None
        streak = 0
        last_sync = last_recover = time.monotonic()
        sync_from = time.time()
        interrupted = True
        try:
            while True:
                can_submit = stop is None and (self.seconds is None or self._used() < self.seconds)
                while can_submit and stop is None and self.ex.free() > 0:
                    arch = self.requeue.pop(0) if self.requeue else self._ask()
                    if arch.id in self.known:  # evaluated at this budget already: tell, do not evaluate again
                        metrics = self.known[arch.id]
                        self.strategy.tell(arch, study._score(metrics) if metrics else None)
                        claimed = None
                    else:
                        claimed = self.store.claim_trial(study.id, arch.id, arch.to_json(), self.budget, study.seed,
                                                         self.session, self.trials)
                        if claimed.full:
                            stop = "budget"
                            break
                    if claimed is None or claimed.taken:
                        streak += 1
                        if streak >= MAX_DUPLICATE_STREAK:
                            self.reporter.note(f"the strategy proposed {streak} already evaluated or claimed "
                                               f"architectures in a row; the space looks exhausted, stopping")
                            stop = "exhausted"
                        continue
                    streak = 0
                    self.ex.submit(claimed.trial.id, arch.to_json(), study.seed)
                    self.inflight[claimed.trial.id] = (claimed.trial, arch)
                if not self.inflight:
                    if stop is not None or not can_submit:
                        break
                    time.sleep(0.2)  # every candidate is held by other processes' running trials: wait for them
                for key, out in self.ex.wait(timeout=1.0):
                    self._store(key, out)
                    if self.max_failures and len(self.failed_in_row) >= self.max_failures:
                        stop = "failures"
                now = time.monotonic()
                if now - last_sync > SYNC_EVERY:  # results of other processes on this study
                    t = time.time()
                    for r in self.store.trials(study.id, finished_after=sync_from - 120,
                                               exclude_session=self.session):
                        if r.id not in self.told:
                            self._learn(r)
                    sync_from, last_sync = t, now
                if now - last_recover > RECOVER_EVERY:
                    queued = {a.id for a in self.requeue}
                    self.requeue.extend(a for a in study._recover(self.budget, self.policy, self.stale_after)
                                        if a.id not in queued)
                    last_recover = now
            interrupted = False
        finally:
            self.ex.close()
            if self.inflight:
                why = "the search was interrupted" if interrupted else "the search stopped"
                self.store.interrupt_trials(list(self.inflight), f"{why} while this trial was running",
                                            fail=self.policy == "fail")
            self.reporter.stop()
        if stop == "failures":
            reasons = collections.Counter(self.failed_in_row)
            reason, n = reasons.most_common(1)[0]
            raise ArchscoutError(
                f"stopping study {study.name!r}: the last {len(self.failed_in_row)} trials all failed "
                f"(--max-failures {self.max_failures}); most common reason ({n}x): {reason}. "
                f"See `archscout show {study.name} --failed`")
        return self.new

    def _ask(self) -> Architecture:
        """The strategy's next proposal; with a guide, the best-ranked of a pool of fresh proposals."""
        if self.guide is None:
            return self.strategy.ask()
        pool: list[Architecture] = []
        held = {a.id for _, a in self.inflight.values()}
        arch = None
        repeats: list[Architecture] = []
        for _ in range(self.guide.pool * 5):
            arch = self.strategy.ask()
            if arch.id not in self.known and arch.id not in held and all(a.id != arch.id for a in pool):
                pool.append(arch)
                if len(pool) == self.guide.pool:
                    break
            else:
                repeats.append(arch)
        if not pool:  # nothing fresh: let the loop handle the last repeat
            for arch in repeats[:-1]:
                self.strategy.discard(arch)
            return repeats[-1]
        best, info = self.guide.pick(pool, list(self.trained.values()))
        for arch in repeats + pool[:best] + pool[best + 1:]:  # proposals that will never be evaluated
            self.strategy.discard(arch)
        self.guided[pool[best].id] = info
        return pool[best]

    def _store(self, key: int, out: Outcome) -> None:
        row, arch = self.inflight.pop(key)
        if arch.id in self.guided:
            out.details["guide"] = self.guided.pop(arch.id)
        front = None
        if self.study.multi_objective:  # the front with this result, stored with it
            points = dict(self.points)
            if out.status == "complete" and self.study._score(out.metrics) is not None:
                points[row.number] = tuple(out.metrics[m] for m, _ in self.study.objectives)
            front = {"finished": self.counted + 1, **self.study._front_with(points)}
        if not self.store.finish_trial(row.id, out.status, out.metrics, out.details, out.error, front):
            self.reporter.note(f"trial #{row.number} was declared interrupted by another process "
                               f"before it finished; its result is not stored")
            return
        done = TrialRow(row.id, row.study_id, row.number, row.arch_id, row.arch, row.budget, out.status,
                        out.metrics, out.details, out.error, row.seed, row.started_at, time.time(), self.session)
        trial = self._learn(done, arch)
        if out.status == "failed":
            self.failed_in_row.append(_reason_kind(out.error))
        else:
            self.failed_in_row.clear()
        self.new.append(trial)
        self.reporter.trial(trial, self.counted, self._used(), self._best_shown())


def _reason_kind(error: str | None) -> str:
    """A failure reason without the numbers that differ from trial to trial (for grouping)."""
    return re.sub(r"\d+(\.\d+)?", "N", (error or "unknown")[:200])
