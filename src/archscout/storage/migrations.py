"""The schema of a database: created when new, checked when found (a database this version did not write is
never modified), migrated in place when older, SQLite files switched to write-ahead logging."""
from __future__ import annotations

import time
from typing import cast

import sqlalchemy as sa
from sqlalchemy.exc import DatabaseError, IntegrityError, OperationalError

from ..errors import ArchscoutError
from .engine import Connection
from .schema import MIGRATIONS, SCHEMA_VERSION, TABLES_AT, meta_table, metadata


class Schema(Connection):
    """Creating, checking and migrating the tables (see :meth:`_init_schema`)."""

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
            self._create_schema()
            return
        self._open_existing(existing)

    def _create_schema(self) -> None:
        """The tables of a new (empty) database."""
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

    def _open_existing(self, existing: set[str]) -> None:
        """Check a database of ours (its version, tables, integrity) and bring an older schema up to this one."""
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
        driver = cast(sqlite3.Connection, raw.driver_connection)  # the sqlite3 connection under SQLAlchemy's
        try:
            for _ in range(100):
                try:
                    driver.execute("PRAGMA journal_mode=WAL")
                    return
                except sqlite3.OperationalError as e:
                    # processes that open a new file at the same moment: the switch needs the file to
                    # itself and does not wait for it; another process may have switched it already
                    if "locked" not in str(e):
                        raise
                    mode = driver.execute("PRAGMA journal_mode").fetchone()
                    if mode and str(mode[0]).lower() == "wal":
                        return
                    time.sleep(0.05)
            driver.execute("PRAGMA journal_mode=WAL")
        finally:
            raw.close()

    def schema_version(self) -> int:
        try:
            with self.engine.connect() as c:
                row = c.execute(sa.select(meta_table.c.value).where(meta_table.c.key == "schema_version")).first()
        except (DatabaseError, OperationalError) as e:
            raise self._error(e) from None
        if not row:
            return 0
        try:
            return int(row[0])
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

