"""A study running a differentiable method: search, derive the cell, train it with the study's evaluator, record it."""
from __future__ import annotations

from ...errors import ArchscoutError, TrialFailed

KEPT = ("method", "config", "seed", "steps_run", "stopped_early_at", "stop_reason", "seconds", "seconds_per_step",
        "peak_rss_mb", "collapsed", "parameter_free_edges", "history", "operations", "latency_table_ms", "selection")


def _recorded(study, strategy) -> list:
    """The trials ``strategy`` recorded in ``study`` already (a one-shot method records once)."""
    return [t for t in study.trials() if (t.details or {}).get("recorded_by") == strategy.name]


def _sayer(progress):
    return print if progress is True else (progress if callable(progress) else None)


def run_differentiable(study, strategy, progress=None) -> list:
    """Run ``strategy``'s method (a :class:`~archscout.oneshot.differentiable.strategies.DifferentiableStrategy`) on the study's task once;
    the derived cell is trained and scored by the study's evaluator and recorded as a trial. A study that has
    recorded it already is not searched again."""
    if not study.evaluator_spec.needs_task:
        raise ArchscoutError(f"{strategy.name} trains a relaxed network on a task; the {study.evaluator_spec.name} "
                             f"evaluator has none (use --evaluator train)")
    done, say = _recorded(study, strategy), _sayer(progress)
    if done:
        return done
    from .search import search_cell

    result = search_cell(study.task, strategy.config, seed=study.seed, progress=say,
                         device=study.evaluator().torch_device())
    arch = study.space.architecture(result["cell"])
    details = {"differentiable": {k: result[k] for k in KEPT}}
    if say:
        say(f"{strategy.name} derived {study.space.describe(arch)}"
            + (" (collapsed: mostly parameter-free operations)" if result["collapsed"] else "")
            + (f", stopped early at step {result['stopped_early_at']} ({result['stop_reason']})"
               if result["stopped_early_at"] else "")
            + "; training it with the study's recipe")
    try:
        ev = study.evaluator().evaluate(arch, seed=study.seed)
    except TrialFailed as e:
        return [study.record(arch, {}, details=details, status="failed", error=str(e), source=strategy.name)]
    return [study.record(arch, ev.metrics, details={**ev.details, **details}, source=strategy.name)]


GRAPH_KEPT = ("method", "config", "seed", "link", "operations", "collapsed", "weight_bits", "activation_bits", "history",
              "seconds", "seconds_per_step", "peak_rss_mb", "operation_names", "bits")


def run_graph_precision(study, strategy, progress=None) -> list:
    """LPGNAS-style search (:mod:`.graph_precision`) on the study's graph task: the derived GNN is trained and scored
    by the study's evaluator in fp32, then trained again with its bit widths (quantisation-aware, same recipe) and
    scored quantised; one trial holds both (``accuracy`` and ``accuracy@mixed``, ``size_bytes@fp32`` and
    ``size_bytes@mixed``)."""
    if study.evaluator_spec.name != "train":
        raise ArchscoutError(f"{strategy.name} trains a relaxed GNN on a graph task and then the derived one; use "
                             f"--evaluator train, not {study.evaluator_spec.name}")
    done, say = _recorded(study, strategy), _sayer(progress)
    if done:
        return done
    from .graph_precision import score_quantized, search_graph_precision

    result = search_graph_precision(study.task, strategy.config, seed=study.seed, progress=say)
    arch = study.space.architecture(result["values"])
    details = {"graph_precision": {k: result[k] for k in GRAPH_KEPT}}
    if say:
        say(f"{strategy.name} derived {study.space.describe(arch)}"
            + (" (collapsed: every node's strongest operator was skip)" if result["collapsed"] else "")
            + "; weight bits "
            f"{result['weight_bits']}, activation bits {result['activation_bits']}; training it in fp32 and "
            f"quantised with the study's recipe")
    evaluator = study.evaluator()
    try:
        ev = evaluator.evaluate(arch, seed=study.seed)
    except TrialFailed as e:
        return [study.record(arch, {}, details=details, status="failed", error=str(e), source=strategy.name)]
    metrics = dict(ev.metrics)
    try:  # the fp32 result is kept whatever happens to the quantised one
        q = score_quantized(study.task, result, evaluator.with_recipe(evaluator.config_at(None), arch),
                            seed=study.seed)
        metrics.update({"accuracy@mixed": q["accuracy"], "loss@mixed": q["loss"], "size_bytes@mixed": q["size_bytes"]})
        details["graph_precision"]["quantized"] = q
    except TrialFailed as e:
        details["graph_precision"]["quantized_error"] = str(e)
    return [study.record(arch, metrics, details={**ev.details, **details}, source=strategy.name)]
