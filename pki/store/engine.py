"""Engines for the two supported databases, with the connection settings the store relies on.

SQLite: WAL (readers never block the writer), ``synchronous=NORMAL`` (durable at checkpoints, never corrupt),
foreign keys on, and a busy timeout. The sqlite3 driver's own transaction handling is switched off and the
store emits ``BEGIN IMMEDIATE`` for write transactions itself (SQLAlchemy's "Serializable isolation /
Savepoints / Transactional DDL" recipe): a writer takes the write lock when it begins, so concurrent writers
wait for each other (up to the busy timeout) instead of failing with "database is locked" on upgrade from a
read lock. Reads run in autocommit, one statement each.

PostgreSQL (psycopg 3): a pooled engine; sessions in UTC; a connect timeout so a dead server fails fast, and
a lock timeout (the same ``busy_timeout``) so a writer waits for a lock only so long.
"""

from __future__ import annotations

import sqlite3
import time
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.pool import ConnectionPoolEntry

WRITE = "jlis_write"
"""Execution option marking a connection whose transaction will write (SQLite: ``BEGIN IMMEDIATE``)."""

DEFAULT_BUSY_TIMEOUT = 30.0
"""Seconds a writer waits for a lock (SQLite's write lock, a PostgreSQL row lock) before StoreUnavailable."""

PG_CONNECT_TIMEOUT = 10
"""Seconds before a PostgreSQL connection attempt gives up (StoreUnavailable)."""


def make_engine(url: str | URL, *, busy_timeout: float = DEFAULT_BUSY_TIMEOUT) -> Engine:
    """An engine for a ``sqlite:///file`` or ``postgresql+psycopg://`` URL; anything else is refused."""
    if busy_timeout <= 0:
        raise ValueError(f"busy_timeout must be positive seconds, got {busy_timeout}")
    try:
        parsed = make_url(url)
    except sa.exc.ArgumentError as exc:
        raise ValueError(f"not a database URL: {exc}") from None
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed, busy_timeout)
    if parsed.get_backend_name() == "postgresql":
        return _postgres_engine(parsed, busy_timeout)
    raise ValueError(f"unsupported database URL {parsed.render_as_string(hide_password=True)!r}")


def _sqlite_engine(url: URL, busy_timeout: float) -> Engine:
    if url.database in (None, "", ":memory:") or url.query.get("mode") == "memory":
        raise ValueError(
            "an in-memory SQLite database is private to one connection and cannot hold a shared store; "
            "use a file: sqlite:///path/to/pki.db"
        )
    engine = sa.create_engine(url, connect_args={"timeout": busy_timeout}, pool_size=8, max_overflow=24)
    timeout_ms = int(busy_timeout * 1000)

    def on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        # Take BEGIN away from the driver: the "begin" listener below emits it.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {timeout_ms}")
            _enable_wal(cursor, busy_timeout)
            cursor.execute("PRAGMA synchronous = NORMAL")
            cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()

    def on_begin(connection: Connection) -> None:
        if connection.get_execution_options().get(WRITE):
            connection.exec_driver_sql("BEGIN IMMEDIATE")

    sa.event.listen(engine, "connect", on_connect)
    sa.event.listen(engine, "begin", on_begin)
    return engine


def _enable_wal(cursor: sqlite3.Cursor, timeout: float) -> None:
    """Switch a database to WAL (persistent: a no-op once done).

    The switch needs an exclusive lock, and SQLite answers "database is locked" at once instead of calling
    the busy handler when another connection holds any lock; so the first opening retries, for up to the
    busy timeout, while other processes open the same new database.
    """
    if cursor.execute("PRAGMA journal_mode").fetchone()[0] == "wal":
        return
    deadline = time.monotonic() + timeout
    delay = 0.002
    while True:
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.1)


def _postgres_engine(url: URL, lock_timeout: float) -> Engine:
    if url.get_driver_name() != "psycopg":
        raise ValueError("PostgreSQL URLs must use the psycopg 3 driver: postgresql+psycopg://user@host/db")
    # lock_timeout: a writer stuck behind a lock (e.g. a hung session holding the audit head) gives up
    # with StoreUnavailable instead of hanging every writer behind it.
    options = f"-c timezone=UTC -c lock_timeout={int(lock_timeout * 1000)}"
    return sa.create_engine(
        url,
        pool_size=8,
        max_overflow=24,
        connect_args={
            "connect_timeout": PG_CONNECT_TIMEOUT,
            "options": options,
            "application_name": "jlis-pki",
        },
    )


def is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"
