"""Study: the facade of one named search (space, task, objectives, constraints, strategy, evaluator, budget).

Each part lives in its own module of this package: the settings (setup, config), the run (run: search,
revalidate, retrain), the loop, recovery, preflight checks, reading trials (reading), ranking, fronts, the
reference point, recording derived trials (record), the trials table (tables) and final retraining (finalize).
This one creates and opens studies and hands each question to its module.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager

import numpy as np

from ..evaluate import Evaluator, LatencyConfig
from ..execute import Executor
from ..recipe import TrainConfig
from ..space import Architecture, Space
from ..storage import Storage
from ..tasks import GraphTask, Task
from . import finalize as _finalize
from . import fronts as _fronts
from . import preflight, ranking, reading, reference, setup, tables
from . import record as _record
from . import run as _run
from .preflight import DEFAULT_MAX_FAILURES
from .recovery import STALE_AFTER, recover
from .trial import Trial


class Study(setup.StudyParts):
    """A named search stored in a database; re-creating it with the same name resumes it.

    Example::

        study = Study("digits-mlp", space="mlp", task="digits", storage="sqlite:///runs.db",
                      train={"steps": 300}, constraints=["params <= 20000"])
        study.run(strategy="evolution", trials=20)
        best = study.best()

    Its objects (declared by :class:`.setup.StudyParts`) are set once, by :func:`.setup.configure` (which checks
    each setting), and never change after (the reference point excepted: a search fixes it the first time a front
    needs one).
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
    def create(cls, name: str | None = None, **settings) -> Study:
        """Create a study, or resume the one stored as ``name``: ``settings`` are :class:`Study`'s keywords
        (space, task, objectives, constraints, strategy, storage, train, ...), each checked (see :mod:`.setup`)
        and stored as its :class:`~.config.StudyConfig`."""
        return cls(name, **settings)

    @classmethod
    def load(cls, name: str, storage: str | Storage = "sqlite:///archscout.db", space: Space | None = None,
             task: Task | None = None, check_task: bool = True) -> Study:
        """Open an existing study with the settings it was created with. ``check_task=False`` opens a study
        whose task cannot be found here (arrays given in Python, a file elsewhere) for reading its trials;
        anything that needs the data then fails with the reason."""
        return cls.create(name, **setup.stored_settings(name, storage, space, task, check_task))

    _stored_config = setup.stored_now  # the settings as stored now (a search may have fixed the reference point)

    @property
    def task_name(self) -> str | None:
        """The task's name (a built-in's, a file's path, or the name given to arrays); None without a task."""
        ref = self._task_ref
        return ref if isinstance(ref, str) or ref is None else getattr(ref, "name", None)

    @property
    def task(self) -> Task | GraphTask:
        return setup.load_task(self)

    def evaluator(self, task=None):
        """A fresh evaluator for this study's settings (and task, when the evaluator needs one: the study's, unless
        ``task`` is given, as the revalidation on other splits does)."""
        task = (task or self.task) if self.evaluator_spec.needs_task else None
        return self.evaluator_spec.create(task=task, train=self.train_config, latency=self.latency,
                                           metrics=self.needed_metrics).use_device(self.device)

    @property
    def needed_metrics(self) -> list[str]:
        """The metrics the objectives and constraints name (an evaluator measures them besides its own)."""
        return setup.needed_metrics(self)

    @property
    def multi_objective(self) -> bool:
        return len(self.objectives) > 1

    # -- reading (see :mod:`.reading`, :mod:`.ranking`) -----------------------------------
    def score(self, metrics: dict) -> float | tuple | None:
        """"Higher is better" value of the objective (a tuple, one per objective, for several); None if
        any objective is missing or not finite."""
        return _fronts.score(self.objectives, metrics)

    _score = score

    def minimised(self, trials: list[Trial]) -> np.ndarray:
        """The trials' objective values as a matrix to minimise (rows in the trials' order)."""
        return _fronts.minimised(self.objectives, trials)

    _minimised = minimised

    def snapshot(self) -> AbstractContextManager[list[Trial]]:
        """Within the block, every read of the trials (``trials``, ``leaderboard``, ``front``, ...) sees them as
        they were when it began: one read of the storage, so the tables and figures of a report agree while
        a search goes on, and are drawn faster. Yields the trials. Within another snapshot, it is that one."""
        return reading.snapshot(self)

    def trials(self, status: str | None = None) -> list[Trial]:
        return reading.trials(self, status)

    def trial(self, number: int) -> Trial:
        """The trial of that number (an error naming the range when there is none)."""
        return reading.trial(self, number)

    _trial = reading.trial_of
    _final_summary = _finalize.final_summary

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
        return ranking.revalidated_means(self)

    _fidelity_level = ranking.fidelity_level  # where a fidelity ranks

    @property
    def checkpoints(self):
        """Where the training checkpoints of this study live (see :mod:`archscout.evaluate.checkpoints`): the
        folder given (``checkpoint_dir``), else ``<database file>-checkpoints/<study>`` beside an SQLite file,
        else ``archscout-checkpoints/<study>`` in the working directory."""
        return _run.checkpoint_store(self)

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
        return ranking.best(self)

    def front(self) -> list[Trial]:
        """The completed trials that meet every constraint and that no other such trial dominates on the
        objectives, best first objective first; with one objective, the best trial."""
        return ranking.front(self)

    def fronts(self) -> list[dict]:
        """The front after each finished trial (several objectives), in the order the trials finished,
        whichever process ran them: ``finished`` (trials finished so far), ``trial`` (the one that just
        finished), ``front`` (trial numbers) and its ``hypervolume`` at the study's reference point (None
        while none is fixed). Worked out from the trials, so it agrees with :meth:`front` however many
        processes searched (each stores the front it saw, without the others' latest results). Only trials at
        the fidelity the front compares (:meth:`ranked_fidelity`) count."""
        return reference.front_history(self)

    def trials_dataframe(self, status: str | None = None):
        """The trials as a pandas DataFrame, one row per trial in number order: ``number``, ``status``,
        ``architecture`` (short description), ``arch_id``, ``arch_json``, ``started``/``finished`` (UTC
        timestamps), ``duration_s``, ``budget``, ``seed``, ``error`` (why a trial failed or was infeasible),
        ``feasible`` (complete and within every constraint), ``on_front`` (Pareto-optimal; with one objective,
        the best), one column per stored metric (objectives first), and for retrained trials
        ``test_accuracy_mean``, ``test_accuracy_std`` and ``final_seeds``."""
        return tables.trials_dataframe(self, status)

    # -- the hypervolume reference point (see :mod:`.reference`) -------------------------
    _front_with = reference.front_with  # the front and hypervolume of points, fixing the reference point
    _reference = reference.reference  # the reference point in minimisation form (None until fixed)
    _space_values = reference.space_values  # a network-only cost over the space's examined architectures

    @property
    def reference_sources(self) -> dict:
        """Where each coordinate of the reference point came from (see ``fronts.REFERENCE_SOURCES``; a study
        written before this was recorded: {})."""
        return reference.sources(self)

    def reference_note(self) -> str | None:
        """A warning when the hypervolume depends on this study's own results (not comparable across studies)."""
        return reference.note(self)

    @property
    def search_seconds(self) -> float:
        """Search time so far, over every run of the study (concurrent processes counted once)."""
        return self.storage.search_seconds(self.id)

    # -- the search: search, revalidate, retrain (see :mod:`.run`) ----------------------------
    def run(self, trials: int | None = None, time_budget: str | float | None = None, *,
            strategy: str | None = None, final_top_k: int = 3, final_seeds: int = 3,
            progress: bool | Callable | None = None, device: str | None = None, threads: int | None = None,
            revalidate: int = 0, revalidate_seeds: int = 2, revalidate_on: str = "seeds", whole_budget: bool = False,
            **search_options) -> Study:
        """Search, revalidate, retrain: the three steps of a study, in order.

        1. :meth:`search` until ``trials`` trials (in total) or ``time_budget`` of search time (in total; with
           ``whole_budget``, of the three steps: see :mod:`.timing`); ``search_options`` go to :meth:`search`.
        2. :meth:`revalidate` (with ``revalidate`` K > 0; training evaluator only), so the choice survives
           noise: the K best are trained again on the training part with ``revalidate_seeds`` more seeds each
           and scored on validation (never on test; ``revalidate_on="splits"``: each run on another split of the
           training and validation data), and they rank by their mean (with several objectives the spread is
           shown, the front kept).
        3. :meth:`finalize`: choose and retrain the ``final_top_k`` best on all training data with
           ``final_seeds`` seeds (an evaluator with a task only).

        ``device``: where to train (auto, cpu, cuda, cuda:N, mps; default the study's, the CPU unless it was
        opened with one). ``threads``: PyTorch intra-op threads per trial (default
        :func:`archscout.execute.default_threads` of the workers), also of the final retraining in this
        process (default: every usable core); the process's own setting is restored after."""
        return _run.run(self, trials, time_budget, strategy=strategy, final_top_k=final_top_k,
                        final_seeds=final_seeds, progress=progress, device=device, threads=threads,
                        revalidate=revalidate, revalidate_seeds=revalidate_seeds, revalidate_on=revalidate_on,
                        search_options=search_options,
                        whole_budget=whole_budget)

    def search(self, trials: int | None = None, time_budget: str | float | None = None,
               progress: bool | Callable | None = None, *, workers: int = 1, executor: str | Executor | None = None,
               address: str | None = None, trial_timeout: str | float | None = None,
               trial_memory_mb: float | None = None, max_failures: int | None = DEFAULT_MAX_FAILURES,
               on_interrupted: str = "requeue", stale_after: float = STALE_AFTER,
               threads: int | None = None, reserve: Callable[[], float] | None = None) -> list[Trial]:
        """Search until ``trials`` trials (in total, finished or running) or ``time_budget`` of search time
        (in total, concurrent processes counted once).

        ``workers``/``executor``/``address``: where trials run (see :mod:`archscout.execute`).
        ``trial_timeout`` and ``trial_memory_mb``: per-trial limits; a trial over them is stored failed.
        ``max_failures``: stop (with an error naming the commonest reason) after that many failed trials
        in a row; ``None`` or 0 never stops. ``on_interrupted``: what happens to trials that were running
        when their process died: ``requeue`` (evaluated again; an architecture interrupted three times is
        stored failed) or ``fail``. ``threads``: PyTorch intra-op threads per trial (default: the usable cores
        shared among the workers; see :func:`archscout.execute.default_threads`). ``reserve()``: seconds of the
        budget kept for later steps (no trial starts once search time + reserve reaches ``time_budget``).
        """
        return _run.search(self, trials, time_budget, progress, workers=workers, executor=executor,
                           address=address, trial_timeout=trial_timeout, trial_memory_mb=trial_memory_mb,
                           max_failures=max_failures, on_interrupted=on_interrupted, stale_after=stale_after,
                           threads=threads, reserve=reserve)

    def _recover(self, budget: str, policy: str, stale_after: float) -> list[Architecture]:
        """The architectures to evaluate again after processes died (see :func:`.recovery.recover`)."""
        return [arch for arch, _, _ in recover(self, budget, policy, stale_after)]

    _latency_bounds = preflight.latency_bounds
    _attach_latency_tables = preflight.attach_latency_tables

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
        return _record.record(self, arch, metrics, details=details, status=status, error=error,
                              fidelity=fidelity, parent=parent, source=source)

    # -- final retraining ---------------------------------------------------------------
    def finalize(self, top_k: int = 3, seeds: int = 3, progress: bool | Callable | None = None,
                 trials: Iterable[int] | None = None) -> list[Trial]:
        """Retrain the top-k trials (by the objective, on validation; with several objectives, k trials spread
        along the front) on all training data with ``seeds`` seeds; store test accuracy and weights.
        ``trials``: retrain these trial numbers instead. Pairs already stored are not trained again."""
        return _finalize.finalize(self, top_k, seeds, progress, trials)

    def revalidate(self, top_k: int = 3, seeds: int = 2, progress: Callable | None = None,
                   on: str = "seeds") -> dict[int, dict]:
        """Train the top-k trials again at the search's own budget with ``seeds`` more seeds each (``on="splits"``:
        each also on another split of the training and validation data) and store the results; returns {trial
        number: the first objective's values over seeds, mean, std} (see :mod:`archscout.study.diagnostics`)."""
        from . import diagnostics
        return diagnostics.revalidate(self, top_k, seeds, progress, on=on)

    def diagnostics(self) -> dict:
        """The validation split's resolution, the search-vs-final rank agreement and the repeated-seed validation
        results (see :mod:`archscout.study.diagnostics`)."""
        from . import diagnostics
        return diagnostics.diagnostics(self)

    _retrain = _finalize.retrain

    def final_weights(self, trial: Trial, seed: int = 0) -> bytes | None:
        stored = _finalize.stored_final(self, trial, seed)
        return None if stored is None else stored[1]

    def final_run(self, trial: Trial, seed: int = 0) -> tuple[dict, bytes]:
        """The final retraining of ``trial`` with ``seed``: its metrics (test accuracy, ...) and weights as
        stored; run and stored first when there is none, so it becomes part of the trial's final summary."""
        return _finalize.final_run(self, trial, seed)

