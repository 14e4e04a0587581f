"""Who may use the JPKI verifier services: registered verifiers (``jpki.verifiers``) with the service's scope.

:class:`VerifierGate` asks the registry (which audits refusals, aggregated so a flood cannot fill the log)
and bills through the ledger. Every refusal is a :class:`ServiceRefused` with the HTTP status the router
passes on unchanged.
"""

from __future__ import annotations

from jpki.errors import JpkiError
from jpki.verifiers import Scope, VerifierServices
from jpki.verifiers.refusals import RefusalReason


class ServiceRefused(JpkiError):
    """A request a verifier service refuses: ``status`` is the HTTP status, ``code`` a stable short name."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


_REFUSALS = {
    RefusalReason.missing: (401, "unauthenticated", "a registered verifier's token is required"),
    RefusalReason.invalid: (401, "unauthenticated", "the token is not a registered verifier's"),
    RefusalReason.suspended: (403, "suspended", "the verifier is suspended"),
    RefusalReason.scope: (403, "forbidden", "this verifier may not use this service"),
}


class VerifierGate:
    """The registry and the ledger, as the services use them."""

    def __init__(self, verifiers: VerifierServices) -> None:
        self._verifiers = verifiers

    def require(self, bearer_token: str | None, scope: Scope, ca_id: str, client: str | None = None) -> str:
        """The id of the active verifier behind the token with ``scope``; ServiceRefused 401 / 403 else."""
        decision = self._verifiers.registry.authorize(bearer_token, scope, ca_id, client)
        if decision.refusal is not None or decision.verifier is None:
            status, code, message = _REFUSALS[decision.refusal or RefusalReason.invalid]
            raise ServiceRefused(status, code, message)
        return decision.verifier.verifier_id

    def record_provision(self, verifier_id: str, scope: Scope, ca_id: str, ref: str | None = None) -> None:
        self._verifiers.record_provision(verifier_id, scope.value, ca_id, ref=ref)
