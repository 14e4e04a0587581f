"""Linkage (証明書紐付け / 新旧紐付け): from a certificate a verifier holds to the same person's other
certificates — old → new across renewals, moves and new cards, and signing ↔ authentication.

Only a registered verifier with the ``linkage`` scope may ask, and only by presenting a whole certificate
we issued (the DER must equal ours byte for byte: a serial alone is not enough). Each answer is audited
and billed.
"""

from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from jpki.lifecycle import CertKind, CertState, HeldCert, Jpki
from jpki.services.access import ServiceRefused, VerifierGate
from jpki.verifiers import Scope
from pki.errors import UnknownSerial
from pki.store import AuditEntry

SCOPE = Scope.linkage


@dataclass(frozen=True, slots=True)
class LinkedCert:
    kind: CertKind
    ca_id: str
    serial: int
    state: CertState
    not_after: dt.datetime
    der: bytes

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "ca": self.ca_id,
            "serial": f"{self.serial:x}",
            "state": self.state.value,
            "not_after": self.not_after.isoformat(),
            "certificate": base64.b64encode(self.der).decode(),
        }


@dataclass(frozen=True, slots=True)
class Linkage:
    presented: LinkedCert
    line: tuple[LinkedCert, ...]
    """The person's certificates of the presented kind, oldest first (the presented one among them)."""
    partner: LinkedCert | None
    """The person's newest certificate of the other kind."""

    @property
    def latest(self) -> LinkedCert:
        return self.line[-1]

    def as_dict(self) -> dict[str, Any]:
        return {
            "presented": self.presented.as_dict(),
            "latest": self.latest.as_dict(),
            "line": [c.as_dict() for c in self.line],
            "partner": None if self.partner is None else self.partner.as_dict(),
        }


def parse_certificate(data: bytes) -> x509.Certificate:
    """A DER or PEM certificate; ServiceRefused 400 otherwise."""
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_certificate(data)
        return x509.load_der_x509_certificate(data)
    except ValueError:
        raise ServiceRefused(
            400, "bad-certificate", "the body is not a DER or PEM X.509 certificate"
        ) from None


def find_held(jpki: Jpki, certificate: x509.Certificate) -> HeldCert:
    """The card certificate this is, compared byte for byte with what we issued; ServiceRefused 404 else."""
    der = certificate.public_bytes(serialization.Encoding.DER)
    for kind in CertKind:
        ca = jpki.ca_for(kind)
        if certificate.issuer != ca.certificate.subject:
            continue
        try:
            row = jpki.pki.store.get_certificate(ca.id, certificate.serial_number)
        except UnknownSerial:
            continue
        held = jpki.records.cert(ca.id, certificate.serial_number)
        if row.der == der and held is not None:
            return held
    raise ServiceRefused(404, "unknown-certificate", "not a JPKI card certificate issued here")


class LinkageService:
    def __init__(self, jpki: Jpki, gate: VerifierGate) -> None:
        self._jpki = jpki
        self._gate = gate

    def linkage(self, bearer_token: str | None, presented: bytes, client: str | None = None) -> Linkage:
        verifier_id = self._gate.require(bearer_token, SCOPE, self._jpki.settings.sign_ca, client)
        try:
            held = find_held(self._jpki, parse_certificate(presented))
        except ServiceRefused as refused:
            self._audit(verifier_id, "jpki.linkage.refused", "-", {"why": refused.code})
            raise
        line = tuple(self._linked(h) for h in self._jpki.records.certs(code=held.code, kind=held.kind))
        other = CertKind.auth if held.kind is CertKind.signing else CertKind.signing
        partners = self._jpki.records.certs(code=held.code, kind=other)
        partner = self._linked(partners[-1]) if partners else None
        self._gate.record_provision(verifier_id, SCOPE, held.ca_id, ref=f"{held.serial:x}")
        self._audit(
            verifier_id, "jpki.linkage.provide", f"{held.ca_id}/{held.serial:x}", {"linked": len(line)}
        )
        presented_cert = next(c for c in line if c.serial == held.serial)
        return Linkage(presented_cert, line, partner)

    def _linked(self, held: HeldCert) -> LinkedCert:
        row = self._jpki.pki.store.get_certificate(held.ca_id, held.serial)
        assert row.der is not None  # recorded card certificates are issued ones
        return LinkedCert(held.kind, held.ca_id, held.serial, held.state, held.not_after, row.der)

    def _audit(self, verifier_id: str, action: str, obj: str, details: dict[str, Any]) -> None:
        self._jpki.pki.store.append_audit(AuditEntry(f"verifier:{verifier_id}", action, obj, details))
