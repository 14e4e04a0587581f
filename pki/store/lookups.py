"""Store methods for callers working in batches (mass issuance): many certificates found or linked in one
statement or one transaction instead of one each."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pki.audit.chain import AuditRecord
from pki.clock import Clock
from pki.model import serial_hex
from pki.store.boundary import Conflicts
from pki.store.errors import UnknownCertificate
from pki.store.rows import AuditEntry, LinkKind
from pki.store.schema import cert_link, certificate

LOOKUP_BATCH = 500
"""Serials per ``IN`` list."""


class BatchLookups:
    """Mixed into :class:`pki.store.Store`."""

    _clock: Clock

    def _write(self, conflicts: Conflicts | None = None) -> AbstractContextManager[Connection]:
        raise NotImplementedError  # implemented by Store

    def _read(self) -> AbstractContextManager[Connection]:
        raise NotImplementedError  # implemented by Store

    def _audit(self, conn: Connection, audit: AuditEntry) -> AuditRecord:
        raise NotImplementedError  # implemented by Store

    def certificate_ids(self, ca_id: str, serials: Sequence[int]) -> dict[int, int]:
        """Serial → certificate id for those of ``serials`` the CA has (reserved, issued or aborted)."""
        found: dict[int, int] = {}
        by_hex = {serial_hex(s): s for s in serials}
        keys = list(by_hex)
        with self._read() as conn:
            for start in range(0, len(keys), LOOKUP_BATCH):
                query = sa.select(certificate.c.id, certificate.c.serial_hex).where(
                    certificate.c.ca_id == ca_id,
                    certificate.c.serial_hex.in_(keys[start : start + LOOKUP_BATCH]),
                )
                for cert_id, hex_serial in conn.execute(query):
                    found[by_hex[hex_serial]] = int(cert_id)
        return found

    def link_many(self, links: Sequence[tuple[int, int, LinkKind]], audits: Sequence[AuditEntry]) -> int:
        """Record many certificate relations in one transaction, with their audit records; links already
        recorded are skipped (a resumed batch). Returns how many were new."""
        if len(links) != len(audits):
            raise ValueError("one audit entry per link")
        new = 0
        with self._write() as conn:
            ids = {cert_id for link in links for cert_id in link[:2]}
            known = {
                int(row[0])
                for start in range(0, len(ids), LOOKUP_BATCH)
                for row in conn.execute(
                    sa.select(certificate.c.id).where(
                        certificate.c.id.in_(sorted(ids)[start : start + LOOKUP_BATCH])
                    )
                )
            }
            if missing := ids - known:
                raise UnknownCertificate(min(missing))
            now = self._clock.now()
            for (from_id, to_id, kind), audit in zip(links, audits, strict=True):
                seen = conn.execute(
                    sa.select(cert_link.c.from_id).where(
                        cert_link.c.from_id == from_id,
                        cert_link.c.to_id == to_id,
                        cert_link.c.kind == kind.value,
                    )
                ).first()
                if seen is not None:
                    continue
                conn.execute(
                    sa.insert(cert_link).values(
                        from_id=from_id, to_id=to_id, kind=LinkKind(kind).value, created_at=now
                    )
                )
                self._audit(conn, audit)
                new += 1
        return new
