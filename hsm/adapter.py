"""Present any Signer as a pyca/cryptography private key, so pyca's builders sign through it.

pyca's certificate, CRL and OCSP-response builders call ``private_key.sign(data, padding, hash)`` (RSA) or
``private_key.sign(data, ECDSA(hash))`` (EC) on whatever key object they are given, as long as it is an
instance of the right abstract class. These adapters forward that call to the Signer and refuse every
operation that would need the private key itself (``private_bytes``, ``private_numbers``, decryption).
"""

from __future__ import annotations

from typing import Any, NoReturn, Self

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import NoDigestInfo, Prehashed
from cryptography.utils import Buffer

from hsm.algorithms import HashName, Scheme, SignatureAlgorithm
from hsm.errors import KeyNotExtractable, MechanismUnsupported
from hsm.signer import Signer

_HASH_BY_NAME = {h.value: h for h in HashName}


def as_private_key(signer: Signer) -> rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey:
    """Wrap a Signer in the pyca private-key class that matches its public key."""
    public = signer.public_key
    if isinstance(public, rsa.RSAPublicKey):
        return RsaSignerKey(signer)
    return EcSignerKey(signer)


def builder_arguments(signer: Signer) -> dict[str, Any]:
    """Keyword arguments for pyca's ``CertificateBuilder.sign`` / ``CertificateRevocationListBuilder.sign``
    that make the builder use the Signer's own algorithm (hash, and PSS padding where chosen)."""
    args: dict[str, Any] = {"private_key": as_private_key(signer), "algorithm": signer.algorithm.hash.pyca()}
    if signer.algorithm.scheme is Scheme.RSA_PSS:
        args["rsa_padding"] = signer.algorithm.pyca_padding()
    return args


def _hash_name(algorithm: object) -> HashName:
    if isinstance(algorithm, Prehashed | NoDigestInfo):
        raise MechanismUnsupported("prehashed data", "Signers hash the data themselves")
    name = getattr(algorithm, "name", None)
    if not isinstance(name, str) or name not in _HASH_BY_NAME:
        raise MechanismUnsupported(str(name), "use SHA-256, SHA-384 or SHA-512")
    return _HASH_BY_NAME[name]


def _rsa_algorithm(pad: padding.AsymmetricPadding, algorithm: object) -> SignatureAlgorithm:
    hash_name = _hash_name(algorithm)
    if isinstance(pad, padding.PKCS1v15):
        return SignatureAlgorithm(Scheme.RSA_PKCS1V15, hash_name)
    if isinstance(pad, padding.PSS):
        mgf = pad.mgf
        mgf_hash = getattr(mgf, "_algorithm", None)
        salt = pad._salt_length
        if not isinstance(mgf, padding.MGF1) or _hash_name(mgf_hash) is not hash_name:
            raise MechanismUnsupported("PSS", "MGF1 must use the signature's hash")
        if salt is not padding.PSS.DIGEST_LENGTH and salt != hash_name.digest_size:
            raise MechanismUnsupported("PSS", "the salt must be as long as the hash")
        return SignatureAlgorithm(Scheme.RSA_PSS, hash_name)
    raise MechanismUnsupported(type(pad).__name__, "use PKCS#1 v1.5 or PSS")


def _sign_with(signer: Signer, algorithm: SignatureAlgorithm, data: bytes) -> bytes:
    if algorithm == signer.algorithm:
        return signer.sign(data)
    return signer.with_algorithm(algorithm).sign(data)


def _refuse(signer: Signer, what: str) -> NoReturn:
    raise KeyNotExtractable(signer.label, f"{what} is not available through a Signer")


class _SignerKey:
    """What both adapters share: the Signer, no private material, and copies that are the same object."""

    signer: Signer

    def private_bytes(
        self,
        encoding: serialization.Encoding,
        format: serialization.PrivateFormat,
        encryption_algorithm: serialization.KeySerializationEncryption,
    ) -> bytes:
        _refuse(self.signer, "the private key")

    def __copy__(self) -> Self:
        return self

    def __deepcopy__(self, memo: dict[int, object]) -> Self:
        return self


class RsaSignerKey(_SignerKey, rsa.RSAPrivateKey):
    """An RSA Signer dressed as ``rsa.RSAPrivateKey``."""

    def __init__(self, signer: Signer) -> None:
        public = signer.public_key
        if not isinstance(public, rsa.RSAPublicKey):
            raise MechanismUnsupported(signer.algorithm.name, "not an RSA key")
        self.signer = signer
        self._public = public

    def sign(
        self,
        data: bytes,
        padding: padding.AsymmetricPadding,
        algorithm: object,
    ) -> bytes:
        return _sign_with(self.signer, _rsa_algorithm(padding, algorithm), bytes(data))

    def public_key(self) -> rsa.RSAPublicKey:
        return self._public

    @property
    def key_size(self) -> int:
        return self._public.key_size

    def decrypt(self, ciphertext: bytes, padding: padding.AsymmetricPadding) -> bytes:
        _refuse(self.signer, "decryption")

    def private_numbers(self) -> rsa.RSAPrivateNumbers:
        _refuse(self.signer, "the private numbers")


class EcSignerKey(_SignerKey, ec.EllipticCurvePrivateKey):
    """An ECDSA Signer dressed as ``ec.EllipticCurvePrivateKey``."""

    def __init__(self, signer: Signer) -> None:
        public = signer.public_key
        if not isinstance(public, ec.EllipticCurvePublicKey):
            raise MechanismUnsupported(signer.algorithm.name, "not an EC key")
        self.signer = signer
        self._public = public

    def sign(self, data: Buffer, signature_algorithm: ec.EllipticCurveSignatureAlgorithm) -> bytes:
        if not isinstance(signature_algorithm, ec.ECDSA):
            raise MechanismUnsupported(type(signature_algorithm).__name__, "only ECDSA is supported")
        hash_name = _hash_name(signature_algorithm.algorithm)
        return _sign_with(self.signer, SignatureAlgorithm(Scheme.ECDSA, hash_name), bytes(data))

    def public_key(self) -> ec.EllipticCurvePublicKey:
        return self._public

    @property
    def curve(self) -> ec.EllipticCurve:
        return self._public.curve

    @property
    def key_size(self) -> int:
        return self._public.key_size

    def exchange(self, algorithm: ec.ECDH, peer_public_key: ec.EllipticCurvePublicKey) -> bytes:
        _refuse(self.signer, "key agreement")

    def private_numbers(self) -> ec.EllipticCurvePrivateNumbers:
        _refuse(self.signer, "the private numbers")
