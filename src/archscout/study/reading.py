"""Reading a study's trials from its storage: every trial, one by number, and snapshots (one read that every
table and figure of a report shares while a search goes on)."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from ..errors import ArchscoutError
from ..space import Architecture
from ..storage import TrialRow
from .trial import Trial

if TYPE_CHECKING:
    from .study import Study


@contextmanager
def snapshot(study: Study) -> Iterator[list[Trial]]:
    """The trials as they were when the block began, for every read within it (see :meth:`Study.snapshot
    <archscout.study.Study.snapshot>`); within another snapshot, that one."""
    if study._snapshot is not None:
        yield list(study._snapshot)
        return
    study._snapshot = study.trials()
    try:
        yield list(study._snapshot)
    finally:
        study._snapshot = None


def trials(study: Study, status: str | None = None) -> list[Trial]:
    """The study's trials in number order (those of ``status`` only, if given), from the snapshot if one is open."""
    if study._snapshot is not None:
        return [t for t in study._snapshot if status is None or t.status == status]
    finals = study._final_summary()
    return [trial_of(study, r, finals.get(r.id, {})) for r in study.storage.trials(study.id)
            if status is None or r.status == status]


def trial(study: Study, number: int) -> Trial:
    """The trial of that number (an error naming the study when there is none)."""
    row = next((r for r in study.storage.trials(study.id) if r.number == number), None)
    if row is None:
        raise ArchscoutError(f"study {study.name!r} has no trial #{number}")
    return trial_of(study, row, study._final_summary().get(row.id, {}))


def trial_of(study: Study, r: TrialRow, final: dict) -> Trial:
    """A stored trial row as a :class:`~.trial.Trial` of ``study`` (``final``: its final retraining's summary)."""
    arch = Architecture.from_json(r.arch, study.space)
    return Trial(r.number, arch, r.status, r.metrics, r.details, r.error, r.budget, r.seed, r.duration, r.id,
                 final, study, started_at=r.started_at, finished_at=r.finished_at, fidelity=r.fidelity,
                 parent=r.parent)
