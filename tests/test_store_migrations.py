"""Store.open and the Alembic migrations: an empty database gets the whole schema, opening again changes
nothing, the models in pki.store.schema match what the migrations build, and unknown revisions are refused."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from pki.audit.chain import GENESIS
from pki.errors import StoreUnavailable
from pki.store import Store
from pki.store.migrate import alembic_config, head_revision
from pki.store.schema import metadata
from tests.test_store_support import BACKENDS, backend_url, ca_row, entry, query

TABLES = {
    "alembic_version",
    "audit_checkpoint",
    "audit_head",
    "audit_log",
    "ca",
    "ca_generation",
    "cert_link",
    "certificate",
    "crl",
    "crl_counter",
    "domain_schema",
    "ocsp_response",
    "revocation",
    "revocation_counter",
}


@pytest.fixture(params=BACKENDS)
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with backend_url(request.param, tmp_path, "migrations") as url:
        yield url


def _inspect(url: str) -> tuple[set[str], str | None, list[tuple[int, bytes]]]:
    """Tables, the Alembic revision and the audit head, read with a plain engine."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            tables = set(sa.inspect(conn).get_table_names())
            revision = MigrationContext.configure(conn).get_current_revision()
            head = []
            if "audit_head" in tables:
                rows = conn.exec_driver_sql("SELECT seq, record_hash FROM audit_head")
                head = [(int(seq), bytes(tip)) for seq, tip in rows]
        return tables, revision, head
    finally:
        engine.dispose()


def test_open_creates_the_whole_schema_at_head(empty_url: str) -> None:
    Store.open(empty_url).close()
    tables, revision, head = _inspect(empty_url)
    assert tables == TABLES
    assert revision == head_revision()
    assert head == [(0, GENESIS)]


def test_opening_again_is_a_no_op(empty_url: str) -> None:
    with Store.open(empty_url) as store:
        store.add_ca(ca_row("kept"), entry("ca.add", "kept"))
    before = _inspect(empty_url)
    with Store.open(empty_url) as store:
        assert [row.ca_id for row in store.list_cas()] == ["kept"]
    assert _inspect(empty_url) == before
    assert query(empty_url, {"audit": "SELECT count(*) FROM audit_log"}) == {"audit": 1}


def test_schema_models_match_the_migrations(empty_url: str) -> None:
    Store.open(empty_url).close()
    engine = sa.create_engine(empty_url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            diffs = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
    finally:
        engine.dispose()
    assert diffs == []


def test_migrations_downgrade_to_nothing_and_back(empty_url: str) -> None:
    Store.open(empty_url).close()
    engine = sa.create_engine(empty_url, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as conn:
            config = alembic_config()
            config.attributes["connection"] = conn
            command.downgrade(config, "base")
    finally:
        engine.dispose()
    assert _inspect(empty_url)[0] == {"alembic_version"}
    Store.open(empty_url).close()
    assert _inspect(empty_url)[0] == TABLES


def test_two_stores_opening_an_empty_database_at_once_both_succeed(empty_url: str) -> None:
    start = threading.Barrier(4)
    errors: list[BaseException] = []

    def open_store() -> None:
        start.wait()
        try:
            Store.open(empty_url).close()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_store) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert _inspect(empty_url)[1] == head_revision()


def test_a_schema_newer_than_this_code_is_refused(empty_url: str) -> None:
    Store.open(empty_url).close()
    engine = sa.create_engine(empty_url, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("UPDATE alembic_version SET version_num = 'f00d'")
    finally:
        engine.dispose()
    with pytest.raises(StoreUnavailable, match="revision f00d"):
        Store.open(empty_url)
