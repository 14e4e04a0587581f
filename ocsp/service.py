"""One responder process, assembled: cache, responder, keeper, revocation watcher and refresher.

``jlis serve`` builds an :class:`OcspRuntime` per worker process and starts it with the app; library users
can do the same (``examples/ocsp_responder.py``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from ocsp.access import VerifierCheck
from ocsp.cache import ResponseCache
from ocsp.keeper import Keeper
from ocsp.presign import Presigner
from ocsp.responder import Responder, ResponderSettings
from ocsp.watcher import Periodic, RevocationWatcher
from pki.runtime import Pki

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class OcspSettings:
    """How a responder process runs."""

    redis_url: str | None = None
    """Share cached responses between processes through Redis; None: in-process cache only."""
    max_certificates: int = 10
    cache_entries: int = 1_000_000
    watch_period: float = 0.2
    """Seconds between polls of the revocation counters (revocations reach the cache within this)."""
    refresh_period: float = 30.0
    """Seconds between refresher rounds (responder certificates, pre-signed responses near nextUpdate)."""
    presign_at_start: bool = True
    """Pre-sign every valid certificate's response in the background when the process starts."""
    sign_threads: int = 2


class OcspRuntime:
    """A responder and its background work over one PKI."""

    def __init__(
        self, pki: Pki, settings: OcspSettings | None = None, verifiers: VerifierCheck | None = None
    ):
        self.settings = settings = settings or OcspSettings()
        self.pki = pki
        self.cache = ResponseCache(
            clock=pki.clock, max_entries=settings.cache_entries, redis_url=settings.redis_url
        )
        self.keeper = Keeper(pki.store)
        self.responder = Responder(
            pki,
            self.cache,
            verifiers=verifiers,
            settings=ResponderSettings(max_certificates=settings.max_certificates),
            keeper=self.keeper,
        )
        self.presigner = Presigner(self.responder, threads=settings.sign_threads)
        self.watcher = RevocationWatcher(pki.store, self.cache, period=settings.watch_period)
        for ca in pki.cas():
            ca.revocation_listeners.append(self.watcher.notify)
        self._first_round = settings.presign_at_start
        self.refresher = Periodic("ocsp-refresher", self.refresh, settings.refresh_period)

    def refresh(self) -> None:
        """One refresher round: renew responder certificates that are due, re-sign responses near their
        nextUpdate; the first round (when configured) pre-signs everything."""
        self.responder.credentials.renew_due(list(self.responder.index.cas.values()))
        if self._first_round:
            self._first_round = False
            report = self.presigner.presign()
            log.info("pre-signed %d OCSP responses", report.total)
        self.presigner.refresh_due()

    def start(self) -> None:
        self.watcher.poll_quietly()
        self.watcher.start()
        self.keeper.start()
        self.refresher.start()

    def stop(self) -> None:
        self.refresher.stop()
        self.watcher.stop()
        self.keeper.stop()
        self.cache.close()
