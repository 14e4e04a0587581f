"""The Signer protocol: the only view of a private key that CA, CRL, OCSP and CMS code ever get."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from hsm.algorithms import KeyKind, PublicKey, SignatureAlgorithm


@runtime_checkable
class Signer(Protocol):
    """A private key held by some backend, bound to one signature algorithm.

    ``sign`` returns the signature as it goes into X.509, CRL, OCSP and CMS structures: the PKCS#1 or PSS
    octets for RSA, a DER ``ECDSA-Sig-Value`` for ECDSA.
    """

    @property
    def public_key(self) -> PublicKey:
        """The public half of the key."""
        ...

    @property
    def algorithm(self) -> SignatureAlgorithm:
        """The algorithm ``sign`` uses."""
        ...

    @property
    def label(self) -> str:
        """The key's label in its backend."""
        ...

    def sign(self, data: bytes) -> bytes:
        """Hash ``data`` with the algorithm's hash and sign it."""
        ...

    def with_algorithm(self, algorithm: SignatureAlgorithm) -> Signer:
        """The same key bound to another algorithm (for example PSS instead of PKCS#1 v1.5)."""
        ...


def key_kind(signer: Signer) -> KeyKind:
    """The key kind (type and size) of a Signer's key."""
    return KeyKind.of(signer.public_key)
