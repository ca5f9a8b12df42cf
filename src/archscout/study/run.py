"""A study's run: search, then revalidate the best (optional), then retrain the chosen ones on all training data.

:func:`run` is the three steps in order; :func:`search` is the first (the oneshot strategies train and record
their own candidates, the others go through :class:`~.loop.SearchLoop` with a session, a heartbeat and an
executor that this function opens and closes).
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ArchscoutError
from ..execute import Executor
from ..execute.trial import TrialRunner
from ..storage import FINISHED
from ..strategy import STRATEGIES, canonical_name, make_strategy
from . import preflight
from .finalize import contenders
from .loop import NoTrialCompleted, SearchLoop
from .preflight import check_budget, check_search_options
from .recovery import Heartbeat

if TYPE_CHECKING:
    from .study import Study
    from .trial import Trial


def run(study: Study, trials: int | None, time_budget: str | float | None, *, strategy: str | None,
        final_top_k: int, final_seeds: int, progress: bool | Callable | None, device: str | None,
        threads: int | None, revalidate: int, revalidate_seeds: int, search_options: dict,
        whole_budget: bool = False, revalidate_on: str = "seeds") -> Study:
    """Search, revalidate, retrain (see :meth:`Study.run <archscout.study.Study.run>`); with ``whole_budget``,
    ``time_budget`` bounds the three steps (:mod:`.timing`)."""
    if device is not None:
        from ..evaluate.training import resolve_device
        resolve_device(device)  # a device this machine lacks: one clear error before anything runs
        study.device = device
    if strategy is not None and canonical_name(strategy) != study.strategy_name:
        raise ArchscoutError(f"study {study.name!r} uses strategy {study.strategy_name!r}, not {strategy!r}; "
                             f"start a new study (another name) to compare strategies")
    from ..execute import check_threads, default_threads, intra_op_threads
    check_threads(threads)
    if revalidate > 0 and revalidate_on == "splits" and study.evaluator_spec.trains:
        from .diagnostics import other_splits
        other_splits(study.task, revalidate_seeds)  # a task without other splits: one clear error before the search
    with intra_op_threads(threads or default_threads(1), load=study.evaluator_spec.needs_task):
        split = _time_split(study, time_budget, whole_budget, revalidate, revalidate_seeds, final_top_k, final_seeds,
                            progress, threads, search_options)
        # 1. search (after the one-shot pass, where the strategy asks for one)
        one_shot_stage(study, progress)
        study.search(trials=trials, time_budget=time_budget, progress=progress, threads=threads,
                     reserve=split.reserve if split else None, **search_options)
        if split:
            split.searched()
        # 2. revalidate: the K best trained again with more seeds, ranked by their mean
        if revalidate > 0 and study.evaluator_spec.trains and len(study.leaderboard(2)) == 2:
            from .diagnostics import progress_lines
            if split:
                revalidate, revalidate_seeds = _fit_revalidation(study, split, revalidate, revalidate_seeds, progress)
            if revalidate:
                study.revalidate(revalidate, revalidate_seeds, progress=progress_lines(progress), on=revalidate_on)
            if split:
                split.revalidated()
        # 3. retrain the chosen ones on all training data, scored on test
        if final_top_k > 0 and final_seeds > 0 and study.evaluator_spec.needs_task:
            if not study.leaderboard(1):
                raise NoTrialCompleted.of(study)
            if split:
                fitted = split.seeds_that_fit(contenders(study, final_top_k), final_seeds)
                if fitted < final_seeds:
                    say(progress, f"final retraining with {fitted} seed(s), not {final_seeds}: {split.left():.0f} s "
                                  f"of the time budget are left (a longer --time-budget keeps them all)")
                    final_seeds = fitted
            study.finalize(top_k=final_top_k, seeds=final_seeds, progress=progress)
        if split:
            say(progress, split.summary())
    return study


def one_shot_stage(study: Study, progress) -> list[Trial]:
    """``auto``'s ``one_shot``: DARTS with perturbation-based selection (Wang et al., ICLR 2021, as
    ``--strategy darts --strategy-option selection=perturbation`` runs it) over the cell space, 600 steps unless
    the strategy's ``one_shot_options`` say otherwise; the derived cell, trained by the study's evaluator at its
    own fidelity, is recorded as a trial (once: a resumed study has it already). Nothing for any other strategy
    or setting."""
    options = study.strategy_options or {}
    if study.strategy_name != "auto" or not options.get("one_shot"):
        return []
    from ..oneshot.differentiable.run import run_differentiable
    from ..oneshot.differentiable.strategies import DARTS
    darts = DARTS(study.space, seed=study.seed, **{"steps": 600, "selection": "perturbation",
                                                   **(options.get("one_shot_options") or {})})
    said = None if not progress else (lambda event, **data: say(progress, data["text"]) if "text" in data else None)
    return run_differentiable(study, darts, said)


def _fit_revalidation(study: Study, split, revalidate: int, seeds: int, progress) -> tuple[int, int]:
    """The revalidation's (leaders, seeds) that fit in the time left
    (:meth:`~.timing.TimeSplit.revalidation_that_fits`), said when fewer than asked."""
    leaders, fitted = split.revalidation_that_fits(contenders(study, revalidate), seeds)
    asked = min(revalidate, len(contenders(study, revalidate)))
    if (leaders, fitted) == (0, 0):
        say(progress, f"no revalidation: {split.left():.0f} s of the time budget are left, too few to train 2 "
                      f"leaders again and retrain the chosen one (a longer --time-budget runs it)")
    elif leaders < asked or fitted < seeds:
        say(progress, f"revalidating the best {leaders} with {fitted} more seed(s), not {asked} with {seeds}: "
                      f"{split.left():.0f} s of the time budget are left (a longer --time-budget runs them all)")
    return leaders, fitted


def say(progress, text: str) -> None:
    """A line for the run's ``progress``: a callback gets it as a note, True prints it, None / False drop it."""
    if callable(progress):
        progress("note", text=text)
    elif progress:
        print(text, flush=True)


