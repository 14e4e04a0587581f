"""Where driver errors become PkiErrors: the one place that knows what psycopg and sqlite3 raise.

Every public Store method runs inside :func:`translated`, so callers only ever see the PkiError tree: a
constraint violation the method expects becomes its typed error (DuplicateSerial…), any other integrity
violation StoreConflict, and connection failures, pool and lock timeouts ("database is locked") and
other database failures StoreUnavailable. Messages carry the driver's first line, never SQL parameters;
the driver exception stays attached as ``__cause__`` for logs.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from functools import cache

import psycopg
import sqlalchemy as sa
import sqlalchemy.exc as sa_exc
from alembic.util import CommandError

from pki.errors import PkiError, StoreUnavailable
from pki.store.errors import StoreConflict
from pki.store.schema import metadata

Conflicts = Mapping[str, Callable[[], PkiError]]
"""Constraint name → the typed error a method raises when that constraint refuses its write."""

DatabaseFailure = (
    sa_exc.DBAPIError,
    sa_exc.TimeoutError,
    sa_exc.DisconnectionError,
    sqlite3.Error,
    psycopg.Error,
    CommandError,
)
"""What the database layer raises; SQLAlchemy's other errors (bad SQL construction) are bugs and stay loud."""

_SQLITE_UNIQUE = re.compile(r"UNIQUE constraint failed: (?P<columns>[\w., ]+)")


@cache
def _sqlite_unique_names() -> dict[str, str]:
    """SQLite names a failed unique constraint by its columns (``ca.ca_id``): map those back to names."""
    names: dict[str, str] = {}
    for table in metadata.tables.values():
        for constraint in table.constraints:
            if isinstance(constraint, sa.PrimaryKeyConstraint | sa.UniqueConstraint) and constraint.name:
                key = ", ".join(f"{table.name}.{column.name}" for column in constraint.columns)
                names[key] = str(constraint.name)
    return names


def _first_line(exc: BaseException | None) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


_DRIVER_INTEGRITY = (sqlite3.IntegrityError, psycopg.IntegrityError)
"""Integrity errors as the drivers raise them (the hot write path runs statements on the driver's cursor)."""


IntegrityFailure = sa_exc.IntegrityError | sqlite3.IntegrityError | psycopg.IntegrityError


def constraint_name(exc: IntegrityFailure) -> str | None:
    """The name of the constraint that refused a write, from either driver (wrapped by SQLAlchemy or not)."""
    orig = exc.orig if isinstance(exc, sa_exc.IntegrityError) else exc
    if isinstance(orig, psycopg.Error):
        return orig.diag.constraint_name
    match = _SQLITE_UNIQUE.search(str(orig))
    return _sqlite_unique_names().get(match["columns"]) if match else None


def translate(exc: BaseException, conflicts: Conflicts) -> PkiError:
    """The PkiError a caller sees for a database failure."""
    if isinstance(exc, (sa_exc.IntegrityError, *_DRIVER_INTEGRITY)):
        name = constraint_name(exc)
        if name is not None and name in conflicts:
            return conflicts[name]()
        orig = exc.orig if isinstance(exc, sa_exc.IntegrityError) else exc
        return StoreConflict(f"the database refused the write: {name or _first_line(orig)}")
    if isinstance(exc, sa_exc.DBAPIError):
        return StoreUnavailable(_first_line(exc.orig))
    if isinstance(exc, sa_exc.TimeoutError):
        return StoreUnavailable("no free database connection in the pool")
    return StoreUnavailable(_first_line(exc))


@contextmanager
def translated(conflicts: Conflicts | None = None) -> Iterator[None]:
    """Run a block, turning database failures into PkiErrors (PkiErrors raised inside pass through)."""
    try:
        yield
    except DatabaseFailure as exc:
        raise translate(exc, conflicts or {}) from exc
