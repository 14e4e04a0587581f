"""The whole first schema: CAs, certificates, revocations, links, CRLs and counters, the audit log.

Revision ID: 0001
Revises:
Create Date: 2025-11-26

Self-contained on purpose (no import of ``pki.store.schema``): a migration must keep creating exactly
this schema after the current one has moved on.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TIME = sa.DateTime(timezone=True)
_CA_ID = sa.String(64)
_SERIAL = sa.String(40)

_STATUSES = "status IN ('pending', 'good', 'revoked', 'on_hold', 'aborted')"
_REASONS = (
    "reason IN ('unspecified', 'keyCompromise', 'cACompromise', 'affiliationChanged', 'superseded', "
    "'cessationOfOperation', 'certificateHold', 'removeFromCRL', 'privilegeWithdrawn', 'aACompromise')"
)
_LINK_KINDS = "kind IN ('renewal', 'reissue', 'pair', 'link')"


def _ca_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["ca_id"], ["ca.ca_id"], name=op.f(f"fk_{table}_ca_id_ca"))


def _create_ca_tables() -> None:
    op.create_table(
        "ca",
        sa.Column("ca_id", _CA_ID, nullable=False),
        sa.Column("subject_der", sa.LargeBinary, nullable=False),
        sa.Column("key_uri", sa.Text, nullable=False),
        sa.Column("cert_der", sa.LargeBinary, nullable=False),
        sa.Column("key_sha1", sa.LargeBinary(20), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("ca_id", name=op.f("pk_ca")),
    )
    op.create_table(
        "revocation_counter",
        sa.Column("ca_id", _CA_ID, nullable=False),
        sa.Column("last_seq", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("ca_id", name=op.f("pk_revocation_counter")),
        _ca_fk("revocation_counter"),
    )


def _create_certificate() -> None:
    op.create_table(
        "certificate",
        sa.Column("id", _ID, sa.Identity(), nullable=False),
        sa.Column("ca_id", _CA_ID, nullable=False),
        sa.Column("serial_hex", _SERIAL, nullable=False),
        sa.Column("serial_key", _SERIAL, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("subject_der", sa.LargeBinary, nullable=False),
        sa.Column("subject_text", sa.Text, nullable=False),
        sa.Column("not_before", _TIME, nullable=False),
        sa.Column("not_after", _TIME, nullable=False),
        sa.Column("profile", sa.String(64), nullable=False),
        sa.Column("holder_ref", sa.String(128), nullable=True),
        sa.Column("is_ca", sa.Boolean, nullable=False),
        sa.Column("shard", sa.Integer, nullable=False),
        sa.Column("tbs_sha256", sa.LargeBinary(32), nullable=False),
        sa.Column("der", sa.LargeBinary, nullable=True),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("issued_at", _TIME, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_certificate")),
        _ca_fk("certificate"),
        sa.UniqueConstraint("ca_id", "serial_hex", name=op.f("uq_certificate_ca_id_serial_hex")),
        sa.CheckConstraint(_STATUSES, name=op.f("ck_certificate_status")),
    )
    op.create_index(op.f("ix_certificate_holder_ref"), "certificate", ["holder_ref"])
    op.create_index(
        op.f("ix_certificate_pending"),
        "certificate",
        ["ca_id", "created_at"],
        postgresql_where=sa.text("status = 'pending'"),
        sqlite_where=sa.text("status = 'pending'"),
    )


def _create_revocation() -> None:
    op.create_table(
        "revocation",
        sa.Column("certificate_id", _ID, nullable=False),
        sa.Column("ca_id", _CA_ID, nullable=False),
        sa.Column("serial_key", _SERIAL, nullable=False),
        sa.Column("shard", sa.Integer, nullable=False),
        sa.Column("is_ca", sa.Boolean, nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("revoked_at", _TIME, nullable=False),
        sa.Column("invalidity_date", _TIME, nullable=True),
        sa.Column("released_at", _TIME, nullable=True),
        sa.Column("change_seq", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("certificate_id", name=op.f("pk_revocation")),
        sa.ForeignKeyConstraint(
            ["certificate_id"], ["certificate.id"], name=op.f("fk_revocation_certificate_id_certificate")
        ),
        _ca_fk("revocation"),
        sa.CheckConstraint(_REASONS, name=op.f("ck_revocation_reason")),
    )
    op.create_index(op.f("ix_revocation_ca_id_change_seq"), "revocation", ["ca_id", "change_seq"])
    op.create_index(op.f("ix_revocation_ca_id_serial_key"), "revocation", ["ca_id", "serial_key"])


def _create_cert_link() -> None:
    op.create_table(
        "cert_link",
        sa.Column("from_id", _ID, nullable=False),
        sa.Column("to_id", _ID, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("from_id", "to_id", "kind", name=op.f("pk_cert_link")),
        sa.ForeignKeyConstraint(
            ["from_id"], ["certificate.id"], name=op.f("fk_cert_link_from_id_certificate")
        ),
        sa.ForeignKeyConstraint(["to_id"], ["certificate.id"], name=op.f("fk_cert_link_to_id_certificate")),
        sa.CheckConstraint(_LINK_KINDS, name=op.f("ck_cert_link_kind")),
    )
    op.create_index(op.f("ix_cert_link_to_id"), "cert_link", ["to_id"])


def _create_crl_tables() -> None:
    op.create_table(
        "crl",
        sa.Column("ca_id", _CA_ID, nullable=False),
        sa.Column("scope", sa.String(32), nullable=False),
        sa.Column("crl_number", sa.BigInteger, nullable=False),
        sa.Column("this_update", _TIME, nullable=False),
        sa.Column("next_update", _TIME, nullable=False),
        sa.Column("base_crl_number", sa.BigInteger, nullable=True),
        sa.Column("change_seq", sa.BigInteger, nullable=False),
        sa.Column("der", sa.LargeBinary, nullable=False),
        sa.PrimaryKeyConstraint("ca_id", "scope", "crl_number", name=op.f("pk_crl")),
        _ca_fk("crl"),
    )
    op.create_table(
        "crl_counter",
        sa.Column("ca_id", _CA_ID, nullable=False),
        sa.Column("scope", sa.String(32), nullable=False),
        sa.Column("last_number", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("ca_id", "scope", name=op.f("pk_crl_counter")),
        _ca_fk("crl_counter"),
    )


def _create_audit_tables() -> None:
    op.create_table(
        "audit_log",
        sa.Column("seq", sa.BigInteger, autoincrement=False, nullable=False),
        sa.Column("at", _TIME, nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("object", sa.Text, nullable=False),
        sa.Column("payload_digest", sa.LargeBinary(32), nullable=False),
        sa.Column("prev_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("record_hash", sa.LargeBinary(32), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_log")),
    )
    head = op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer, autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("record_hash", sa.LargeBinary(32), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_head")),
        sa.CheckConstraint("id = 1", name=op.f("ck_audit_head_single_row")),
    )
    # The empty chain: seq 0 with the genesis hash (32 zero bytes, pki.audit.chain.GENESIS).
    op.bulk_insert(head, [{"id": 1, "seq": 0, "record_hash": bytes(32)}])
    op.create_table(
        "audit_checkpoint",
        sa.Column("id", _ID, sa.Identity(), nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("record_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("at", _TIME, nullable=False),
        sa.Column("signer_key_id", sa.Text, nullable=False),
        sa.Column("algorithm", sa.String(64), nullable=False),
        sa.Column("signature", sa.LargeBinary, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_checkpoint")),
        sa.ForeignKeyConstraint(["seq"], ["audit_log.seq"], name=op.f("fk_audit_checkpoint_seq_audit_log")),
    )
    op.create_index(op.f("ix_audit_checkpoint_seq"), "audit_checkpoint", ["seq"])


def upgrade() -> None:
    _create_ca_tables()
    _create_certificate()
    _create_revocation()
    _create_cert_link()
    _create_crl_tables()
    _create_audit_tables()


def downgrade() -> None:
    for index, table in (
        ("ix_audit_checkpoint_seq", "audit_checkpoint"),
        ("ix_cert_link_to_id", "cert_link"),
        ("ix_revocation_ca_id_serial_key", "revocation"),
        ("ix_revocation_ca_id_change_seq", "revocation"),
        ("ix_certificate_pending", "certificate"),
        ("ix_certificate_holder_ref", "certificate"),
    ):
        op.drop_index(index, table_name=table)
    for table in (
        "audit_checkpoint",
        "audit_head",
        "audit_log",
        "crl_counter",
        "crl",
        "cert_link",
        "revocation",
        "certificate",
        "revocation_counter",
        "ca",
    ):
        op.drop_table(table)
