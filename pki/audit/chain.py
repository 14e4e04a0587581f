"""The audit hash chain: how one record's hash is computed (the store and the verifier share this).

record_hash = SHA-256( "jlis-audit-v1" || 0x00 || prev_hash(32) || seq(8, big-endian) || at || actor ||
                       action || object || payload_digest(32) ), where at/actor/action/object are each
UTF-8 text preceded by its 4-byte big-endian length, and ``at`` is ISO 8601 in UTC with seconds and 'Z'
(microseconds kept when present). The first record's prev_hash is 32 zero bytes. Changing, deleting,
inserting or reordering any record changes every later hash.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
from dataclasses import dataclass
from typing import Any

GENESIS = bytes(32)
_DOMAIN = b"jlis-audit-v1\x00"


def format_time(at: dt.datetime) -> str:
    """The canonical text of a record time (UTC, 'Z')."""
    if at.tzinfo is None:
        raise ValueError("audit times must be timezone-aware")
    utc = at.astimezone(dt.UTC)
    spec = "microseconds" if utc.microsecond else "seconds"
    return utc.replace(tzinfo=None).isoformat(timespec=spec) + "Z"


def payload_digest(payload: dict[str, Any] | None) -> bytes:
    """SHA-256 of the canonical JSON of an action's payload (sorted keys, no spaces); None is ``{}``."""
    text = json.dumps(payload or {}, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).digest()


def _field(text: str) -> bytes:
    raw = text.encode()
    return len(raw).to_bytes(4, "big") + raw


@functools.lru_cache(maxsize=256)
def _repeated_field(text: str) -> bytes:
    """``_field`` for the values many records share (actors, actions)."""
    return _field(text)


@functools.lru_cache(maxsize=64)
def _time_field(at: dt.datetime) -> bytes:
    """``_field(format_time(at))``: the records of one transaction share their time."""
    return _field(format_time(at))


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One audit record as stored."""

    seq: int
    at: dt.datetime
    actor: str
    action: str
    object: str
    payload_digest: bytes
    prev_hash: bytes
    record_hash: bytes


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A signature by the audit key over the record hash at ``seq`` (see :mod:`pki.audit.checkpoint`)."""

    seq: int
    record_hash: bytes
    at: dt.datetime
    signer_key_id: str
    """Hex SHA-1 key identifier of the audit key that signed."""
    algorithm: str
    """``scheme/hash`` of the signature, e.g. ``ecdsa/sha256``."""
    signature: bytes

    def __post_init__(self) -> None:
        if len(self.record_hash) != 32:
            raise ValueError("record_hash must be 32 bytes")
        if self.at.tzinfo is None:
            raise ValueError("checkpoint times must be timezone-aware")
        object.__setattr__(self, "at", self.at.astimezone(dt.UTC))


def record_hash(
    prev_hash: bytes, seq: int, at: dt.datetime, actor: str, action: str, obj: str, digest: bytes
) -> bytes:
    """The hash that chains a record to the one before it."""
    if len(prev_hash) != 32 or len(digest) != 32:
        raise ValueError("prev_hash and payload digest must be 32 bytes")
    data = b"".join(
        (_DOMAIN, prev_hash, seq.to_bytes(8, "big"), _time_field(at), _repeated_field(actor),
         _repeated_field(action), _field(obj), digest)
    )  # fmt: skip
    return hashlib.sha256(data).digest()
