"""Certificate rows: what a reservation writes, how a stored row reads back, and the completion check."""

from __future__ import annotations

import hashlib

import sqlalchemy as sa
from cryptography import x509

from pki.model import CertStatus, RevocationReason
from pki.store.errors import DerMismatch
from pki.store.rows import CertRow, StatusRow
from pki.store.schema import SERIAL_KEY_DIGITS, certificate, revocation

_REVOKED = (CertStatus.revoked, CertStatus.on_hold)

STATUS_QUERY = (
    sa.select(
        certificate.c.id,
        certificate.c.status,
        certificate.c.not_after,
        revocation.c.revoked_at,
        revocation.c.reason,
        revocation.c.invalidity_date,
    )
    .select_from(certificate.outerjoin(revocation, revocation.c.certificate_id == certificate.c.id))
    .where(
        certificate.c.ca_id == sa.bindparam("ca_id"), certificate.c.serial_hex == sa.bindparam("serial_hex")
    )
)
"""The OCSP hot path: one statement, built once (SQLAlchemy caches its compiled form; psycopg prepares it
server-side after a few runs), answered from UNIQUE(ca_id, serial_hex) and the revocation primary key."""

CERT_QUERY = sa.select(certificate).where(
    certificate.c.ca_id == sa.bindparam("ca_id"), certificate.c.serial_hex == sa.bindparam("serial_hex")
)


def serial_key(serial: int) -> str:
    """The serial as 40 zero-padded hex digits: sorts as text in numeric order."""
    return format(serial, f"0{SERIAL_KEY_DIGITS}x")


def cert_row(m: sa.RowMapping) -> CertRow:
    """A CertRow from a ``certificate`` row."""
    return CertRow(
        id=int(m["id"]),
        ca_id=m["ca_id"],
        serial=int(m["serial_key"], 16),
        status=CertStatus(m["status"]),
        subject_der=bytes(m["subject_der"]),
        subject_text=m["subject_text"],
        not_before=m["not_before"],
        not_after=m["not_after"],
        profile=m["profile"],
        holder_ref=m["holder_ref"],
        is_ca=bool(m["is_ca"]),
        shard=int(m["shard"]),
        tbs_sha256=bytes(m["tbs_sha256"]),
        der=None if m["der"] is None else bytes(m["der"]),
        created_at=m["created_at"],
        issued_at=m["issued_at"],
    )


def status_row(serial: int, m: sa.RowMapping) -> StatusRow:
    """What OCSP needs; revocation details only while revoked or on hold (not for a released hold)."""
    status = CertStatus(m["status"])
    revoked = status in _REVOKED
    return StatusRow(
        cert_id=int(m["id"]),
        serial=serial,
        status=status,
        not_after=m["not_after"],
        revoked_at=m["revoked_at"] if revoked else None,
        reason=RevocationReason(m["reason"]) if revoked else None,
        invalidity_date=m["invalidity_date"] if revoked else None,
    )


def check_signed(cert_id: int, der: bytes, serial: int, tbs_sha256: bytes) -> None:
    """The DER must be the certificate that was reserved: same serial, same TBSCertificate bytes."""
    try:
        parsed = x509.load_der_x509_certificate(der)
    except ValueError as exc:
        raise DerMismatch(cert_id, f"not a DER certificate: {exc}") from None
    if parsed.serial_number != serial:
        raise DerMismatch(cert_id, f"serial {parsed.serial_number:x}, reserved {serial:x}")
    if hashlib.sha256(parsed.tbs_certificate_bytes).digest() != tbs_sha256:
        raise DerMismatch(cert_id, "SHA-256 of its TBSCertificate differs from the reserved tbs_sha256")
