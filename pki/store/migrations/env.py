"""Alembic environment: migrate the connection ``Store.open`` hands over, or the URL given to the CLI.

``Store.open`` passes its connection in ``config.attributes["connection"]`` inside a transaction it has
already begun (and locked, so two processes never migrate at once). Run from the ``alembic`` command line
with ``-x url=...`` for maintenance; offline (``--sql``) mode is not supported.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from pki.store.engine import WRITE, make_engine
from pki.store.schema import metadata


def _migrate(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def _run() -> None:
    if context.is_offline_mode():
        raise SystemExit("offline (--sql) migrations are not supported; run against a database")
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _migrate(connection)
        return
    url = context.get_x_argument(as_dictionary=True).get("url") or context.config.get_main_option(
        "sqlalchemy.url"
    )
    if not url:
        raise SystemExit("give the database: alembic -x url=sqlite:///path/to/pki.db upgrade head")
    engine = make_engine(url)
    try:
        with engine.connect() as conn, conn.execution_options(**{WRITE: True}).begin():
            _migrate(conn)
    finally:
        engine.dispose()


_run()
