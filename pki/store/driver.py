"""Pre-built SQL run through the driver's own cursor: the write hot path, without SQLAlchemy per statement.

SQLAlchemy Core builds, compiles and runs everything else; but on a small machine its per-execute work
(compiled-cache lookup, events, parameter and result processing) costs more than SQLite itself, and a
certificate issuance is a dozen statements. The hot writes (reserve, complete, revoke and every audit
append) therefore run fixed SQL text through the DBAPI cursor of a pooled connection:

* SQLite: ``?`` parameters, times as the naive-UTC text SQLAlchemy's ``DateTime`` stores and reads back;
  the write transaction is ``BEGIN IMMEDIATE`` … ``COMMIT`` as on every other write path.
* PostgreSQL: ``%s`` parameters, server-side prepared statements (``prepare=True``), aware times
  (sessions run in UTC); the transaction is psycopg's implicit one, ended by ``commit()``.

:class:`Tx` hides the two drivers' calling conventions; :class:`Sql` holds each dialect's statement text.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from pki.model import CertStatus

_UTC = dt.UTC


def sqlite_time(value: dt.datetime) -> str:
    """An aware time as SQLAlchemy's SQLite ``DateTime`` stores it: naive UTC, microseconds always."""
    if value.tzinfo is not _UTC:
        value = value.astimezone(_UTC)
    return value.replace(tzinfo=None).isoformat(" ", "microseconds")


def _pg_time(value: dt.datetime) -> dt.datetime:
    return value


class Tx:
    """A write transaction's cursor: ``run`` executes one pre-built statement."""

    __slots__ = ("cursor",)

    def __init__(self, cursor: Any) -> None:
        self.cursor = cursor

    def run(self, sql: str, params: tuple[object, ...] = ()) -> Any:
        return self.cursor.execute(sql, params)

    def one(self, sql: str, params: tuple[object, ...] = ()) -> Any:
        """The single row a statement returns, or None (all rows are fetched: SQLite finishes RETURNING)."""
        rows = self.run(sql, params).fetchall()
        return rows[0] if rows else None

    def count(self, sql: str, params: tuple[object, ...] = ()) -> int:
        """Rows a DML statement changed."""
        return int(self.run(sql, params).rowcount)

    def many(self, sql: str, rows: list[tuple[object, ...]]) -> int:
        """One DML statement over many parameter rows; the rows changed in all. SQLite: ``executemany``
        (in process, cheap per row)."""
        cursor = self.cursor
        cursor.executemany(sql, rows)
        return int(cursor.rowcount)


class PgTx(Tx):
    __slots__ = ()

    def run(self, sql: str, params: tuple[object, ...] = ()) -> Any:
        return self.cursor.execute(sql, params, prepare=True)

    def many(self, sql: str, rows: list[tuple[object, ...]]) -> int:
        """PostgreSQL: the statement takes one array per column (``unnest``): one round trip for the batch,
        where ``executemany``'s pipeline costs more client time per row than the rows cost the server."""
        return int(self.run(sql, tuple(list(column) for column in zip(*rows, strict=True))).rowcount)


_CERT_COLUMNS = (
    "ca_id, serial_hex, serial_key, status, subject_der, subject_text, not_before, not_after, profile, "
    "holder_ref, is_ca, shard, tbs_sha256, created_at"
)
_AUDIT_COLUMNS = "seq, at, actor, action, object, payload_digest, prev_hash, record_hash"
_PENDING = CertStatus.pending.value
_GOOD = CertStatus.good.value


