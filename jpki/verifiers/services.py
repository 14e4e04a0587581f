"""Everything a server process runs for registered verifiers, assembled over one PKI."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from jpki.verifiers.fees import FeeSchedule, Service
from jpki.verifiers.flusher import Flusher
from jpki.verifiers.hooks import BilledOcsp, VerifierCrlAccess
from jpki.verifiers.ledger import Ledger
from jpki.verifiers.model import Verifier
from jpki.verifiers.refusals import RefusalLog
from jpki.verifiers.registry import DEFAULT_TTL, VerifierRegistry
from ocsp.answer import OcspService
from pki.clock import Clock
from pki.definition import OcspAccess
from pki.runtime import Pki
from pki.store import Store


@dataclass(frozen=True, slots=True)
class VerifierSettings:
    ttl: float = DEFAULT_TTL
    """Seconds a token read from the store is trusted from memory (changes made elsewhere apply within)."""
    flush_period: float = 1.0
    """Seconds between ledger flushes (what a crash can lose)."""
    refusal_window: float = 60.0
    """Seconds between two audit records of the same kind of refusal."""


class VerifierServices:
    """The registry, the ledger, the refusal log and their flusher; the OCSP and CRL hooks over them.
    ``authenticate`` and ``record_provision`` make it the directory the linkage and 4-information services
    take (``jpki.services.access.VerifierDirectory``)."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        *,
        restricted: Collection[str],
        fees: FeeSchedule | None = None,
        settings: VerifierSettings | None = None,
    ) -> None:
        settings = settings or VerifierSettings()
        self.restricted = frozenset(restricted)
        """CAs whose OCSP and CRLs are for registered verifiers only."""
        self.refusals = RefusalLog(clock, window=settings.refusal_window)
        self.registry = VerifierRegistry(store, clock, refusals=self.refusals, ttl=settings.ttl)
        self.ledger = Ledger(store, clock, fees)
        self.flusher = Flusher(store, [self.ledger, self.refusals], period=settings.flush_period)
        self.crl_access = VerifierCrlAccess(self.registry, self.ledger, self.restricted)

    @classmethod
    def for_pki(cls, pki: Pki, settings: VerifierSettings | None = None) -> VerifierServices:
        """Over a PKI home: its CAs with ``[ca.ocsp] access = "registered"`` are restricted; fees are the
        standard ones with the home's ``verifier-fees.toml`` overrides."""
        cas = [ca.id for ca in pki.definition.cas]
        restricted = [ca.id for ca in pki.definition.cas if ca.ocsp.access is OcspAccess.registered]
        fees = FeeSchedule.for_home(pki.config.home, cas)
        return cls(pki.store, pki.clock, restricted=restricted, fees=fees, settings=settings)

    def authenticate(self, bearer_token: str | None) -> Verifier | None:
        """The active verifier holding this token, or None (:meth:`VerifierRegistry.authenticate`)."""
        return self.registry.authenticate(bearer_token)

    def record_provision(
        self, verifier_id: str, service: Service | str, ca_id: str, count: int = 1, ref: str | None = None
    ) -> None:
        """Count a provision in the fee ledger (:meth:`Ledger.record_provision`)."""
        self.ledger.record_provision(verifier_id, service, ca_id, count, ref)

    def billed(self, service: OcspService) -> BilledOcsp:
        """``service`` recording a provision for each answer it gives a verifier about a restricted CA."""
        return BilledOcsp(service, self.registry, self.ledger, self.restricted)

    def start(self) -> None:
        self.flusher.start()

    def stop(self) -> None:
        """Stop the flusher after a last flush."""
        self.flusher.stop()
