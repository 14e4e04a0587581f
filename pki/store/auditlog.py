"""Appending to the hash-chained audit log inside the caller's transaction.

The chain's tip lives in the single-row ``audit_head`` table, and every appender moves it in the same
transaction as the record it inserts, so two appenders — threads or processes — can never both chain onto
the same record: seq has no gaps and every prev_hash is the record_hash before it.

The fast path moves the head with ``UPDATE … WHERE seq = <tip> AND record_hash = <tip hash>``, the tip being
the one this Store last saw (:class:`Head`). That statement takes the head's row lock on PostgreSQL (and
re-checks the condition against whatever a concurrent appender committed while it waited); SQLite's
``BEGIN IMMEDIATE`` already serializes writers. It matches only if nobody appended since, so a stale cache
costs one statement and never forks the chain: on a miss the appender reads the head ``FOR UPDATE`` and
chains onto what it finds. Appending is the last step of every write transaction, so the lock is held only
for the commit.

The statements run through the driver's cursor (:mod:`pki.store.driver`), inside the caller's transaction:
SQLAlchemy write paths pass their Connection's driver connection.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pki.audit.chain import AuditRecord, payload_digest, record_hash
from pki.store.driver import Sql, Tx
from pki.store.rows import AuditEntry
from pki.store.schema import audit_log

HEAD_ID = 1

_RECORDS = sa.select(audit_log).where(audit_log.c.seq >= sa.bindparam("from_seq")).order_by(audit_log.c.seq)
_NO_TIP = (-1, bytes(32))
"""A tip no head matches: the first append of a Store reads the head."""


class Head:
    """The chain tip this Store last wrote or read: a hint only (the UPDATE's condition decides)."""

    __slots__ = ("tip",)

    def __init__(self) -> None:
        self.tip: tuple[int, bytes] = _NO_TIP


def chain(entry: AuditEntry, at: dt.datetime, seq: int, prev_hash: bytes) -> AuditRecord:
    """The record ``entry`` becomes when chained at ``seq`` onto ``prev_hash``."""
    digest = payload_digest(entry.payload)
    return AuditRecord(
        seq=seq,
        at=at,
        actor=entry.actor,
        action=entry.action,
        object=entry.object,
        payload_digest=digest,
        prev_hash=prev_hash,
        record_hash=record_hash(prev_hash, seq, at, entry.actor, entry.action, entry.object, digest),
    )


def optimistic(head: Head, entry: AuditEntry, at: dt.datetime) -> AuditRecord:
    """The record ``entry`` becomes if the cached tip still holds (check with :func:`head_if_params`)."""
    seq, tip_hash = head.tip
    return chain(entry, at, seq + 1, tip_hash)


def head_if_params(sql: Sql, record: AuditRecord) -> tuple[object, ...]:
    """Parameters of a conditional head move + insert of ``record`` (``move_head_if`` / the CTE forms)."""
    return (
        record.seq,
        record.record_hash,
        record.seq - 1,
        record.prev_hash,
        sql.time(record.at),
        record.actor,
        record.action,
        record.object,
        record.payload_digest,
        record.prev_hash,
        record.record_hash,
    )


def insert_params(sql: Sql, record: AuditRecord) -> tuple[object, ...]:
    return (
        record.seq,
        sql.time(record.at),
        record.actor,
        record.action,
        record.object,
        record.payload_digest,
        record.prev_hash,
        record.record_hash,
    )


def append(tx: Tx, sql: Sql, head: Head, entry: AuditEntry, at: dt.datetime) -> AuditRecord:
    """Chain ``entry`` onto the log's tip; the caller's transaction commits it with the state it records."""
    record = optimistic(head, entry, at)
    if record.seq > 0 and tx.count(sql.move_head_if, head_if_params(sql, record)[:4]) == 1:
        tx.run(sql.insert_audit, insert_params(sql, record))
    else:
        record = locked_append(tx, sql, entry, at)
    head.tip = (record.seq, record.record_hash)
    return record


def append_many(
    tx: Tx, sql: Sql, head: Head, entries: list[AuditEntry], at: dt.datetime
) -> list[AuditRecord]:
    """Chain several entries in order with one head move and one multi-row insert (issuance batches)."""
    records = _chain_all(entries, at, *head.tip)
    first, last = records[0], records[-1]
    moved = first.seq > 0 and tx.count(
        sql.move_head_if, (last.seq, last.record_hash, first.seq - 1, first.prev_hash)
    )
    if not moved:
        tip_seq, tip_hash = tx.one(sql.lock_head)
        records = _chain_all(entries, at, int(tip_seq), bytes(tip_hash))
        last = records[-1]
        tx.run(sql.move_head, (last.seq, last.record_hash))
    tx.many(sql.insert_audit_many, [insert_params(sql, record) for record in records])
    head.tip = (last.seq, last.record_hash)
    return records


def _chain_all(entries: list[AuditEntry], at: dt.datetime, seq: int, prev_hash: bytes) -> list[AuditRecord]:
    records = []
    for entry in entries:
        record = chain(entry, at, seq + 1, prev_hash)
        records.append(record)
        seq, prev_hash = record.seq, record.record_hash
    return records


def locked_append(tx: Tx, sql: Sql, entry: AuditEntry, at: dt.datetime) -> AuditRecord:
    """The slow path: lock the head, chain onto what it holds."""
    tip_seq, tip_hash = tx.one(sql.lock_head)
    record = chain(entry, at, int(tip_seq) + 1, bytes(tip_hash))
    tx.run(sql.move_head, (record.seq, record.record_hash))
    tx.run(sql.insert_audit, insert_params(sql, record))
    return record


def record_from_row(mapping: sa.RowMapping) -> AuditRecord:
    """An AuditRecord from an ``audit_log`` row (``bytes()`` because drivers may hand back memoryviews)."""
    return AuditRecord(
        seq=int(mapping["seq"]),
        at=mapping["at"],
        actor=mapping["actor"],
        action=mapping["action"],
        object=mapping["object"],
        payload_digest=bytes(mapping["payload_digest"]),
        prev_hash=bytes(mapping["prev_hash"]),
        record_hash=bytes(mapping["record_hash"]),
    )


def records(conn: Connection, from_seq: int, batch: int) -> Iterator[AuditRecord]:
    """Stream records from ``from_seq`` in seq order, ``batch`` rows in memory at a time."""
    result = conn.execution_options(yield_per=batch).execute(_RECORDS, {"from_seq": from_seq})
    for row in result.mappings():
        yield record_from_row(row)
