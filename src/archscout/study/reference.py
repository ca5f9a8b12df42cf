"""The hypervolume reference point of a study with several objectives: the user's, or fixed (and stored, with
where each coordinate came from) from the study's first results the first time a front needs it."""
from __future__ import annotations

import numpy as np

from ..pareto import to_minimise
from . import fronts as _fronts


def front_with(study, points: dict[int, tuple]) -> dict:
    """The front (trial numbers) and hypervolume of ``points`` (trial number -> objective values),
    fixing the study's reference point from the first results if the user gave none."""
    numbers = sorted(points)
    F = to_minimise([points[n] for n in numbers], [w for _, w in study.objectives])
    return _fronts.front_with(study.objectives, points, reference(study, F))


def reference(study, F: np.ndarray) -> np.ndarray | None:
    """The reference point in minimisation form, fixed (and stored, with where each coordinate came from) the
    first time it is needed (see :func:`archscout.study.fronts.default_reference`). Until then there is no
    hypervolume (None)."""
    if study.reference_point is None or len(study.reference_point) < len(study.objectives):
        config = study._stored_config()
        stored = config.get("reference_point") or {}
        if len(stored) < len(study.objectives):  # first to fix it; another process may have done so
            rows = None if study.evaluator_spec.needs_task else study.evaluator().rows()
            fixed = _fronts.default_reference(study.objectives, study.constraints, study.reference_point, rows, F,
                                              study._space_values)
            if fixed is None:
                return None
            stored, sources = fixed
            config = {**config, "reference_point": stored, "reference_sources": sources}
            study.storage.update_config(study.id, config)
        study.reference_point = stored
    return to_minimise([[study.reference_point[m] for m, _ in study.objectives]],
                       [w for _, w in study.objectives])[0]


def space_values(study, metric: str) -> list[float] | None:
    """A cost computed from the network alone (parameters, FLOPs, FP32 size) over the space's examined
    architectures (:func:`archscout.study.bounds.examined`); None for any other metric or evaluator."""
    from .bounds import space_costs
    if not study.evaluator_spec.needs_task:
        return None
    evaluator = study.evaluator()
    if not hasattr(evaluator, "static_costs"):
        return None
    return space_costs(study.space, evaluator, metric, seed=0)


def sources(study) -> dict:
    """Where each coordinate of the reference point came from (see ``fronts.REFERENCE_SOURCES``; a study
    written before this was recorded: {})."""
    found = study._stored_config().get("reference_sources") or {}
    return {m: s for m, s in found.items() if m in (study.reference_point or {})}


def note(study) -> str | None:
    """A warning when the hypervolume depends on this study's own results (not comparable across studies)."""
    own = [m for m, s in sources(study).items() if s == "study"]
    if not own:
        return None
    return (f"the reference point's {', '.join(own)} came from this study's first results, so its hypervolume "
            f"is not comparable with another study's; give {' '.join(f'--reference {m}=VALUE' for m in own)} "
            f"to every study you compare")


def front_history(study) -> list[dict]:
    """The front after each finished trial, with its hypervolume at the reference point stored now (see
    :meth:`Study.fronts <archscout.study.Study.fronts>`): [] with one objective."""
    if not study.multi_objective:
        return []
    point = study.reference_point
    if point is None or len(point) < len(study.objectives):  # fixed by a search since this was opened?
        point = study._stored_config().get("reference_point") or {}
    with study.snapshot() as trials:
        level = study.ranked_fidelity()
        ranked = [t for t in trials if study._fidelity_level(t.fidelity) == level]
    return _fronts.front_history(study.objectives, point, ranked)
