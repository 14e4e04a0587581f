"""Appending to the hash-chained audit log inside the caller's transaction.

The chain's tip lives in the single-row ``audit_head`` table. An appender reads it ``FOR UPDATE`` (on
PostgreSQL a row lock held to commit; SQLite's ``BEGIN IMMEDIATE`` already serializes writers), so two
appenders — threads or processes — can never both chain onto the same record: seq has no gaps and every
prev_hash is the record_hash before it. Appending is the last step of every write transaction, so the
lock is held only for the commit.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pki.audit.chain import AuditRecord, payload_digest, record_hash
from pki.store.rows import AuditEntry
from pki.store.schema import audit_head, audit_log

HEAD_ID = 1

# Statements are built once: building SQLAlchemy constructs per call costs more than running them.
_LOCK_HEAD = (
    sa.select(audit_head.c.seq, audit_head.c.record_hash).where(audit_head.c.id == HEAD_ID).with_for_update()
)
_INSERT = sa.insert(audit_log)
_MOVE_HEAD = (
    sa.update(audit_head)
    .where(audit_head.c.id == HEAD_ID)
    .values(seq=sa.bindparam("new_seq"), record_hash=sa.bindparam("new_hash"))
)
_RECORDS = sa.select(audit_log).where(audit_log.c.seq >= sa.bindparam("from_seq")).order_by(audit_log.c.seq)


def append(conn: Connection, entry: AuditEntry, at: dt.datetime) -> AuditRecord:
    """Chain ``entry`` onto the log's tip; the caller's transaction commits it with the state it records."""
    tip_seq, tip_hash = conn.execute(_LOCK_HEAD).one()
    seq = int(tip_seq) + 1
    tip_hash = bytes(tip_hash)
    digest = payload_digest(entry.payload)
    record = AuditRecord(
        seq=seq,
        at=at,
        actor=entry.actor,
        action=entry.action,
        object=entry.object,
        payload_digest=digest,
        prev_hash=tip_hash,
        record_hash=record_hash(tip_hash, seq, at, entry.actor, entry.action, entry.object, digest),
    )
    conn.execute(_INSERT, _values(record))
    conn.execute(_MOVE_HEAD, {"new_seq": seq, "new_hash": record.record_hash})
    return record


def _values(record: AuditRecord) -> dict[str, object]:
    return {
        "seq": record.seq,
        "at": record.at,
        "actor": record.actor,
        "action": record.action,
        "object": record.object,
        "payload_digest": record.payload_digest,
        "prev_hash": record.prev_hash,
        "record_hash": record.record_hash,
    }


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
