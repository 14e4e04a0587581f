"""The AlgorithmIdentifier DER of a Signer's signature algorithm (``signature`` and ``signatureAlgorithm``).

RFC 5280 §5.1.1.2 requires both fields of a CertificateList to carry the algorithm the CRL is signed with,
so they are derived from the Signer that signs, never chosen separately.
"""

from __future__ import annotations

import functools

from hsm import HashName, Scheme, SignatureAlgorithm
from pki.crl import der

_PKCS1_OIDS = {
    HashName.SHA256: "1.2.840.113549.1.1.11",  # sha256WithRSAEncryption, RFC 4055 §5
    HashName.SHA384: "1.2.840.113549.1.1.12",
    HashName.SHA512: "1.2.840.113549.1.1.13",
}
_ECDSA_OIDS = {
    HashName.SHA256: "1.2.840.10045.4.3.2",  # ecdsa-with-SHA256, RFC 5758 §3.2
    HashName.SHA384: "1.2.840.10045.4.3.3",
    HashName.SHA512: "1.2.840.10045.4.3.4",
}
_HASH_OIDS = {
    HashName.SHA256: "2.16.840.1.101.3.4.2.1",
    HashName.SHA384: "2.16.840.1.101.3.4.2.2",
    HashName.SHA512: "2.16.840.1.101.3.4.2.3",
}
_RSASSA_PSS = "1.2.840.113549.1.1.10"
_MGF1 = "1.2.840.113549.1.1.8"


@functools.cache
def algorithm_identifier(algorithm: SignatureAlgorithm) -> bytes:
    """The AlgorithmIdentifier for ``algorithm``: PKCS#1 v1.5 with NULL parameters (RFC 4055 §5),
    RSASSA-PSS with explicit parameters (RFC 4055 §3.1), ECDSA with parameters absent (RFC 5758 §3.2)."""
    if algorithm.scheme is Scheme.RSA_PKCS1V15:
        return der.sequence(der.oid(_PKCS1_OIDS[algorithm.hash]), der.NULL)
    if algorithm.scheme is Scheme.RSA_PSS:
        return der.sequence(der.oid(_RSASSA_PSS), _pss_parameters(algorithm.hash))
    return der.sequence(der.oid(_ECDSA_OIDS[algorithm.hash]))


def _hash_identifier(hash_name: HashName) -> bytes:
    """A SHA-2 AlgorithmIdentifier with NULL parameters: RFC 4055 §2.1 lets implementations send NULL or
    absent and MUST accept both; NULL is what OpenSSL and pyca emit, so our bytes match theirs."""
    return der.sequence(der.oid(_HASH_OIDS[hash_name]), der.NULL)


def _pss_parameters(hash_name: HashName) -> bytes:
    """RSASSA-PSS-params (RFC 4055 §3.1): the hash, MGF1 with the same hash, a salt as long as the hash;
    trailerField is left at its DEFAULT (1), which DER omits."""
    return der.sequence(
        der.context(0, _hash_identifier(hash_name)),
        der.context(1, der.sequence(der.oid(_MGF1), _hash_identifier(hash_name))),
        der.context(2, der.integer(hash_name.digest_size)),
    )
