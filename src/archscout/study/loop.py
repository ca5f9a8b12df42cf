"""The search loop of one process: ask, claim, submit, collect, store, tell, until a budget is met."""
from __future__ import annotations

import collections
import hashlib
import re
import time
from collections.abc import Callable

from ..errors import ArchscoutError
from ..execute import Executor
from ..execute.trial import Outcome, TrialRunner
from ..space import Architecture
from ..storage import FINISHED, TrialRow
from ..strategy import Proposal, Result, make_strategy
from .finalize import reporter as make_reporter
from .fronts import score as score_of
from .recovery import recover
from .trial import Trial

MAX_DUPLICATE_STREAK = 500
SYNC_EVERY = 2.0  # seconds between looks for results stored by other processes
WAIT_LIMIT = 120.0  # seconds a strategy may wait for results while no trial of the study runs anywhere
RECOVER_EVERY = 30.0  # seconds between looks for trials of dead processes
DEFAULT_STORAGE = "sqlite:///archscout.db"


class NoTrialCompleted(ArchscoutError):
    """A search after which the study has no completed trial: nothing to rank, retrain or export. The
    command line exits with ``exit_code`` 1 (the search ran; it found nothing), not 2 (bad input)."""

    exit_code = 1

    @classmethod
    def of(cls, study) -> NoTrialCompleted:
        counts = collections.Counter(t.status for t in study.trials())
        if "complete" in counts:  # complete, but without a finite value of every objective: not ranked
            counts["complete without every objective"] = counts.pop("complete")
        done = ", ".join(f"{n} {status}" for status, n in sorted(counts.items(), key=lambda kv: -kv[1]))
        where = "" if study.storage.url == DEFAULT_STORAGE else f" --storage {study.storage.shown_url}"
        return cls(f"no trial completed ({done or 'no trial ran'}); see "
                   f"`archscout show {study.name}{where} --failed` for the reasons")


def strategy_for(study, index: int):
    """The strategy of the ``index``-th process searching the study (wrapped by the study's guide, if any).

    The first process proposes from the study's seed; processes that join a running search get seeds of
    their own, so they do not propose the same candidates."""
    seed = study.seed if index == 0 else int(hashlib.sha256(f"{study.seed}/{index}".encode()).hexdigest()[:8], 16)
    strategy = make_strategy(study.strategy_name, study.space, seed=seed, objectives=len(study.objectives),
                             fidelity=study.top_fidelity, **study.strategy_options)
    if study.guide:
        from .guide import Guide, GuidedStrategy, ScreenedStrategy
        guide = Guide(study.guide, study.evaluator(), study.space, study.seed, study.constraints)
        strategy = (ScreenedStrategy if study.guide["by"] == "screen" else GuidedStrategy)(strategy, guide)
    return strategy


