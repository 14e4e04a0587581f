"""A CA's generations: one row per key it has had (``ca_generation``), written with the ``ca`` row's
changes (new CA, key rollover) and read by whoever serves old generations (the OCSP responder)."""

from __future__ import annotations

import datetime as dt
from contextlib import AbstractContextManager
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pki.store.schema import ca_generation


@dataclass(frozen=True, slots=True)
class CaGeneration:
    ca_id: str
    key_sha1: bytes
    """SHA-1 of the generation's subjectPublicKey bits (its OCSP issuerKeyHash)."""
    cert_der: bytes
    """The generation's self-signed (or issued) CA certificate."""
    key_uri: str
    created_at: dt.datetime


def record_generation(
    conn: Connection, ca_id: str, key_sha1: bytes, cert_der: bytes, key_uri: str, at: dt.datetime
) -> None:
    """Add a generation inside the caller's transaction (a generation seen before is left as it is)."""
    key = (ca_generation.c.ca_id == ca_id) & (ca_generation.c.key_sha1 == key_sha1)
    if conn.execute(sa.select(ca_generation.c.ca_id).where(key)).first() is None:
        conn.execute(
            sa.insert(ca_generation).values(
                ca_id=ca_id, key_sha1=key_sha1, cert_der=cert_der, key_uri=key_uri, created_at=at
            )
        )


class Generations:
    """Mixed into :class:`pki.store.Store`."""

    def _read(self) -> AbstractContextManager[Connection]:
        raise NotImplementedError  # implemented by Store

    def generations(self, ca_id: str) -> list[CaGeneration]:
        """Every generation of a CA, oldest first."""
        query = (
            sa.select(ca_generation)
            .where(ca_generation.c.ca_id == ca_id)
            .order_by(ca_generation.c.created_at, ca_generation.c.key_sha1)
        )
        with self._read() as conn:
            return [
                CaGeneration(
                    m["ca_id"], bytes(m["key_sha1"]), bytes(m["cert_der"]), m["key_uri"], m["created_at"]
                )
                for m in conn.execute(query).mappings()
            ]

    def generation_count(self) -> int:
        """How many generations all CAs have together (cheap: a responder polls it to notice rollovers)."""
        with self._read() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(ca_generation)).scalar_one())
