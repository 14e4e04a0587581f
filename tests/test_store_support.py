"""Helpers shared by the store tests (no tests here): real signed certificates, rows, a chain check,
and the database each parametrised test runs on (a SQLite file, or a fresh PostgreSQL database)."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from pki.audit.chain import GENESIS, AuditRecord, payload_digest, record_hash
from pki.model import shard_of
from pki.store import AuditEntry, CaRow, PendingCert, Store
from tests.pg import database_name, fresh_database

T0 = dt.datetime(2025, 4, 1, 9, 30, tzinfo=dt.UTC)
"""The frozen 'now' of the store tests."""
JST = dt.timezone(dt.timedelta(hours=9), "JST")
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
"""Parametrise a URL fixture with these to run a test on both databases."""

_NAME = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "store test")])


@cache
def _key() -> ed25519.Ed25519PrivateKey:
    return ed25519.Ed25519PrivateKey.generate()


@contextmanager
def backend_url(backend: str, tmp_path: Path, tag: str, *, template: str | None = None) -> Iterator[str]:
    """A database URL for one test: a SQLite file under tmp_path, or a fresh PostgreSQL database
    (a copy of ``template`` when given)."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'pki.db'}"
        return
    with fresh_database(tag, template=template) as url:
        yield url


@contextmanager
def migrated_template(tag: str) -> Iterator[str]:
    """A PostgreSQL database with the store schema and nothing else, to copy per test; yields its name."""
    with fresh_database(tag) as url:
        Store.open(url).close()
        yield database_name(url)


def signed(serial: int, *, days: int = 365) -> tuple[bytes, bytes]:
    """A real certificate with this serial: (DER, SHA-256 of its TBSCertificate)."""
    cert = (
        x509.CertificateBuilder()
        .subject_name(_NAME)
        .issuer_name(_NAME)
        .public_key(_key().public_key())
        .serial_number(serial)
        .not_valid_before(T0)
        .not_valid_after(T0 + dt.timedelta(days=days))
        .sign(_key(), None)
    )
    return cert.public_bytes(Encoding.DER), hashlib.sha256(cert.tbs_certificate_bytes).digest()


def pending(
    ca_id: str, serial: int, *, shards: int = 1, is_ca: bool = False, holder: str | None = None
) -> tuple[PendingCert, bytes]:
    """A reservation for ``serial`` and the DER that completes it."""
    der, tbs_sha256 = signed(serial)
    cert = PendingCert(
        ca_id=ca_id,
        serial=serial,
        subject_der=_NAME.public_bytes(),
        subject_text=_NAME.rfc4514_string(),
        not_before=T0,
        not_after=T0 + dt.timedelta(days=365),
        profile="test-ee",
        tbs_sha256=tbs_sha256,
        holder_ref=holder,
        is_ca=is_ca,
        shard=shard_of(serial, shards),
    )
    return cert, der


def ca_row(ca_id: str) -> CaRow:
    return CaRow(
        ca_id=ca_id,
        subject_der=_NAME.public_bytes(),
        key_uri=f"file:/keys?object={ca_id}",
        cert_der=b"\x30\x00",
        key_sha1=hashlib.sha1(ca_id.encode()).digest(),
        created_at=T0,
    )


def entry(action: str, obj: str, **payload: Any) -> AuditEntry:
    return AuditEntry(actor="tester", action=action, object=obj, payload=payload)


def verify_chain(records: Sequence[AuditRecord], payloads: Sequence[dict[str, Any]] | None = None) -> None:
    """Recompute the chain with pki.audit.chain: seq 1..n without gaps, each hash over the one before."""
    prev = GENESIS
    for index, record in enumerate(records):
        assert record.seq == index + 1, f"gap or reorder at {record.seq}"
        assert record.prev_hash == prev, f"record {record.seq} does not chain onto its predecessor"
        if payloads is not None:
            assert record.payload_digest == payload_digest(payloads[index]), f"payload {record.seq}"
        expected = record_hash(
            prev, record.seq, record.at, record.actor, record.action, record.object, record.payload_digest
        )
        assert record.record_hash == expected, f"record {record.seq} hash does not recompute"
        assert record.at.tzinfo is not None
        prev = record.record_hash


