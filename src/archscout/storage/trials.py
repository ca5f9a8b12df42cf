"""The trials of a study (claimed, finished, interrupted) and their final retrainings."""
from __future__ import annotations

import json
import time

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from ..errors import ArchscoutError
from .rows import FINISHED, PROCESS_DIED, Claim, FinalRow, TrialRow, _dumps, trial_row
from .schema import claim_key, finals, fronts, studies, trials
from .studies import Studies


class Trials(Studies):
    """Claiming and finishing trials, reading them back, and the final retrainings' results (the sessions of
    :class:`~.studies.Studies` tell which running trials are stale)."""

    # -- trials -----------------------------------------------------------------------
    def claim_trial(self, study_id: int, arch_id: str, arch_json: str, budget: str, seed: int,
                    session_id: int | None = None, max_trials: int | None = None, fidelity: dict | None = None,
                    parent: int | None = None) -> Claim:
        """Atomically claim an architecture at a budget as a new running trial with the next number
        (``fidelity``, ``parent``: stored with it, see :class:`TrialRow`).

        Not claimed when another trial of the study holds it (``taken``) or when ``max_trials``
        trials (finished or running) exist already (``full``).
        """
        key = claim_key(arch_id, budget)
        for _ in range(50):
            try:
                with self._write().begin() as c:
                    # serialise claims per study (a row lock on PostgreSQL; SQLite's BEGIN IMMEDIATE already does)
                    c.execute(sa.select(studies.c.id).where(studies.c.id == study_id).with_for_update())
                    if c.execute(sa.select(trials.c.id).where((trials.c.study_id == study_id)
                                                              & (trials.c.claim == key))).first():
                        return Claim(taken=True)
                    if max_trials is not None:
                        used = c.execute(sa.select(sa.func.count(trials.c.id)).where(
                            (trials.c.study_id == study_id)
                            & trials.c.status.in_(FINISHED + ("running",)))).scalar_one()
                        if used >= max_trials:
                            return Claim(full=True)
                    number = c.execute(sa.select(sa.func.coalesce(sa.func.max(trials.c.number), -1) + 1)
                                       .where(trials.c.study_id == study_id)).scalar_one()
                    res = c.execute(trials.insert().values(
                        study_id=study_id, number=number, arch_id=arch_id, arch=arch_json, budget=budget,
                        status="running", metrics="{}", details="{}", seed=seed, started_at=time.time(),
                        claim=key, session_id=session_id,
                        # left out when unset, so a claim at the study's own budget is the statement it always was
                        **({"fidelity": _dumps(fidelity)} if fidelity is not None else {}),
                        **({"parent": parent} if parent is not None else {})))
                    return Claim(trial=self._trial(c, res.inserted_primary_key[0]))
            except IntegrityError:  # lost a race for the number or the claim: look again
                continue
        raise ArchscoutError("could not claim a trial (the database is too contended)")

    def start_trial(self, study_id: int, arch_id: str, arch_json: str, budget: str, seed: int,
                    session_id: int | None = None) -> TrialRow:
        """Claim an architecture that must not be claimed yet (an error otherwise)."""
        got = self.claim_trial(study_id, arch_id, arch_json, budget, seed, session_id)
        if got.trial is None:
            raise ArchscoutError(f"architecture {arch_id} is already claimed at budget {budget!r}")
        return got.trial

    def finish_trial(self, trial_id: int, status: str, metrics: dict | None = None, details: dict | None = None,
                     error: str | None = None, front: dict | None = None) -> bool:
        """Store a running trial's result. False (and nothing written) if it is no longer running,
        e.g. another process declared it interrupted after this process stopped heart-beating.

        ``front`` ({"finished", "front", "hypervolume"}): the study's Pareto front with this result,
        stored in the same transaction."""
        if status not in FINISHED:
            raise ValueError(f"not a final status: {status!r}")
        with self._write().begin() as c:
            res = c.execute(trials.update().where((trials.c.id == trial_id) & (trials.c.status == "running"))
                            .values(status=status, metrics=_dumps(metrics or {}), details=_dumps(details or {}),
                                    error=error, finished_at=time.time()))
            if res.rowcount == 1 and front is not None:
                study_id = c.execute(sa.select(trials.c.study_id).where(trials.c.id == trial_id)).scalar_one()
                c.execute(fronts.insert().values(study_id=study_id, trial_id=trial_id, finished=front["finished"],
                                                 front=_dumps(front["front"]), hypervolume=front["hypervolume"],
                                                 created_at=time.time()))
        return res.rowcount == 1

    def fronts(self, study_id: int) -> list[dict]:
        """The stored fronts of a study in the order they were stored: finished, front (trial numbers),
        hypervolume, created_at, trial_id."""
        with self.engine.connect() as c:
            rows = c.execute(sa.select(fronts.c.trial_id, fronts.c.finished, fronts.c.front, fronts.c.hypervolume,
                                       fronts.c.created_at).where(fronts.c.study_id == study_id)
                             .order_by(fronts.c.id)).all()
        return [{"trial_id": r[0], "finished": r[1], "front": json.loads(r[2]), "hypervolume": r[3],
                 "created_at": r[4]} for r in rows]

    def interrupt_trials(self, trial_ids: list[int], reason: str, fail: bool = False) -> list[TrialRow]:
        """Running trials that will not finish: ``interrupted`` (their claim released, so the architecture
        can be evaluated again) or, with ``fail``, ``failed`` (claim kept: never retried). Returns those changed."""
        if not trial_ids:
            return []
        changed = []
        with self._write().begin() as c:
            for tid in trial_ids:
                values = {"status": "failed", "error": reason} if fail else \
                    {"status": "interrupted", "error": reason, "claim": None}
                res = c.execute(trials.update().where((trials.c.id == tid) & (trials.c.status == "running"))
                                .values(finished_at=time.time(), **values))
                if res.rowcount:
                    changed.append(self._trial(c, tid))
        return changed

    def running_trials(self, study_id: int) -> int:
        """How many of the study's trials are running now (in any process)."""
        with self.engine.connect() as c:
            return int(c.execute(sa.select(sa.func.count()).select_from(trials).where(
                (trials.c.study_id == study_id) & (trials.c.status == "running"))).scalar_one())

    def stale_trials(self, study_id: int, stale_after: float = 60.0) -> list[int]:
        """Running trials whose process is gone: stopped, dead on this host, or silent for ``stale_after`` s."""
        now = time.time()
        # trials first, sessions second: a process that starts in between opens its session before it
        # claims a trial, so every trial read here has its session in the second read (the other order
        # declared a just-started process's first trial interrupted)
        with self.engine.connect() as c:
            rows = c.execute(sa.select(trials.c.id, trials.c.session_id).where(
                (trials.c.study_id == study_id) & (trials.c.status == "running"))).all()
        alive = {s.id for s in self.sessions(study_id) if self.session_alive(s, stale_after, now)}
        return [tid for tid, sid in rows if sid is None or sid not in alive]

    def mark_interrupted(self, study_id: int, stale_after: float = 60.0) -> int:
        """Mark the running trials of dead processes interrupted; returns how many."""
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime())
        return len(self.interrupt_trials(self.stale_trials(study_id, stale_after),
                                         f"{PROCESS_DIED} (noticed at {when})"))

    def _trial(self, c, trial_id: int) -> TrialRow:
        r = c.execute(sa.select(trials).where(trials.c.id == trial_id)).mappings().first()
        return self._row(r)

    _row = staticmethod(trial_row)

    def trials(self, study_id: int, finished_after: float | None = None,
               exclude_session: int | None = None) -> list[TrialRow]:
        q = sa.select(trials).where(trials.c.study_id == study_id)
        if finished_after is not None:
            q = q.where(trials.c.status.in_(FINISHED) & (trials.c.finished_at >= finished_after))
        if exclude_session is not None:
            q = q.where((trials.c.session_id != exclude_session) | trials.c.session_id.is_(None))
        with self.engine.connect() as c:
            rows = c.execute(q.order_by(trials.c.number)).mappings().all()
        return [self._row(r) for r in rows]

    def count_interrupted(self, study_id: int, arch_id: str, budget: str) -> int:
        """How often this architecture's evaluation was lost because its process died (a stop of the
        search itself, e.g. Ctrl-C, does not count)."""
        with self.engine.connect() as c:
            return c.execute(sa.select(sa.func.count(trials.c.id)).where(
                (trials.c.study_id == study_id) & (trials.c.arch_id == arch_id) & (trials.c.budget == budget)
                & (trials.c.status == "interrupted")
                & trials.c.error.like(f"{PROCESS_DIED}%"))).scalar_one()

    # -- final retraining ---------------------------------------------------------------
    def add_final(self, study_id: int, trial_id: int, seed: int, budget: str, metrics: dict, details: dict,
                  weights: bytes | None) -> None:
        try:
            with self._write().begin() as c:
                c.execute(finals.insert().values(study_id=study_id, trial_id=trial_id, seed=seed, budget=budget,
                                                 metrics=_dumps(metrics), details=_dumps(details), weights=weights,
                                                 created_at=time.time()))
        except IntegrityError:  # another process stored this (trial, seed, budget) first: keep theirs
            pass

    def finals(self, study_id: int, with_weights: bool = False) -> list[FinalRow]:
        cols = [finals.c.id, finals.c.trial_id, finals.c.seed, finals.c.budget, finals.c.metrics,
                finals.c.details, finals.c.created_at] + ([finals.c.weights] if with_weights else [])
        with self.engine.connect() as c:
            rows = c.execute(sa.select(*cols).where(finals.c.study_id == study_id)
                             .order_by(finals.c.trial_id, finals.c.seed)).all()
        return [FinalRow(r[0], r[1], r[2], r[3], json.loads(r[4]), json.loads(r[5]), r[6],
                         r[7] if with_weights else None) for r in rows]

