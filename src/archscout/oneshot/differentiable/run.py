"""A study running a differentiable method: search, derive the cell, train it with the study's evaluator, record it."""
from __future__ import annotations

from ...errors import ArchscoutError, TrialFailed

KEPT = ("method", "config", "seed", "steps_run", "stopped_early_at", "seconds", "seconds_per_step", "peak_rss_mb",
        "collapsed", "parameter_free_edges", "history", "operations", "latency_table_ms", "selection")


def run_differentiable(study, strategy, progress=None) -> list:
    """Run ``strategy``'s method (a :class:`~archscout.strategy._oneshot._Differentiable`) on the study's task once;
    the derived cell is trained and scored by the study's evaluator and recorded as a trial. A study that has
    recorded it already is not searched again."""
    if not study.evaluator_spec.needs_task:
        raise ArchscoutError(f"{strategy.name} trains a relaxed network on a task; the {study.evaluator_spec.name} "
                             f"evaluator has none (use --evaluator train)")
    done = [t for t in study.trials() if (t.details or {}).get("recorded_by") == strategy.name]
    if done:
        return done
    from .search import search_cell

    say = print if progress is True else (progress if callable(progress) else None)
    result = search_cell(study.task, strategy.config, seed=study.seed, progress=say,
                         device=study.evaluator().torch_device())
    arch = study.space.architecture(result["cell"])
    details = {"differentiable": {k: result[k] for k in KEPT}}
    if say:
        say(f"{strategy.name} derived {study.space.describe(arch)}"
            + (" (collapsed: mostly parameter-free operations)" if result["collapsed"] else "")
            + (f", stopped early at step {result['stopped_early_at']}" if result["stopped_early_at"] else "")
            + "; training it with the study's recipe")
    try:
        ev = study.evaluator().evaluate(arch, seed=study.seed)
    except TrialFailed as e:
        return [study.record(arch, {}, details=details, status="failed", error=str(e), source=strategy.name)]
    return [study.record(arch, ev.metrics, details={**ev.details, **details}, source=strategy.name)]
