"""The store's tables as SQLAlchemy Core objects (the migrations create this same schema; a test checks).

Serials are kept twice: ``serial_hex`` (``model.serial_hex``, the contract's lookup key) and ``serial_key``,
the same hex zero-padded to 40 digits so that text order is numeric order (CRL entries stream sorted by
serial). Times are UTC: ``timestamptz`` on PostgreSQL, naive-UTC text on SQLite, aware on the way out.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

from pki.clock import ensure_aware
from pki.model import CertStatus, RevocationReason
from pki.store.rows import LinkKind

NAMING = {
    "pk": "pk_%(table_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
}
"""Deterministic constraint names, so driver errors can be mapped by name and migrations can refer to them."""

metadata = sa.MetaData(naming_convention=NAMING)

SERIAL_KEY_DIGITS = 40
"""20 octets = 40 hex digits: the width of ``serial_key``."""


class UtcDateTime(sa.TypeDecorator[dt.datetime]):
    """Aware UTC datetimes in and out, whatever the database keeps (SQLite keeps no zone at all)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        utc = ensure_aware(value)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
"""64-bit ids on PostgreSQL; INTEGER on SQLite, where only ``INTEGER PRIMARY KEY`` autoincrements (rowid)."""


def _one_of(column: str, values: list[str]) -> str:
    quoted = ", ".join(f"'{value}'" for value in values)
    return f"{column} IN ({quoted})"


