"""Errors only the store raises, in the PkiError tree (the shared ones live in :mod:`pki.errors`).

Callers see these or the shared errors (UnknownCa, UnknownSerial, DuplicateSerial, AlreadyRevoked,
InvalidRevocation, StoreUnavailable) — never a driver exception.
"""

from __future__ import annotations

from pki.errors import PkiError


class StoreConflict(PkiError):
    """A write the store refused because it contradicts what the store holds; nothing was changed."""


class CaExists(StoreConflict):
    def __init__(self, ca_id: str) -> None:
        super().__init__(f"CA {ca_id!r} already exists")
        self.ca_id = ca_id


class DuplicateCrlNumber(StoreConflict):
    """A CRL with this number was already saved for this CA and scope (numbers come from next_crl_number)."""

    def __init__(self, ca_id: str, scope: str, crl_number: int) -> None:
        super().__init__(f"CA {ca_id!r} already has CRL number {crl_number} in scope {scope!r}")
        self.ca_id = ca_id
        self.scope = scope
        self.crl_number = crl_number


class UnknownCertificate(PkiError):
    """No certificate has this store id."""

    def __init__(self, cert_id: int) -> None:
        super().__init__(f"no certificate with store id {cert_id}")
        self.cert_id = cert_id


class NotPending(StoreConflict):
    """Completing an issuance whose row is no longer pending (already completed, or aborted as dead)."""

    def __init__(self, cert_id: int, status: str) -> None:
        super().__init__(f"certificate {cert_id} is {status}, not pending")
        self.cert_id = cert_id
        self.status = status


class DerMismatch(StoreConflict):
    """The DER handed to complete_certificate is not the certificate whose TBS was reserved."""

    def __init__(self, cert_id: int, why: str) -> None:
        super().__init__(f"certificate {cert_id}: the signed DER does not match its reservation ({why})")
        self.cert_id = cert_id
        self.why = why
