"""Revocation, hold and release inside a write transaction, and the CRL entry stream.

A certificate's row is locked (``FOR UPDATE``) before its revocation is read and changed, so two revokers of
one serial run one after the other and the second sees the first's result. Every change bumps the CA's
``revocation_counter`` row in the same transaction: ``change_seq`` is per CA, gap-free in commit order of
the counter lock, and a delta CRL lists the changes after its base CRL's ``change_seq``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import psycopg
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pki.errors import AlreadyRevoked, UnknownCa, UnknownSerial
from pki.model import CertStatus, RevocationReason, serial_hex
from pki.store.driver import Sql, Tx
from pki.store.rows import RevocationRow, RevokedEntry
from pki.store.schema import certificate, revocation, revocation_counter

if TYPE_CHECKING:
    # The CRL entry query: serial_key, revoked_at, reason, invalidity_date, released, change_seq.
    EntryQuery = sa.Select[str, dt.datetime, str, dt.datetime | None, bool, int]

_REASONS = {reason.value: reason for reason in RevocationReason}
_UNISSUED = (CertStatus.pending, CertStatus.aborted)

_LOCK_CERTIFICATE = (
    sa.select(
        certificate.c.id,
        certificate.c.status,
        certificate.c.serial_key,
        certificate.c.shard,
        certificate.c.is_ca,
    )
    .where(
        certificate.c.ca_id == sa.bindparam("ca_id"), certificate.c.serial_hex == sa.bindparam("serial_hex")
    )
    .with_for_update()
)
# Read after the lock, in a statement of its own: under READ COMMITTED, a statement that waited for a row
# lock sees that row's new version but the rest of its snapshot as it was before the wait.
_REVOCATION_REASON = sa.select(revocation.c.reason).where(
    revocation.c.certificate_id == sa.bindparam("cert_id")
)
_BUMP = (
    sa.update(revocation_counter)
    .where(revocation_counter.c.ca_id == sa.bindparam("ca"))
    .values(last_seq=revocation_counter.c.last_seq + 1)
    .returning(revocation_counter.c.last_seq)
)


@dataclass(frozen=True, slots=True)
class Target:
    """An issued certificate, locked for a revocation change."""

    ca_id: str
    serial: int
    cert_id: int
    status: CertStatus
    serial_key: str
    shard: int
    is_ca: bool
    reason: RevocationReason | None
    has_revocation: bool
    """A revocation row exists (a current revocation or hold, or a released hold)."""


def revoke(
    tx: Tx,
    sql: Sql,
    ca_id: str,
    serial: int,
    reason: RevocationReason,
    revoked_at: dt.datetime,
    invalidity_date: dt.datetime | None,
) -> RevocationRow:
    """Revoke (or hold) an issued certificate on the driver's cursor: lock its row, check, bump the CA's
    change_seq, upsert the revocation, set the status. The caller appends the audit record and commits."""
    found = tx.one(sql.lock_certificate, (ca_id, serial_hex(serial)))
    if found is None:
        raise UnknownSerial(ca_id, serial)
    cert_id, status_text, key, shard, is_ca = found
    status = CertStatus(status_text)
    if status in _UNISSUED:
        raise UnknownSerial(ca_id, serial)
    if status is CertStatus.revoked or (
        status is CertStatus.on_hold and reason is RevocationReason.certificate_hold
    ):
        current = tx.one(sql.revocation_reason, (cert_id,))
        raise AlreadyRevoked(ca_id, serial, str(None if current is None else _REASONS[current[0]]))
    bumped = tx.one(sql.bump_change_seq, (ca_id,))
    if bumped is None:
        raise UnknownCa(ca_id)
    row = RevocationRow(
        certificate_id=int(cert_id),
        ca_id=ca_id,
        serial=serial,
        reason=reason,
        revoked_at=revoked_at,
        invalidity_date=invalidity_date,
        released_at=None,
        change_seq=int(bumped[0]),
    )
    invalid = None if invalidity_date is None else sql.time(invalidity_date)
    tx.run(
        sql.upsert_revocation,
        (cert_id, ca_id, key, shard, is_ca, reason.value, sql.time(revoked_at), invalid, row.change_seq),
    )
    held = reason is RevocationReason.certificate_hold
    tx.run(sql.set_status, ((CertStatus.on_hold if held else CertStatus.revoked).value, cert_id))
    tx.run(sql.drop_presigned, (ca_id, serial_hex(serial)))  # OCSP answers must say revoked from now on
    return row


def lock_target(conn: Connection, ca_id: str, serial: int) -> Target:
    """Lock an issued certificate's row; pending, aborted and unknown serials are all UnknownSerial."""
    row = conn.execute(_LOCK_CERTIFICATE, {"ca_id": ca_id, "serial_hex": serial_hex(serial)}).one_or_none()
    if row is None or CertStatus(row.status) in _UNISSUED:
        raise UnknownSerial(ca_id, serial)
    reason = conn.execute(_REVOCATION_REASON, {"cert_id": row.id}).scalar_one_or_none()
    return Target(
        ca_id=ca_id,
        serial=serial,
        cert_id=row.id,
        status=CertStatus(row.status),
        serial_key=row.serial_key,
        shard=row.shard,
        is_ca=bool(row.is_ca),
        reason=None if reason is None else _REASONS[reason],
        has_revocation=reason is not None,
    )


