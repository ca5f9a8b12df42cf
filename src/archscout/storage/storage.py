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

from .migrations import Schema
from .trials import Trials


class Storage(Trials, Schema):
    """Database access for studies, trials, sessions and final results. ``url`` is any SQLAlchemy URL.

    Its parts, one module each: opening the database (:mod:`.engine`), its schema and migrations
    (:mod:`.migrations`), studies and search sessions (:mod:`.studies`), trials and final retrainings
    (:mod:`.trials`); the rows it returns are in :mod:`.rows`."""

    def __init__(self, url: str = "sqlite:///archscout.db", create: bool = True):
        """``create=False``: the database must exist already (for commands that only read). A SQLite file this
        process cannot write is opened read-only (:attr:`read_only` says why)."""
        self._connect(url, create)
        self._init_schema()

    def dispose(self) -> None:
        self.engine.dispose()
