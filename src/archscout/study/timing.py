"""A time budget for a whole run: the search stops starting trials once the time left is what revalidating and
retraining the best is estimated to take.

``archscout search --time-budget 30m`` bounds the whole command: the search, the revalidation of the best
(``--revalidate K`` × ``--revalidate-seeds S`` runs at the search's top fidelity) and the final retraining
(``--top-k`` × ``--final-seeds`` runs of the final budget). The command cannot know at the start how long those
runs take (that depends on the networks the search finds), so :class:`TimeSplit` estimates it from the trials
themselves, again as they finish: each candidate's seconds per training step (``train_seconds`` over the steps it
trained) times the steps each run needs, plus its evaluation overhead (measuring latency, scoring), for the
candidates that lead now, with a margin. The search goes on while its time plus that estimate is within the
budget; the split is printed when the search ends and when the command ends (what each step really took).

The reserve never exceeds half the budget (:data:`RESERVE_SHARE`): when the leaders train slowly, the search still
gets half the time, and what follows it is fitted into the rest. The estimate can also be short (the leaders change,
a network trains slower than its trial did). Either way, each step after the search is fitted again into the time
left once it is known what it will train: the revalidation drops seeds, then leaders (down to 2), keeping room for
one final seed, and is skipped when even that does not fit; the final retraining drops seeds, down to one (a model
always comes out). The command says what it dropped; a budget too small for one final seed is still overrun, and the
end says by how much.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

MARGIN = 1.05  # the estimate is raised by this much (measured: the estimates ran 1.1-2.1x over what the steps took)
# a second thread trains the small networks of a search 1.25x faster (docs/benchmarks/throughput.md): how much faster
# the revalidation and the retraining, in the command's process on every core, train than a 1-thread worker did
THREAD_SPEEDUP = 1.25
REFRESH = 5.0  # seconds between estimates (each reads the leaderboard)
# the most of the budget the reserve keeps from the search: the search gets at least the rest, and what follows it
# is fitted into what is left (make demo on a slow VM searched 31 s of 600 when the leaders' retraining alone was
# estimated above the budget)
RESERVE_SHARE = 0.5


@dataclass
class Finish:
    """What happens after the search: ``revalidate`` best × ``revalidate_seeds`` runs at the top fidelity, then
    ``top_k`` × ``final_seeds`` runs of ``final_steps`` steps."""

    revalidate: int
    revalidate_seeds: int
    top_k: int
    final_seeds: int


def speedup(search_threads: int, own_threads: int) -> float:
    """How much faster a run on ``own_threads`` trains than on ``search_threads``: :data:`THREAD_SPEEDUP` per
    doubling (1 when it has no more)."""
    if own_threads <= search_threads:
        return 1.0
    return float(THREAD_SPEEDUP ** math.log2(own_threads / search_threads))


def run_seconds(trial, steps: float | None, faster: float = 1.0) -> float | None:
    """Seconds one training run of ``trial``'s candidate for ``steps`` steps takes, from its own trial: its seconds
    per trained step times ``steps`` (divided by ``faster``), plus what its trial spent besides training. None when
    the trial says nothing."""
    train = trial.metrics.get("train_seconds") if trial.metrics else None
    trained = ((trial.details or {}).get("train") or {}).get("trained_steps")
    if not train or not trained or steps is None:
        return None
    other = max(0.0, (trial.duration or 0.0) - train)
    return float(train) / float(trained) * float(steps) / faster + other


class TimeSplit:
    """The reserve a search leaves for what follows it (see the module): :meth:`reserve` is read by the search loop
    before it starts a trial."""

    def __init__(self, study, total: float, finish: Finish, speedup: float = 1.0):
        """``speedup``: how much faster the steps after the search train than the search's trials did (more
        threads: see :func:`speedup`)."""
        self.study, self.total, self.finish, self.speedup = study, float(total), finish, float(speedup)
        self._cached: tuple[float, float] | None = None  # (when, reserve)
        self.started = time.monotonic()

    def _steps(self) -> tuple[float | None, float | None]:
        top = (self.study.top_fidelity or {}).get("steps")
        final = self.study.final_train.steps if self.study.final_train.epochs is None else None
        return top, final

    def estimate(self) -> float:
        """Seconds the revalidation and the final retraining are estimated to take, given the trials so far."""
        f = self.finish
        if f.revalidate == 0 and (f.top_k == 0 or f.final_seeds == 0):
            return 0.0
        top_steps, final_steps = self._steps()
        trials = self.study.trials()
        per_step = sorted(t.metrics["train_seconds"] / t.details["train"]["trained_steps"] for t in trials
                          if t.status == "complete" and not t.final and (t.metrics or {}).get("train_seconds")
                          and ((t.details or {}).get("train") or {}).get("trained_steps"))
        if not per_step:
            return 0.0  # nothing measured yet: the first trials run whatever the estimate
        slow = per_step[int(0.75 * (len(per_step) - 1))]  # a stand-in for leaders without a measurement

        def cost(trial, steps) -> float:
            known = run_seconds(trial, steps, self.speedup)
            return known if known is not None else slow * float(steps or 0) / self.speedup

        leaders = self.study.leaderboard(max(f.revalidate, f.top_k, 1))
        if not leaders:
            leaders_cost = [slow * float(top_steps or 0) / self.speedup]
            final_cost = [slow * float(final_steps or 0) / self.speedup]
        else:
            # a leader is validated again at its own fidelity (the leaderboard's, the highest reached so far)
            leaders_cost = [cost(t, ((getattr(t, "fidelity", None) or {}).get("steps", top_steps)))
                            for t in leaders[:f.revalidate]]
            final_cost = [cost(t, final_steps) for t in leaders[:max(f.revalidate, f.top_k)]]
        folds = int(getattr(self.study.task, "folds", None) or 1) if self.study.evaluator_spec.needs_task else 1
        revalidation = sum(leaders_cost) * f.revalidate_seeds * folds
        # which candidate the final retraining gets is known only after the revalidation: the slowest contender
        retraining = max(final_cost) * f.top_k * f.final_seeds if final_cost else 0.0
        return MARGIN * (revalidation + retraining)

    def left(self) -> float:
        """Seconds of the budget left now."""
        return self.total - (time.monotonic() - self.started)

    def _final_costs(self, trials) -> list[float] | None:
        """Seconds of one final seed of each of ``trials`` (None when one of them says nothing)."""
        _, final_steps = self._steps()
        costs = [run_seconds(t, final_steps, self.speedup) for t in trials]
        return None if any(c is None for c in costs) else costs  # type: ignore[return-value]

    def revalidation_that_fits(self, trials, seeds: int) -> tuple[int, int]:
        """(leaders, seeds) of the revalidation of ``trials`` (the contenders, best first) that fit in the time left
        with one final seed of the slowest of them after it: fewer seeds first, then fewer leaders (at least 2, or 1
        when 1 was asked);
        (0, 0) when none fits. What was asked when a trial says nothing of its speed."""
        k = len(trials)
        finals = self._final_costs(trials) if self.finish.top_k and self.finish.final_seeds else []
        top_steps, _ = self._steps()
        costs = [run_seconds(t, ((getattr(t, "fidelity", None) or {}).get("steps", top_steps)), self.speedup)
                 for t in trials]
        if finals is None or any(c is None for c in costs):
            return k, seeds
        folds = int(getattr(self.study.task, "folds", None) or 1) if self.study.evaluator_spec.needs_task else 1
        after = max(finals) * self.finish.top_k if finals else 0.0
        left = self.left()
        for leaders in range(k, min(k, 2) - 1, -1):
            for s in range(seeds, 0, -1):
                if MARGIN * (sum(costs[:leaders]) * s * folds + after) <= left:  # type: ignore[arg-type]
                    return leaders, s
        return 0, 0

    def seeds_that_fit(self, trials, seeds: int) -> int:
        """How many of ``seeds`` final seeds of each of ``trials`` fit in the time left: at least 1; ``seeds`` when a
        trial says nothing of its speed."""
        costs = self._final_costs(trials)
        if not costs:
            return seeds
        return max(1, min(seeds, int(self.left() // (MARGIN * sum(costs)))))

    def searched(self) -> None:
        self.search_end = time.monotonic()
        self.estimated = self.estimate()

    def revalidated(self) -> None:
        self.revalidate_end = time.monotonic()

    def summary(self) -> str:
        """What each step took, against the budget (this process's run: a resumed search's earlier time aside)."""
        end = time.monotonic()
        search_end = getattr(self, "search_end", end)
        revalidate_end = getattr(self, "revalidate_end", search_end)
        total = end - self.started
        over = ""
        if total > self.total:
            over = (f", {total - self.total:.0f} s over it (the budget is too small for what follows the search: "
                    f"fewer --top-k, --final-seeds or --final-steps, or a longer --time-budget)")
        return (f"time: search {search_end - self.started:.0f} s, revalidation {revalidate_end - search_end:.0f} s, "
                f"final retraining {end - revalidate_end:.0f} s (estimated {getattr(self, 'estimated', 0.0):.0f} s "
                f"for both when the search stopped): {total:.0f} s of the {self.total:.0f} s budget{over}")

    def reserve(self) -> float:
        """The time kept from the search: the estimate, at most :data:`RESERVE_SHARE` of the budget."""
        now = time.monotonic()
        if self._cached is None or now - self._cached[0] >= REFRESH:
            self._cached = (now, min(self.estimate(), RESERVE_SHARE * self.total))
        return self._cached[1]

    def describe(self) -> str:
        f = self.finish
        parts = []
        if f.revalidate:
            parts.append(f"revalidating the best {f.revalidate} with {f.revalidate_seeds} more seed(s) each")
        if f.top_k and f.final_seeds:
            parts.append(f"retraining {f.top_k} × {f.final_seeds} seed(s)")
        if not parts:
            return f"time budget {self.total:g} s: all of it for the search"
        return (f"time budget {self.total:g} s for the whole run: the search stops starting trials once the time "
                f"left is what {' and '.join(parts)} is estimated to take (from the trials' own speed; at most "
                f"half the budget, the steps dropping seeds to fit)")
