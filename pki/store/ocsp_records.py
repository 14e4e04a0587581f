"""The store's OCSP side: statuses with the revocation counter, revocation changes, kept responses.

A mixin of :class:`pki.store.Store` (its connection helpers and SQL come from there); the statements and
the race they close are in :mod:`pki.store.presigned`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any

from pki.errors import UnknownCa
from pki.model import serial_hex
from pki.store import certs, presigned
from pki.store.driver import Sql, Tx
from pki.store.rows import PresignedResponse, StatusRow


class OcspRecords:
    """Store methods for the OCSP responder (thread-safe like the rest of the store)."""

    _sql: Sql
    _presigned: presigned.PresignedSql

    def _raw_read(self) -> AbstractContextManager[Any]:  # implemented by Store
        raise NotImplementedError

    def _raw_write(self, conflicts: Any = None) -> AbstractContextManager[Tx]:  # implemented by Store
        raise NotImplementedError

    def _run(self, cursor: Any, sql: str, params: tuple[object, ...]) -> Any:  # implemented by Store
        raise NotImplementedError

    def status_at(self, ca_id: str, serial: int) -> tuple[StatusRow | None, int]:
        """A certificate's status and the CA's revocation counter, read in one snapshot: any revocation that
        the status does not show has a larger counter. UnknownCa for an unknown CA."""
        sql = self._presigned
        with self._raw_read() as cursor:
            row = self._run(cursor, sql.status_at, (serial_hex(serial), ca_id)).fetchone()
        if row is None:
            raise UnknownCa(ca_id)
        return presigned.status_row(serial, row[1:]), int(row[0])

    def revocation_counters(self) -> dict[str, int]:
        """Every CA's revocation counter (bumped by each revocation, hold and release)."""
        with self._raw_read() as cursor:
            return {str(ca_id): int(seq) for ca_id, seq in self._run(cursor, self._presigned.counters, ())}

    def changes_since(self, ca_id: str, seq: int) -> list[tuple[int, int]]:
        """(serial, counter) of the CA's certificates revoked, held or released after counter ``seq``."""
        with self._raw_read() as cursor:
            rows = self._run(cursor, self._presigned.changes, (ca_id, seq)).fetchall()
        return [(int(key, 16), int(change)) for key, change in rows]

    def save_responses(self, responses: Sequence[PresignedResponse]) -> int:
        """Keep pre-signed responses, each only while its certificate still has the status it was signed
        for (a concurrent revocation wins); returns how many were kept. One transaction."""
        if not responses:
            return 0
        sql = self._presigned
        kept = 0
        with self._raw_write() as tx:
            for response in responses:
                kept += tx.count(sql.save, presigned.save_params(self._sql.time, response))
        return kept

    def presigned_response(self, ca_id: str, serial: int, cert_id_der: bytes) -> PresignedResponse | None:
        """The kept response for a certificate and CertID encoding, if any (it may be past nextUpdate)."""
        key = (ca_id, serial_hex(serial), presigned.cert_id_key(cert_id_der))
        with self._raw_read() as cursor:
            row = self._run(cursor, self._presigned.load, key).fetchone()
        return None if row is None else presigned.response_row(ca_id, serial, row)

    def responses_due(self, ca_id: str, before: dt.datetime, limit: int) -> list[tuple[int, bytes]]:
        """(serial, CertID DER) of kept responses whose nextUpdate is before ``before``, soonest first."""
        with self._raw_read() as cursor:
            rows = self._run(cursor, self._presigned.due, (ca_id, self._sql.time(before), limit)).fetchall()
        return [(int(serial, 16), bytes(cert_id)) for serial, cert_id in rows]

    def issued_statuses(
        self, ca_id: str, *, valid_at: dt.datetime, after: int = -1, limit: int = 1000
    ) -> list[StatusRow]:
        """A page of the CA's issued certificates still valid at ``valid_at`` (good, revoked or on hold),
        by serial, starting after serial ``after``: what pre-signing walks through."""
        start = certs.serial_key(after) if after >= 0 else ""
        params = (ca_id, start, self._sql.time(valid_at), limit)
        with self._raw_read() as cursor:
            rows = self._run(cursor, self._presigned.page, params).fetchall()
        found = []
        for row in rows:
            status = presigned.status_row(int(row[0], 16), row[1:])
            assert status is not None
            found.append(status)
        return found
