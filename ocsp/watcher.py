"""Background work of a responder process: drop cached responses as soon as a revocation commits (in any
process), and keep pre-signed responses and responder certificates fresh.

The watcher polls every CA's revocation counter (one indexed read of a few rows) every ``period`` seconds
and, for each CA whose counter moved, invalidates the cached responses of the serials that changed; a
revocation made in this process triggers a poll at once. At start it invalidates every change ever made, so
a shared cache (Redis) can hold nothing from before a revocation that a dead process never invalidated.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from ocsp.cache import ResponseCache
from pki.errors import PkiError
from pki.store import Store

log = logging.getLogger(__name__)


class RevocationWatcher:
    """Invalidates cached responses of revoked, held and released certificates."""

    def __init__(self, store: Store, cache: ResponseCache, *, period: float = 0.2) -> None:
        self._store = store
        self._cache = cache
        self._period = period
        self._last: dict[str, int] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._warned = 0.0

    def poll(self) -> int:
        """Invalidate what changed since the last poll; how many certificates. Raises PkiError."""
        with self._lock:
            changed = 0
            for ca_id, counter in self._store.revocation_counters().items():
                last = self._last.get(ca_id, 0)
                if counter <= last:
                    continue
                for serial, seq in self._store.changes_since(ca_id, last):
                    self._cache.invalidate(ca_id, serial, seq)
                    changed += 1
                self._last[ca_id] = counter
            return changed

    def notify(self, _ca_id: str, _serial: int) -> None:
        """A revocation listener (``CertificateAuthority.revocation_listeners``): poll now."""
        self._safe_poll()

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="ocsp-watcher", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            self._safe_poll()
            self._stop.wait(self._period)

    def poll_quietly(self) -> None:
        """``poll``, logging (at most every 30 s) instead of raising when the store is away."""
        self._safe_poll()

    def _safe_poll(self) -> None:
        try:
            self.poll()
        except PkiError as exc:  # the store is away: nothing can be revoked meanwhile either
            now = time.monotonic()
            if now - self._warned > 30:
                self._warned = now
                log.warning("OCSP revocation watcher cannot read the store: %s", exc)


class Periodic:
    """Runs a job every ``period`` seconds in a daemon thread (the refresher); errors are logged."""

    def __init__(self, name: str, job: Callable[[], object], period: float) -> None:
        self._name = name
        self._job = job
        self._period = period
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._job()
            except Exception:
                log.exception("%s failed; retrying in %.0f s", self._name, self._period)
            self._stop.wait(self._period)
