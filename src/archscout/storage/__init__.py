"""Storage: every study, trial, search session and final retraining in a database.

SQLite (a file, the default) or PostgreSQL (``postgresql://user@host/db``), through SQLAlchemy.
Each write is its own committed transaction, so a crash loses at most the trials that were
running (they are found and marked ``interrupted`` by the next process). A trial's claim on
its architecture is a row under a unique index, so processes on one or many machines never
evaluate the same architecture at the same budget twice. A database this version did not
write (another application's, a damaged one, or a newer archscout schema) is reported and
never modified; an older archscout schema is migrated in place.

A SQLite file that this process cannot write (the file, or its folder, without write permission: read-only
media, another user's results) is opened read-only: everything reads, nothing is created or migrated, and a
write is refused with one clear error. When the folder is not writable either, SQLite could not create its
``-shm`` file to read a write-ahead-logged database, so the file is opened ``immutable`` (it must not change
while it is read) unless a write-ahead log with content lies next to it. ``sqlite:///file:PATH?mode=ro&uri=true``
(or ``immutable=1``) asks for the same explicitly.
"""
from __future__ import annotations

import json
import math
import os
import socket
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import ArgumentError, DatabaseError, IntegrityError, NoSuchModuleError, OperationalError

from ..errors import ArchscoutError
from .schema import (MIGRATIONS, SCHEMA_VERSION, TABLES_AT, claim_key, finals, fronts, meta_table, metadata,
                     sessions, studies, trials)

FINISHED = ("complete", "failed", "infeasible", "stopped")  # stopped: ended early by a stopping rule
# the reason of a trial whose evaluating process died under it (counted against its architecture)
PROCESS_DIED = "interrupted: the process running this trial stopped"
HOST = socket.gethostname()

__all__ = ["Storage", "TrialRow", "FinalRow", "StudyRow", "SessionRow", "FINISHED", "SCHEMA_VERSION", "claim_key"]


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


def pid_alive(pid: int, since: float) -> bool:
    """Whether the process ``pid`` on this host is alive and started no later than ``since``."""
    import psutil

    try:
        p = psutil.Process(pid)
        return p.status() != psutil.STATUS_ZOMBIE and p.create_time() <= since + 1.0
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


def _normalise_url(url: str):
    try:
        parsed = sa.engine.make_url(url)
    except ArgumentError:
        raise ArchscoutError(f"cannot read storage URL {url!r}; use e.g. sqlite:///archscout.db "
                             f"or postgresql://user@host/db") from None
    if parsed.drivername == "postgresql":  # the bare name means psycopg2 to SQLAlchemy; prefer psycopg 3
        try:
            import psycopg2  # noqa: F401
        except ImportError:
            parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def _uri_path(database: str) -> str:
    """The file of a SQLite ``file:`` URI (``file:/a/b.db``, ``file:///a/b.db``, ``file:b.db``)."""
    path = database[len("file:"):] if database.startswith("file:") else database
    if path.startswith("//"):  # file://HOST/path: SQLite accepts an empty host or localhost only
        path = path[2:]
        path = path[len("localhost"):] if path.startswith("localhost/") else path
    return urllib.parse.unquote(path.partition("?")[0])


def read_only_reason(path: str) -> tuple[str, dict] | None:
    """Why an existing SQLite file must be opened read-only here, with the URI parameters that read it
    without writing anything; None when it is writable (file and folder). ``immutable=1`` when even the
    ``-shm`` file of its write-ahead log cannot be created, unless that log holds content (then a
    read-only connection reads it, if its ``-shm`` exists)."""
    folder = os.path.dirname(os.path.abspath(path))
    file_ok, folder_ok = os.access(path, os.W_OK), os.access(folder, os.W_OK)
    if file_ok and folder_ok:
        return None
    why = ("neither the file nor its folder is writable" if not (file_ok or folder_ok) else
           "the file is not writable" if not file_ok else f"its folder {folder!r} is not writable")
    if not folder_ok:
        wal, shm = path + "-wal", path + "-shm"
        if not (os.path.exists(wal) and os.path.getsize(wal) > 0 and os.path.exists(shm)):
            return why, {"mode": "ro", "immutable": "1"}
    return why, {"mode": "ro"}