class SearchLoop:
    """One search process's loop. Trials are claimed per (architecture, budget key): a proposal's fidelity
    gives its own key (see :meth:`Evaluator.fidelity_key`), so the same architecture at two fidelities is
    two trials, and one already evaluated at a fidelity is told again, not evaluated again."""

    def __init__(self, study, executor: Executor, runner: TrialRunner, session: int, evaluator,
                 index: int, progress, trials: int | None, seconds: float | None, max_failures: int | None,
                 policy: str, stale_after: float, reserve: Callable[[], float] | None = None):
        self.study, self.store, self.ex, self.runner = study, study.storage, executor, runner
        self.session, self.evaluator = session, evaluator
        self.budget = evaluator.budget_key
        self.trials, self.seconds = trials, seconds
        self.reserve = reserve  # seconds of the time budget kept for what follows the search (see .timing)
        self.max_failures, self.policy, self.stale_after = max_failures, policy, stale_after
        self.strategy = strategy_for(study, index)
        self.reporter = make_reporter(progress, trials, seconds)
        self.known: dict[tuple[str, str], dict | None] = {}  # (arch id, budget) -> metrics (None: failed/infeasible)
        self.told: set[int] = set()
        self.inflight: dict[int, tuple[TrialRow, Proposal]] = {}
        self.requeue: list[Proposal] = []
        self.best: float | None = None  # of the first objective, "higher is better"
        self.points: dict[int, tuple] = {}  # trial number -> objective values, of complete trials
        self.counted = 0
        self.failed_in_row: list[str] = []
        self.new: list[Trial] = []
        self.curves: dict[str, list[dict]] = {}  # curve family -> learning curves of complete trials
        self.rules: dict[str, tuple[int, object]] = {}  # curve family -> (curves counted, StopRule or None)
        from ..evaluate.stopping import parse_rule
        self.stop_rule = parse_rule(study.early_stopping)
        # the state of run() (set again when it starts): why it stopped, since when it waits, proposals already
        # evaluated or claimed in a row, when it last looked for other processes' results and dead processes
        self.stop: str | None = None
        self.idle_since: float | None = None
        self.streak = 0
        self.last_sync = self.last_recover = self.sync_from = 0.0

    def _learn(self, r: TrialRow, arch: Architecture | None = None) -> Trial:
        arch = arch or Architecture.from_json(r.arch, self.study.space)
        score = score_of(self.study.objectives, r.metrics) if r.status == "complete" else None
        self.known[(r.arch_id, r.budget)] = r.metrics if r.status == "complete" else None
        self.strategy.tell_result(Result(arch, score, r.metrics, r.fidelity, r.number, r.status, r.parent))
        self.told.add(r.id)
        self.counted += 1
        curve = r.details.get("learning_curve") if r.status == "complete" and r.details else None
        if curve and self.stop_rule is not None:
            from ..evaluate.stopping import curve_family
            self.curves.setdefault(curve_family(r.budget), []).append(curve)
        if score is not None and r.budget == self.budget:
            self.points[r.number] = tuple(r.metrics[m] for m, _ in self.study.objectives)
            first = score[0] if isinstance(score, tuple) else score
            if self.best is None or first > self.best:
                self.best = first
        return Trial(r.number, arch, r.status, r.metrics, r.details, r.error, r.budget, r.seed, r.duration, r.id,
                     {}, self.study, fidelity=r.fidelity, parent=r.parent)

    def _best_shown(self) -> float | None:
        """The best value of the first objective so far, in its own units."""
        if self.best is None or self.study.objectives[0][1] == "max":
            return self.best
        return -self.best

    def _used(self) -> float:
        return self.base_used + time.monotonic() - self.t0

    def _time_left(self) -> bool:
        """Whether a trial may start: search time, plus the reserve for what follows, below the time budget (the
        reserve is 0 until a trial has measured how fast training goes)."""
        assert self.seconds is not None
        used = self._used()
        if used >= self.seconds:
            return False
        return self.reserve is None or used + self.reserve() < self.seconds

    def run(self) -> list[Trial]:
        """Search until the budget is met, the strategy is exhausted or stalls, or too many trials fail in a row:
        submit proposals while a worker is free, store the outcomes, learn what other processes stored and take
        over the trials of dead ones. Returns the trials this process finished."""
        self._replay()
        interrupted = True
        try:
            while True:
                can_submit = self.stop is None and (self.seconds is None or self._time_left())
                waiting = self._submit_while_free(can_submit)
                if not self.inflight:
                    if self._idle(can_submit, waiting):
                        break
                else:
                    self.idle_since = None
                for key, out in self.ex.wait(timeout=1.0):
                    self._store(key, out)
                    if self.max_failures and len(self.failed_in_row) >= self.max_failures:
                        self.stop = "failures"
                now = time.monotonic()
                if now - self.last_sync > SYNC_EVERY:  # results of other processes on this study
                    self._sync(now)
                if now - self.last_recover > RECOVER_EVERY:
                    self._recover_dead(now)
            interrupted = False
        finally:
            self._close(interrupted)
        self.stopped_by = self.stop
        if self.stop == "failures":
            reasons = collections.Counter(self.failed_in_row)
            reason, n = reasons.most_common(1)[0]
            raise ArchscoutError(
                f"stopping study {self.study.name!r}: the last {len(self.failed_in_row)} trials all failed "
                f"(--max-failures {self.max_failures}); most common reason ({n}x): {reason}. "
                f"See `archscout show {self.study.name} --failed`")
        return self.new

    def _replay(self) -> None:
        """Before the first proposal: requeue what dead processes left running, tell the strategy every finished
        trial, and start the clock and the progress display."""
        study = self.study
        self.requeue = [Proposal(a, f, p) for a, f, p in recover(study, self.budget, self.policy, self.stale_after)]
        for r in self.store.trials(study.id):
            if r.status in FINISHED:
                self._learn(r)
        if self.told:
            self.strategy.resume(len(self.told))
        self.t0, self.base_used = time.monotonic(), self.store.search_seconds(study.id)
        self.reporter.start(self.counted, self.base_used, self._best_shown(), study)
        self.stop = None
        self.idle_since = None
        self.streak = 0
        self.last_sync = self.last_recover = time.monotonic()
        self.sync_from = time.time()

    def _submit_while_free(self, can_submit: bool) -> bool:
        """Submit proposals while a worker is free; True when the strategy waits for running trials (a rung to
        fill)."""
        while can_submit and self.stop is None and self.ex.free() > 0:
            proposal = self.requeue.pop(0) if self.requeue else self._ask()
            if proposal is None:
                return True
            self._submit(proposal)
        return False

    def _submit(self, proposal: Proposal) -> None:
        """Claim and submit one proposal; one evaluated at its budget already is told again, not evaluated again,
        and one claimed by another trial is skipped (too many in a row: the strategy is exhausted)."""
        study = self.study
        arch = proposal.arch
        budget = self.evaluator.fidelity_key(proposal.fidelity)
        if (arch.id, budget) in self.known:  # evaluated at this budget already: tell, not evaluate again
            metrics = self.known[(arch.id, budget)]
            self.strategy.tell_result(Result(arch, score_of(study.objectives, metrics) if metrics
                                             else None, metrics or {}, proposal.fidelity,
                                             status="complete" if metrics else "failed",
                                             parent=proposal.parent))
            claimed = None
        else:
            claimed = self.store.claim_trial(study.id, arch.id, arch.to_json(), budget, study.seed,
                                             self.session, self.trials, fidelity=proposal.fidelity,
                                             parent=proposal.parent)
            if claimed.full:
                self.stop = "budget"
                return
        if claimed is None or claimed.taken:
            self.streak += 1
            if self.streak >= MAX_DUPLICATE_STREAK:
                self.reporter.note(f"the strategy proposed {self.streak} already evaluated or claimed "
                                   f"architectures in a row: it has converged, or the space is exhausted; stopping")
                self.stop = "exhausted"
            return
        self.streak = 0
        self.ex.submit(claimed.trial.id, arch.to_json(), study.seed, proposal.fidelity, self._stop_rule(budget))
        self.inflight[claimed.trial.id] = (claimed.trial, proposal)

    def _idle(self, can_submit: bool, waiting: bool) -> bool:
        """Nothing of this process runs: True when the search is over, else wait a moment (for other processes'
        running trials, or for the results a waiting strategy needs; none coming for a while stops it)."""
        if self.stop is not None or not can_submit:
            return True
        if waiting:
            self.idle_since = self.idle_since or time.monotonic()
            if time.monotonic() - self.idle_since > WAIT_LIMIT and not self.store.running_trials(self.study.id):
                self.reporter.note(f"the {self.study.strategy_name} strategy waits for results that no "
                                   f"running trial will give; stopping")
                self.stop = "stalled"
                return True
            self.last_sync = 0.0  # the awaited results are other processes': look for them now
        time.sleep(0.2)  # every candidate is held by other processes' running trials: wait for them
        return False

    def _sync(self, now: float) -> None:
        """Learn the results other processes stored since the last look."""
        t = time.time()
        for r in self.store.trials(self.study.id, finished_after=self.sync_from - 120, exclude_session=self.session):
            if r.id not in self.told:
                self._learn(r)
        self.sync_from, self.last_sync = t, now

    def _recover_dead(self, now: float) -> None:
        """Queue again the trials that processes which died since the last look left running."""
        queued = {(p.arch.id, str(p.fidelity)) for p in self.requeue}
        self.requeue.extend(Proposal(a, f, p) for a, f, p in recover(self.study, self.budget, self.policy,
                                                                      self.stale_after)
                            if (a.id, str(f)) not in queued)
        self.last_recover = now

    def _close(self, interrupted: bool) -> None:
        """Stop the executor; trials still running are interrupted (or failed, by the policy)."""
        self.ex.close()
        if self.inflight:
            why = "the search was interrupted" if interrupted else "the search stopped"
            self.store.interrupt_trials(list(self.inflight), f"{why} while this trial was running",
                                        fail=self.policy == "fail")
        self.reporter.stop()

    def _ask(self) -> Proposal | None:
        proposal = self.strategy.ask()
        return None if proposal is None else Proposal.of(proposal)

    def _stop_rule(self, budget: str):
        """The early-stopping rule a trial at ``budget`` is held to (None: no rule, or too few curves yet)."""
        if self.stop_rule is None:
            return None
        from ..evaluate.stopping import StopRule, curve_family
        family = curve_family(budget)
        curves = self.curves.get(family, [])
        cached = self.rules.get(family)
        if cached is None or cached[0] != len(curves):
            metric, direction = self.study.objectives[0]
            name, percentile = self.stop_rule
            cached = (len(curves), StopRule.from_curves(curves, metric, direction == "max", name, percentile))
            self.rules[family] = cached
        return cached[1]

    def _store(self, key: int, out: Outcome) -> None:
        row, proposal = self.inflight.pop(key)
        arch = proposal.arch
        if proposal.details:
            out.details.update(proposal.details)
        if proposal.fidelity:
            out.details["fidelity"] = proposal.fidelity
        if "continued_from" in out.details and proposal.parent is not None:
            out.details["continued_from"]["trial"] = proposal.parent
        front = None
        if self.study.multi_objective and row.budget == self.budget:  # the front with this result, stored with it
            points = dict(self.points)
            if out.status == "complete" and score_of(self.study.objectives, out.metrics) is not None:
                points[row.number] = tuple(out.metrics[m] for m, _ in self.study.objectives)
            front = {"finished": self.counted + 1, **self.study._front_with(points)}
        if not self.store.finish_trial(row.id, out.status, out.metrics, out.details, out.error, front):
            self.reporter.note(f"trial #{row.number} was declared interrupted by another process "
                               f"before it finished; its result is not stored")
            return
        done = TrialRow(row.id, row.study_id, row.number, row.arch_id, row.arch, row.budget, out.status,
                        out.metrics, out.details, out.error, row.seed, row.started_at, time.time(), self.session,
                        row.fidelity, row.parent)
        trial = self._learn(done, arch)
        if out.status == "failed":
            self.failed_in_row.append(reason_kind(out.error))
        else:
            self.failed_in_row.clear()
        self.new.append(trial)
        self.reporter.trial(trial, self.counted, self._used(), self._best_shown())


def reason_kind(error: str | None) -> str:
    """A failure reason without the numbers that differ from trial to trial (for grouping)."""
    return re.sub(r"\d+(\.\d+)?", "N", (error or "unknown")[:200])
