"""Verify the audit log: recompute the chain and check every signed checkpoint.

Reports each problem by record number, in words an operator can act on: an altered record (its content no
longer matches its hash), a broken link (a record removed, inserted or moved before it), a gap in the
numbers (records deleted), a repeated or out-of-order number (records inserted or reordered), and a
checkpoint the log no longer matches (the log was rewritten up to that point).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from hsm import PublicKey
from pki.audit.chain import GENESIS, AuditRecord, Checkpoint, record_hash
from pki.audit.checkpoint import checkpoint_valid


@dataclass(slots=True)
class AuditReport:
    """What verification found."""

    records: int = 0
    last_seq: int = 0
    checkpoints: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_log(
    records: Iterable[AuditRecord],
    checkpoints: Iterable[Checkpoint] = (),
    public_key: PublicKey | None = None,
) -> AuditReport:
    """Walk the records in stored order (ascending seq) and the checkpoints; collect every problem."""
    report = AuditReport()
    heads: dict[int, bytes] = {}
    expected_seq, running = 1, GENESIS
    for record in records:
        report.records += 1
        _check_sequence(report, record.seq, expected_seq)
        if record.prev_hash != running:
            report.problems.append(
                f"record {record.seq} does not follow the record before it: a record was removed, inserted "
                "or moved before it, or the one before it was altered"
            )
        recomputed = record_hash(
            record.prev_hash,
            record.seq,
            record.at,
            record.actor,
            record.action,
            record.object,
            record.payload_digest,
        )
        if recomputed != record.record_hash:
            report.problems.append(f"record {record.seq} was altered: its content does not match its hash")
        running = record.record_hash
        heads[record.seq] = record.record_hash
        expected_seq = max(expected_seq, record.seq + 1)
        report.last_seq = max(report.last_seq, record.seq)
    for checkpoint in checkpoints:
        report.checkpoints += 1
        _check_checkpoint(report, checkpoint, heads, public_key)
    return report


def _check_sequence(report: AuditReport, seq: int, expected: int) -> None:
    if seq == expected:
        return
    if seq > expected:
        missing = f"{expected}" if seq == expected + 1 else f"{expected}-{seq - 1}"
        report.problems.append(f"record(s) {missing} deleted: the numbers jump from {expected - 1} to {seq}")
    else:
        report.problems.append(
            f"record {seq} is out of place after record {expected - 1}: inserted or reordered"
        )


def _check_checkpoint(
    report: AuditReport, checkpoint: Checkpoint, heads: dict[int, bytes], public_key: PublicKey | None
) -> None:
    if public_key is not None and not checkpoint_valid(checkpoint, public_key):
        report.problems.append(f"checkpoint at record {checkpoint.seq} has an invalid signature")
    head = heads.get(checkpoint.seq)
    if head is None:
        report.problems.append(
            f"checkpoint at record {checkpoint.seq}: that record is missing (log truncated?)"
        )
    elif head != checkpoint.record_hash:
        report.problems.append(
            f"checkpoint at record {checkpoint.seq} does not match the log: records up to it were rewritten"
        )