def bump_change_seq(conn: Connection, ca_id: str) -> int:
    """The CA's next change_seq (row-locks its counter until commit)."""
    value = conn.execute(_BUMP, {"ca": ca_id}).scalar_one_or_none()
    if value is None:
        raise UnknownCa(ca_id)
    return int(value)


def write_release(conn: Connection, target: Target, when: dt.datetime, change_seq: int) -> None:
    """Mark a hold released: the certificate is good again and the next delta CRL says removeFromCRL."""
    conn.execute(
        sa.update(revocation)
        .where(revocation.c.certificate_id == target.cert_id)
        .values(released_at=when, change_seq=change_seq)
    )
    _set_status(conn, target.cert_id, CertStatus.good)


def _set_status(conn: Connection, cert_id: int, status: CertStatus) -> None:
    conn.execute(sa.update(certificate).where(certificate.c.id == cert_id).values(status=status.value))


def entries_query(
    ca_id: str, shard: int | None, ca_only: bool | None, after_change_seq: int | None
) -> EntryQuery:
    """Revocations for a CRL, sorted by serial (``serial_key`` is zero-padded, so text order is numeric).

    Without ``after_change_seq``: what a full CRL lists (current revocations and holds). With it: what a
    delta lists (every change after that mark, released holds included).
    """
    r = revocation.c
    released = r.released_at.is_not(None).label("released")
    stmt = sa.select(r.serial_key, r.revoked_at, r.reason, r.invalidity_date, released, r.change_seq)
    stmt = stmt.where(r.ca_id == ca_id)
    if after_change_seq is None:
        stmt = stmt.where(r.released_at.is_(None))
    else:
        stmt = stmt.where(r.change_seq > after_change_seq)
    if shard is not None:
        stmt = stmt.where(r.shard == shard)
    if ca_only is not None:
        stmt = stmt.where(r.is_ca == ca_only)
    return stmt.order_by(r.serial_key)


def stream_entries(conn: Connection, stmt: EntryQuery, batch: int) -> Iterator[RevokedEntry]:
    """Stream CRL entries, ``batch`` rows in memory at a time (a server-side cursor on PostgreSQL)."""
    if conn.dialect.name == "postgresql":
        return _server_side_entries(conn, stmt, batch)
    return _entries(conn, stmt, batch)


def _entries(conn: Connection, stmt: EntryQuery, batch: int) -> Iterator[RevokedEntry]:
    result = conn.execution_options(yield_per=batch).execute(stmt)
    for rows in result.partitions():
        for key, revoked_at, reason, invalidity_date, released, change_seq in rows:
            yield RevokedEntry(
                serial=int(key, 16),
                revoked_at=revoked_at,
                reason=_REASONS[reason],
                invalidity_date=invalidity_date,
                released=bool(released),
                change_seq=change_seq,
            )


def _server_side_entries(conn: Connection, stmt: EntryQuery, batch: int) -> Iterator[RevokedEntry]:
    """PostgreSQL: the compiled statement through a psycopg named cursor. This skips SQLAlchemy's per-row
    result processing, which at 10⁶ entries costs as much as everything else together."""
    compiled = stmt.compile(dialect=conn.dialect)
    driver = cast("psycopg.Connection[tuple[Any, ...]]", conn.connection.dbapi_connection)
    with driver.cursor(name="jlis_crl_entries") as cursor:
        cursor.itersize = batch
        cursor.execute(str(compiled), compiled.params)
        for key, revoked_at, reason, invalidity_date, released, change_seq in cursor:
            # Sessions run in UTC, so these are normally exact; a pooler that drops the setting is covered.
            if revoked_at.tzinfo is not dt.UTC:
                revoked_at = revoked_at.astimezone(dt.UTC)
            if invalidity_date is not None:
                invalidity_date = invalidity_date.astimezone(dt.UTC)
            yield RevokedEntry(
                serial=int(key, 16),
                revoked_at=revoked_at,
                reason=_REASONS[reason],
                invalidity_date=invalidity_date,
                released=released,
                change_seq=change_seq,
            )
