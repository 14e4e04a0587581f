"""Bring a database's schema to the newest Alembic revision, from ``Store.open``.

The upgrade runs in one write transaction (schema changes are transactional on both databases, so a
failed migration leaves the old schema). On PostgreSQL a transaction-scoped advisory lock makes a second
process opening the store at the same moment wait, then find the schema at head and do nothing; on SQLite
``BEGIN IMMEDIATE`` does the same.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, Engine

from pki.errors import StoreUnavailable
from pki.store.engine import WRITE, is_postgres

MIGRATIONS = Path(__file__).parent / "migrations"
MIGRATION_LOCK = 0x6A6C6973_00000001
"""PostgreSQL advisory lock key held while migrating ("jlis", 1)."""


def alembic_config() -> Config:
    """A fresh Alembic configuration of the store's migrations (fresh: it carries the connection)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


@cache
def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def head_revision() -> str:
    """The newest revision the code knows."""
    head = _scripts().get_current_head()
    if head is None:
        raise RuntimeError(f"no Alembic revisions under {MIGRATIONS}")
    return head


def _known(revision: str) -> bool:
    return any(script.revision == revision for script in _scripts().walk_revisions())


def current_revision(conn: Connection) -> str | None:
    """The revision the database is at (None for an empty database)."""
    return MigrationContext.configure(conn).get_current_revision()


def upgrade_to_head(engine: Engine) -> None:
    """Migrate the database to head in one transaction; a database already at head is left untouched."""
    with engine.connect() as conn, conn.execution_options(**{WRITE: True}).begin():
        if is_postgres(engine):
            conn.execute(sa.select(sa.func.pg_advisory_xact_lock(MIGRATION_LOCK)))
        current = current_revision(conn)
        if current == head_revision():
            return
        if current is not None and not _known(current):
            raise StoreUnavailable(
                f"the database schema is at revision {current}, which this jlis-pki does not know "
                f"(newest here: {head_revision()}); upgrade jlis-pki"
            )
        config = alembic_config()
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
