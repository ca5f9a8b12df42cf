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
from ..metrics import Constraint
from ..pareto import nondominated
from ..space import Architecture, Space
from ..storage import FINISHED, Storage, TrialRow
from ..strategy import STRATEGIES, canonical_name, make_strategy
from ..tasks import GraphTask, Task, get_task
from . import finalize as _finalize
from . import fronts as _fronts
from . import preflight, ranking, setup
from . import reference as _reference
from .config import StudyConfig
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

    Its objects are set once, by :func:`.setup.configure` (which checks each setting), and never change after
    (the reference point excepted: a search fixes it the first time a front needs one).
    """

    name: str
    evaluator_spec: EvaluatorSpec
    space: Space
    _predictor: str | None
    _task_ref: str | Task | GraphTask | None
    _task: Task | GraphTask | None
    task_options: dict
    device: str
    objectives: list[tuple[str, str]]
    objective: str
    measure: list[str]
    prescreen_latency: bool
    constraints: list[Constraint]
    guide: dict | None
    reference_point: dict | None
    early_stopping: str | None
    _checkpoint_dir: str | None
    strategy_name: str
    strategy_options: dict
    train_config: TrainConfig
    final_train: TrainConfig
    seed: int
    latency: LatencyConfig
    storage: Storage
    config: StudyConfig
    id: int

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
        """Create a study, or resume the one stored as ``name`` (its settings must then be the same): the same as
        :meth:`create`. Every setting is checked by :func:`.setup.configure` (the rules of :mod:`.config`)."""
        setup.configure(self, name, space=space, task=task, objective=objective, objectives=objectives,
                        constraints=constraints, strategy=strategy, strategy_options=strategy_options,
                        storage=storage, train=train, final_train=final_train, seed=seed, latency=latency,
                        evaluator=evaluator, reference_point=reference_point, measure=measure,
                        prescreen_latency=prescreen_latency, guide=guide, task_options=task_options,
                        device=device, early_stopping=early_stopping, checkpoint_dir=checkpoint_dir,
                        reading=_reading)
        self._snapshot: list[Trial] | None = None  # see snapshot()
        self._key_evaluator: Evaluator | None = None  # what record() asks for budget keys (built on first use)

    @classmethod
    def create(cls, name: str | None = None, **settings) -> "Study":
        """Create a study, or resume the one stored as ``name``: ``settings`` are :class:`Study`'s keywords
        (space, task, objectives, constraints, strategy, storage, train, ...), each checked (see :mod:`.setup`)
        and stored as its :class:`~.config.StudyConfig`."""
        return cls(name, **settings)

    @classmethod
    def load(cls, name: str, storage: str | Storage = "sqlite:///archscout.db", space: Space | None = None,
             task: Task | None = None, check_task: bool = True) -> "Study":
        """Open an existing study with the settings it was created with. ``check_task=False`` opens a study
        whose task cannot be found here (arrays given in Python, a file elsewhere) for reading its trials;
        anything that needs the data then fails with the reason."""
        return cls.create(name, **setup.stored_settings(name, storage, space, task, check_task))

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
        return ranking.leaderboard(self, n)

    def revalidated_means(self) -> dict[int, float]:
        """Per trial number, the first objective's mean over the search's seed and the repeated ones, for the
        trials validated again (:meth:`revalidate`; empty when none was)."""
        if not self.evaluator_spec.trains:
            return {}
        from .diagnostics import revalidation
        return {number: r["mean"] for number, r in revalidation(self).items()}

    def _fidelity_level(self, fidelity: dict | None) -> float:
        """Where a fidelity ranks (see :func:`.ranking.fidelity_level`)."""
        return ranking.fidelity_level(self, fidelity)

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
        return ranking.unranked(self)

    def ranked_fidelity(self, trials: list[Trial] | None = None) -> float:
        """The fidelity the leaderboard, the front and ``best()`` compare trials at: the highest that a
        complete trial reached (as :meth:`_fidelity_level` ranks it; the study's own before any completes).
        Trials at lower fidelities are left out of them (``archscout show`` says how many)."""
        return ranking.ranked_fidelity(self, trials)

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

    # -- the hypervolume reference point (see :mod:`.reference`) -------------------------
    def _front_with(self, points: dict[int, tuple]) -> dict:
        return _reference.front_with(self, points)

    def _reference(self, F: np.ndarray) -> np.ndarray | None:
        return _reference.reference(self, F)

    def _space_values(self, metric: str) -> list[float] | None:
        return _reference.space_values(self, metric)

    @property
    def reference_sources(self) -> dict:
        """Where each coordinate of the reference point came from (see ``fronts.REFERENCE_SOURCES``; a study
        written before this was recorded: {})."""
        return _reference.sources(self)

    def reference_note(self) -> str | None:
        """A warning when the hypervolume depends on this study's own results (not comparable across studies)."""
        return _reference.note(self)

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

