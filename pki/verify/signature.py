"""Signature math for CMS SignerInfos with pyca/cryptography: RSA PKCS#1 v1.5, RSASSA-PSS (RFC 4056) and
ECDSA (RFC 5753), over SHA-2. The algorithm comes from the SignerInfo's signatureAlgorithm; where that
names only the key type (rsaEncryption, RFC 5754 §3.2), the digestAlgorithm gives the hash."""

from __future__ import annotations

from dataclasses import dataclass

from asn1crypto import algos
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes

from pki.verify.result import Problem

HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha224": hashes.SHA224,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}
"""Digests accepted; MD5 and SHA-1 are refused as too weak for signatures (RFC 6151, NIST SP 800-131A)."""
WEAK_HASHES = frozenset({"md2", "md5", "sha1"})


class Rejected(Exception):
    """A check that failed, with the verdict's problem and reason; caught inside the verifier."""

    def __init__(self, problem: Problem, reason: str) -> None:
        super().__init__(reason)
        self.problem = problem
        self.reason = reason


@dataclass(frozen=True)
class Scheme:
    """A signature scheme resolved from an AlgorithmIdentifier."""

    kind: str
    """``rsassa_pkcs1v15``, ``rsassa_pss`` or ``ecdsa``."""
    hash: str
    mgf_hash: str | None = None
    salt_length: int | None = None


def hash_algorithm(name: str) -> hashes.HashAlgorithm:
    """The pyca hash for ``name``; :class:`Rejected` for weak or unknown ones."""
    if name in WEAK_HASHES:
        raise Rejected(Problem.weak_algorithm, f"{name.upper()} is too weak for signatures")
    if name not in HASHES:
        raise Rejected(Problem.unsupported_algorithm, f"digest algorithm {name} is not supported")
    return HASHES[name]()


def scheme(algorithm: algos.SignedDigestAlgorithm, digest: str) -> Scheme:
    """The scheme of a signatureAlgorithm, using ``digest`` where it names no hash."""
    try:
        kind = algorithm.signature_algo
    except ValueError:
        raise Rejected(
            Problem.unsupported_algorithm,
            f"signature algorithm {algorithm['algorithm'].dotted} is not supported",
        ) from None
    if kind == "rsassa_pss":
        return _pss(algorithm["parameters"])
    if kind not in {"rsassa_pkcs1v15", "ecdsa"}:
        raise Rejected(Problem.unsupported_algorithm, f"signature algorithm {kind} is not supported")
    try:
        named = algorithm.hash_algo
    except ValueError:  # rsaEncryption or bare ecdsa: the digestAlgorithm says
        named = digest
    return Scheme(kind, named)


def _pss(params: algos.RSASSAPSSParams) -> Scheme:
    """RFC 4055 §3.1 parameters: MGF1 only, trailerField 1."""
    mgf = params["mask_gen_algorithm"]
    if mgf["algorithm"].native != "mgf1" or params["trailer_field"].native != "trailer_field_bc":
        raise Rejected(Problem.unsupported_algorithm, "RSASSA-PSS with a mask generation other than MGF1")
    return Scheme(
        "rsassa_pss",
        params["hash_algorithm"]["algorithm"].native,
        mgf_hash=mgf["parameters"]["algorithm"].native,
        salt_length=int(params["salt_length"].native),
    )


def verify(public_key: CertificatePublicKeyTypes, chosen: Scheme, data: bytes, signature: bytes) -> None:
    """Check ``signature`` over ``data``; :class:`Rejected` (signature_mismatch) when it does not verify."""
    digest = hash_algorithm(chosen.hash)
    try:
        if chosen.kind == "ecdsa" and isinstance(public_key, ec.EllipticCurvePublicKey):
            public_key.verify(signature, data, ec.ECDSA(digest))
        elif chosen.kind == "rsassa_pkcs1v15" and isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(signature, data, padding.PKCS1v15(), digest)
        elif chosen.kind == "rsassa_pss" and isinstance(public_key, rsa.RSAPublicKey):
            mgf = padding.MGF1(hash_algorithm(chosen.mgf_hash or chosen.hash))
            public_key.verify(signature, data, padding.PSS(mgf, chosen.salt_length or 0), digest)
        else:
            raise Rejected(
                Problem.signature_mismatch, f"a {chosen.kind} signature cannot come from the signer's key"
            )
    except InvalidSignature:
        raise Rejected(
            Problem.signature_mismatch, "the signature does not verify with the signer certificate's key"
        ) from None
