"""A study running a differentiable method: search, derive the cell, train it with the study's evaluator, record it."""
from __future__ import annotations

from contextlib import contextmanager

from ...errors import ArchscoutError, TrialFailed

KEPT = ("method", "config", "seed", "steps_run", "stopped_early_at", "stop_reason", "seconds", "seconds_per_step",
        "peak_rss_mb", "collapsed", "parameter_free_edges", "history", "operations", "latency_table_ms", "selection")


def _recorded(study, strategy) -> list:
    """The trials ``strategy`` recorded in ``study`` already (a one-shot method records once)."""
    return [t for t in study.trials() if (t.details or {}).get("recorded_by") == strategy.name]


def _events(progress):
    """``fn(event, **data)`` for a run's progress: a callable ``progress`` gets the events itself (``"note"`` with
    ``text`` for each check of the search, ``"searched"`` once the cell is derived, its ``text`` a line that says
    what was derived, with the fields of that line); ``True`` prints each event's text; anything else: None."""
    if callable(progress):
        return progress
    if progress is True:
        return lambda event, **data: print(data["text"])
    return None


def duration(seconds: float) -> str:
    """Seconds under a minute in seconds, longer in minutes."""
    return f"{seconds:.0f} s" if seconds < 59.5 else f"{seconds / 60:.1f} min"


def searched_line(strategy: str, cell: str, steps: int, seconds: float, collapsed: bool,
                  parameter_free_edges: int | None = None, stopped_early_at: int | None = None,
                  stop_reason: str | None = None, **more) -> str:
    """What a differentiable search derived, in one line (the ``"searched"`` event's text)."""
    said = [f"{strategy} searched {steps:,} steps in {duration(seconds)}"
            + (f", stopped early at step {stopped_early_at} ({stop_reason})" if stopped_early_at else "")
            + f": derived {cell}"]
    if parameter_free_edges is not None:
        said.append(f"{parameter_free_edges} of 6 edges parameter-free")
    said.extend(f"{k.replace('_', ' ')} {v}" for k, v in more.items())
    why = "mostly parameter-free operations" if parameter_free_edges is not None else \
        "every node's strongest operator was skip"
    said.append(f"collapsed ({why})" if collapsed else "not collapsed")
    return "; ".join(said)


@contextmanager
def _session(study, strategy):
    """The search as a session of the study, so that its time counts in the study's search time (a step's note
    is its heartbeat)."""
    storage = study.storage
    session = storage.open_session(study.id, {"oneshot": strategy.name})
    try:
        yield lambda: storage.heartbeat(session)
    finally:
        storage.close_session(session)


def _sayer(emit, beat):
    """The search's progress hook: each check's line is a heartbeat and, with ``emit``, a ``"note"`` event."""
    def say(text: str) -> None:
        beat()
        if emit is not None:
            emit("note", text=text)
    return say


def _announce(emit, then: str, **data) -> None:
    """The ``"searched"`` event: what was derived, and ``then`` what happens to it."""
    if emit is not None:
        emit("searched", text=f"{searched_line(**data)}; {then}", **data)


def run_differentiable(study, strategy, progress=None) -> list:
    """Run ``strategy``'s method (a :class:`~archscout.oneshot.differentiable.strategies.DifferentiableStrategy`) on the study's task once;
    the derived cell is trained and scored by the study's evaluator and recorded as a trial. A study that has
    recorded it already is not searched again."""
    if not study.evaluator_spec.needs_task:
        raise ArchscoutError(f"{strategy.name} trains a relaxed network on a task; the {study.evaluator_spec.name} "
                             f"evaluator has none (use --evaluator train)")
    done, emit = _recorded(study, strategy), _events(progress)
    if done:
        return done
    with _session(study, strategy) as beat:
        return _search_and_record(study, strategy, emit, beat)


def _search_and_record(study, strategy, emit, beat) -> list:
    from .search import search_cell

    result = search_cell(study.task, strategy.config, seed=study.seed, progress=_sayer(emit, beat),
                         device=study.evaluator().torch_device())
    arch = study.space.architecture(result["cell"])
    details = {"differentiable": {k: result[k] for k in KEPT}}
    _announce(emit, "training it with the study's recipe", strategy=strategy.name, cell=study.space.describe(arch),
              steps=result["steps_run"], seconds=result["seconds"], collapsed=result["collapsed"],
              parameter_free_edges=result["parameter_free_edges"], stopped_early_at=result["stopped_early_at"],
              stop_reason=result["stop_reason"])
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
    done, emit = _recorded(study, strategy), _events(progress)
    if done:
        return done
    with _session(study, strategy) as beat:
        return _search_graph_and_record(study, strategy, emit, beat)


def _search_graph_and_record(study, strategy, emit, beat) -> list:
    from .graph_precision import score_quantized, search_graph_precision

    result = search_graph_precision(study.task, strategy.config, seed=study.seed, progress=_sayer(emit, beat))
    arch = study.space.architecture(result["values"])
    details = {"graph_precision": {k: result[k] for k in GRAPH_KEPT}}
    _announce(emit, "training it in fp32 and quantised with the study's recipe", strategy=strategy.name,
              cell=study.space.describe(arch), steps=strategy.config.steps, seconds=result["seconds"],
              collapsed=result["collapsed"], weight_bits=result["weight_bits"],
              activation_bits=result["activation_bits"])
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
