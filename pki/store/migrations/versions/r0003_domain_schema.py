"""Versions of the domain packages' tables (JPKI, LGPKI): one row per domain schema.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26

Self-contained on purpose (no import of ``pki.store.schema``), like every migration.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "domain_schema",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_domain_schema")),
    )


def downgrade() -> None:
    op.drop_table("domain_schema")
