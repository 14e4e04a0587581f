"""The Signer for a software key held in this process."""

from __future__ import annotations

from collections.abc import Callable

from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import NoDigestInfo

from hsm.algorithms import KeyKind, PublicKey, SignatureAlgorithm
from hsm.errors import MechanismUnsupported
from hsm.signer import RAW_PKCS1, check_raw_pkcs1


class SoftwareSigner:
    """Signs with a pyca private key; the key object never leaves this class."""

    __slots__ = ("_algorithm", "_key", "_label", "_public", "sign")

    def __init__(
        self, key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, label: str, algorithm: SignatureAlgorithm
    ) -> None:
        algorithm.check_key(KeyKind.of(key.public_key()))
        self._key = key
        self._label = label
        self._algorithm = algorithm
        self._public: PublicKey = key.public_key()
        self.sign: Callable[[bytes], bytes] = _bind(key, algorithm)
        """Hash ``data`` with the algorithm's hash and sign it (bound once: no dispatch per signature)."""

    @property
    def public_key(self) -> PublicKey:
        return self._public

    @property
    def algorithm(self) -> SignatureAlgorithm:
        return self._algorithm

    @property
    def label(self) -> str:
        return self._label

    def with_algorithm(self, algorithm: SignatureAlgorithm) -> SoftwareSigner:
        return SoftwareSigner(self._key, self._label, algorithm)

    def sign_pkcs1_raw(self, payload: bytes) -> bytes:
        """PKCS#1 v1.5 over ``payload`` as given (pyca's ``NoDigestInfo``), as :class:`hsm.RawPkcs1Signer`."""
        check_raw_pkcs1(self._public, payload)
        key = self._key
        if not isinstance(key, rsa.RSAPrivateKey):  # check_raw_pkcs1 refused EC keys; this narrows the type
            raise MechanismUnsupported(RAW_PKCS1, "needs an RSA key")
        return key.sign(payload, padding.PKCS1v15(), NoDigestInfo())

    def __repr__(self) -> str:
        return f"SoftwareSigner(label={self._label!r}, algorithm={self._algorithm.name})"


def _bind(
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, algorithm: SignatureAlgorithm
) -> Callable[[bytes], bytes]:
    hash_algorithm = algorithm.hash.pyca()
    if isinstance(key, rsa.RSAPrivateKey):
        rsa_key, pad = key, algorithm.pyca_padding()
        return lambda data: rsa_key.sign(data, pad, hash_algorithm)
    if algorithm.is_rsa:
        raise MechanismUnsupported(algorithm.name, "does not match the key")
    ec_key, ecdsa = key, ec.ECDSA(hash_algorithm)
    return lambda data: ec_key.sign(data, ecdsa)
