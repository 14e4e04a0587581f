"""The verifier registry and the ledger plugged into the services that answer registered verifiers only:
the OCSP responder (``ocsp.access.VerifierCheck`` is the registry itself; :class:`BilledOcsp` records what
was answered) and CRL downloads (:class:`VerifierCrlAccess`, the ``pki.http.CrlAccess`` hook)."""

from __future__ import annotations

import logging
from collections.abc import Collection
from typing import Final

from jpki.verifiers.fees import Service
from jpki.verifiers.ledger import Ledger
from jpki.verifiers.model import Scope
from jpki.verifiers.refusals import RefusalReason
from jpki.verifiers.registry import VerifierRegistry
from ocsp.answer import Answer, OcspService, Outcome, Requester
from pki.errors import PkiError
from pki.http import Access, Admission

log = logging.getLogger(__name__)

BILLED: Final = frozenset({Outcome.good, Outcome.revoked, Outcome.unknown, Outcome.several})
"""Successful OCSP answers: each certificate status in one is a provision (an error status is none)."""

_REFUSED: Final = {
    RefusalReason.missing: Access.missing,
    RefusalReason.invalid: Access.invalid,
    RefusalReason.suspended: Access.invalid,  # RFC 6750 §3.1: a revoked grant is an invalid token
    RefusalReason.scope: Access.forbidden,
}


class BilledOcsp:
    """An ``OcspService`` that records one OCSP provision per certificate status in each successful answer
    about a restricted CA's certificates, for the verifier that asked. Adds an in-memory count per answer."""

    def __init__(
        self, service: OcspService, registry: VerifierRegistry, ledger: Ledger, restricted: Collection[str]
    ) -> None:
        self._service = service
        self._registry = registry
        self._ledger = ledger
        self._restricted = frozenset(restricted)

    @property
    def local(self) -> bool:
        return self._service.local

    def cached(self, request_der: bytes, requester: Requester) -> Answer | None:
        answer = self._service.cached(request_der, requester)
        if answer is not None:
            self._bill(answer, requester)
        return answer

    def answer(self, request_der: bytes, requester: Requester) -> Answer:
        answer = self._service.answer(request_der, requester)
        self._bill(answer, requester)
        return answer

    def _bill(self, answer: Answer, requester: Requester) -> None:
        ca_id = answer.ca_id
        if answer.outcome not in BILLED or ca_id not in self._restricted or requester.bearer_token is None:
            return
        try:  # the registry just checked this token: it comes from memory
            verifier = self._registry.authenticate(requester.bearer_token)
        except PkiError as exc:
            log.warning("OCSP provision not recorded (the verifier could not be read): %s", exc)
            return
        if verifier is not None:
            self._ledger.record_provision(verifier.verifier_id, Service.ocsp, ca_id, answer.certificates)


class VerifierCrlAccess:
    """``pki.http.CrlAccess``: a restricted CA's CRLs for active verifiers with scope ``crl``; each
    download delivered is a ``crl`` provision in the ledger."""

    def __init__(self, registry: VerifierRegistry, ledger: Ledger, restricted: Collection[str]) -> None:
        self._registry = registry
        self._ledger = ledger
        self._restricted = frozenset(restricted)

    def admit(self, ca_id: str, bearer_token: str | None, client_address: str | None) -> Admission:
        if ca_id not in self._restricted:
            return Admission(Access.open)
        try:
            decision = self._registry.authorize(bearer_token, Scope.crl, ca_id, client_address)
        except PkiError as exc:
            log.warning("CRL download deferred (the verifier could not be read): %s", exc)
            return Admission(Access.unavailable)
        if decision.refusal is not None:
            return Admission(_REFUSED[decision.refusal], scope=Scope.crl.value)
        assert decision.verifier is not None  # granted decisions name their verifier
        return Admission(Access.granted, holder=decision.verifier.verifier_id, scope=Scope.crl.value)

    def delivered(self, ca_id: str, admission: Admission) -> None:
        if admission.holder is not None:
            self._ledger.record_provision(admission.holder, Service.crl, ca_id)
