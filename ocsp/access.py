"""Who may ask: the access-policy hook for CAs whose OCSP serves only registered verifiers.

A CA's ``[ca.ocsp] access = "registered"`` makes its responder answer ``unauthorized`` unless the
:class:`VerifierCheck` accepts the requester's credentials for that CA. The registry of verifiers (platform
businesses, service providers, public bodies, each with a token) plugs in here; until one is configured,
nobody is accepted, so a restricted CA never answers the public by mistake.
"""

from __future__ import annotations

from typing import Protocol

from ocsp.answer import Requester


class VerifierCheck(Protocol):
    """Decides whether a requester is a registered verifier allowed to ask about a CA's certificates."""

    def allows(self, requester: Requester, ca_id: str) -> bool:
        """True to answer. Called in a worker thread; may read a store; must not raise."""
        ...


class NoVerifiers:
    """No verifier registry configured: restricted CAs answer nobody."""

    def allows(self, requester: Requester, ca_id: str) -> bool:
        return False
