"""The VerifierError tree. Messages name verifiers by id, never by a token or its hash."""

from __future__ import annotations

from jpki.errors import JpkiError


class VerifierError(JpkiError):
    """Base of the registered-verifier errors."""


class UnknownVerifier(VerifierError):
    """No verifier with this id."""

    def __init__(self, verifier_id: str) -> None:
        super().__init__(f"no registered verifier {verifier_id!r} (see: jlis jpki verifier list)")
        self.verifier_id = verifier_id


class InvalidVerifier(VerifierError):
    """A registration that does not validate: ``field`` says which value (``name``, ``kind``, ``scope``…)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"verifier {field}: {reason}")
        self.field = field
        self.reason = reason


class VerifierStateError(VerifierError):
    """A change the verifier's state does not allow (suspending a suspended verifier…)."""

    def __init__(self, verifier_id: str, reason: str) -> None:
        super().__init__(f"verifier {verifier_id}: {reason}")
        self.verifier_id = verifier_id
        self.reason = reason


class LedgerError(VerifierError):
    """A provision or a statement request that does not validate (an unknown service, a bad month…)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"ledger {field}: {reason}")
        self.field = field
        self.reason = reason
