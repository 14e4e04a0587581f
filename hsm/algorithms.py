"""Key kinds and signature algorithms we support, and their mapping to pyca/cryptography objects.

Supported: RSA 2048/3072/4096 with PKCS#1 v1.5 or PSS over SHA-256/384/512; ECDSA on P-256/P-384 over
SHA-256/384. PSS always uses MGF1 with the same hash and a salt as long as the hash (RFC 4055 §3.1), the
form X.509 relying parties expect.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TypeAlias

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from hsm.errors import MechanismUnsupported

PublicKey: TypeAlias = rsa.RSAPublicKey | ec.EllipticCurvePublicKey
"""The public keys a Signer can hold."""


class KeyKind(enum.StrEnum):
    """A key type and size, named as on the command line (``--algo``)."""

    RSA2048 = "rsa2048"
    RSA3072 = "rsa3072"
    RSA4096 = "rsa4096"
    P256 = "p256"
    P384 = "p384"

    @property
    def is_rsa(self) -> bool:
        return self.value.startswith("rsa")

    @property
    def rsa_bits(self) -> int:
        """Modulus size of an RSA kind."""
        if not self.is_rsa:
            raise MechanismUnsupported(self.value, "not an RSA key kind")
        return int(self.value[3:])

    @property
    def curve(self) -> ec.EllipticCurve:
        """Curve of an EC kind."""
        if self is KeyKind.P256:
            return ec.SECP256R1()
        if self is KeyKind.P384:
            return ec.SECP384R1()
        raise MechanismUnsupported(self.value, "not an EC key kind")

    @classmethod
    def of(cls, public_key: object) -> KeyKind:
        """The kind of an existing public key; anything else is MechanismUnsupported."""
        if isinstance(public_key, rsa.RSAPublicKey):
            try:
                return cls(f"rsa{public_key.key_size}")
            except ValueError:
                raise MechanismUnsupported(f"RSA-{public_key.key_size}", "use 2048, 3072 or 4096") from None
        if isinstance(public_key, ec.EllipticCurvePublicKey):
            name = public_key.curve.name
            if name == "secp256r1":
                return cls.P256
            if name == "secp384r1":
                return cls.P384
            raise MechanismUnsupported(f"EC {name}", "use P-256 or P-384")
        raise MechanismUnsupported(type(public_key).__name__, "only RSA and ECDSA keys are supported")


class HashName(enum.StrEnum):
    """SHA-2 hashes, named as on the command line (``--hash``)."""

    SHA256 = "sha256"
    SHA384 = "sha384"
    SHA512 = "sha512"

    def pyca(self) -> hashes.HashAlgorithm:
        return _PYCA_HASHES[self]()

    @property
    def digest_size(self) -> int:
        return _DIGEST_SIZES[self]


_PYCA_HASHES: dict[HashName, type[hashes.HashAlgorithm]] = {
    HashName.SHA256: hashes.SHA256,
    HashName.SHA384: hashes.SHA384,
    HashName.SHA512: hashes.SHA512,
}
_DIGEST_SIZES = {HashName.SHA256: 32, HashName.SHA384: 48, HashName.SHA512: 64}


class Scheme(enum.StrEnum):
    """Signature scheme."""

    RSA_PKCS1V15 = "rsa-pkcs1v15"
    RSA_PSS = "rsa-pss"
    ECDSA = "ecdsa"


@dataclass(frozen=True, slots=True)
class SignatureAlgorithm:
    """A signature scheme with its hash; valid combinations only (checked when built)."""

    scheme: Scheme
    hash: HashName

    def __post_init__(self) -> None:
        if self.scheme is Scheme.ECDSA and self.hash is HashName.SHA512:
            raise MechanismUnsupported(self.name, "ECDSA is supported with SHA-256 and SHA-384")

    @property
    def name(self) -> str:
        """A readable name, e.g. ``sha256WithRSAEncryption``, ``rsassa-pss-sha384``, ``ecdsa-with-SHA256``."""
        if self.scheme is Scheme.RSA_PKCS1V15:
            return f"{self.hash.value}WithRSAEncryption"
        if self.scheme is Scheme.RSA_PSS:
            return f"rsassa-pss-{self.hash.value}"
        return f"ecdsa-with-{self.hash.value.upper()}"

    @property
    def is_rsa(self) -> bool:
        return self.scheme is not Scheme.ECDSA

    def pyca_padding(self) -> padding.AsymmetricPadding:
        """The pyca padding object for RSA schemes."""
        if self.scheme is Scheme.RSA_PSS:
            return padding.PSS(mgf=padding.MGF1(self.hash.pyca()), salt_length=self.hash.digest_size)
        if self.scheme is Scheme.RSA_PKCS1V15:
            return padding.PKCS1v15()
        raise MechanismUnsupported(self.name, "ECDSA has no RSA padding")

    def check_key(self, kind: KeyKind) -> None:
        """Refuse a key that cannot make this kind of signature."""
        if kind.is_rsa != self.is_rsa:
            raise MechanismUnsupported(self.name, f"cannot be made with a {kind.value} key")

    @classmethod
    def default_for(cls, kind: KeyKind) -> SignatureAlgorithm:
        """SHA-256 with PKCS#1 v1.5 for RSA, the curve's own-size hash for ECDSA."""
        if kind.is_rsa:
            return cls(Scheme.RSA_PKCS1V15, HashName.SHA256)
        return cls(Scheme.ECDSA, HashName.SHA384 if kind is KeyKind.P384 else HashName.SHA256)

    @classmethod
    def for_key(
        cls, kind: KeyKind, hash_name: HashName | None = None, pss: bool = False
    ) -> SignatureAlgorithm:
        """The algorithm for a key kind with an optional hash and PSS choice (as the CLI asks for it)."""
        default = cls.default_for(kind)
        chosen = hash_name or default.hash
        if pss and not kind.is_rsa:
            raise MechanismUnsupported("PSS", f"needs an RSA key, not {kind.value}")
        scheme = Scheme.RSA_PSS if pss else default.scheme
        return cls(scheme, chosen)


def verify_signature(
    public_key: PublicKey, algorithm: SignatureAlgorithm, data: bytes, signature: bytes
) -> bool:
    """Check a signature with pyca; True when valid. A key/scheme mismatch raises MechanismUnsupported."""
    from cryptography.exceptions import InvalidSignature

    algorithm.check_key(KeyKind.of(public_key))
    try:
        if isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(signature, data, algorithm.pyca_padding(), algorithm.hash.pyca())
        else:
            public_key.verify(signature, data, ec.ECDSA(algorithm.hash.pyca()))
    except InvalidSignature:
        return False
    return True
