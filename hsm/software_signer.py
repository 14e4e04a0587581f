"""The Signer for a software key held in this process."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric import ec, rsa

from hsm.algorithms import KeyKind, PublicKey, SignatureAlgorithm
from hsm.errors import MechanismUnsupported


class SoftwareSigner:
    """Signs with a pyca private key; the key object never leaves this class."""

    __slots__ = ("_algorithm", "_ecdsa", "_hash", "_key", "_label", "_padding", "_public")

    def __init__(
        self, key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, label: str, algorithm: SignatureAlgorithm
    ) -> None:
        algorithm.check_key(KeyKind.of(key.public_key()))
        self._key = key
        self._label = label
        self._algorithm = algorithm
        self._public: PublicKey = key.public_key()
        self._hash = algorithm.hash.pyca()
        self._padding = algorithm.pyca_padding() if algorithm.is_rsa else None
        self._ecdsa = None if algorithm.is_rsa else ec.ECDSA(self._hash)

    @property
    def public_key(self) -> PublicKey:
        return self._public

    @property
    def algorithm(self) -> SignatureAlgorithm:
        return self._algorithm

    @property
    def label(self) -> str:
        return self._label

    def sign(self, data: bytes) -> bytes:
        key = self._key
        if self._ecdsa is not None and isinstance(key, ec.EllipticCurvePrivateKey):
            return key.sign(data, self._ecdsa)
        if self._padding is not None and isinstance(key, rsa.RSAPrivateKey):
            return key.sign(data, self._padding, self._hash)
        raise MechanismUnsupported(self._algorithm.name, "does not match the key")

    def with_algorithm(self, algorithm: SignatureAlgorithm) -> SoftwareSigner:
        return SoftwareSigner(self._key, self._label, algorithm)

    def __repr__(self) -> str:
        return f"SoftwareSigner(label={self._label!r}, algorithm={self._algorithm.name})"
