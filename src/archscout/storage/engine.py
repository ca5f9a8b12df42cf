"""Opening a database: the URL, SQLite's read-only files, the engine and the connection a write takes."""
from __future__ import annotations

import os
import socket
import urllib.parse
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import ArgumentError, DatabaseError, NoSuchModuleError, OperationalError

from ..errors import ArchscoutError

HOST = socket.gethostname()
BACKENDS = ("sqlite", "postgresql")  # the databases archscout stores in (a URL's scheme, before any +driver)


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
    if parsed.get_backend_name() not in BACKENDS:  # before SQLAlchemy looks for a driver of another database
        raise ArchscoutError(f"storage {parsed.render_as_string(hide_password=True)!r} is a "
                             f"{parsed.get_backend_name()!r} database, which archscout does not support; use SQLite "
                             f"(sqlite:///PATH) or PostgreSQL (postgresql://user@host/db, with or without +DRIVER)")
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


class Connection:
    """The engine of one database and what every part of :class:`~archscout.storage.Storage` reads it with."""

    url: str
    create: bool
    shown_url: str
    backend: str
    engine: sa.engine.Engine
    _writer: sa.engine.Engine

    def _connect(self, url: str, create: bool) -> None:
        """Open ``url`` (see :meth:`Storage.__init__`); nothing is read or created yet."""
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
