"""The database schema (version 4) and the migrations that bring older archscout databases up to it.

A migration is a function of an open transaction; they run in order, all in one transaction
per step, and the stored ``schema_version`` moves with them. A database whose version is
newer than ``SCHEMA_VERSION`` is never touched.
"""
from __future__ import annotations

import hashlib

import sqlalchemy as sa

SCHEMA_VERSION = 4

metadata = sa.MetaData()
meta_table = sa.Table("archscout_meta", metadata, sa.Column("key", sa.String(64), primary_key=True),
                      sa.Column("value", sa.Text, nullable=False))
studies = sa.Table(
    "studies", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(200), nullable=False, unique=True),
    sa.Column("config", sa.Text, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    # search time of schema-1 runs; newer runs are timed by their sessions
    sa.Column("search_seconds", sa.Float, nullable=False, default=0.0),
)
sessions = sa.Table(
    "sessions", metadata,  # one row per search process (driver) that worked on a study
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("study_id", sa.Integer, sa.ForeignKey("studies.id"), nullable=False, index=True),
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("started_at", sa.Float, nullable=False),
    sa.Column("heartbeat_at", sa.Float, nullable=False),
    sa.Column("stopped_at", sa.Float),
    sa.Column("info", sa.Text, nullable=False, default="{}"),
)
trials = sa.Table(
    "trials", metadata,
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
    # architecture+budget while the trial holds it (running or finished); NULL once interrupted and
    # released, so the unique index below makes claims atomic across processes and machines
    sa.Column("claim", sa.String(64)),
    sa.Column("session_id", sa.Integer, sa.ForeignKey("sessions.id")),
    # the fidelity the trial ran at (JSON; NULL: the study's own budget) and the trial it continued
    sa.Column("fidelity", sa.Text),
    sa.Column("parent", sa.Integer),
    sa.UniqueConstraint("study_id", "number"),
    sa.Index("ix_trials_claim", "study_id", "claim", unique=True),
    sa.Index("ix_trials_study_status", "study_id", "status"),  # trial budgets count these on every claim
)
finals = sa.Table(
    "finals", metadata,
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

fronts = sa.Table(
    "fronts", metadata,  # the Pareto front of a multi-objective study after each trial, to follow it over time
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("study_id", sa.Integer, sa.ForeignKey("studies.id"), nullable=False, index=True),
    sa.Column("trial_id", sa.Integer, sa.ForeignKey("trials.id"), nullable=False),  # the trial just stored
    sa.Column("finished", sa.Integer, nullable=False),  # finished trials the front was computed from
    sa.Column("front", sa.Text, nullable=False),  # JSON list of the trial numbers on the front
    sa.Column("hypervolume", sa.Float),  # NULL until the study's reference point is fixed
    sa.Column("created_at", sa.Float, nullable=False),
)

# the tables each version has: what a database of that version must hold to be read
TABLES_AT = {1: {"archscout_meta", "studies", "trials", "finals"},
             2: {"archscout_meta", "studies", "trials", "finals", "sessions"},
             3: {"archscout_meta", "studies", "trials", "finals", "sessions", "fronts"},
             4: {"archscout_meta", "studies", "trials", "finals", "sessions", "fronts"}}


def claim_key(arch_id: str, budget: str) -> str:
    return f"{arch_id}@{hashlib.sha256(budget.encode()).hexdigest()[:16]}"


def _v1_to_v2(conn) -> None:
    """Sessions (one per search process), trial claims, and which session ran each trial."""
    sessions.create(conn)
    conn.execute(sa.text("ALTER TABLE trials ADD COLUMN claim VARCHAR(64)"))
    conn.execute(sa.text("ALTER TABLE trials ADD COLUMN session_id INTEGER REFERENCES sessions(id)"))
    # schema-1 trials that finished hold their architecture at their budget (the oldest one, if ever two)
    rows = conn.execute(sa.text("SELECT id, study_id, arch_id, budget FROM trials "
                                "WHERE status IN ('complete', 'failed', 'infeasible') ORDER BY id")).all()
    seen = set()
    for tid, sid, arch_id, budget in rows:
        key = claim_key(arch_id, budget)
        if (sid, key) in seen:
            continue
        seen.add((sid, key))
        conn.execute(sa.text("UPDATE trials SET claim = :c WHERE id = :i"), {"c": key, "i": tid})
    conn.execute(sa.text("CREATE UNIQUE INDEX ix_trials_claim ON trials (study_id, claim)"))
    conn.execute(sa.text("CREATE INDEX ix_trials_study_status ON trials (study_id, status)"))


def _v2_to_v3(conn) -> None:
    """Pareto fronts after each trial (multi-objective studies)."""
    fronts.create(conn)


def _v3_to_v4(conn) -> None:
    """Trials carry the fidelity they ran at and the trial they continued (both NULL for older trials)."""
    conn.execute(sa.text("ALTER TABLE trials ADD COLUMN fidelity TEXT"))
    conn.execute(sa.text("ALTER TABLE trials ADD COLUMN parent INTEGER"))


MIGRATIONS = {1: _v1_to_v2, 2: _v2_to_v3, 3: _v3_to_v4}  # from version -> the step to the next one
