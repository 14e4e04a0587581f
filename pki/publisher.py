"""Keeps published CRLs fresh: reissues a CRL before it goes stale, and after revocations made anywhere.

Revocations can come from any process sharing the store (the CLI, another server); the publisher notices
them through the CA's revocation high-water mark (``change_seq``) rather than through in-process events,
so ``jlis ca revoke`` in a shell shows up in the CRLs ``jlis serve`` publishes within one period.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading

from pki.errors import PkiError
from pki.runtime import Pki

log = logging.getLogger("jlis.crl")
RENEW_AT = 0.75
"""Reissue a CRL once this fraction of its lifetime (thisUpdate to nextUpdate) has passed."""
ACTOR = "system:crl-publisher"


class CrlPublisher:
    """Checks every CA's CRLs on a period; ``run_once`` does one pass (tests and ``jlis crl`` use it)."""

    def __init__(self, pki: Pki, period: float = 5.0) -> None:
        self.pki = pki
        self.period = period
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> int:
        """Reissue whatever is due; returns how many CRLs were issued. Errors are logged, not raised."""
        issued = 0
        for ca in self.pki.cas():
            try:
                issued += self._refresh(ca.id)
            except PkiError as exc:
                log.error("CRL refresh of %s failed: %s", ca.id, exc.message)
        return issued

    def _refresh(self, ca_id: str) -> int:
        ca = self.pki.ca(ca_id)
        policy = ca.definition.crl
        now = self.pki.clock.now()
        high = self.pki.store.change_seq(ca_id)
        issued = 0
        for scope in ca.scopes():
            latest = self.pki.store.latest_crl(ca_id, scope)
            changed = latest is not None and policy.after_revocation and high > latest.change_seq
            uses_delta = policy.delta_next_update is not None and scope != "arl"
            if (
                latest is None
                or _due(latest.this_update, latest.next_update, now)
                or (changed and not uses_delta)
            ):
                ca.generate_crl(scope, actor=ACTOR)
                issued += 1
            elif uses_delta:
                last_delta = self.pki.store.latest_crl(ca_id, scope, delta=True)
                stale = last_delta is None or _due(last_delta.this_update, last_delta.next_update, now)
                if stale or (policy.after_revocation and high > (last_delta.change_seq if last_delta else 0)):
                    ca.generate_crl(scope, delta=True, actor=ACTOR)
                    issued += 1
        return issued

    def start(self) -> None:
        """Run passes on a daemon thread until ``stop``."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="crl-publisher", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._stop.wait(self.period):
            self.run_once()


def _due(this_update: dt.datetime, next_update: dt.datetime, now: dt.datetime) -> bool:
    return now >= this_update + (next_update - this_update) * RENEW_AT
