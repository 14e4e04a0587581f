"""A store whose database is gone, unreachable or locked says StoreUnavailable, never a driver error."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from pki.errors import StoreUnavailable
from pki.store import Store
from tests.pg import create_database, database_url, drop_database, need_postgres, pg_conninfo
from tests.test_store_support import T0, ca_row, entry, pending, state

CA = "fragile-ca"


def test_postgres_on_a_closed_port_is_unavailable() -> None:
    with pytest.raises(StoreUnavailable, match=r"(?i)connect"):
        Store.open("postgresql+psycopg://postgres@127.0.0.1:1/nothing")


@pytest.fixture
def pg_store() -> Iterator[tuple[Store, str]]:
    """A PostgreSQL store whose database the test may drop (teardown tolerates that)."""
    need_postgres()
    name = create_database("failures")
    try:
        with Store.open(database_url(name)) as store:
            store.add_ca(ca_row(CA), entry("ca.add", CA))
            yield store, name
    finally:
        drop_database(name)


@pytest.mark.postgres
def test_a_dropped_postgres_database_is_unavailable(pg_store: tuple[Store, str]) -> None:
    store, name = pg_store
    store.reserve_certificate(pending(CA, 1)[0], entry("cert.reserve", "1"))  # pooled connections exist
    drop_database(name)  # WITH (FORCE): the server ends the store's connections

    for call in (
        lambda: store.status(CA, 1),
        lambda: store.reserve_certificate(pending(CA, 2)[0], entry("cert.reserve", "2")),
        lambda: list(store.revoked_entries(CA)),
        lambda: list(store.audit_records()),
        lambda: store.next_crl_number(CA, "full"),
        lambda: store.append_audit(entry("note", "x")),
    ):
        with pytest.raises(StoreUnavailable):
            call()
    with pytest.raises(StoreUnavailable, match="does not exist"):
        Store.open(database_url(name))


def test_sqlite_locked_beyond_the_busy_timeout_is_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "pki.db"
    url = f"sqlite:///{path}"
    with Store.open(url, busy_timeout=0.2) as store:
        store.add_ca(ca_row(CA), entry("ca.add", CA))
        before = state(url)
        other = sqlite3.connect(path, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
            with pytest.raises(StoreUnavailable, match="locked"):
                store.reserve_certificate(pending(CA, 1)[0], entry("cert.reserve", "1"))
            assert store.status(CA, 1) is None  # readers are not blocked by a writer (WAL)
            other.execute("ROLLBACK")
        finally:
            other.close()
        assert state(url) == before
        store.reserve_certificate(pending(CA, 1)[0], entry("cert.reserve", "1"))


def test_sqlite_in_a_missing_directory_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(StoreUnavailable, match="unable to open"):
        Store.open(f"sqlite:///{tmp_path / 'no' / 'such' / 'dir' / 'pki.db'}")


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("sqlite://", "in-memory"),
        ("sqlite:///:memory:", "in-memory"),
        ("mysql://root@localhost/pki", "unsupported"),
        ("postgresql+psycopg2://postgres@localhost/pki", "psycopg 3"),
    ],
)
def test_urls_the_store_cannot_serve_are_refused(url: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        Store.open(url)


def test_naive_times_are_refused_before_touching_the_database(tmp_path: Path) -> None:
    with Store.open(f"sqlite:///{tmp_path / 'pki.db'}") as store:
        store.add_ca(ca_row(CA), entry("ca.add", CA))
        with pytest.raises(ValueError, match="naive"):
            store.abort_pending(CA, T0.replace(tzinfo=None), entry("cert.abort", CA))


@pytest.mark.postgres
def test_postgres_writer_stuck_behind_a_lock_gives_up(pg_store: tuple[Store, str]) -> None:
    _, name = pg_store
    url = database_url(name)
    with Store.open(url, busy_timeout=0.3) as store:
        before = state(url)
        with psycopg.connect(pg_conninfo(name)) as other:
            other.execute("SELECT * FROM audit_head FOR UPDATE")  # a hung session holding the chain head
            with pytest.raises(StoreUnavailable, match="lock timeout"):
                store.reserve_certificate(pending(CA, 1)[0], entry("cert.reserve", "1"))
            assert store.status(CA, 1) is None  # reads do not wait
        assert state(url) == before
        store.reserve_certificate(pending(CA, 1)[0], entry("cert.reserve", "1"))
