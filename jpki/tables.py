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


# -- v2: registered verifiers (jpki.verifiers) ---------------------------------------------------------------
# - ``jpki_verifier``: platform businesses, service providers, public bodies; scopes space-separated.
# - ``jpki_verifier_token``: API tokens by their public lookup id; only the SHA-256 of a token is kept.
# - ``jpki_provision``: the fee ledger, aggregated per verifier, service, CA, day in Japan and unit fee.
# - ``jpki_provision_ref``: provisions a service recorded with a reference (a linkage or consent request).

verifier = sa.Table(
    "jpki_verifier",
    metadata,
    sa.Column("verifier_id", sa.String(32), primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("kind", sa.String(8), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("scopes", sa.Text, nullable=False),
    sa.Column("platform_id", sa.String(32), sa.ForeignKey("jpki_verifier.verifier_id"), nullable=True),
    sa.Column("cert_sha256", sa.String(64), nullable=True, unique=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

verifier_token = sa.Table(
    "jpki_verifier_token",
    metadata,
    sa.Column("token_id", sa.String(32), primary_key=True),
    sa.Column(
        "verifier_id", sa.String(32), sa.ForeignKey("jpki_verifier.verifier_id"), nullable=False, index=True
    ),
    sa.Column("token_sha256", sa.LargeBinary(32), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("revoked_at", UtcDateTime, nullable=True),
)

provision = sa.Table(
    "jpki_provision",
    metadata,
    sa.Column("verifier_id", sa.String(32), primary_key=True),
    sa.Column("service", sa.String(16), primary_key=True),
    sa.Column("ca_id", sa.String(64), primary_key=True),
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("unit_fee", sa.Integer, primary_key=True),
    sa.Column("count", sa.BigInteger, nullable=False),
    sa.Index("ix_jpki_provision_day", "day"),
)

provision_ref = sa.Table(
    "jpki_provision_ref",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("verifier_id", sa.String(32), nullable=False),
    sa.Column("service", sa.String(16), nullable=False),
    sa.Column("ca_id", sa.String(64), nullable=False),
    sa.Column("ref", sa.String(128), nullable=False, index=True),
    sa.Column("count", sa.Integer, nullable=False),
    sa.Column("unit_fee", sa.Integer, nullable=False),
    sa.Column("day", sa.Date, nullable=False),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Index("ix_jpki_provision_ref_verifier_id_day", "verifier_id", "day"),
)


def _v2(conn: Connection) -> None:
    metadata.create_all(conn, tables=[verifier, verifier_token, provision, provision_ref])


SCHEMA = DomainSchema("jpki", (_v1, _v2))
"""JPKI's tables; append a step for every change (released steps never change)."""
