"""What the OCSP responder reads and writes: status with the revocation counter in one snapshot, revocation
changes since a counter value, and pre-signed responses that a revocation can never leave behind.

The race this module closes: a responder reads a certificate's status, signs, and stores the response
while a revocation commits in between. ``status_at`` reads the CA's revocation counter and the status in
one statement (one snapshot), so a later revocation always has a larger counter (``seq``) than the
response carries; ``save`` stores a response only while the certificate still has the status it was
signed for, taking the certificate's row lock (PostgreSQL ``FOR SHARE``; SQLite writers are serialized)
against the revocation's ``FOR UPDATE``, and every revocation, hold or release deletes the certificate's
stored responses in its own transaction.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable

from pki.model import CertStatus, RevocationReason, serial_hex
from pki.store.rows import PresignedResponse, StatusRow

_UTC = dt.UTC
_STATUS_COLUMNS = "c.id, c.status, c.not_after, r.revoked_at, r.reason, r.invalidity_date"
_RESPONSE_COLUMNS = "cert_id_der, status, der, this_update, next_update, produced_at, seq"


class PresignedSql:
    """One dialect's statements (``%s`` placeholders; SQLite's get ``?``)."""

    def __init__(self, postgres: bool) -> None:
        def q(text: str) -> str:
            return text if postgres else text.replace("%s", "?")

        self.postgres = postgres
        # One statement, one snapshot: the counter and the status agree (see the module docstring).
        self.status_at = q(
            f"SELECT rc.last_seq, {_STATUS_COLUMNS} FROM revocation_counter rc "
            "LEFT JOIN certificate c ON c.ca_id = rc.ca_id AND c.serial_hex = %s "
            "LEFT JOIN revocation r ON r.certificate_id = c.id WHERE rc.ca_id = %s"
        )
        self.counters = "SELECT ca_id, last_seq FROM revocation_counter"
        self.changes = q(
            "SELECT serial_key, change_seq FROM revocation WHERE ca_id = %s AND change_seq > %s "
            "ORDER BY change_seq"
        )
        self.load = q(
            f"SELECT {_RESPONSE_COLUMNS} FROM ocsp_response "
            "WHERE ca_id = %s AND serial_hex = %s AND cert_id_key = %s"
        )
        share = " FOR SHARE" if postgres else ""
        upsert = (
            "ON CONFLICT (ca_id, serial_hex, cert_id_key) DO UPDATE SET cert_id_der = excluded.cert_id_der, "
            "status = excluded.status, der = excluded.der, this_update = excluded.this_update, "
            "next_update = excluded.next_update, produced_at = excluded.produced_at, seq = excluded.seq"
        )
        self.save = q(
            "INSERT INTO ocsp_response (ca_id, serial_hex, cert_id_key, cert_id_der, status, der, "
            "this_update, next_update, produced_at, seq) "
            "SELECT c.ca_id, c.serial_hex, %s, %s, c.status, %s, %s, %s, %s, %s "
            f"FROM certificate c WHERE c.ca_id = %s AND c.serial_hex = %s AND c.status = %s{share} {upsert}"
        )
        self.drop = q("DELETE FROM ocsp_response WHERE ca_id = %s AND serial_hex = %s")
        self.due = q(
            "SELECT serial_hex, cert_id_der FROM ocsp_response WHERE ca_id = %s AND next_update < %s "
            "ORDER BY next_update LIMIT %s"
        )
        self.page = q(
            f"SELECT c.serial_key, {_STATUS_COLUMNS} FROM certificate c "
            "LEFT JOIN revocation r ON r.certificate_id = c.id "
            "WHERE c.ca_id = %s AND c.serial_key > %s AND c.not_after > %s "
            "AND c.status IN ('good', 'revoked', 'on_hold') ORDER BY c.serial_key LIMIT %s"
        )


SQLITE = PresignedSql(postgres=False)
POSTGRES = PresignedSql(postgres=True)


def cert_id_key(cert_id_der: bytes) -> bytes:
    """The key of a CertID encoding: SHA-1 of its DER (the DER itself is stored beside it)."""
    return hashlib.sha1(cert_id_der, usedforsecurity=False).digest()


def read_time(value: object) -> dt.datetime:
    """A time column as the driver returns it (PostgreSQL: aware; SQLite: naive-UTC text), aware UTC."""
    if isinstance(value, dt.datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=_UTC)
    return dt.datetime.fromisoformat(str(value)).replace(tzinfo=_UTC)


def status_row(serial: int, row: tuple[object, ...]) -> StatusRow | None:
    """The status columns (``_STATUS_COLUMNS``) of a row as a StatusRow; None when no certificate matched."""
    cert_id, status_text, not_after, revoked_at, reason, invalidity = row
    if cert_id is None:
        return None
    status = CertStatus(str(status_text))
    revoked = status in (CertStatus.revoked, CertStatus.on_hold)
    return StatusRow(
        cert_id=int(str(cert_id)),
        serial=serial,
        status=status,
        not_after=read_time(not_after),
        revoked_at=read_time(revoked_at) if revoked else None,
        reason=RevocationReason(str(reason)) if revoked else None,
        invalidity_date=read_time(invalidity) if revoked and invalidity is not None else None,
    )


def save_params(time: Callable[[dt.datetime], object], response: PresignedResponse) -> tuple[object, ...]:
    """``save``'s parameters; ``time`` is the dialect's time conversion (``pki.store.driver.Sql.time``)."""
    return (
        cert_id_key(response.cert_id_der),
        response.cert_id_der,
        response.der,
        time(response.this_update),
        time(response.next_update),
        time(response.produced_at),
        response.seq,
        response.ca_id,
        serial_hex(response.serial),
        response.status.value,
    )


def response_row(ca_id: str, serial: int, row: tuple[object, ...]) -> PresignedResponse:
    cert_id_der, status, der, this_update, next_update, produced_at, seq = row
    return PresignedResponse(
        ca_id=ca_id,
        serial=serial,
        cert_id_der=bytes(cert_id_der),  # type: ignore[call-overload]  # bytes or memoryview
        status=CertStatus(str(status)),
        der=bytes(der),  # type: ignore[call-overload]
        this_update=read_time(this_update),
        next_update=read_time(next_update),
        produced_at=read_time(produced_at),
        seq=int(str(seq)),
    )