def _time_split(study: Study, time_budget, whole_budget: bool, revalidate: int, revalidate_seeds: int,
                final_top_k: int, final_seeds: int, progress, threads: int | None, search_options: dict):
    """The :class:`~.timing.TimeSplit` of a run whose ``time_budget`` bounds all three steps (None otherwise). The
    steps after the search run in this process on every core (``threads`` or the default for one worker): faster
    than the search's workers when they had fewer threads each."""
    if not whole_budget or time_budget is None:
        return None
    from .timing import Finish, TimeSplit
    seconds = check_budget(None, time_budget)
    assert seconds is not None  # a time budget was given
    trains = study.evaluator_spec.trains
    finish = Finish(revalidate if trains else 0, revalidate_seeds,
                    final_top_k if study.evaluator_spec.needs_task else 0, final_seeds)
    from ..execute import default_threads
    from .timing import speedup
    workers = int(search_options.get("workers") or 1)
    faster = speedup(threads or default_threads(workers), threads or default_threads(1))
    split = TimeSplit(study, seconds, finish, faster)
    say(progress, split.describe())
    return split


def search(study: Study, trials: int | None, time_budget: str | float | None,
           progress: bool | Callable | None, *, workers: int, executor: str | Executor | None,
           address: str | None, trial_timeout: str | float | None, trial_memory_mb: float | None,
           max_failures: int | None, on_interrupted: str, stale_after: float, threads: int | None,
           reserve: Callable[[], float] | None = None) -> list[Trial]:
    """The search step (see :meth:`Study.search <archscout.study.Study.search>`): the new trials."""
    if getattr(STRATEGIES.get(study.strategy_name), "oneshot", False):  # DARTS & co: trains, then records
        return make_strategy(study.strategy_name, study.space, seed=study.seed,
                             **study.strategy_options).run_oneshot(study, progress)
    seconds = check_budget(trials, time_budget)
    ex, time_limit = check_search_options(workers, executor, address, trial_timeout, trial_memory_mb,
                                          max_failures, on_interrupted)
    from ..execute import check_threads
    if check_threads(threads) is not None:
        ex.threads = threads
    evaluator = study.evaluator()
    spent = nothing_left(study, trials, seconds)  # a finished search resumed: nothing to build, screen or start
    if study.evaluator_spec.needs_task:
        preflight.check_task(study, study.task)
        if not spent:
            preflight.check_space_fits(study, study.task)
            if study.prescreen_latency:
                preflight.attach_latency_tables(study, evaluator)
    checkpoints = study.checkpoints if getattr(evaluator, "resumable", False) else None
    evaluator.checkpoints = checkpoints
    runner = TrialRunner(evaluator, study.space, study.constraints, time_limit, trial_memory_mb)
    if spent:  # no worker processes to start (they take seconds to import torch)
        ex = _Unstarted(ex, runner)
    else:
        ex.start(runner)  # before anything is stored: an executor that cannot start leaves no trace
    try:
        others = [s for s in study.storage.sessions(study.id) if study.storage.session_alive(s, stale_after)]
        session = study.storage.open_session(study.id, ex.describe())
    except BaseException:
        ex.close()
        raise
    beat = Heartbeat(study.storage, session)
    try:
        loop = SearchLoop(study, ex, runner, session, evaluator, len(others), progress,
                          trials, seconds, max_failures, on_interrupted, stale_after, reserve)
        new = loop.run()
    finally:
        ex.close()
        beat.stop()
        study.storage.close_session(session)
    if checkpoints is not None and not [s for s in study.storage.sessions(study.id)
                                        if study.storage.session_alive(s, stale_after)]:
        checkpoints.clean()  # the search ended and no other process searches: nothing will continue them
    return new


