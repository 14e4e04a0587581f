"""Every generation of a CA (one per key): certificate and key URI, so old generations keep answering.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26

Self-contained on purpose (no import of ``pki.store.schema``), like every migration. Existing CAs get one
row for their current generation (older keys were not recorded before this revision).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None

_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "ca_generation",
        sa.Column("ca_id", sa.String(64), nullable=False),
        sa.Column("key_sha1", sa.LargeBinary(20), nullable=False),
        sa.Column("cert_der", sa.LargeBinary, nullable=False),
        sa.Column("key_uri", sa.Text, nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.ForeignKeyConstraint(["ca_id"], ["ca.ca_id"], name=op.f("fk_ca_generation_ca_id_ca")),
        sa.PrimaryKeyConstraint("ca_id", "key_sha1", name=op.f("pk_ca_generation")),
    )
    op.execute(
        "INSERT INTO ca_generation (ca_id, key_sha1, cert_der, key_uri, created_at) "
        "SELECT ca_id, key_sha1, cert_der, key_uri, created_at FROM ca"
    )


def downgrade() -> None:
    op.drop_table("ca_generation")