class Sql:
    """One dialect's statements (written with ``%s``; SQLite's get ``?``)."""

    def __init__(self, postgres: bool) -> None:
        self.postgres = postgres
        self.time: Callable[[dt.datetime], object] = _pg_time if postgres else sqlite_time
        self.tx: type[Tx] = PgTx if postgres else Tx
        lock = " FOR UPDATE" if postgres else ""

        def q(text: str) -> str:
            return text if postgres else text.replace("%s", "?")

        # -- audit chain (pki.store.auditlog) ---------------------------------------------------------------
        # Moves the head only if it still is the tip this process last wrote or saw: on PostgreSQL the
        # UPDATE takes the row lock and, if it had to wait for another appender, re-checks the condition
        # on the row that appender committed (so a stale tip matches nothing); SQLite writers are already
        # serialized by BEGIN IMMEDIATE.
        self.move_head_if = q(
            "UPDATE audit_head SET seq = %s, record_hash = %s WHERE id = 1 AND seq = %s AND record_hash = %s"
        )
        self.lock_head = q(f"SELECT seq, record_hash FROM audit_head WHERE id = 1{lock}")
        self.move_head = q("UPDATE audit_head SET seq = %s, record_hash = %s WHERE id = 1")
        self.insert_audit = q(
            f"INSERT INTO audit_log ({_AUDIT_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
        )

        # -- certificates -----------------------------------------------------------------------------------
        # INSERT … SELECT FROM ca: an unknown CA inserts nothing (no separate existence check).
        self.insert_pending = q(
            f"INSERT INTO certificate ({_CERT_COLUMNS}) "
            f"SELECT ca_id, %s, %s, '{_PENDING}', %s, %s, %s, %s, %s, %s, %s, %s, %s, %s FROM ca "
            "WHERE ca_id = %s RETURNING id"
        )
        self.complete = q(
            f"UPDATE certificate SET status = '{_GOOD}', der = %s, issued_at = %s "
            f"WHERE id = %s AND status = '{_PENDING}' AND serial_key = %s AND tbs_sha256 = %s"
        )
        # Batches (CertificateAuthority.issue_many): no RETURNING, rows are found again by (CA, serial).
        # SQLite runs them per row (executemany); PostgreSQL once over column arrays (PgTx.many).
        if postgres:
            self.insert_pending_many = (
                f"INSERT INTO certificate ({_CERT_COLUMNS}) SELECT v.ca_id, v.serial_hex, v.serial_key, "
                f"'{_PENDING}', v.subject_der, v.subject_text, v.not_before, v.not_after, v.profile, "
                "v.holder_ref, v.is_ca, v.shard, v.tbs_sha256, v.created_at FROM unnest(%b::text[], "
                "%b::text[], %b::bytea[], %b::text[], %b::timestamptz[], %b::timestamptz[], %b::text[], "
                "%b::text[], %b::bool[], %b::int[], %b::bytea[], %b::timestamptz[], %b::text[]) "
                "AS v(serial_hex, serial_key, subject_der, subject_text, not_before, not_after, profile, "
                "holder_ref, is_ca, shard, tbs_sha256, created_at, ca_id) "
                "WHERE EXISTS (SELECT FROM ca WHERE ca.ca_id = v.ca_id)"
            )
            self.complete_by_serial = (
                f"UPDATE certificate c SET status = '{_GOOD}', der = v.der, issued_at = v.at "
                "FROM unnest(%b::bytea[], %b::timestamptz[], %b::text[], %b::text[], %b::bytea[]) "
                "AS v(der, at, ca_id, serial_hex, tbs) WHERE c.ca_id = v.ca_id AND "
                f"c.serial_hex = v.serial_hex AND c.status = '{_PENDING}' AND c.tbs_sha256 = v.tbs"
            )
            self.insert_audit_many = (
                f"INSERT INTO audit_log ({_AUDIT_COLUMNS}) SELECT * FROM unnest(%b::bigint[], "
                "%b::timestamptz[], %b::text[], %b::text[], %b::text[], %b::bytea[], %b::bytea[], "
                "%b::bytea[])"
            )
        else:
            self.insert_pending_many = (
                f"INSERT INTO certificate ({_CERT_COLUMNS}) "
                f"SELECT ca_id, ?, ?, '{_PENDING}', ?, ?, ?, ?, ?, ?, ?, ?, ?, ? FROM ca WHERE ca_id = ?"
            )
            self.complete_by_serial = (
                f"UPDATE certificate SET status = '{_GOOD}', der = ?, issued_at = ? "
                f"WHERE ca_id = ? AND serial_hex = ? AND status = '{_PENDING}' AND tbs_sha256 = ?"
            )
            self.insert_audit_many = self.insert_audit
        self.pending_by_serial = q(f"SELECT id FROM certificate WHERE ca_id = %s AND serial_hex = %s{lock}")
        self.pending_facts = q(f"SELECT status, serial_key, tbs_sha256 FROM certificate WHERE id = %s{lock}")

        # PostgreSQL: the state change and the audit append (when the cached tip still holds) as one
        # statement, i.e. one round trip; the audit part only runs if the state change happened.
        head_if = (
            "h AS (UPDATE audit_head SET seq = %s, record_hash = %s "
            "WHERE id = 1 AND seq = %s AND record_hash = %s AND EXISTS (SELECT FROM c) RETURNING seq), "
            f"a AS (INSERT INTO audit_log ({_AUDIT_COLUMNS}) "
            "SELECT h.seq, %s, %s, %s, %s, %s, %s, %s FROM h) "
        )
        self.pg_reserve = (
            f"WITH c AS (INSERT INTO certificate ({_CERT_COLUMNS}) "
            f"SELECT ca_id, %s, %s, '{_PENDING}', %s, %s, %s, %s, %s, %s, %s, %s, %s, %s FROM ca "
            f"WHERE ca_id = %s RETURNING id), {head_if}"
            "SELECT (SELECT id FROM c), EXISTS (SELECT FROM h)"
        )
        self.pg_complete = (
            f"WITH c AS (UPDATE certificate SET status = '{_GOOD}', der = %s, issued_at = %s "
            f"WHERE id = %s AND status = '{_PENDING}' AND serial_key = %s AND tbs_sha256 = %s RETURNING id), "
            f"{head_if}SELECT EXISTS (SELECT FROM c), EXISTS (SELECT FROM h)"
        )

        # -- revocation -------------------------------------------------------------------------------------
        self.lock_certificate = q(
            "SELECT id, status, serial_key, shard, is_ca FROM certificate "
            f"WHERE ca_id = %s AND serial_hex = %s{lock}"
        )
        # Read after the lock, in a statement of its own: under READ COMMITTED, a statement that waited for
        # a row lock sees that row's new version but the rest of its snapshot as it was before the wait.
        self.revocation_reason = q("SELECT reason FROM revocation WHERE certificate_id = %s")
        self.bump_change_seq = q(
            "UPDATE revocation_counter SET last_seq = last_seq + 1 WHERE ca_id = %s RETURNING last_seq"
        )
        # A hold or a released hold is replaced; the identity columns never change.
        self.upsert_revocation = q(
            "INSERT INTO revocation (certificate_id, ca_id, serial_key, shard, is_ca, reason, revoked_at, "
            "invalidity_date, released_at, change_seq) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, NULL, %s) "
            "ON CONFLICT (certificate_id) DO UPDATE SET reason = excluded.reason, "
            "revoked_at = excluded.revoked_at, invalidity_date = excluded.invalidity_date, "
            "released_at = NULL, change_seq = excluded.change_seq"
        )
        self.set_status = q("UPDATE certificate SET status = %s WHERE id = %s")
        self.drop_presigned = q("DELETE FROM ocsp_response WHERE ca_id = %s AND serial_hex = %s")


SQLITE = Sql(postgres=False)
POSTGRES = Sql(postgres=True)


def broken(driver: Any) -> bool:
    """Whether a driver connection is unusable after a failure (a pooled one must then be discarded)."""
    return bool(getattr(driver, "closed", False) or getattr(driver, "broken", False))
