"""Tables of the verifier-facing services: login challenges and consent withdrawals (a domain schema of
the store, ``pki.store.domain``, apart from the registry's so either can change alone)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pki.store import DomainSchema
from pki.store.schema import NAMING, UtcDateTime

metadata = sa.MetaData(naming_convention=NAMING)

login_challenge = sa.Table(
    "jpki_login_challenge",
    metadata,
    sa.Column("nonce_sha256", sa.LargeBinary(32), primary_key=True),  # the hash only: no usable challenge
    sa.Column("audience", sa.String(128), nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("expires_at", UtcDateTime, nullable=False, index=True),
    sa.Column("used_at", UtcDateTime, nullable=True),
)

consent_withdrawal = sa.Table(
    "jpki_consent_withdrawal",
    metadata,
    sa.Column("consent_id", sa.String(64), primary_key=True),
    sa.Column("code", sa.String(11), primary_key=True),  # who withdrew: an id counts for its own holder
    sa.Column("withdrawn_at", UtcDateTime, nullable=False),
)


def _v1(conn: Connection) -> None:
    metadata.create_all(conn, tables=[login_challenge, consent_withdrawal])


SCHEMA = DomainSchema("jpki-services", (_v1,))