ca = sa.Table(
    "ca",
    metadata,
    sa.Column("ca_id", sa.String(64), primary_key=True),
    sa.Column("subject_der", sa.LargeBinary, nullable=False),
    sa.Column("key_uri", sa.Text, nullable=False),
    sa.Column("cert_der", sa.LargeBinary, nullable=False),
    sa.Column("key_sha1", sa.LargeBinary(20), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
)

revocation_counter = sa.Table(
    "revocation_counter",
    metadata,
    sa.Column("ca_id", sa.String(64), sa.ForeignKey("ca.ca_id"), primary_key=True),
    sa.Column("last_seq", sa.BigInteger, nullable=False),
)
"""Per-CA revocation change counter: one row per CA, bumped (so row-locked) by revoke, hold and release."""

certificate = sa.Table(
    "certificate",
    metadata,
    sa.Column("id", ID, sa.Identity(), primary_key=True),
    sa.Column("ca_id", sa.String(64), sa.ForeignKey("ca.ca_id"), nullable=False),
    sa.Column("serial_hex", sa.String(SERIAL_KEY_DIGITS), nullable=False),
    sa.Column("serial_key", sa.String(SERIAL_KEY_DIGITS), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("subject_der", sa.LargeBinary, nullable=False),
    sa.Column("subject_text", sa.Text, nullable=False),
    sa.Column("not_before", UtcDateTime, nullable=False),
    sa.Column("not_after", UtcDateTime, nullable=False),
    sa.Column("profile", sa.String(64), nullable=False),
    sa.Column("holder_ref", sa.String(128), nullable=True, index=True),
    sa.Column("is_ca", sa.Boolean, nullable=False),
    sa.Column("shard", sa.Integer, nullable=False),
    sa.Column("tbs_sha256", sa.LargeBinary(32), nullable=False),
    sa.Column("der", sa.LargeBinary, nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("issued_at", UtcDateTime, nullable=True),
    sa.UniqueConstraint("ca_id", "serial_hex"),
    sa.CheckConstraint(_one_of("status", [s.value for s in CertStatus]), name="status"),
    sa.Index(
        "ix_certificate_pending",
        "ca_id",
        "created_at",
        postgresql_where=sa.text("status = 'pending'"),
        sqlite_where=sa.text("status = 'pending'"),
    ),
)

revocation = sa.Table(
    "revocation",
    metadata,
    sa.Column("certificate_id", ID, sa.ForeignKey("certificate.id"), primary_key=True),
    # ca_id, serial_key, shard and is_ca copy immutable certificate facts, so CRL streams need no join.
    sa.Column("ca_id", sa.String(64), sa.ForeignKey("ca.ca_id"), nullable=False),
    sa.Column("serial_key", sa.String(SERIAL_KEY_DIGITS), nullable=False),
    sa.Column("shard", sa.Integer, nullable=False),
    sa.Column("is_ca", sa.Boolean, nullable=False),
    sa.Column("reason", sa.String(32), nullable=False),
    sa.Column("revoked_at", UtcDateTime, nullable=False),
    sa.Column("invalidity_date", UtcDateTime, nullable=True),
    sa.Column("released_at", UtcDateTime, nullable=True),
    sa.Column("change_seq", sa.BigInteger, nullable=False),
    sa.CheckConstraint(_one_of("reason", [r.value for r in RevocationReason]), name="reason"),
    sa.Index("ix_revocation_ca_id_change_seq", "ca_id", "change_seq"),
    sa.Index("ix_revocation_ca_id_serial_key", "ca_id", "serial_key"),
)

cert_link = sa.Table(
    "cert_link",
    metadata,
    sa.Column("from_id", ID, sa.ForeignKey("certificate.id"), primary_key=True),
    sa.Column("to_id", ID, sa.ForeignKey("certificate.id"), primary_key=True, index=True),
    sa.Column("kind", sa.String(16), primary_key=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.CheckConstraint(_one_of("kind", [k.value for k in LinkKind]), name="kind"),
)

crl = sa.Table(
    "crl",
    metadata,
    sa.Column("ca_id", sa.String(64), sa.ForeignKey("ca.ca_id"), primary_key=True),
    sa.Column("scope", sa.String(32), primary_key=True),
    sa.Column("crl_number", sa.BigInteger, primary_key=True),
    sa.Column("this_update", UtcDateTime, nullable=False),
    sa.Column("next_update", UtcDateTime, nullable=False),
    sa.Column("base_crl_number", sa.BigInteger, nullable=True),
    sa.Column("change_seq", sa.BigInteger, nullable=False),
    sa.Column("der", sa.LargeBinary, nullable=False),
)
"""Issued CRLs; the primary key is the contract's UNIQUE(ca_id, scope, crl_number)."""

crl_counter = sa.Table(
    "crl_counter",
    metadata,
    sa.Column("ca_id", sa.String(64), sa.ForeignKey("ca.ca_id"), primary_key=True),
    sa.Column("scope", sa.String(32), primary_key=True),
    sa.Column("last_number", sa.BigInteger, nullable=False),
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("actor", sa.Text, nullable=False),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("object", sa.Text, nullable=False),
    sa.Column("payload_digest", sa.LargeBinary(32), nullable=False),
    sa.Column("prev_hash", sa.LargeBinary(32), nullable=False),
    sa.Column("record_hash", sa.LargeBinary(32), nullable=False),
)

audit_head = sa.Table(
    "audit_head",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("record_hash", sa.LargeBinary(32), nullable=False),
    sa.CheckConstraint("id = 1", name="single_row"),
)
"""The chain's tip in a single row: appenders lock it (FOR UPDATE), so no two appenders can fork the chain."""

audit_checkpoint = sa.Table(
    "audit_checkpoint",
    metadata,
    sa.Column("id", ID, sa.Identity(), primary_key=True),
    sa.Column("seq", sa.BigInteger, sa.ForeignKey("audit_log.seq"), nullable=False, index=True),
    sa.Column("record_hash", sa.LargeBinary(32), nullable=False),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("signer_key_id", sa.Text, nullable=False),
    sa.Column("algorithm", sa.String(64), nullable=False),
    sa.Column("signature", sa.LargeBinary, nullable=False),
)

ocsp_response = sa.Table(
    "ocsp_response",
    metadata,
    sa.Column("ca_id", sa.String(64), sa.ForeignKey("ca.ca_id"), primary_key=True),
    sa.Column("serial_hex", sa.String(SERIAL_KEY_DIGITS), primary_key=True),
    sa.Column("cert_id_key", sa.LargeBinary(20), primary_key=True),
    sa.Column("cert_id_der", sa.LargeBinary, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("der", sa.LargeBinary, nullable=False),
    sa.Column("this_update", UtcDateTime, nullable=False),
    sa.Column("next_update", UtcDateTime, nullable=False),
    sa.Column("produced_at", UtcDateTime, nullable=False),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Index("ix_ocsp_response_ca_id_next_update", "ca_id", "next_update"),
)
"""Pre-signed OCSP responses, one per certificate and CertID encoding (``cert_id_key`` = SHA-1 of the CertID
DER); ``status`` is the certificate status they were signed for, ``seq`` the CA's revocation counter read
before it. A revocation, hold or release deletes the certificate's rows in its own transaction."""

domain_schema = sa.Table(
    "domain_schema",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("version", sa.Integer, nullable=False),
)
"""How far each domain package's own tables are migrated (``pki.store.domain``)."""

ca_generation = sa.Table(
    "ca_generation",
    metadata,
    sa.Column("ca_id", sa.String(64), sa.ForeignKey("ca.ca_id"), primary_key=True),
    sa.Column("key_sha1", sa.LargeBinary(20), primary_key=True),
    sa.Column("cert_der", sa.LargeBinary, nullable=False),
    sa.Column("key_uri", sa.Text, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
)
"""Every generation (key) a CA has had: after a rollover the old one still answers for what it issued."""
