"""Which CA a CertID names: the served CAs indexed by (hash algorithm, issuerNameHash, issuerKeyHash).

RFC 6960 §4.1.1: the hashes are over the issuer's DER-encoded name and over the value of its subjectPublicKey
BIT STRING. Matching on both, never on the name alone, tells CA generations that share a name apart.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field

from cryptography import x509

from ocsp.request import CertId
from pki.crl import der
from pki.definition import OcspPolicy
from pki.tbs import public_key_bits

HASHES = ("sha1", "sha256", "sha384", "sha512")
"""The CertID hash algorithms the parser accepts (ocsp.request)."""

_SHA1_ALGORITHM = bytes.fromhex("300906052b0e03021a0500")
"""AlgorithmIdentifier { id-sha1, NULL }: what OpenSSL and pyca put in the CertIDs they send."""


@dataclass(frozen=True, slots=True)
class ServedCa:
    """One CA (one generation: one certificate and key) the responder answers for."""

    ca_id: str
    certificate: x509.Certificate
    policy: OcspPolicy
    name_der: bytes = field(repr=False)
    key_bits: bytes = field(repr=False)

    @property
    def key_sha1(self) -> bytes:
        """The generation's identity: SHA-1 of its key bits (its issuerKeyHash)."""
        return hashlib.sha1(self.key_bits).digest()

    @classmethod
    def of(cls, ca_id: str, certificate: x509.Certificate, policy: OcspPolicy) -> ServedCa:
        return cls(
            ca_id,
            certificate,
            policy,
            certificate.subject.public_bytes(),
            public_key_bits(
                certificate.public_key()  # type: ignore[arg-type]  # a CA key is RSA or EC
            ),
        )

    def hashes(self, algorithm: str) -> tuple[bytes, bytes]:
        """(issuerNameHash, issuerKeyHash) under a hash algorithm."""
        return hashlib.new(algorithm, self.name_der).digest(), hashlib.new(algorithm, self.key_bits).digest()

    def sha1_cert_id(self, serial: int) -> bytes:
        """The CertID DER a client builds with SHA-1 (what pre-signed responses answer)."""
        name_hash, key_hash = self.hashes("sha1")
        return der.sequence(
            _SHA1_ALGORITHM, der.octet_string(name_hash), der.octet_string(key_hash), der.integer(serial)
        )


class IssuerIndex:
    """Served CAs by the hashes a CertID carries. Immutable once built; rebuild it to add CAs.

    ``served`` lists every generation of every CA, each CA's older generations before its current one:
    ``cas`` keeps the current generation by CA id (what pre-signing and renewal walk), ``generations``
    all of them, and a CertID finds the generation whose name *and key* it hashes."""

    def __init__(self, served: Iterable[ServedCa]) -> None:
        self._by_hashes: dict[tuple[str, bytes, bytes], ServedCa] = {}
        self.cas: dict[str, ServedCa] = {}
        self.generations: list[ServedCa] = []
        for ca in served:
            self.cas[ca.ca_id] = ca
            self.generations.append(ca)
            for algorithm in HASHES:
                self._by_hashes[(algorithm, *ca.hashes(algorithm))] = ca

    def find(self, cert_id: CertId) -> ServedCa | None:
        """The CA a CertID names, or None (not a CA this responder serves: ``unauthorized``)."""
        return self._by_hashes.get(
            (cert_id.hash_algorithm, cert_id.issuer_name_hash, cert_id.issuer_key_hash)
        )
