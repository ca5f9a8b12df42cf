"""Fidelity ranking: which trials a study's leaderboard, front and ``best()`` compare (those at the highest
fidelity a complete trial reached), and in which order (revalidated means first, when the choice was validated
again)."""
from __future__ import annotations

import math

from ..errors import ArchscoutError
from ..pareto import nondominated
from . import fronts as _fronts


def fidelity_level(study, fidelity: dict | None) -> float:
    """Where a fidelity ranks: its largest value; the study's own budget (None) counts as what it is in the
    evaluator's terms (its training steps or epochs), or above everything for an evaluator without one."""
    if fidelity is None:
        fidelity = study.evaluator_spec.cls.default_fidelity(study.evaluator_spec.options, study.train_config)
        if fidelity is None:
            return math.inf
    return float(max(fidelity.values()))


def scored(study) -> list:
    """The complete trials with a finite value of every objective."""
    return [t for t in study.trials("complete") if study.score(t.metrics) is not None]


def ranked_fidelity(study, trials: list | None = None) -> float:
    """The fidelity the leaderboard, the front and ``best()`` compare trials at: the highest that a complete
    trial reached (the study's own before any completes)."""
    trials = trials if trials is not None else scored(study)
    return max((fidelity_level(study, t.fidelity) for t in trials), default=fidelity_level(study, None))


def leaderboard(study, n: int | None = None) -> list:
    """Complete trials at the ranked fidelity that meet every constraint, best first (see
    :meth:`Study.leaderboard <archscout.study.Study.leaderboard>`)."""
    complete = scored(study)
    level = ranked_fidelity(study, complete)
    ranked = [t for t in complete if fidelity_level(study, t.fidelity) == level]
    ranked.sort(key=lambda t: _fronts.rank_key(study.objectives, t))
    means = study.revalidated_means() if not study.multi_objective else {}
    if means:  # the choice that survives noise: validated again with more seeds, they rank by their mean
        sign = -1.0 if study.objectives[0][1] == "max" else 1.0
        ranked.sort(key=lambda t: (0, sign * means[t.number]) if t.number in means else (1, 0.0))
    return ranked[:n] if n else ranked


def unranked(study) -> list:
    """Complete trials left out of the leaderboard because they ran at a lower fidelity than it compares."""
    complete = scored(study)
    level = ranked_fidelity(study, complete)
    return [t for t in complete if fidelity_level(study, t.fidelity) != level]


def revalidated_means(study) -> dict[int, float]:
    """Per trial number, the first objective's mean over the search's seed and the repeated ones (empty when
    none was validated again, or the evaluator trains nothing)."""
    if not study.evaluator_spec.trains:
        return {}
    from .diagnostics import revalidation
    return {number: r["mean"] for number, r in revalidation(study).items()}


def front(study) -> list:
    """The leaderboard's trials that no other of them dominates on the objectives; with one objective, the best."""
    board = study.leaderboard()
    if not study.multi_objective or not board:
        return board[:1]
    on_front = set(nondominated(study.minimised(board)).tolist())
    return [t for i, t in enumerate(board) if i in on_front]


def best(study):
    """The leaderboard's first trial (an error when no trial completed)."""
    board = study.leaderboard(1)
    if not board:
        raise ArchscoutError(f"study {study.name!r} has no completed trial yet")
    return board[0]
