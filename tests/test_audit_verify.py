"""Audit chain verification: every kind of tampering is found and named."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest

from hsm import KeyKind, open_backend
from pki.audit.chain import GENESIS, AuditRecord, payload_digest, record_hash
from pki.audit.checkpoint import sign_checkpoint
from pki.audit.verify import verify_log

T0 = dt.datetime(2026, 11, 26, tzinfo=dt.UTC)


def chain(n: int) -> list[AuditRecord]:
    records, prev = [], GENESIS
    for seq in range(1, n + 1):
        at = T0 + dt.timedelta(seconds=seq)
        digest = payload_digest({"serial": f"{seq:x}"})
        h = record_hash(prev, seq, at, "ra:tokyo", "cert.issue", f"ca1/{seq:x}", digest)
        records.append(AuditRecord(seq, at, "ra:tokyo", "cert.issue", f"ca1/{seq:x}", digest, prev, h))
        prev = h
    return records


def rehash(records: list[AuditRecord]) -> list[AuditRecord]:
    """What a careful attacker does after tampering: recompute every hash from there on."""
    out, prev = [], GENESIS
    for r in records:
        h = record_hash(prev, r.seq, r.at, r.actor, r.action, r.object, r.payload_digest)
        out.append(dataclasses.replace(r, prev_hash=prev, record_hash=h))
        prev = h
    return out


def test_intact_log_verifies() -> None:
    report = verify_log(chain(50))
    assert report.ok and report.records == 50 and report.last_seq == 50


def test_update_is_named() -> None:
    records = chain(10)
    records[4] = dataclasses.replace(records[4], actor="someone-else")
    problems = verify_log(records).problems
    assert problems == ["record 5 was altered: its content does not match its hash"]


def test_delete_is_named() -> None:
    records = chain(10)
    del records[6]
    problems = verify_log(records).problems
    assert any("record(s) 7 deleted" in p for p in problems)
    assert any("record 8 does not follow" in p for p in problems)


def test_insert_is_named() -> None:
    records = chain(10)
    forged = dataclasses.replace(records[2], object="ca1/forged")
    records.insert(3, forged)
    problems = verify_log(records).problems
    assert any("record 3 is out of place" in p for p in problems)


def test_swap_is_named() -> None:
    records = chain(10)
    a, b = records[3], records[4]
    records[3] = dataclasses.replace(b, seq=4)
    records[4] = dataclasses.replace(a, seq=5)
    problems = verify_log(records).problems
    assert "record 4 was altered: its content does not match its hash" in problems
    assert "record 5 was altered: its content does not match its hash" in problems


def test_rewrite_with_recomputed_hashes_is_caught_by_a_signed_checkpoint(tmp_path: Path) -> None:
    with open_backend(f"file:{tmp_path}", environ={"JLIS_KEY_PASSPHRASE": "audit"}) as backend:
        signer = backend.generate("audit", KeyKind.P256)
    records = chain(20)
    checkpoint = sign_checkpoint(signer, 15, records[14].record_hash, T0)
    assert verify_log(records, [checkpoint], signer.public_key).ok
    records[3] = dataclasses.replace(records[3], object="ca1/changed")
    rewritten = rehash(records)
    assert verify_log(rewritten).ok  # a chain alone cannot see a full rewrite...
    problems = verify_log(rewritten, [checkpoint], signer.public_key).problems
    assert problems == ["checkpoint at record 15 does not match the log: records up to it were rewritten"]
    forged = dataclasses.replace(checkpoint, record_hash=rewritten[14].record_hash)
    problems = verify_log(rewritten, [forged], signer.public_key).problems
    assert problems == ["checkpoint at record 15 has an invalid signature"]


def test_truncation_before_a_checkpoint_is_named(tmp_path: Path) -> None:
    with open_backend(f"file:{tmp_path}", environ={"JLIS_KEY_PASSPHRASE": "audit"}) as backend:
        signer = backend.generate("audit", KeyKind.P256)
    records = chain(20)
    checkpoint = sign_checkpoint(signer, 20, records[19].record_hash, T0)
    problems = verify_log(records[:18], [checkpoint], signer.public_key).problems
    assert problems == ["checkpoint at record 20: that record is missing (log truncated?)"]


@pytest.mark.parametrize("bad", [b"", b"\x00" * 31])
def test_record_hash_refuses_bad_lengths(bad: bytes) -> None:
    with pytest.raises(ValueError):
        record_hash(bad, 1, T0, "a", "b", "c", bytes(32))