def version_stamp(trials: int, running: int, finals: int, latest: float) -> str:
    """What :meth:`Storage.study_version` returns, for counts worked out elsewhere (from trials already read)."""
    return f"{trials}-{running}-{finals}-{float(latest):.3f}"


class Storage:
    """Database access for studies, trials, sessions and final results. ``url`` is any SQLAlchemy URL."""

    def __init__(self, url: str = "sqlite:///archscout.db", create: bool = True):
        """``create=False``: the database must exist already (for commands that only read). A SQLite file this
        process cannot write is opened read-only (:attr:`read_only` says why)."""
        self.url, self.create = url, create
        parsed = _normalise_url(url)
        self.shown_url = parsed.render_as_string(hide_password=True)
        self.backend = parsed.get_backend_name()
        self.read_only: str | None = None  # why the storage is read-only; None when it is not
        self.database_path: str | None = None  # the absolute path of an SQLite file (None: in memory, a server)
        kwargs: dict[str, Any] = {}
        if self.backend == "sqlite":
            path = parsed.database
            if not path:
                raise ArchscoutError(f"storage {url!r} names no database file; use e.g. sqlite:///archscout.db "
                                     f"(sqlite:///:memory: keeps nothing)")
            uri = str(parsed.query.get("uri", "")).lower() in ("true", "1")
            if uri and path.startswith("file:"):
                path = _uri_path(path)
                if parsed.query.get("mode") == "ro" or parsed.query.get("immutable") == "1":
                    self.read_only = "it was opened with mode=ro" if parsed.query.get("mode") == "ro" \
                        else "it was opened immutable"
            if path != ":memory:" and not create and not os.path.exists(path):
                raise ArchscoutError(f"no database at {os.path.abspath(path)!r} (storage {url!r}); check --storage")
            if path != ":memory:":
                self.database_path = os.path.abspath(path)
                folder = os.path.dirname(os.path.abspath(path))
                if not os.path.isdir(folder):
                    raise ArchscoutError(f"storage {url!r}: folder {folder!r} does not exist")
                if os.path.isdir(path):
                    raise ArchscoutError(f"storage {url!r}: {path!r} is a folder, not a database file")
                found = read_only_reason(path) if not uri and os.path.exists(path) else None
                if found is not None:  # read it through a URI that writes nothing, not even a -shm file
                    self.read_only, params = found
                    parsed = parsed.set(database="file:" + urllib.parse.quote(os.path.abspath(path)),
                                        query={**params, "uri": "true"})
            kwargs["connect_args"] = {"timeout": 60}
        elif self.backend == "postgresql":
            kwargs["pool_pre_ping"] = True
        try:
            self.engine = sa.create_engine(parsed, **kwargs)
        except (ArgumentError, NoSuchModuleError, ImportError) as e:
            hint = " (pip install 'archscout[postgres]')" if self.backend == "postgresql" else ""
            raise ArchscoutError(f"cannot open storage {self.shown_url!r}: {e}{hint}") from None
        if self.backend == "sqlite":
            self._sqlite_setup()
        # writes that read-then-write (claims, numbering) take the write lock up front
        self._writer = self.engine.execution_options(archscout_immediate=True)
        self._init_schema()

    def _sqlite_setup(self) -> None:
        @sa.event.listens_for(self.engine, "connect")
        def _connect(dbapi_conn, _):
            dbapi_conn.isolation_level = None  # we emit BEGIN ourselves (below)
            dbapi_conn.execute("PRAGMA foreign_keys=ON")
            # with WAL (set once the file is known to be ours), NORMAL sync loses nothing committed when a
            # process is killed; only a power cut can lose the last commits
            dbapi_conn.execute("PRAGMA synchronous=NORMAL")

        @sa.event.listens_for(self.engine, "begin")
        def _begin(conn):
            immediate = conn.get_execution_options().get("archscout_immediate")
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    def _write(self):
        """The engine for a write; a read-only storage refuses it with one clear error."""
        if self.read_only:
            raise ArchscoutError(f"storage {self.shown_url!r} is read-only ({self.read_only}); this command "
                                 f"writes to the database: copy the file somewhere writable first")
        return self._writer

    def _error(self, e: Exception) -> ArchscoutError:
        first = str(getattr(e, "orig", e)).strip().splitlines()[0] if str(getattr(e, "orig", e)).strip() else ""
        if isinstance(e, OperationalError) and self.backend != "sqlite":
            return ArchscoutError(f"cannot connect to storage {self.shown_url!r}: {first}")
        return ArchscoutError(f"storage {self.shown_url!r} is not a readable database ({first})")

    def _tables(self) -> set[str]:
        try:
            return set(sa.inspect(self.engine).get_table_names())
        except (DatabaseError, OperationalError):
            return set()

    def _init_schema(self) -> None:
        try:
            existing = set(sa.inspect(self.engine).get_table_names())
        except (DatabaseError, OperationalError) as e:
            raise self._error(e) from None
        except (UnicodeDecodeError, ValueError) as e:
            raise ArchscoutError(f"storage {self.shown_url!r} is not a readable database ({e})") from None
        if existing and meta_table.name not in existing:
            raise ArchscoutError(f"storage {self.shown_url!r} holds tables that archscout did not create "
                                 f"({', '.join(sorted(existing)[:5])}); refusing to touch it")
        if meta_table.name not in existing:
            if not self.create:
                raise ArchscoutError(f"storage {self.shown_url!r} holds no archscout studies (an empty database)")
            if self.read_only:
                raise ArchscoutError(f"storage {self.shown_url!r} is read-only ({self.read_only}), so archscout "
                                     f"cannot create its tables there; use a database file you can write")
            try:
                with self._write().begin() as c:
                    metadata.create_all(c)
                    c.execute(meta_table.insert().values(key="schema_version", value=str(SCHEMA_VERSION)))
            except (DatabaseError, OperationalError) as e:
                # another process created the schema at the same moment: PostgreSQL reports the second
                # CREATE TABLE as a duplicate table or a duplicate type name; read what it created instead
                if not isinstance(e, IntegrityError) and meta_table.name not in self._tables():
                    raise self._error(e) from None
                if not getattr(self, "_retried", False):
                    self._retried = True
                    return self._init_schema()
            self._use_wal()
            return
        version = self.schema_version()
        if version > SCHEMA_VERSION:
            raise ArchscoutError(f"storage {self.shown_url!r} was written by a newer archscout (schema {version}; "
                                 f"this one reads up to {SCHEMA_VERSION}); upgrade archscout, nothing was changed")
        need = TABLES_AT.get(version)
        if need is None:
            raise ArchscoutError(f"storage {self.shown_url!r} is damaged: it records no valid schema version; "
                                 f"nothing was changed")
        if not need <= existing:
            raise ArchscoutError(f"storage {self.shown_url!r} is damaged: schema {version} but missing tables "
                                 f"{sorted(need - existing)}; nothing was changed")
        if self.backend == "sqlite":
            self._quick_check()
        if version < SCHEMA_VERSION:
            if self.read_only:
                raise ArchscoutError(f"storage {self.shown_url!r} was written by an older archscout (schema "
                                     f"{version}) and is read-only ({self.read_only}), so it cannot be brought "
                                     f"up to schema {SCHEMA_VERSION}; open it once where it is writable")
            self.migrate(version)
        self._use_wal()

    def _quick_check(self) -> None:
        """An existing SQLite file's integrity is checked before anything reads or writes it (about 4 ms per
        MB): a damaged page can hide behind an intact index and give wrong answers, or take writes."""
        try:
            with self.engine.connect() as c:
                result = c.exec_driver_sql("PRAGMA quick_check(1)").scalar()
        except (DatabaseError, OperationalError) as e:
            raise self._error(e) from None
        if result != "ok":
            detail = " ".join(str(result).replace("*** in database main ***", "").split())
            raise ArchscoutError(f"storage {self.shown_url!r} is damaged ({detail}); nothing was changed")

    def _use_wal(self) -> None:
        """SQLite files of ours use write-ahead logging: readers never block the writer (many processes)."""
        if self.backend != "sqlite" or self.read_only or not sa.engine.make_url(self.url).database \
                or sa.engine.make_url(self.url).database == ":memory:":
            return
        import sqlite3

        raw = self.engine.raw_connection()  # outside any transaction (SQLite requires it)
        try:
            for _ in range(100):
                try:
                    raw.driver_connection.execute("PRAGMA journal_mode=WAL")
                    return
                except sqlite3.OperationalError as e:
                    # processes that open a new file at the same moment: the switch needs the file to
                    # itself and does not wait for it; another process may have switched it already
                    if "locked" not in str(e):
                        raise
                    mode = raw.driver_connection.execute("PRAGMA journal_mode").fetchone()
                    if mode and str(mode[0]).lower() == "wal":
                        return
                    time.sleep(0.05)
            raw.driver_connection.execute("PRAGMA journal_mode=WAL")
        finally:
            raw.close()

    def schema_version(self) -> int:
        try:
            with self.engine.connect() as c:
                row = c.execute(sa.select(meta_table.c.value).where(meta_table.c.key == "schema_version")).first()
        except (DatabaseError, OperationalError) as e:
            raise self._error(e) from None
        try:
            return int(row[0]) if row else 0
        except ValueError:
            raise ArchscoutError(f"storage {self.shown_url!r} is damaged: schema version {row[0]!r}; "
                                 f"nothing was changed") from None

    def migrate(self, version: int) -> None:
        """Bring a database of an older schema up to this one, one version per transaction."""
        while version < SCHEMA_VERSION:
            step = MIGRATIONS[version]
            with self._write().begin() as c:
                current = int(c.execute(sa.select(meta_table.c.value)
                                        .where(meta_table.c.key == "schema_version")).scalar_one())
                if current != version:  # another process migrated meanwhile
                    version = current
                    continue
                step(c)
                c.execute(meta_table.update().where(meta_table.c.key == "schema_version")
                          .values(value=str(version + 1)))
            version += 1

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
        return self.get_study(name)

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
        return version_stamp(n, busy or 0, done, latest or 0.0)

    def search_seconds(self, study_id: int, now: float | None = None) -> float:
        """Search time of the study: the union of its sessions' lifetimes (concurrent processes count once),
        plus the time of schema-1 runs."""
        with self.engine.connect() as c:
            legacy = c.execute(sa.select(studies.c.search_seconds).where(studies.c.id == study_id)).scalar() or 0.0
            spans = c.execute(sa.select(sessions.c.started_at, sessions.c.heartbeat_at, sessions.c.stopped_at,
                                        sessions.c.host, sessions.c.pid)
                              .where(sessions.c.study_id == study_id).order_by(sessions.c.started_at)).all()
        now = now or time.time()
        total, cur_start, cur_end = 0.0, None, None
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

    @staticmethod
    def _row(r) -> TrialRow:
        return TrialRow(r["id"], r["study_id"], r["number"], r["arch_id"], r["arch"], r["budget"], r["status"],
                        json.loads(r["metrics"]), json.loads(r["details"]), r["error"], r["seed"],
                        r["started_at"], r["finished_at"], r["session_id"],
                        None if r["fidelity"] is None else json.loads(r["fidelity"]), r["parent"])

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

    def dispose(self) -> None:
        self.engine.dispose()
