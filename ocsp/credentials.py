"""Who signs a CA's OCSP responses: the CA key, or a delegated responder certificate renewed before expiry.

A delegated responder (RFC 6960 §4.2.2.2) gets its own key in the home's key backend (a file or the HSM
token, like the CA keys) and a short-lived ``ocsp-responder`` certificate from the CA: id-kp-OCSPSigning and
id-pkix-ocsp-nocheck. The certificate records its key's label as its holder reference, so every responder
process of the home finds and uses the newest one; whichever process sees it due first renews it.
"""

from __future__ import annotations

import datetime as dt
import secrets
import threading
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization

from hsm import KeyKind, Signer
from ocsp.issuers import ServedCa
from ocsp.response import responder_key_hash
from pki.ca import CertificateAuthority, IssueRequest
from pki.definition import OcspSigner
from pki.model import CertStatus
from pki.runtime import Pki

RESPONDER_PROFILE = "ocsp-responder"
_KEY_REF = "ocsp-key:"
ACTOR = "system:ocsp"


@dataclass(frozen=True, slots=True)
class ResponderCredential:
    """A key that signs a CA's responses, the certificates a response carries, and its byKey hash."""

    ca_id: str
    signer: Signer
    certs_der: tuple[bytes, ...]
    key_hash: bytes
    certificate: x509.Certificate | None
    """The delegated responder certificate; None when the CA key signs."""

    def due(self, horizon: dt.datetime) -> bool:
        """Whether a delegated certificate expires before ``horizon`` (now + renew_before); never for the
        CA key."""
        return self.certificate is not None and self.certificate.not_valid_after_utc <= horizon


class Credentials:
    """The signing credential of each served CA, opened once and renewed when due (thread-safe)."""

    def __init__(self, pki: Pki) -> None:
        self._pki = pki
        self._current: dict[tuple[str, bytes], ResponderCredential] = {}
        self._locks: dict[tuple[str, bytes], threading.Lock] = {}
        self._guard = threading.Lock()

    def for_ca(self, ca: ServedCa) -> ResponderCredential:
        """The credential to sign with now: a delegated certificate is (re)issued when due. Raises
        PkiError (e.g. StoreUnavailable) when none can be had."""
        key = (ca.ca_id, ca.key_sha1)
        found = self._current.get(key)
        if found is not None and not found.due(self._pki.clock.now() + ca.policy.responder_renew_before):
            return found
        with self._lock(key):
            found = self._current.get(key)
            if found is None or found.due(self._pki.clock.now() + ca.policy.responder_renew_before):
                found = self._current[key] = self._load(ca)
            return found

    def renew_due(self, cas: list[ServedCa]) -> list[str]:
        """Renew every delegated certificate that is due (the refresher calls this); the CA ids renewed."""
        renewed = []
        for ca in cas:
            before = self._current.get((ca.ca_id, ca.key_sha1))
            if self.for_ca(ca) is not before and ca.policy.signer is OcspSigner.delegated:
                renewed.append(ca.ca_id)
        return renewed

    def _lock(self, key: tuple[str, bytes]) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())

    def _authority(self, ca: ServedCa) -> CertificateAuthority:
        """The CA generation ``ca`` is: its key signs that generation's responder certificates."""
        for authority in reversed(self._pki.generations(ca.ca_id)):
            if authority.certificate == ca.certificate:
                return authority
        return self._pki.ca(ca.ca_id)

    def _load(self, ca: ServedCa) -> ResponderCredential:
        authority = self._authority(ca)
        if ca.policy.signer is OcspSigner.ca:
            signer = authority.signer
            return ResponderCredential(ca.ca_id, signer, (), responder_key_hash(signer.public_key), None)
        margin = self._pki.clock.now() + ca.policy.responder_renew_before
        for row in self._pki.store.certificates(
            ca.ca_id, profile=RESPONDER_PROFILE, status=CertStatus.good, limit=20
        ):
            if row.der is None or row.holder_ref is None or not row.holder_ref.startswith(_KEY_REF):
                continue
            if row.not_after > margin and row.not_before <= self._pki.clock.now() and _issued_by(row.der, ca):
                return self._credential(ca, row.holder_ref[len(_KEY_REF) :], row.der)
        return self._issue(ca)

    def _issue(self, ca: ServedCa) -> ResponderCredential:
        """A new responder key in the home's backend and a certificate for it from the CA generation."""
        authority = self._authority(ca)
        # unique even when several responder processes renew in the same second (the clock has no fractions)
        label = f"{ca.ca_id}.ocsp.{self._pki.clock.now():%Y%m%dT%H%M%S}.{secrets.token_hex(4)}"
        signer = self._pki.key(label, KeyKind.of(authority.signer.public_key))
        request = IssueRequest(
            RESPONDER_PROFILE,
            public_key=signer.public_key,
            subject={"CN": f"{ca.ca_id} OCSP responder"},
            holder_ref=f"{_KEY_REF}{label}",
        )
        certificate = authority.issue_request(request, actor=ACTOR)
        return self._credential(ca, label, certificate.public_bytes(serialization.Encoding.DER))

    def _credential(self, ca: ServedCa, label: str, der: bytes) -> ResponderCredential:
        certificate = x509.load_der_x509_certificate(der)
        signer = self._pki.key(label, KeyKind.of(certificate.public_key()))
        return ResponderCredential(
            ca.ca_id, signer, (der,), responder_key_hash(signer.public_key), certificate
        )


def _issued_by(der: bytes, ca: ServedCa) -> bool:
    """Whether a responder certificate was signed by this generation's key (generations share the name)."""
    try:
        x509.load_der_x509_certificate(der).verify_directly_issued_by(ca.certificate)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True
