"""JPKI's own tables, kept by the store next to its certificates (``pki.store.domain``).

- ``jpki_resident``: the resident registry (住民基本台帳 as J-LIS sees it): the 4 information, the
  municipality, the status. Keyed by the 11-digit resident code (住民票コード), never the My Number.
- ``jpki_event``: registry events, keyed by the sender's event id (a replay changes nothing).
- ``jpki_card``: cards issued, their holder and status (the card's PINs and keys live with the card).
- ``jpki_cert``: which certificate belongs to which card and slot, and what became of it; ``previous_id``
  links a certificate to the one it replaced (renewal, re-issue after a move).

Times are UTC (``UtcDateTime``); calendar days (birth, expiry) are dates in Japan.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pki.store import DomainSchema
from pki.store.schema import NAMING, UtcDateTime

metadata = sa.MetaData(naming_convention=NAMING)

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

resident = sa.Table(
    "jpki_resident",
    metadata,
    sa.Column("code", sa.String(11), primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("name_substitutes", sa.Text, nullable=False),
    sa.Column("birth", sa.Date, nullable=False),
    sa.Column("era", sa.String(1), nullable=False),
    sa.Column("sex", sa.String(1), nullable=False),
    sa.Column("address", sa.Text, nullable=False),
    sa.Column("address_substitutes", sa.Text, nullable=False),
    sa.Column("municipality", sa.String(6), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("status_since", sa.Date, nullable=True),
    sa.Column("guardianship", sa.Boolean, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

event = sa.Table(
    "jpki_event",
    metadata,
    sa.Column("event_id", sa.String(64), primary_key=True),
    sa.Column("code", sa.String(11), sa.ForeignKey("jpki_resident.code"), nullable=False, index=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("effective_on", sa.Date, nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("outcome", sa.Text, nullable=True),
    sa.Column("recorded_at", UtcDateTime, nullable=False),
    sa.Column("applied_at", UtcDateTime, nullable=True),
    sa.Index("ix_jpki_event_state_effective_on", "state", "effective_on"),
)

card = sa.Table(
    "jpki_card",
    metadata,
    sa.Column("card_id", sa.String(64), primary_key=True),
    sa.Column("code", sa.String(11), sa.ForeignKey("jpki_resident.code"), nullable=False, index=True),
    sa.Column("token_kind", sa.String(16), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("issued_on", sa.Date, nullable=False),
    sa.Column("expires_on", sa.Date, nullable=False, index=True),
    sa.Column("batch_key", sa.String(128), nullable=True, unique=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
)

cert = sa.Table(
    "jpki_cert",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("card_id", sa.String(64), sa.ForeignKey("jpki_card.card_id"), nullable=False, index=True),
    sa.Column("code", sa.String(11), nullable=False, index=True),
    sa.Column("kind", sa.String(8), nullable=False),
    sa.Column("ca_id", sa.String(64), nullable=False),
    sa.Column("serial_hex", sa.String(40), nullable=False),
    sa.Column("cert_id", _ID, nullable=False),
    sa.Column("not_after", UtcDateTime, nullable=False, index=True),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("previous_id", _ID, nullable=True, index=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.UniqueConstraint("ca_id", "serial_hex"),
)


def _v1(conn: Connection) -> None:
    metadata.create_all(conn, tables=[resident, event, card, cert])


SCHEMA = DomainSchema("jpki", (_v1,))
"""JPKI's tables; append a step for every change (released steps never change)."""
