"""The background writer of a server process: the ledger's counts and the refusal records, in one
transaction every ``period`` seconds (none when there is nothing to write), and a last one at stop."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from typing import Protocol

from ocsp.watcher import Periodic
from pki.errors import PkiError
from pki.store import DomainTx, Store

log = logging.getLogger(__name__)

WARN_EVERY = 30.0
"""Seconds between two warnings while flushes keep failing."""


class Batch(Protocol):
    def write(self, tx: DomainTx) -> None: ...

    def restore(self) -> None:
        """Put the batch back: its transaction failed, the next flush writes it."""
        ...

    def done(self) -> None:
        """The transaction committed."""
        ...


class Source(Protocol):
    def take(self, *, everything: bool = False) -> Batch | None: ...


class Flusher:
    """Writes what its sources took, in one transaction; a failed transaction puts everything back."""

    def __init__(self, store: Store, sources: Sequence[Source], *, period: float = 1.0) -> None:
        if not period > 0:
            raise ValueError(f"period must be positive, not {period}")
        self._store = store
        self._sources = tuple(sources)
        self._period = period
        self._lock = threading.Lock()
        self._periodic = Periodic("verifier-ledger", self._tick, period)
        self._warned = -WARN_EVERY

    def flush(self, *, everything: bool = False) -> int:
        """Write what is due now; how many batches. Raises PkiError (everything is kept for the next try)."""
        with self._lock:
            batches = [b for b in (s.take(everything=everything) for s in self._sources) if b is not None]
            if not batches:
                return 0
            try:
                with self._store.domain_write() as tx:
                    for batch in batches:
                        batch.write(tx)
            except BaseException:
                for batch in batches:
                    batch.restore()
                raise
            for batch in batches:
                batch.done()
            return len(batches)

    def start(self) -> None:
        self._periodic.start()

    def stop(self) -> None:
        """Stop the thread and write everything left (a failure is logged: the counts are then lost)."""
        self._periodic.stop()
        try:
            self.flush(everything=True)
        except PkiError as exc:
            log.error(
                "verifier ledger: the last flush failed, provisions since the last one are lost: %s", exc
            )

    def _tick(self) -> None:
        """One round of the thread (ocsp.watcher.Periodic logs anything unexpected and goes on)."""
        try:
            self.flush()
        except PkiError as exc:  # the store is away: the counts wait in memory for the next round
            now = time.monotonic()
            if now - self._warned >= WARN_EVERY:
                self._warned = now
                log.warning("verifier ledger flush failed, retrying every %g s: %s", self._period, exc)
