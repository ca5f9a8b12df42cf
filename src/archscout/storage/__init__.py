"""Storage: every study, trial and final retraining in a database (SQLite file by default, any SQLAlchemy URL).

Each write is its own committed transaction, so a crash loses at most the trial that was
running. A database this version did not write (another application's, or a newer
archscout schema) is reported and never modified.
"""
from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import ArgumentError, DatabaseError, NoSuchModuleError, OperationalError

from ..errors import ArchscoutError

SCHEMA_VERSION = 1
FINISHED = ("complete", "failed", "infeasible")

_meta = sa.MetaData()
meta_table = sa.Table("archscout_meta", _meta, sa.Column("key", sa.String(64), primary_key=True),
                      sa.Column("value", sa.Text, nullable=False))
studies = sa.Table(
    "studies", _meta,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(200), nullable=False, unique=True),
    sa.Column("config", sa.Text, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("search_seconds", sa.Float, nullable=False, default=0.0),
)
trials = sa.Table(
    "trials", _meta,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("study_id", sa.Integer, sa.ForeignKey("studies.id"), nullable=False, index=True),
    sa.Column("number", sa.Integer, nullable=False),
    sa.Column("arch_id", sa.String(32), nullable=False, index=True),
    sa.Column("arch", sa.Text, nullable=False),
    sa.Column("budget", sa.String(200), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("metrics", sa.Text, nullable=False, default="{}"),
    sa.Column("details", sa.Text, nullable=False, default="{}"),
    sa.Column("error", sa.Text),
    sa.Column("seed", sa.Integer, nullable=False),
    sa.Column("started_at", sa.Float, nullable=False),
    sa.Column("finished_at", sa.Float),
    sa.UniqueConstraint("study_id", "number"),
)
finals = sa.Table(
    "finals", _meta,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("study_id", sa.Integer, sa.ForeignKey("studies.id"), nullable=False, index=True),
    sa.Column("trial_id", sa.Integer, sa.ForeignKey("trials.id"), nullable=False),
    sa.Column("seed", sa.Integer, nullable=False),
    sa.Column("budget", sa.String(200), nullable=False),
    sa.Column("metrics", sa.Text, nullable=False),
    sa.Column("details", sa.Text, nullable=False),
    sa.Column("weights", sa.LargeBinary),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.UniqueConstraint("trial_id", "seed", "budget"),
)


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


class Storage:
    """Database access for studies, trials and final results. ``url`` is any SQLAlchemy URL."""

    def __init__(self, url: str = "sqlite:///archscout.db"):
        self.url = url
        try:
            parsed = sa.engine.make_url(url)
        except ArgumentError:
            raise ArchscoutError(f"cannot read storage URL {url!r}; use e.g. sqlite:///archscout.db "
                                 f"or postgresql://user@host/db") from None
        kwargs: dict[str, Any] = {}
        if parsed.get_backend_name() == "sqlite":
            path = parsed.database
            if path and path != ":memory:":
                folder = os.path.dirname(os.path.abspath(path))
                if not os.path.isdir(folder):
                    raise ArchscoutError(f"storage {url!r}: folder {folder!r} does not exist")
                if os.path.isdir(path):
                    raise ArchscoutError(f"storage {url!r}: {path!r} is a folder, not a database file")
            kwargs["connect_args"] = {"timeout": 30}
        try:
            self.engine = sa.create_engine(url, future=True, **kwargs)
        except (ArgumentError, NoSuchModuleError, ImportError) as e:
            raise ArchscoutError(f"cannot open storage {url!r}: {e}") from None
        if parsed.get_backend_name() == "sqlite":
            @sa.event.listens_for(self.engine, "connect")
            def _sqlite_pragmas(dbapi_conn, _):
                dbapi_conn.execute("PRAGMA foreign_keys=ON")
        self._init_schema()

    def _init_schema(self) -> None:
        try:
            existing = set(sa.inspect(self.engine).get_table_names())
        except DatabaseError as e:
            raise ArchscoutError(f"storage {self.url!r} is not a readable database ({e.orig})") from None
        except OperationalError as e:  # pragma: no cover - server not reachable
            raise ArchscoutError(f"cannot connect to storage {self.url!r}: {e.orig}") from None
        ours = {t.name for t in _meta.sorted_tables}
        if existing and meta_table.name not in existing:
            raise ArchscoutError(f"storage {self.url!r} holds tables that archscout did not create "
                                 f"({', '.join(sorted(existing)[:5])}); refusing to touch it")
        if meta_table.name in existing:
            with self.engine.connect() as c:
                row = c.execute(sa.select(meta_table.c.value).where(meta_table.c.key == "schema_version")).first()
            version = int(row[0]) if row else 0
            if version > SCHEMA_VERSION:
                raise ArchscoutError(f"storage {self.url!r} was written by a newer archscout (schema {version}; "
                                     f"this one reads {SCHEMA_VERSION}); upgrade archscout, nothing was changed")
            if not ours <= existing:
                raise ArchscoutError(f"storage {self.url!r} is damaged: missing tables "
                                     f"{sorted(ours - existing)}; nothing was changed")
            return
        _meta.create_all(self.engine)
        with self.engine.begin() as c:
            c.execute(meta_table.insert().values(key="schema_version", value=str(SCHEMA_VERSION)))

    # -- studies ----------------------------------------------------------------------
    def get_study(self, name: str) -> StudyRow | None:
        with self.engine.connect() as c:
            r = c.execute(sa.select(studies).where(studies.c.name == name)).mappings().first()
        return None if r is None else StudyRow(r["id"], r["name"], json.loads(r["config"]), r["created_at"],
                                               r["search_seconds"])

    def create_study(self, name: str, config: dict) -> StudyRow:
        with self.engine.begin() as c:
            c.execute(studies.insert().values(name=name, config=_dumps(config), created_at=time.time(),
                                              search_seconds=0.0))
        return self.get_study(name)

    def list_studies(self) -> list[dict]:
        q = (sa.select(studies.c.id, studies.c.name, studies.c.config, studies.c.created_at,
                       studies.c.search_seconds, trials.c.status, sa.func.count(trials.c.id))
             .select_from(studies.outerjoin(trials)).group_by(studies.c.id, trials.c.status)
             .order_by(studies.c.created_at))
        out: dict[int, dict] = {}
        with self.engine.connect() as c:
            for sid, name, config, created, secs, status, count in c.execute(q):
                row = out.setdefault(sid, {"name": name, "config": json.loads(config), "created_at": created,
                                           "search_seconds": secs, "counts": {}})
                if status is not None:
                    row["counts"][status] = count
        return list(out.values())

    def update_config(self, study_id: int, config: dict) -> None:
        with self.engine.begin() as c:
            c.execute(studies.update().where(studies.c.id == study_id).values(config=_dumps(config)))

    def add_search_seconds(self, study_id: int, seconds: float) -> None:
        with self.engine.begin() as c:
            c.execute(studies.update().where(studies.c.id == study_id)
                      .values(search_seconds=studies.c.search_seconds + seconds))

    # -- trials -----------------------------------------------------------------------
    def start_trial(self, study_id: int, arch_id: str, arch_json: str, budget: str, seed: int) -> TrialRow:
        """Insert a running trial with the next number of the study."""
        for _ in range(20):
            with self.engine.begin() as c:
                number = c.execute(sa.select(sa.func.coalesce(sa.func.max(trials.c.number), -1) + 1)
                                   .where(trials.c.study_id == study_id)).scalar_one()
                try:
                    res = c.execute(trials.insert().values(
                        study_id=study_id, number=number, arch_id=arch_id, arch=arch_json, budget=budget,
                        status="running", metrics="{}", details="{}", seed=seed, started_at=time.time()))
                except sa.exc.IntegrityError:  # another writer took this number
                    continue
                return self._trial(c, res.inserted_primary_key[0])
        raise ArchscoutError("could not allocate a trial number (database too contended)")

    def finish_trial(self, trial_id: int, status: str, metrics: dict | None = None, details: dict | None = None,
                     error: str | None = None) -> None:
        with self.engine.begin() as c:
            c.execute(trials.update().where(trials.c.id == trial_id).values(
                status=status, metrics=_dumps(metrics or {}), details=_dumps(details or {}), error=error,
                finished_at=time.time()))

    def mark_interrupted(self, study_id: int) -> int:
        """Trials left 'running' by a process that died are marked 'interrupted' (kept, not deleted)."""
        with self.engine.begin() as c:
            res = c.execute(trials.update().where((trials.c.study_id == study_id) & (trials.c.status == "running"))
                            .values(status="interrupted", finished_at=time.time(),
                                    error="the search process stopped while this trial was running"))
        return res.rowcount

    def _trial(self, c, trial_id: int) -> TrialRow:
        r = c.execute(sa.select(trials).where(trials.c.id == trial_id)).mappings().first()
        return self._row(r)

    @staticmethod
    def _row(r) -> TrialRow:
        return TrialRow(r["id"], r["study_id"], r["number"], r["arch_id"], r["arch"], r["budget"], r["status"],
                        json.loads(r["metrics"]), json.loads(r["details"]), r["error"], r["seed"],
                        r["started_at"], r["finished_at"])

    def trials(self, study_id: int) -> list[TrialRow]:
        with self.engine.connect() as c:
            rows = c.execute(sa.select(trials).where(trials.c.study_id == study_id)
                             .order_by(trials.c.number)).mappings().all()
        return [self._row(r) for r in rows]

    # -- final retraining ---------------------------------------------------------------
    def add_final(self, study_id: int, trial_id: int, seed: int, budget: str, metrics: dict, details: dict,
                  weights: bytes | None) -> None:
        with self.engine.begin() as c:
            c.execute(finals.insert().values(study_id=study_id, trial_id=trial_id, seed=seed, budget=budget,
                                             metrics=_dumps(metrics), details=_dumps(details), weights=weights,
                                             created_at=time.time()))

    def finals(self, study_id: int, with_weights: bool = False) -> list[FinalRow]:
        cols = [finals.c.id, finals.c.trial_id, finals.c.seed, finals.c.budget, finals.c.metrics,
                finals.c.details, finals.c.created_at] + ([finals.c.weights] if with_weights else [])
        with self.engine.connect() as c:
            rows = c.execute(sa.select(*cols).where(finals.c.study_id == study_id)
                             .order_by(finals.c.trial_id, finals.c.seed)).all()
        return [FinalRow(r[0], r[1], r[2], r[3], json.loads(r[4]), json.loads(r[5]), r[6],
                         r[7] if with_weights else None) for r in rows]