def nothing_left(study: Study, trials: int | None, seconds: float | None) -> bool:
    """Whether the study's search budget is spent: ``trials`` trials finished or ``seconds`` of search time used,
    and no trial running (one left running by a dead process is evaluated again)."""
    if study.storage.running_trials(study.id):
        return False
    if seconds is not None and study.storage.search_seconds(study.id) >= seconds:
        return True
    return trials is not None and sum(r.status in FINISHED for r in study.storage.trials(study.id)) >= trials


class _Unstarted(Executor):
    """An executor not started until a trial is submitted: resuming a finished search (see :func:`nothing_left`)
    then starts no worker processes, which take seconds to import torch. Nothing should be submitted; should
    another process change the study meanwhile, the executor starts then."""

    def __init__(self, ex: Executor, runner: TrialRunner):
        self.ex, self.runner, self.started = ex, runner, False
        self.name, self.workers, self.threads = ex.name, ex.workers, ex.threads

    def free(self) -> int:
        return self.ex.free() if self.started else self.ex.workers

    def submit(self, key: int, arch_json: str, seed: int, fidelity: dict | None = None, stop_rule=None) -> None:
        if not self.started:
            self.ex.start(self.runner)
            self.started = True
        self.ex.submit(key, arch_json, seed, fidelity, stop_rule)

    def wait(self, timeout: float):
        return self.ex.wait(timeout) if self.started else []

    def running(self) -> int:
        return self.ex.running() if self.started else 0

    def close(self) -> None:
        if self.started:
            self.ex.close()

    def describe(self) -> dict:
        return self.ex.describe()


def checkpoint_store(study: Study):
    """Where the training checkpoints of ``study`` live (see :attr:`Study.checkpoints
    <archscout.study.Study.checkpoints>`)."""
    from ..evaluate.checkpoints import CheckpointStore
    if study._checkpoint_dir is not None:
        return CheckpointStore(Path(study._checkpoint_dir) / study.name)
    database = study.storage.database_path
    base = Path(f"{database}-checkpoints") if database else Path("archscout-checkpoints")
    return CheckpointStore(base / study.name)
