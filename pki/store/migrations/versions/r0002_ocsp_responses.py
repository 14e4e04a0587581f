"""Pre-signed OCSP responses.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26

Self-contained on purpose (no import of ``pki.store.schema``), like every migration.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None

_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "ocsp_response",
        sa.Column("ca_id", sa.String(64), nullable=False),
        sa.Column("serial_hex", sa.String(40), nullable=False),
        sa.Column("cert_id_key", sa.LargeBinary(20), nullable=False),
        sa.Column("cert_id_der", sa.LargeBinary, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("der", sa.LargeBinary, nullable=False),
        sa.Column("this_update", _TIME, nullable=False),
        sa.Column("next_update", _TIME, nullable=False),
        sa.Column("produced_at", _TIME, nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.ForeignKeyConstraint(["ca_id"], ["ca.ca_id"], name=op.f("fk_ocsp_response_ca_id_ca")),
        sa.PrimaryKeyConstraint("ca_id", "serial_hex", "cert_id_key", name=op.f("pk_ocsp_response")),
    )
    op.create_index(op.f("ix_ocsp_response_ca_id_next_update"), "ocsp_response", ["ca_id", "next_update"])


def downgrade() -> None:
    op.drop_index(op.f("ix_ocsp_response_ca_id_next_update"), table_name="ocsp_response")
    op.drop_table("ocsp_response")