_STATE = {
    "cas": "SELECT count(*) FROM ca",
    "certificates": "SELECT count(*) FROM certificate",
    "good": "SELECT count(*) FROM certificate WHERE status = 'good'",
    "revoked": "SELECT count(*) FROM certificate WHERE status = 'revoked'",
    "on_hold": "SELECT count(*) FROM certificate WHERE status = 'on_hold'",
    "pending": "SELECT count(*) FROM certificate WHERE status = 'pending'",
    "aborted": "SELECT count(*) FROM certificate WHERE status = 'aborted'",
    "revocations": "SELECT count(*) FROM revocation",
    "released": "SELECT count(*) FROM revocation WHERE released_at IS NOT NULL",
    "change_seqs": "SELECT coalesce(sum(last_seq), 0) FROM revocation_counter",
    "links": "SELECT count(*) FROM cert_link",
    "crls": "SELECT count(*) FROM crl",
    "crl_numbers": "SELECT coalesce(sum(last_number), 0) FROM crl_counter",
    "audit": "SELECT count(*) FROM audit_log",
    "audit_head": "SELECT seq FROM audit_head",
    "checkpoints": "SELECT count(*) FROM audit_checkpoint",
}


def query(url: str, statements: dict[str, str]) -> dict[str, int]:
    """Run counting statements behind the store's back (a plain engine, no store code)."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            return {name: int(conn.exec_driver_sql(text).scalar_one()) for name, text in statements.items()}
    finally:
        engine.dispose()


def state(url: str) -> dict[str, int]:
    """Counts that any change to the store moves: proof that a refused call changed nothing."""
    return query(url, _STATE)


_COLUMNS = (
    "certificate (ca_id, serial_hex, serial_key, status, subject_der, subject_text, not_before, not_after,"
    " profile, is_ca, shard, tbs_sha256, created_at)"
)
_FILL = {
    "postgresql": (
        f"INSERT INTO {_COLUMNS}"
        " SELECT %(ca)s, to_hex(g * 7919), lpad(to_hex(g * 7919), 40, '0'), 'revoked', '\\x30', 'CN=bulk',"
        " now(), now(), 'bulk', false, g %% 8, '\\x00', now()"
        " FROM generate_series(1::bigint, %(n)s::bigint) g",
        "INSERT INTO revocation SELECT id, ca_id, serial_key, shard, is_ca, 'keyCompromise', now(),"
        " NULL, NULL, id FROM certificate WHERE ca_id = %(ca)s",
    ),
    "sqlite": (
        "WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < :n)"
        f" INSERT INTO {_COLUMNS}"
        " SELECT :ca, printf('%x', n * 7919), printf('%040x', n * 7919), 'revoked', x'30', 'CN=bulk',"
        " '2025-04-01 00:00:00.000000', '2025-04-01 00:00:00.000000', 'bulk', 0, n % 8, x'00',"
        " '2025-04-01 00:00:00.000000' FROM g",
        "INSERT INTO revocation SELECT id, ca_id, serial_key, shard, is_ca, 'keyCompromise',"
        " '2025-04-01 00:00:00.000000', NULL, NULL, id FROM certificate WHERE ca_id = :ca",
    ),
}


def bulk_revoke(url: str, ca_id: str, count: int) -> None:
    """Insert ``count`` revoked certificates of an existing CA straight into the tables (serial k * 7919).

    Only for volume tests: it bypasses the store (no audit records, change_seq = certificate id).
    """
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as conn:
            for statement in _FILL[engine.dialect.name]:
                conn.exec_driver_sql(statement, {"ca": ca_id, "n": count})
    finally:
        engine.dispose()
