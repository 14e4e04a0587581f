"""Value types shared across the PKI core: identifiers, revocation reasons, serial numbers, CRL shards."""

from __future__ import annotations

import enum
import hashlib
import secrets
from typing import NewType

from cryptography import x509

from pki.errors import InvalidRevocation

CaId = NewType("CaId", str)
"""A CA's id in the PKI definition, e.g. ``jpki-sign``."""
ProfileId = NewType("ProfileId", str)
"""A certificate profile's id, e.g. ``jpki-sign``."""

SERIAL_BYTES = 16
"""Serials are 16 random bytes with the top bit cleared: positive, 127 bits of entropy, <= 20 octets DER."""


def new_serial() -> int:
    """A fresh serial number from the CSPRNG (RFC 5280 §4.1.2.2: positive, at most 20 octets)."""
    value = int.from_bytes(secrets.token_bytes(SERIAL_BYTES), "big") >> 1
    return value or new_serial()


def serial_hex(serial: int) -> str:
    """The canonical text form of a serial in the store and in URLs: lowercase hex, no leading zeros."""
    return format(serial, "x")


def shard_of(serial: int, shards: int) -> int:
    """The CRL shard a serial belongs to: stable, uniform, independent of how serials were drawn."""
    if shards <= 1:
        return 0
    digest = hashlib.sha256(serial.to_bytes((serial.bit_length() + 8) // 8, "big")).digest()
    return int.from_bytes(digest[:8], "big") % shards


class RevocationReason(enum.StrEnum):
    """RFC 5280 §5.3.1 CRLReason, named as the RFC names them (value 7 is unused in the RFC)."""

    unspecified = "unspecified"
    key_compromise = "keyCompromise"
    ca_compromise = "cACompromise"
    affiliation_changed = "affiliationChanged"
    superseded = "superseded"
    cessation_of_operation = "cessationOfOperation"
    certificate_hold = "certificateHold"
    remove_from_crl = "removeFromCRL"
    privilege_withdrawn = "privilegeWithdrawn"
    aa_compromise = "aACompromise"

    @classmethod
    def parse(cls, text: str) -> RevocationReason:
        """Accept the RFC name (``keyCompromise``) or the snake_case name (``key_compromise``)."""
        for member in cls:
            if text in (member.value, member.name) or text.lower() == member.value.lower():
                return member
        names = ", ".join(m.value for m in cls if m is not cls.remove_from_crl)
        raise InvalidRevocation(f"unknown reason {text!r}; use one of {names}")

    def to_x509(self) -> x509.ReasonFlags:
        return _TO_X509[self]

    @property
    def code(self) -> int:
        """The CRLReason ENUMERATED value."""
        return _CODES[self]


_TO_X509 = {
    RevocationReason.unspecified: x509.ReasonFlags.unspecified,
    RevocationReason.key_compromise: x509.ReasonFlags.key_compromise,
    RevocationReason.ca_compromise: x509.ReasonFlags.ca_compromise,
    RevocationReason.affiliation_changed: x509.ReasonFlags.affiliation_changed,
    RevocationReason.superseded: x509.ReasonFlags.superseded,
    RevocationReason.cessation_of_operation: x509.ReasonFlags.cessation_of_operation,
    RevocationReason.certificate_hold: x509.ReasonFlags.certificate_hold,
    RevocationReason.remove_from_crl: x509.ReasonFlags.remove_from_crl,
    RevocationReason.privilege_withdrawn: x509.ReasonFlags.privilege_withdrawn,
    RevocationReason.aa_compromise: x509.ReasonFlags.aa_compromise,
}
_CODES = {
    RevocationReason.unspecified: 0,
    RevocationReason.key_compromise: 1,
    RevocationReason.ca_compromise: 2,
    RevocationReason.affiliation_changed: 3,
    RevocationReason.superseded: 4,
    RevocationReason.cessation_of_operation: 5,
    RevocationReason.certificate_hold: 6,
    RevocationReason.remove_from_crl: 8,
    RevocationReason.privilege_withdrawn: 9,
    RevocationReason.aa_compromise: 10,
}


class CertStatus(enum.StrEnum):
    """A certificate's state in the store."""

    pending = "pending"
    """Serial reserved and TBS recorded before signing; becomes good once the signed DER is stored."""
    good = "good"
    revoked = "revoked"
    on_hold = "on_hold"
    """Revoked with certificateHold; may be released where the CA's policy allows."""
    aborted = "aborted"
    """A pending issuance that never completed (its process died); never published as good."""
