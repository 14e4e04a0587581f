"""PostgreSQL for tests: a throwaway database per test module or per test, dropped afterwards.

The server is ``JLIS_TEST_PG`` (a SQLAlchemy URL of a database to connect to for CREATE/DROP DATABASE;
default ``postgresql+psycopg://postgres@127.0.0.1:5432/test``). Test databases are named
``jlis_test_<tag>_<pid>_<random>``, so parallel runs never collide. When the server is unreachable,
PostgreSQL tests skip with the reason locally and fail under ``CI=true``, where they are required.

Use :func:`fresh_database` in a fixture::

    @pytest.fixture
    def pg_url() -> Iterator[str]:
        with fresh_database("mytests") as url:
            yield url
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo
from sqlalchemy.engine import URL, make_url

IN_CI = os.environ.get("CI") == "true"
ADMIN_URL = make_url(os.environ.get("JLIS_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test"))
"""Where test databases are created and dropped from."""
PREFIX = "jlis_test_"
"""Every test database name starts with this (the only databases these helpers create or drop)."""
CONNECT_TIMEOUT = 3


def _conninfo(url: URL) -> str:
    """A libpq connection string for a SQLAlchemy URL."""
    params: dict[str, str | int] = {"connect_timeout": CONNECT_TIMEOUT, "dbname": url.database or "postgres"}
    for key, value in (
        ("host", url.host),
        ("port", url.port),
        ("user", url.username),
        ("password", url.password),
    ):
        if value is not None:
            params[key] = value
    return make_conninfo("", **params)


def pg_conninfo(database: str) -> str:
    """The libpq connection string of a database on the test server (to act behind a store's back)."""
    return _conninfo(ADMIN_URL.set(database=database))


@cache
def unavailable_reason() -> str | None:
    """Why PostgreSQL cannot be used for tests, or None when it can (checked once per process)."""
    where = ADMIN_URL.render_as_string(hide_password=True)
    try:
        with psycopg.connect(_conninfo(ADMIN_URL)):
            return None
    except psycopg.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return f"PostgreSQL is not reachable at {where} (set JLIS_TEST_PG): {first}"


def need_postgres() -> None:
    """Skip the calling test when PostgreSQL is unreachable; under CI=true, fail it instead."""
    reason = unavailable_reason()
    if reason is None:
        return
    if IN_CI:
        pytest.fail(f"PostgreSQL tests are required in CI: {reason}")
    pytest.skip(reason)


def database_url(name: str) -> str:
    """The SQLAlchemy URL of a database on the test server."""
    return ADMIN_URL.set(database=name).render_as_string(hide_password=False)


def _admin() -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(_conninfo(ADMIN_URL), autocommit=True)


def create_database(tag: str = "", *, template: str | None = None) -> str:
    """Create a uniquely named test database (empty, or a copy of ``template``) and return its name.

    Copying a prepared template (e.g. one already migrated) is faster than preparing each database; the
    template must have no open connections while it is copied.
    """
    clean = re.sub(r"[^a-z0-9]+", "_", tag.lower()).strip("_")[:20]
    name = f"{PREFIX}{clean + '_' if clean else ''}{os.getpid()}_{secrets.token_hex(4)}"
    statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
    if template is not None:
        statement = sql.SQL("{} TEMPLATE {}").format(statement, sql.Identifier(template))
    with _admin() as conn:
        conn.execute(statement)
    return name


def drop_database(name: str) -> None:
    """Drop a test database, disconnecting whoever still uses it (only ``jlis_test_*`` names)."""
    if not name.startswith(PREFIX):
        raise ValueError(f"refusing to drop {name!r}: not a test database")
    with _admin() as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@contextmanager
def fresh_database(tag: str = "", *, template: str | None = None) -> Iterator[str]:
    """A new database (empty, or a copy of ``template``) for the block; yields its SQLAlchemy URL."""
    need_postgres()
    name = create_database(tag, template=template)
    try:
        yield database_url(name)
    finally:
        drop_database(name)


def database_name(url: str) -> str:
    """The database a test URL names (to use it as a template)."""
    name = make_url(url).database
    if name is None or not name.startswith(PREFIX):
        raise ValueError(f"{url!r} does not name a test database")
    return name
