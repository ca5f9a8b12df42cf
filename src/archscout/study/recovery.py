"""Recovery: the heartbeat that marks a search process alive, and the trials of processes that died."""
from __future__ import annotations

import threading
import time

from ..space import Architecture
from ..storage import PROCESS_DIED, Storage

MAX_INTERRUPTIONS = 3  # an architecture whose process died this many times is stored failed, not retried
INTERRUPT_POLICIES = ("requeue", "fail")
STALE_AFTER = 60.0  # seconds without a heartbeat after which a process on another host counts as dead
HEARTBEAT_EVERY = 5.0


class Heartbeat:
    """Marks the search process alive in storage every few seconds (a background thread)."""

    def __init__(self, storage: Storage, session: int, every: float = HEARTBEAT_EVERY):
        self.storage, self.session, self.every = storage, session, every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="archscout-heartbeat", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            try:
                self.storage.heartbeat(self.session)
            except Exception:  # noqa: BLE001 - a missed beat is harmless; the next one retries
                pass

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)


def recover(study, budget: str, policy: str, stale_after: float) -> list:
    """Mark the trials left running by processes that died, then return the architectures to evaluate
    again: every interrupted one (found now or earlier, by any process, or stopped by Ctrl-C) whose
    architecture no trial holds at this budget, oldest first. With policy ``fail`` nothing is returned and
    newly found trials are stored failed; an architecture under which the evaluating process itself died
    MAX_INTERRUPTIONS times is stored failed (it may be what kills the process). Returns
    ``(architecture, fidelity, parent)`` of each."""
    when = time.strftime("%Y-%m-%d %H:%M:%S")
    stale = set(study.storage.stale_trials(study.id, stale_after))
    if stale:
        sessions = {s.id: s for s in study.storage.sessions(study.id)}
        for r in study.storage.trials(study.id):
            if r.id not in stale:
                continue
            executor = sessions[r.session_id].info.get("executor", "local") if r.session_id in sessions \
                else "local"
            if executor == "local":  # the trial ran in the process that died: it may be the cause
                prior = study.storage.count_interrupted(study.id, r.arch_id, r.budget)
                reason = f"{PROCESS_DIED} (noticed at {when})"
                fail = policy == "fail" or prior + 1 >= MAX_INTERRUPTIONS
                if fail and policy != "fail":
                    reason += (f"; this architecture was interrupted {prior + 1} times, it is not retried "
                               f"(it may be what stops the process)")
            else:  # a worker evaluated it; the search process died, not because of this trial
                reason = f"interrupted: the search process stopped while a worker evaluated this trial " \
                         f"(noticed at {when})"
                fail = policy == "fail"
            if policy == "fail":
                reason += "; not retried (--on-interrupted fail)"
            study.storage.interrupt_trials([r.id], reason, fail=fail)
    if policy == "fail":
        return []
    rows = study.storage.trials(study.id)
    held = {(r.arch_id, r.budget) for r in rows if r.status != "interrupted"}
    out, seen = [], set()
    for r in rows:
        key = (r.arch_id, r.budget)
        if r.status == "interrupted" and (r.budget == budget or r.fidelity) and key not in held and key not in seen:
            seen.add(key)
            out.append((Architecture.from_json(r.arch, study.space), r.fidelity, r.parent))
    return out

