"""Refused requests, audited without letting a flood fill the audit log.

Every refusal (no credentials, a token we never gave or since rotated, a suspended verifier, a missing
scope) is counted in memory under a key of (reason, verifier, scope, CA). The flusher (:mod:`.flusher`)
writes one ``jpki.verifier.refused`` audit record per key: at its first refusal within a second, then at
most once per ``window`` seconds with the count, the first and last time and a few client addresses. The
keys are bounded by the registry (an unknown token counts under no verifier, whatever it says), so a flood
of any size costs a fixed number of records per window, and as many warnings in the service log. Tokens
are never recorded, not even in part.
"""

from __future__ import annotations

import datetime as dt
import enum
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from pki.clock import Clock
from pki.store import AuditEntry, DomainTx

log = logging.getLogger(__name__)

ACTOR = "system:verifiers"
"""Who the refusal records name as actor."""
MAX_CLIENTS = 5
"""Client addresses kept per record (the first ones seen)."""


class RefusalReason(enum.StrEnum):
    missing = "missing-credentials"
    invalid = "invalid-token"
    """Not a token we gave, a wrong secret, or a token replaced by a rotation."""
    suspended = "suspended"
    scope = "scope"


@dataclass(frozen=True, slots=True)
class RefusalKey:
    reason: RefusalReason
    verifier_id: str | None
    scope: str
    ca_id: str


@dataclass(slots=True)
class _Bucket:
    count: int
    first: dt.datetime
    last: dt.datetime
    clients: list[str] = field(default_factory=list)

    def add(self, other: _Bucket) -> None:
        self.count += other.count
        self.first, self.last = min(self.first, other.first), max(self.last, other.last)
        for client in other.clients:
            if client not in self.clients and len(self.clients) < MAX_CLIENTS:
                self.clients.append(client)


class RefusalLog:
    """Counts refusals; :meth:`take` hands the flusher what is due. Thread-safe; ``note`` is O(1)."""

    def __init__(self, clock: Clock, *, window: float = 60.0, ticker: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._window = window
        self._ticker = ticker
        self._lock = threading.Lock()
        self._buckets: dict[RefusalKey, _Bucket] = {}
        self._emitted: dict[RefusalKey, float] = {}

    def note(self, key: RefusalKey, client: str | None) -> None:
        now = self._clock.now()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = _Bucket(0, now, now)
            bucket.count += 1
            bucket.last = now
            if client is not None and len(bucket.clients) < MAX_CLIENTS and client not in bucket.clients:
                bucket.clients.append(client)

    def take(self, *, everything: bool = False) -> RefusalBatch | None:
        """The refusals whose record is due (all of them when ``everything``: at shutdown), or None."""
        tick = self._ticker()
        with self._lock:
            due = [
                key
                for key in self._buckets
                if everything or key not in self._emitted or tick - self._emitted[key] >= self._window
            ]
            if not due:
                return None
            taken = {key: self._buckets.pop(key) for key in due}
            for key in due:
                self._emitted[key] = tick
            for key in [k for k, at in self._emitted.items() if tick - at >= 2 * self._window]:
                del self._emitted[key]  # idle keys: their next refusal is recorded at once again
        return RefusalBatch(self, taken)

    def pending(self) -> int:
        """Refusals counted and not yet written."""
        with self._lock:
            return sum(b.count for b in self._buckets.values())

    def _restore(self, taken: dict[RefusalKey, _Bucket]) -> None:
        with self._lock:
            for key, bucket in taken.items():
                kept = self._buckets.get(key)
                if kept is None:
                    self._buckets[key] = bucket
                else:
                    bucket.add(kept)
                    self._buckets[key] = bucket
                self._emitted.pop(key, None)


@dataclass(frozen=True, slots=True)
class RefusalBatch:
    log: RefusalLog
    taken: dict[RefusalKey, _Bucket]

    def write(self, tx: DomainTx) -> None:
        for key, bucket in self.taken.items():
            target = f"verifier/{key.verifier_id or 'unknown'}"
            payload = {
                "reason": key.reason.value,
                "scope": key.scope,
                "ca": key.ca_id,
                "count": bucket.count,
                "first": bucket.first.isoformat(),
                "last": bucket.last.isoformat(),
                "clients": list(bucket.clients),
            }
            tx.audit(AuditEntry(ACTOR, "jpki.verifier.refused", target, payload))

    def restore(self) -> None:
        self.log._restore(self.taken)

    def done(self) -> None:
        """Written: say so in the service log too (the audit log keeps only a digest of the details)."""
        for key, bucket in self.taken.items():
            log.warning(
                "refused %d request(s) for %s of %s: %s, verifier %s, clients %s",
                bucket.count,
                key.scope,
                key.ca_id,
                key.reason.value,
                key.verifier_id or "unknown",
                ", ".join(bucket.clients) or "-",
            )
