"""The studies of a database (name, settings) and their search sessions (one per searching process)."""
from __future__ import annotations

import json
import os
import time

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from ..errors import ArchscoutError
from .engine import HOST, Connection, pid_alive
from .rows import SessionRow, StudyRow, _dumps, version_stamp
from .schema import finals, sessions, studies, trials


class Studies(Connection):
    """Study rows, search sessions and a study's search time."""

    # -- studies ----------------------------------------------------------------------
    def get_study(self, name: str) -> StudyRow | None:
        with self.engine.connect() as c:
            r = c.execute(sa.select(studies).where(studies.c.name == name)).mappings().first()
        return None if r is None else StudyRow(r["id"], r["name"], json.loads(r["config"]), r["created_at"],
                                               r["search_seconds"])

    def create_study(self, name: str, config: dict) -> StudyRow:
        try:
            with self._write().begin() as c:
                c.execute(studies.insert().values(name=name, config=_dumps(config), created_at=time.time(),
                                                  search_seconds=0.0))
        except IntegrityError:  # created by another process just now: the caller compares settings
            pass
        row = self.get_study(name)
        if row is None:  # deleted by another process between the two statements
            raise ArchscoutError(f"study {name!r} was removed from {self.shown_url} while it was being created")
        return row

    def list_studies(self) -> list[dict]:
        q = (sa.select(studies.c.id, studies.c.name, studies.c.config, studies.c.created_at,
                       trials.c.status, sa.func.count(trials.c.id))
             .select_from(studies.outerjoin(trials)).group_by(studies.c.id, trials.c.status)
             .order_by(studies.c.created_at))
        out: dict[int, dict] = {}
        with self.engine.connect() as c:
            for sid, name, config, created, status, count in c.execute(q):
                row = out.setdefault(sid, {"id": sid, "name": name, "config": json.loads(config),
                                           "created_at": created, "counts": {}})
                if status is not None:
                    row["counts"][status] = count
        for row in out.values():
            row["search_seconds"] = self.search_seconds(row["id"])
        return list(out.values())

    def update_config(self, study_id: int, config: dict) -> None:
        """Store a study's settings; on a read-only storage the change is not stored (what a reader derives and
        would store, e.g. the reference point, it keeps in memory)."""
        if self.read_only:
            return
        with self._write().begin() as c:
            c.execute(studies.update().where(studies.c.id == study_id).values(config=_dumps(config)))

    # -- sessions (search processes) ----------------------------------------------------
    def open_session(self, study_id: int, info: dict | None = None) -> int:
        now = time.time()
        with self._write().begin() as c:
            res = c.execute(sessions.insert().values(study_id=study_id, host=HOST, pid=os.getpid(), started_at=now,
                                                     heartbeat_at=now, info=_dumps(info or {})))
            return res.inserted_primary_key[0]

    def heartbeat(self, session_id: int) -> None:
        with self._write().begin() as c:
            c.execute(sessions.update().where(sessions.c.id == session_id).values(heartbeat_at=time.time()))

    def close_session(self, session_id: int) -> None:
        now = time.time()
        with self._write().begin() as c:
            c.execute(sessions.update().where(sessions.c.id == session_id).values(heartbeat_at=now, stopped_at=now))

    def sessions(self, study_id: int) -> list[SessionRow]:
        with self.engine.connect() as c:
            rows = c.execute(sa.select(sessions).where(sessions.c.study_id == study_id)
                             .order_by(sessions.c.id)).mappings().all()
        return [SessionRow(r["id"], r["study_id"], r["host"], r["pid"], r["started_at"], r["heartbeat_at"],
                           r["stopped_at"], json.loads(r["info"])) for r in rows]

    def session_alive(self, s: SessionRow, stale_after: float, now: float | None = None) -> bool:
        if s.stopped_at is not None:
            return False
        if s.host == HOST:
            return pid_alive(s.pid, s.started_at)
        return (now or time.time()) - s.heartbeat_at < stale_after

    def study_version(self, study_id: int) -> str:
        """A stamp that changes whenever a trial of the study starts or finishes or a final retraining is
        stored: one aggregate query (a dashboard asks for it every few seconds)."""
        last = sa.func.max(sa.func.coalesce(trials.c.finished_at, trials.c.started_at))
        running = sa.func.sum(sa.case((trials.c.status == "running", 1), else_=0))
        with self.engine.connect() as c:
            n, busy, latest = c.execute(sa.select(sa.func.count(), running, last)
                                        .where(trials.c.study_id == study_id)).one()
            done = c.execute(sa.select(sa.func.count()).select_from(finals)
                             .where(finals.c.study_id == study_id)).scalar()
        return version_stamp(n, busy or 0, done or 0, latest or 0.0)

    def search_seconds(self, study_id: int, now: float | None = None) -> float:
        """Search time of the study: the union of its sessions' lifetimes (concurrent processes count once),
        plus the time of schema-1 runs."""
        with self.engine.connect() as c:
            legacy = c.execute(sa.select(studies.c.search_seconds).where(studies.c.id == study_id)).scalar() or 0.0
            spans = c.execute(sa.select(sessions.c.started_at, sessions.c.heartbeat_at, sessions.c.stopped_at,
                                        sessions.c.host, sessions.c.pid)
                              .where(sessions.c.study_id == study_id).order_by(sessions.c.started_at)).all()
        now = now or time.time()
        total, cur_start = 0.0, 0.0
        cur_end: float | None = None
        for start, beat, stop, host, pid in spans:
            end = stop if stop is not None else (now if host == HOST and pid == os.getpid() else beat)
            if cur_end is None or start > cur_end:
                if cur_end is not None:
                    total += cur_end - cur_start
                cur_start, cur_end = start, end
            else:
                cur_end = max(cur_end, end)
        if cur_end is not None:
            total += cur_end - cur_start
        return legacy + total

    # -- trials -----------------------------------------------------------------------
