"""Recording what a method derived itself: a supernet's sub-network or a differentiable search's discretised
cell, with the metrics it measured, stored as a trial like any other (see :meth:`Study.record
<archscout.study.Study.record>`)."""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

from ..errors import ArchscoutError
from ..space import Architecture
from ..storage import FINISHED

if TYPE_CHECKING:
    from .study import Study
    from .trial import Trial


def _architecture(study: Study, arch: Architecture | dict | str) -> Architecture:
    """``arch`` as an architecture of the study's space (given as one, as its values or as its JSON)."""
    if isinstance(arch, dict):  # the architecture's values
        arch = study.space.architecture(arch)
    elif isinstance(arch, str):
        arch = Architecture.from_json(arch, study.space)
    if not isinstance(arch, Architecture):
        raise ArchscoutError(f"record() takes an Architecture of the study's space, got {type(arch).__name__}")
    if arch.space_name != study.space.name:
        raise ArchscoutError(f"record(): the architecture is of the {arch.space_name!r} space, the study searches "
                             f"{study.space.name!r}")
    return arch


def _status(study: Study, metrics: dict, status: str, error: str | None) -> tuple[str, str | None]:
    """The status and error to store: ``metrics`` checked, a complete trial that breaks a constraint infeasible."""
    if status not in FINISHED:
        raise ArchscoutError(f"record(): status is one of {', '.join(FINISHED)}, got {status!r}")
    if not isinstance(metrics, dict) or any(not isinstance(k, str) for k in metrics):
        raise ArchscoutError("record(): metrics is a dict {metric name: value}")
    bad = [k for k, v in metrics.items() if isinstance(v, bool) or not isinstance(v, (int, float))
           or not math.isfinite(v)]
    if bad:
        raise ArchscoutError(f"record(): metrics must be finite numbers; {', '.join(bad)} are not")
    if status == "complete":
        missing = [m for m, _ in study.objectives if m not in metrics]
        if missing:
            raise ArchscoutError(f"record(): a complete trial needs every objective; missing "
                                 f"{', '.join(missing)}")
        error = next((r for r in (c.check(metrics) for c in study.constraints) if r), None)
        if error:
            status = "infeasible"
    elif not error:
        raise ArchscoutError(f"record(): a {status} trial needs the reason (error=...)")
    return status, error


def record(study: Study, arch: Architecture | dict | str, metrics: dict, *, details: dict | None, status: str,
           error: str | None, fidelity: dict | None, parent: int | None, source: str | None) -> Trial:
    """Store ``arch`` with ``metrics`` as a trial of ``study`` and return it (see :meth:`Study.record
    <archscout.study.Study.record>`)."""
    arch = _architecture(study, arch)
    status, error = _status(study, metrics, status, error)
    # the key a search would store this architecture under at that fidelity, so it is not evaluated again
    if study._key_evaluator is None:
        study._key_evaluator = study.evaluator()
    budget = study._key_evaluator.fidelity_key(fidelity)
    claim = study.storage.claim_trial(study.id, arch.id, arch.to_json(), budget, study.seed, fidelity=fidelity,
                                      parent=parent)
    if claim.trial is None:
        raise ArchscoutError(f"record(): architecture {arch.describe()} is stored already at this fidelity")
    details = dict(details or {})
    details["recorded_by"] = source or "record"
    study.storage.finish_trial(claim.trial.id, status, dict(metrics), details, error)
    return study.trial(claim.trial.number)
