"""Study: the facade of one named search (space, task, objectives, constraints, strategy, evaluator, budget).

The loop, recovery, fronts, preflight checks, final retraining and the settings each live in their own
module of this package; this one creates and opens studies, reads their trials and starts searches.
"""
from __future__ import annotations

import math
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from ..errors import ArchscoutError
from ..evaluate import Evaluator, EvaluatorSpec, LatencyConfig
from ..execute.trial import TrialRunner
from ..recipe import TrainConfig
from ..execute import Executor
from ..metrics import Constraint, parse_objectives
from ..pareto import nondominated, to_minimise
from ..space import Architecture, Space, get_space, list_spaces
from ..storage import FINISHED, Storage, TrialRow
from ..strategy import STRATEGIES, canonical_name, make_strategy
from ..tasks import GraphTask, Task, check_task_name, check_task_options, get_task
from . import finalize as _finalize
from . import fronts as _fronts
from . import preflight
from .config import (NAME, StudyConfig, check_reference, check_seed, measure_list, measured_constraint, safe_name,
                     train_config)
from .loop import SearchLoop
from .preflight import DEFAULT_MAX_FAILURES, check_budget, check_search_options
from .recovery import STALE_AFTER, Heartbeat, recover
from .trial import Trial


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
                 prescreen_latency: bool = False, guide: str | dict | None = None, task_options: dict | None = None,
                 device: str | None = None, early_stopping: str | None = None,
                 checkpoint_dir: str | None = None, _reading: bool = False):
        # _reading: opened to read its trials (show, report, ...), so the task's data and a predictor file
        # it was searched with need not be found here
        check_seed(seed)
        self.evaluator_spec = EvaluatorSpec.parse(evaluator, load=not _reading)
        required = None if _reading else self.evaluator_spec.required_space()
        self.space = self.evaluator_spec.searched_space(get_space(space if space is not None else required
                                                                  or "conv1d"))
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
        self.task_options = check_task_options(task_options)
        if self.task_options and task is None:
            raise ArchscoutError("task options (--label, --task-kind, --val-fraction, --folds) need a task")
        self._task: Task | GraphTask | None = task if isinstance(task, (Task, GraphTask)) else None
        self.device = device or "cpu"  # where trials and final retrainings train (not stored: a run option)
        task_name = task.name if isinstance(task, (Task, GraphTask)) else (None if task is None else str(task))
        if isinstance(task, str) and not _reading:
            check_task_name(task)  # the data itself is loaded when first needed
        if name is not None and not isinstance(name, str):
            raise ArchscoutError(f"a study name is a string, got {name!r}")
        default = self.evaluator_spec.name if self.evaluator_spec.name != "python" \
            else self.evaluator_spec.options.rpartition(":")[2]  # a user's function: its name
        self.name = f"{safe_name(task_name or default)}-{self.space.name}" if name is None else name
        if not NAME.match(self.name):
            raise ArchscoutError(f"study name {self.name!r}: use letters, digits and . _ - : (up to 200), "
                                 f"starting with a letter or digit")
        if objective is not None and objectives is not None:
            raise ArchscoutError("give either objective (one metric) or objectives (several), not both")
        if objectives is None and objective is None and self.evaluator_spec.needs_task and not _reading \
                and self.evaluator_spec.default_objective() == "accuracy":
            objective = self._task_metric()  # a regression selects on r2, a classification on accuracy
        self.objectives = parse_objectives(objectives if objectives is not None else
                                           (objective or self.evaluator_spec.default_objective()))
        for metric, _ in self.objectives:
            if metric == "test_accuracy":
                raise ArchscoutError("an objective cannot be test_accuracy: selection uses validation data only")
            if not self.evaluator_spec.can_measure(metric):
                raise ArchscoutError(f"the objective {metric!r} is not measured by the {self.evaluator_spec} "
                                     f"evaluator; it measures {', '.join(self.evaluator_spec.measured())}")
        self.objective = self.objectives[0][0]  # the leaderboard's first sort key
        self.measure = measure_list(measure, self.evaluator_spec)
        self.prescreen_latency = bool(prescreen_latency)
        self.constraints = [measured_constraint(Constraint.parse(c), self.evaluator_spec) for c in constraints]
        if not _reading:
            preflight.check_devices(self)
        from .guide import check_guide
        self.guide = check_guide(guide, self)
        if self.guide and STRATEGIES.get(canonical_name(strategy)).schedules_fidelity:
            raise ArchscoutError(f"strategy {canonical_name(strategy)!r} schedules fidelities itself (its rungs and "
                                 f"promotions); a guide (--guide) ranks whole proposals and cannot be combined "
                                 f"with it")
        self.reference_point = check_reference(reference_point, self.objectives)
        if self.prescreen_latency and (not self.evaluator_spec.needs_task or not self._latency_bounds()):
            raise ArchscoutError("latency prescreening needs the train evaluator and an upper bound on a PyTorch or "
                                 "ONNX Runtime latency to screen against, e.g. --constraint 'latency_ms <= 2'")
        from ..evaluate.stopping import parse_rule
        self.early_stopping = None if parse_rule(early_stopping) is None else str(early_stopping).strip().lower()
        if self.early_stopping and not (self.evaluator_spec.trains or self.evaluator_spec.name == "python"):
            raise ArchscoutError(f"early stopping watches a training run's learning curve; the "
                                 f"{self.evaluator_spec.name} evaluator trains nothing")
        self._checkpoint_dir = checkpoint_dir
        self.strategy_name = canonical_name(strategy)
        self.strategy_options = dict(strategy_options or {})
        self.train_config = train_config(train, TrainConfig())
        make_strategy(self.strategy_name, self.space, seed=seed, objectives=len(self.objectives),
                      fidelity=self.top_fidelity,
                      **self.strategy_options)  # validate options (and that it handles several objectives)
        self.final_train = train_config(final_train, self.train_config.with_(
            steps=self.train_config.steps * 3, epochs=None if self.train_config.epochs is None
            else self.train_config.epochs * 3))
        self.seed = seed
        self.latency = latency or LatencyConfig()
        self.storage = storage if isinstance(storage, Storage) else Storage(storage)
        self.config = self._config(task_name)
        row = self.storage.get_study(self.name)
        if row is None:
            if self.evaluator_spec.needs_task:  # bad data or a space that cannot take it: refuse before storing
                preflight.check_kind(self, self.task)
                preflight.check_space_fits(self, self.task)
            preflight.check_meetable(self)
            row = self.storage.create_study(self.name, self.config.to_json())
        else:
            self.config.check_same(self.name, row.config)
        self.id = row.id
        self._snapshot: list[Trial] | None = None  # see snapshot()
        self._key_evaluator: Evaluator | None = None  # what record() asks for budget keys (built on first use)

    # -- construction helpers -----------------------------------------------------------
    def _config(self, task_name: str | None) -> StudyConfig:
        return StudyConfig(
            space=self.space.name, space_fingerprint=self.space.fingerprint(), task=task_name,
            objective=self.objective, objectives=[list(o) for o in self.objectives],
            reference_point=self.reference_point, measure=list(self.measure),
            prescreen_latency=self.prescreen_latency, guide=self.guide,
            constraints=[str(c) for c in self.constraints], strategy=self.strategy_name,
            strategy_options=self.strategy_options, seed=self.seed, early_stopping=self.early_stopping,
            train=self.train_config.as_dict(),
            final_train=self.final_train.as_dict(), evaluator=self.evaluator_spec.text, predictor=self._predictor,
            budget=self.evaluator_spec.budget(self.train_config), task_options=self.task_options or None,
            metrics=self._user_metrics())

    def _user_metrics(self) -> dict | None:
        """A user evaluator's declared metrics ({name: direction}), stored so the study opens without its code."""
        if self.evaluator_spec.name != "python":
            return None
        from ..metrics import METRICS
        return {m: METRICS[m] for m in self.evaluator_spec.measured() if m in METRICS}

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
            from ..errors import unknown_name
            if names:
                raise unknown_name("study", name, names)
            raise ArchscoutError(f"no study named {name!r} in {store.url} (the database holds no studies)")
        cfg = StudyConfig.from_stored(row.config)
        if cfg.evaluator.startswith("python:") and cfg.metrics:
            from ..evaluate.user import PythonEvaluator
            reference = cfg.evaluator.partition(":")[2]
            if check_task and PythonEvaluator._known.get(reference, {}).get("__reading__"):
                del PythonEvaluator._known[reference]  # opened to search now: import the code itself
            try:
                PythonEvaluator._declaration(reference)
            except ArchscoutError:
                if check_task:
                    raise
                PythonEvaluator.remember(reference, cfg.metrics, cfg.task is not None)  # read trials without its code
        if space is None:
            space = get_space(cfg.space) if cfg.space in list_spaces() else None
            if space is None:
                raise ArchscoutError(f"study {name!r} uses the custom space {cfg.space!r}; name its definition with "
                                     f"--space module:attr (or --space path/to/file.py:attr), or open it from "
                                     f"Python with Study.load(name, storage, space=...)")
        return cls(name, space=space, task=task if task is not None else cfg.task, objectives=cfg.objectives,
                   constraints=cfg.constraints, strategy=cfg.strategy, reference_point=cfg.reference_point,
                   measure=cfg.measure, prescreen_latency=cfg.prescreen_latency, guide=cfg.guide,
                   strategy_options=cfg.strategy_options, storage=store, train=cfg.train,
                   final_train=cfg.final_train, seed=cfg.seed, evaluator=cfg.evaluator,
                   task_options=cfg.task_options, early_stopping=cfg.early_stopping, _reading=not check_task)

    def _stored_config(self) -> dict:
        """The settings as stored now (a search may have fixed the reference point since this was opened)."""
        row = self.storage.get_study(self.name)
        if row is None:
            raise ArchscoutError(f"study {self.name!r} is no longer in {self.storage.shown_url}")
        return row.config

    @property
    def task_name(self) -> str | None:
        """The task's name (a built-in's, a file's path, or the name given to arrays); None without a task."""
        ref = self._task_ref
        return ref if isinstance(ref, str) or ref is None else getattr(ref, "name", None)

    @property
    def task(self) -> Task | GraphTask:
        if self._task is None:
            if self._task_ref is None:
                raise ArchscoutError(f"study {self.name!r} has no task (its evaluator is {self.evaluator_spec.text!r})")
            self._task = get_task(self._task_ref, self.task_options)
        return self._task

    def _task_metric(self) -> str:
        """The metric a study over this task selects on by default (the task is loaded to learn its kind)."""
        return getattr(self.task, "metric", "accuracy")

    def evaluator(self):
        """A fresh evaluator for this study's settings (and task, when the evaluator needs one)."""
        task = self.task if self.evaluator_spec.needs_task else None
        return self.evaluator_spec.create(task=task, train=self.train_config, latency=self.latency,
                                           metrics=self.needed_metrics).use_device(self.device)

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
    def score(self, metrics: dict) -> float | tuple | None:
        """"Higher is better" value of the objective (a tuple, one per objective, for several); None if
        any objective is missing or not finite."""
        return _fronts.score(self.objectives, metrics)

    _score = score

    def minimised(self, trials: list[Trial]) -> np.ndarray:
        """The trials' objective values as a matrix to minimise (rows in the trials' order)."""
        return _fronts.minimised(self.objectives, trials)

    _minimised = minimised

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

    def trial(self, number: int) -> Trial:
        """The trial of that number (an error naming the range when there is none)."""
        row = next((r for r in self.storage.trials(self.id) if r.number == number), None)
        if row is None:
            raise ArchscoutError(f"study {self.name!r} has no trial #{number}")
        return self._trial(row, self._final_summary().get(row.id, {}))

    def _trial(self, r: TrialRow, final: dict) -> Trial:
        arch = Architecture.from_json(r.arch, self.space)
        return Trial(r.number, arch, r.status, r.metrics, r.details, r.error, r.budget, r.seed, r.duration, r.id,
                     final, self, started_at=r.started_at, finished_at=r.finished_at, fidelity=r.fidelity,
                     parent=r.parent)

    def _final_summary(self) -> dict[int, dict]:
        return _finalize.final_summary(self)

    def final_summary(self) -> dict[int, dict]:
        """Per trial id: the final retraining's test accuracy mean / std over seeds (INT8's too, if measured)."""
        return _finalize.final_summary(self)

    def leaderboard(self, n: int | None = None) -> list[Trial]:
        """Completed trials that meet every constraint, best first objective first (ties: the later objectives,
        then the lower validation loss)."""
        complete = [t for t in self.trials("complete") if self.score(t.metrics) is not None]
        level = self.ranked_fidelity(complete)
        ranked = [t for t in complete if self._fidelity_level(t.fidelity) == level]
        ranked.sort(key=lambda t: _fronts.rank_key(self.objectives, t))
        means = self.revalidated_means() if not self.multi_objective else {}
        if means:  # the choice that survives noise: validated again with more seeds, they rank by their mean
            sign = -1.0 if self.objectives[0][1] == "max" else 1.0
            ranked.sort(key=lambda t: (0, sign * means[t.number]) if t.number in means else (1, 0.0))
        return ranked[:n] if n else ranked

    def revalidated_means(self) -> dict[int, float]:
        """Per trial number, the first objective's mean over the search's seed and the repeated ones, for the
        trials validated again (:meth:`revalidate`; empty when none was)."""
        if not self.evaluator_spec.trains:
            return {}
        from .diagnostics import revalidation
        return {number: r["mean"] for number, r in revalidation(self).items()}

    def _fidelity_level(self, fidelity: dict | None) -> float:
        """Where a fidelity ranks: its largest value; the study's own budget (None) counts as what it is in the
        evaluator's terms (its training steps or epochs), or above everything for an evaluator without one."""
        if fidelity is None:
            fidelity = self.evaluator_spec.cls.default_fidelity(self.evaluator_spec.options, self.train_config)
            if fidelity is None:
                return math.inf
        return float(max(fidelity.values()))

    @property
    def checkpoints(self):
        """Where the training checkpoints of this study live (see :mod:`archscout.evaluate.checkpoints`): the
        folder given (``checkpoint_dir``), else ``<database file>-checkpoints/<study>`` beside an SQLite file,
        else ``archscout-checkpoints/<study>`` in the working directory."""
        from ..evaluate.checkpoints import CheckpointStore
        if self._checkpoint_dir is not None:
            return CheckpointStore(Path(self._checkpoint_dir) / self.name)
        database = self.storage.database_path
        base = Path(f"{database}-checkpoints") if database else Path("archscout-checkpoints")
        return CheckpointStore(base / self.name)

    @property
    def top_fidelity(self) -> dict | None:
        """The study's own fidelity in its evaluator's terms (``{"steps": 1000}``, ``{"epochs": 5}``): the top
        rung of a multi-fidelity scheduler; None for an evaluator without such a scale."""
        return self.evaluator_spec.cls.default_fidelity(self.evaluator_spec.options, self.train_config)

    def unranked(self) -> list[Trial]:
        """Complete trials left out of the leaderboard because they ran at a lower fidelity than it compares."""
        complete = [t for t in self.trials("complete") if self.score(t.metrics) is not None]
        level = self.ranked_fidelity(complete)
        return [t for t in complete if self._fidelity_level(t.fidelity) != level]

    def ranked_fidelity(self, trials: list[Trial] | None = None) -> float:
        """The fidelity the leaderboard, the front and ``best()`` compare trials at: the highest that a
        complete trial reached (as :meth:`_fidelity_level` ranks it; the study's own before any completes).
        Trials at lower fidelities are left out of them (``archscout show`` says how many)."""
        trials = trials if trials is not None else [t for t in self.trials("complete")
                                                     if self.score(t.metrics) is not None]
        return max((self._fidelity_level(t.fidelity) for t in trials), default=self._fidelity_level(None))

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
        on_front = set(nondominated(self.minimised(board)).tolist())
        return [t for i, t in enumerate(board) if i in on_front]

    def fronts(self) -> list[dict]:
        """The front after each finished trial (several objectives), in the order the trials finished,
        whichever process ran them: ``finished`` (trials finished so far), ``trial`` (the one that just
        finished), ``front`` (trial numbers) and its ``hypervolume`` at the study's reference point (None
        while none is fixed). Worked out from the trials, so it agrees with :meth:`front` however many
        processes searched (each stores the front it saw, without the others' latest results). Only trials at
        the fidelity the front compares (:meth:`ranked_fidelity`) count."""
        if not self.multi_objective:
            return []
        reference = self.reference_point
        if reference is None or len(reference) < len(self.objectives):  # fixed by a search since this was opened?
            reference = self._stored_config().get("reference_point") or {}
        with self.snapshot() as trials:
            level = self.ranked_fidelity()
            ranked = [t for t in trials if self._fidelity_level(t.fidelity) == level]
        return _fronts.front_history(self.objectives, reference, ranked)

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

    def _front_with(self, points: dict[int, tuple]) -> dict:
        """The front (trial numbers) and hypervolume of ``points`` (trial number -> objective values),
        fixing the study's reference point from the first results if the user gave none."""
        numbers = sorted(points)
        F = to_minimise([points[n] for n in numbers], [w for _, w in self.objectives])
        return _fronts.front_with(self.objectives, points, self._reference(F))

    def _reference(self, F: np.ndarray) -> np.ndarray | None:
        """The reference point in minimisation form, fixed (and stored, with where each coordinate came from) the
        first time it is needed (see :func:`archscout.study.fronts.default_reference`). Until then there is no
        hypervolume (None)."""
        if self.reference_point is None or len(self.reference_point) < len(self.objectives):
            config = self._stored_config()
            stored = config.get("reference_point") or {}
            if len(stored) < len(self.objectives):  # first to fix it; another process may have done so
                rows = None if self.evaluator_spec.needs_task else self.evaluator().rows()
                fixed = _fronts.default_reference(self.objectives, self.constraints, self.reference_point, rows, F,
                                                  self._space_values)
                if fixed is None:
                    return None
                stored, sources = fixed
                config = {**config, "reference_point": stored, "reference_sources": sources}
                self.storage.update_config(self.id, config)
            self.reference_point = stored
        return to_minimise([[self.reference_point[m] for m, _ in self.objectives]],
                           [w for _, w in self.objectives])[0]

    def _space_values(self, metric: str) -> list[float] | None:
        """A cost computed from the network alone (parameters, FLOPs, FP32 size) over the space's examined
        architectures (:func:`archscout.study.bounds.examined`); None for any other metric or evaluator."""
        from .bounds import space_costs
        if not self.evaluator_spec.needs_task:
            return None
        evaluator = self.evaluator()
        if not hasattr(evaluator, "static_costs"):
            return None
        return space_costs(self.space, evaluator, metric, seed=0)

    @property
    def reference_sources(self) -> dict:
        """Where each coordinate of the reference point came from (see ``fronts.REFERENCE_SOURCES``; a study
        written before this was recorded: {})."""
        sources = self._stored_config().get("reference_sources") or {}
        return {m: s for m, s in sources.items() if m in (self.reference_point or {})}

    def reference_note(self) -> str | None:
        """A warning when the hypervolume depends on this study's own results (not comparable across studies)."""
        own = [m for m, s in self.reference_sources.items() if s == "study"]
        if not own:
            return None
        return (f"the reference point's {', '.join(own)} came from this study's first results, so its hypervolume "
                f"is not comparable with another study's; give {' '.join(f'--reference {m}=VALUE' for m in own)} "
                f"to every study you compare")

    @property
    def search_seconds(self) -> float:
        """Search time so far, over every run of the study (concurrent processes counted once)."""
        return self.storage.search_seconds(self.id)

    # -- the search loop ----------------------------------------------------------------
    def run(self, trials: int | None = None, time_budget: str | float | None = None, *,
            strategy: str | None = None, final_top_k: int = 3, final_seeds: int = 3,
            progress: bool | Callable | None = None, device: str | None = None, threads: int | None = None,
            revalidate: int = 0, revalidate_seeds: int = 2, **search_options) -> "Study":
        """Search until ``trials`` trials (in total) or ``time_budget`` of search time (in total), then choose
        and retrain the ``final_top_k`` best on all training data with ``final_seeds`` seeds (training
        evaluator only). With ``revalidate`` K > 0 the choice survives noise: the K best are first trained again
        on the training part with ``revalidate_seeds`` more seeds each and scored on validation (never on
        test), and they rank by their mean (with several objectives the spread is shown, the front kept). ``device``: where to train (auto, cpu, cuda, cuda:N, mps; default the study's,
        the CPU unless it was opened with one). ``threads``: PyTorch intra-op threads per trial (default
        :func:`archscout.execute.default_threads` of the workers), also of the final retraining in this
        process (default: every usable core); the process's own setting is restored after. ``search_options``
        go to :meth:`search` (workers, executor, limits, ...)."""
        if device is not None:
            from ..evaluate.training import resolve_device
            resolve_device(device)  # a device this machine lacks: one clear error before anything runs
            self.device = device
        if strategy is not None and canonical_name(strategy) != self.strategy_name:
            raise ArchscoutError(f"study {self.name!r} uses strategy {self.strategy_name!r}, not {strategy!r}; "
                                 f"start a new study (another name) to compare strategies")
        from ..execute import check_threads, default_threads, intra_op_threads
        check_threads(threads)
        with intra_op_threads(threads or default_threads(1), load=self.evaluator_spec.needs_task):
            self.search(trials=trials, time_budget=time_budget, progress=progress, threads=threads, **search_options)
            if revalidate > 0 and self.evaluator_spec.trains and len(self.leaderboard(2)) == 2:
                from .diagnostics import progress_lines
                self.revalidate(revalidate, revalidate_seeds, progress=progress_lines(progress))
            if final_top_k > 0 and final_seeds > 0 and self.evaluator_spec.needs_task:
                if not self.leaderboard(1):
                    from .loop import NoTrialCompleted
                    raise NoTrialCompleted.of(self)
                self.finalize(top_k=final_top_k, seeds=final_seeds, progress=progress)
        return self

    def search(self, trials: int | None = None, time_budget: str | float | None = None,
               progress: bool | Callable | None = None, *, workers: int = 1, executor: str | Executor | None = None,
               address: str | None = None, trial_timeout: str | float | None = None,
               trial_memory_mb: float | None = None, max_failures: int | None = DEFAULT_MAX_FAILURES,
               on_interrupted: str = "requeue", stale_after: float = STALE_AFTER,
               threads: int | None = None) -> list[Trial]:
        """Search until ``trials`` trials (in total, finished or running) or ``time_budget`` of search time
        (in total, concurrent processes counted once).

        ``workers``/``executor``/``address``: where trials run (see :mod:`archscout.execute`).
        ``trial_timeout`` and ``trial_memory_mb``: per-trial limits; a trial over them is stored failed.
        ``max_failures``: stop (with an error naming the commonest reason) after that many failed trials
        in a row; ``None`` or 0 never stops. ``on_interrupted``: what happens to trials that were running
        when their process died: ``requeue`` (evaluated again; an architecture interrupted three times is
        stored failed) or ``fail``. ``threads``: PyTorch intra-op threads per trial (default: the usable cores
        shared among the workers; see :func:`archscout.execute.default_threads`).
        """
        if getattr(STRATEGIES.get(self.strategy_name), "oneshot", False):  # DARTS & co: trains, then records
            return make_strategy(self.strategy_name, self.space, seed=self.seed,
                                 **self.strategy_options).run_oneshot(self, progress)
        seconds = check_budget(trials, time_budget)
        ex, time_limit = check_search_options(workers, executor, address, trial_timeout, trial_memory_mb,
                                              max_failures, on_interrupted)
        from ..execute import check_threads
        if check_threads(threads) is not None:
            ex.threads = threads
        evaluator = self.evaluator()
        if self.evaluator_spec.needs_task:
            preflight.check_task(self, self.task)
            preflight.check_space_fits(self, self.task)
            if self.prescreen_latency:
                preflight.attach_latency_tables(self, evaluator)
        checkpoints = self.checkpoints if getattr(evaluator, "resumable", False) else None
        evaluator.checkpoints = checkpoints
        runner = TrialRunner(evaluator, self.space, self.constraints, time_limit, trial_memory_mb)
        ex.start(runner)  # before anything is stored: an executor that cannot start leaves no trace
        try:
            others = [s for s in self.storage.sessions(self.id) if self.storage.session_alive(s, stale_after)]
            session = self.storage.open_session(self.id, ex.describe())
        except BaseException:
            ex.close()
            raise
        beat = Heartbeat(self.storage, session)
        try:
            loop = SearchLoop(self, ex, runner, session, evaluator, len(others), progress,
                              trials, seconds, max_failures, on_interrupted, stale_after)
            new = loop.run()
        finally:
            ex.close()
            beat.stop()
            self.storage.close_session(session)
        if checkpoints is not None and not [s for s in self.storage.sessions(self.id)
                                            if self.storage.session_alive(s, stale_after)]:
            checkpoints.clean()  # the search ended and no other process searches: nothing will continue them
        return new

    def _recover(self, budget: str, policy: str, stale_after: float) -> list[Architecture]:
        """The architectures to evaluate again after processes died (see :func:`.recovery.recover`)."""
        return [arch for arch, _, _ in recover(self, budget, policy, stale_after)]

    def _latency_bounds(self) -> list[Constraint]:
        return preflight.latency_bounds(self)

    def _attach_latency_tables(self, evaluator) -> None:
        preflight.attach_latency_tables(self, evaluator)

    # -- recording what a method derived itself -------------------------------------------------
    def record(self, arch: Architecture | dict | str, metrics: dict, *, details: dict | None = None,
               status: str = "complete", error: str | None = None, fidelity: dict | None = None,
               parent: int | None = None, source: str | None = None) -> Trial:
        """Store an architecture that a method derived by training weights itself (a supernet's sub-network,
        a differentiable search's discretised cell) with the metrics it measured, as a trial: the
        leaderboard, front, report, final retraining and export treat it like any other. The constraints
        are checked on ``metrics`` (a breach stores it ``infeasible`` with the reason); ``status="failed"``
        with an ``error`` stores a failure. ``source`` (e.g. ``"supernet"``) goes to ``details["recorded_by"]``.
        An architecture already stored at that fidelity is refused."""
        if isinstance(arch, dict):  # the architecture's values
            arch = self.space.architecture(arch)
        elif isinstance(arch, str):
            arch = Architecture.from_json(arch, self.space)
        if not isinstance(arch, Architecture):
            raise ArchscoutError(f"record() takes an Architecture of the study's space, got {type(arch).__name__}")
        if arch.space_name != self.space.name:
            raise ArchscoutError(f"record(): the architecture is of the {arch.space_name!r} space, the study searches "
                                 f"{self.space.name!r}")
        if status not in FINISHED:
            raise ArchscoutError(f"record(): status is one of {', '.join(FINISHED)}, got {status!r}")
        if not isinstance(metrics, dict) or any(not isinstance(k, str) for k in metrics):
            raise ArchscoutError("record(): metrics is a dict {metric name: value}")
        bad = [k for k, v in metrics.items() if isinstance(v, bool) or not isinstance(v, (int, float))
               or not math.isfinite(v)]
        if bad:
            raise ArchscoutError(f"record(): metrics must be finite numbers; {', '.join(bad)} are not")
        if status == "complete":
            missing = [m for m, _ in self.objectives if m not in metrics]
            if missing:
                raise ArchscoutError(f"record(): a complete trial needs every objective; missing "
                                     f"{', '.join(missing)}")
            error = next((r for r in (c.check(metrics) for c in self.constraints) if r), None)
            if error:
                status = "infeasible"
        elif not error:
            raise ArchscoutError(f"record(): a {status} trial needs the reason (error=...)")
        # the key a search would store this architecture under at that fidelity, so it is not evaluated again
        if self._key_evaluator is None:
            self._key_evaluator = self.evaluator()
        budget = self._key_evaluator.fidelity_key(fidelity)
        claim = self.storage.claim_trial(self.id, arch.id, arch.to_json(), budget, self.seed, fidelity=fidelity,
                                         parent=parent)
        if claim.trial is None:
            raise ArchscoutError(f"record(): architecture {arch.describe()} is stored already at this fidelity")
        details = dict(details or {})
        details["recorded_by"] = source or "record"
        self.storage.finish_trial(claim.trial.id, status, dict(metrics), details, error)
        return self.trial(claim.trial.number)

    # -- final retraining ---------------------------------------------------------------
    def finalize(self, top_k: int = 3, seeds: int = 3, progress: bool | Callable | None = None,
                 trials: Iterable[int] | None = None) -> list[Trial]:
        """Retrain the top-k trials (by the objective, on validation; with several objectives, k trials spread
        along the front) on all training data with ``seeds`` seeds; store test accuracy and weights.
        ``trials``: retrain these trial numbers instead. Pairs already stored are not trained again."""
        return _finalize.finalize(self, top_k, seeds, progress, trials)

    def revalidate(self, top_k: int = 3, seeds: int = 2, progress: Callable | None = None) -> dict[int, dict]:
        """Train the top-k trials again at the search's own budget with ``seeds`` more seeds each and store the
        results; returns {trial number: the first objective's values over seeds, mean, std} (see
        :mod:`archscout.study.diagnostics`)."""
        from . import diagnostics
        return diagnostics.revalidate(self, top_k, seeds, progress)

    def diagnostics(self) -> dict:
        """The validation split's resolution, the search-vs-final rank agreement and the repeated-seed validation
        results (see :mod:`archscout.study.diagnostics`)."""
        from . import diagnostics
        return diagnostics.diagnostics(self)

    def _retrain(self, trial: Trial, seed: int, evaluator=None) -> tuple[dict, bytes]:
        return _finalize.retrain(self, trial, seed, evaluator)

    def final_weights(self, trial: Trial, seed: int = 0) -> bytes | None:
        stored = _finalize.stored_final(self, trial, seed)
        return None if stored is None else stored[1]

    def final_run(self, trial: Trial, seed: int = 0) -> tuple[dict, bytes]:
        """The final retraining of ``trial`` with ``seed``: its metrics (test accuracy, ...) and weights as
        stored; run and stored first when there is none, so it becomes part of the trial's final summary."""
        if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
            raise ArchscoutError(f"a retraining seed is a non-negative integer, got {seed!r}")
        return _finalize.stored_final(self, trial, seed) or _finalize.retrain(self, trial, seed)

