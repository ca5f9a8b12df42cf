"""The rows the storage returns (a trial, a final retraining, a study, a search session, a claim) and the JSON
they are stored as."""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

FINISHED = ("complete", "failed", "infeasible", "stopped")  # stopped: ended early by a stopping rule
# the reason of a trial whose evaluating process died under it (counted against its architecture)
PROCESS_DIED = "interrupted: the process running this trial stopped"


def _dumps(obj: Any) -> str:
    def clean(v):
        if isinstance(v, float) and not math.isfinite(v):
            return None
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [clean(x) for x in v]
        return v

    return json.dumps(clean(obj), sort_keys=True)


@dataclass
class TrialRow:
    id: int
    study_id: int
    number: int
    arch_id: str
    arch: str
    budget: str
    status: str
    metrics: dict
    details: dict
    error: str | None
    seed: int
    started_at: float
    finished_at: float | None
    session_id: int | None = None
    fidelity: dict | None = None  # None: the study's own budget
    parent: int | None = None  # the number of the trial this one continued

    @property
    def duration(self) -> float | None:
        return None if self.finished_at is None else self.finished_at - self.started_at


@dataclass
class FinalRow:
    id: int
    trial_id: int
    seed: int
    budget: str
    metrics: dict
    details: dict
    created_at: float
    weights: bytes | None = field(default=None, repr=False)


@dataclass
class StudyRow:
    id: int
    name: str
    config: dict
    created_at: float
    search_seconds: float


@dataclass
class SessionRow:
    id: int
    study_id: int
    host: str
    pid: int
    started_at: float
    heartbeat_at: float
    stopped_at: float | None
    info: dict


@dataclass
class Claim:
    """The result of trying to claim an architecture: ``trial`` when claimed, else why not."""

    trial: TrialRow | None = None
    taken: bool = False  # another trial holds it (running or finished)
    full: bool = False  # the study's trial budget is used up



def trial_row(r) -> TrialRow:
    """A trial as stored (a row of the trials table, as a mapping)."""
    return TrialRow(r["id"], r["study_id"], r["number"], r["arch_id"], r["arch"], r["budget"], r["status"],
                    json.loads(r["metrics"]), json.loads(r["details"]), r["error"], r["seed"],
                    r["started_at"], r["finished_at"], r["session_id"],
                    None if r["fidelity"] is None else json.loads(r["fidelity"]), r["parent"])


def version_stamp(trials: int, running: int, finals: int, latest: float) -> str:
    """What :meth:`Storage.study_version` returns, for counts worked out elsewhere (from trials already read)."""
    return f"{trials}-{running}-{finals}-{float(latest):.3f}"

