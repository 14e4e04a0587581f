"""The Signer protocol: the only view of a private key that CA, CRL, OCSP and CMS code ever get.

:class:`RawPkcs1Signer` adds raw PKCS#1 v1.5 (PKCS#11 ``CKM_RSA_PKCS``) for code that must sign a payload it
built itself, such as a smart card's DigestInfo. It is a separate protocol so that stand-ins which only
hash-and-sign (test doubles, ``pki.tbs``'s capturing signer) stay Signers; both backends' Signers offer it.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from cryptography.hazmat.primitives.asymmetric import rsa

from hsm.algorithms import KeyKind, PublicKey, SignatureAlgorithm
from hsm.errors import MechanismUnsupported, PayloadLengthInvalid

RAW_PKCS1 = "raw PKCS#1 v1.5"
"""How messages name the raw operation."""
PKCS1_OVERHEAD = 11
"""RFC 8017 §9.2: EMSA-PKCS1-v1_5 needs at least 11 octets of the modulus besides the payload."""


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


@runtime_checkable
class RawPkcs1Signer(Signer, Protocol):
    """A Signer that also signs payloads as given, with PKCS#1 v1.5 padding and no hashing."""

    def sign_pkcs1_raw(self, payload: bytes) -> bytes:
        """EMSA-PKCS1-v1_5 padding around ``payload`` as it is, then RSASP1 (RFC 8017 §8.2.1).

        ``payload`` is usually a DER DigestInfo the caller built. The Signer's bound algorithm plays no part.
        Refuses an empty or too long payload (:class:`PayloadLengthInvalid`) and EC keys
        (:class:`MechanismUnsupported`).
        """
        ...


def raw_pkcs1(signer: Signer) -> RawPkcs1Signer:
    """The Signer, typed for raw PKCS#1 v1.5; MechanismUnsupported when its backend lacks the operation."""
    if not isinstance(signer, RawPkcs1Signer):
        raise MechanismUnsupported(RAW_PKCS1, f"{type(signer).__name__} does not offer it")
    return signer


def check_raw_pkcs1(public_key: PublicKey, payload: bytes) -> None:
    """Refuse what raw PKCS#1 v1.5 cannot sign with this key, before the key is touched (check, then sign)."""
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise MechanismUnsupported(RAW_PKCS1, f"needs an RSA key, not {KeyKind.of(public_key).value}")
    maximum = (public_key.key_size + 7) // 8 - PKCS1_OVERHEAD
    if not 1 <= len(payload) <= maximum:
        raise PayloadLengthInvalid(len(payload), maximum)


def key_kind(signer: Signer) -> KeyKind:
    """The key kind (type and size) of a Signer's key."""
    return KeyKind.of(signer.public_key)
