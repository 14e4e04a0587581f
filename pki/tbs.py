"""Two-phase signing for pyca builders: get the exact TBS bytes first, sign them later.

pyca builds a TBSCertificate only inside ``builder.sign()``. To record the TBS (and reserve the serial)
before the CA key is touched, ``prepare_tbs`` runs the builder once with a capturing key that records the
bytes it is asked to sign and returns a placeholder; ``assemble`` later wraps the real signature around the
very same TBS. The certificate that comes out is byte-for-byte what pyca would have produced.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from hsm import PublicKey, SignatureAlgorithm, Signer, builder_arguments
from hsm.algorithms import Scheme
from pki.crl import algorithm as crl_algorithm
from pki.crl import der


@dataclass(frozen=True, slots=True)
class PreparedTbs:
    """A TBSCertificate (or TBSCertList) and the AlgorithmIdentifier its signature will carry."""

    tbs: bytes
    algorithm_id: bytes

    @property
    def sha256(self) -> bytes:
        return hashlib.sha256(self.tbs).digest()


class _CapturingSigner:
    """Looks like the CA's Signer to pyca; records what it is asked to sign and signs nothing."""

    def __init__(self, real: Signer) -> None:
        self.public_key: PublicKey = real.public_key
        self.algorithm: SignatureAlgorithm = real.algorithm
        self.label = real.label
        self.captured: bytes | None = None

    def sign(self, data: bytes) -> bytes:
        self.captured = bytes(data)
        if self.algorithm.scheme is Scheme.ECDSA:
            return bytes.fromhex("3006020101020101")  # a well-formed placeholder ECDSA-Sig-Value
        return bytes(getattr(self.public_key, "key_size", 2048) // 8)

    def with_algorithm(self, algorithm: SignatureAlgorithm) -> _CapturingSigner:
        self.algorithm = algorithm
        return self


def split(signed: bytes) -> PreparedTbs:
    """TBS and AlgorithmIdentifier out of a signed SEQUENCE { tbs, algorithm, signature }."""
    body, _ = der.element(signed)
    _, tbs_end = der.element(signed, body)
    _, alg_end = der.element(signed, tbs_end)
    return PreparedTbs(signed[body:tbs_end], signed[tbs_end:alg_end])


def tbs_of(signed: bytes) -> bytes:
    """The TBS element of a signed structure this code assembled (a certificate or CRL we built)."""
    body, _ = der.element(signed)
    return signed[body : der.element(signed, body)[1]]


def prepare_tbs(sign_with: Callable[..., Any], signer: Signer) -> PreparedTbs:
    """Run a pyca ``builder.sign`` (passed as the bound method) with a capturing key: the TBS, unsigned."""
    capture = _CapturingSigner(signer)
    signed = sign_with(**builder_arguments(capture))
    der = signed.public_bytes(serialization.Encoding.DER)
    prepared = split(der)
    if capture.captured != prepared.tbs:
        raise RuntimeError("pyca signed something other than the TBS it encoded")  # a library change
    return prepared


_VERSION_3 = b"\xa0\x03\x02\x01\x02"
"""``[0] EXPLICIT Version v3`` (RFC 5280 §4.1.2.1)."""
_CRITICAL = b"\x01\x01\xff"


def algorithm_identifier(signer: Signer) -> bytes:
    """The DER AlgorithmIdentifier a signature of ``signer`` carries (the same bytes pyca writes)."""
    return crl_algorithm.algorithm_identifier(signer.algorithm)


def spki_der(public_key: PublicKey) -> bytes:
    """A public key's SubjectPublicKeyInfo DER."""
    return public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def public_key_bits(public_key: PublicKey) -> bytes:
    """The subjectPublicKey BIT STRING's value without its unused-bits octet: what key identifiers, OCSP's
    issuerKeyHash and responder byKey hash (RFC 5280 §4.2.1.2, RFC 6960 §4.1.1, §4.2.1)."""
    spki = spki_der(public_key)
    body, _ = der.element(spki)
    _, algorithm_end = der.element(spki, body)
    start, end = der.element(spki, algorithm_end)
    return spki[start + 1 : end]


_OIDS: dict[str, bytes] = {}


def extension_der(extension: x509.Extension[x509.ExtensionType]) -> bytes:
    """An Extension (RFC 5280 §4.1): extnID, critical only when TRUE (DER omits a DEFAULT), extnValue."""
    dotted = extension.oid.dotted_string
    oid = _OIDS.get(dotted)
    if oid is None:
        oid = _OIDS[dotted] = der.oid(dotted)
    value = extension.value.public_bytes()
    body = oid + (_CRITICAL if extension.critical else b"") + b"\x04" + der.length(len(value)) + value
    return b"\x30" + der.length(len(body)) + body


def encode_tbs(
    *,
    serial: int,
    algorithm_id: bytes,
    issuer: bytes,
    not_before: dt.datetime,
    not_after: dt.datetime,
    subject: bytes,
    spki: bytes,
    extensions: list[bytes],
) -> PreparedTbs:
    """A v3 TBSCertificate from parts already in DER (names, key, extensions): byte for byte what pyca's
    CertificateBuilder writes for the same inputs (tests/pki/test_tbs.py holds it to that), without the
    builder's per-certificate object work. Serial and validity are checked by the caller (the CA engine)."""
    serial_content = serial.to_bytes(serial.bit_length() // 8 + 1, "big")
    validity = der.time(not_before, "notBefore") + der.time(not_after, "notAfter")
    parts = [
        _VERSION_3,
        b"\x02",
        der.length(len(serial_content)),
        serial_content,
        algorithm_id,
        issuer,
        b"\x30",
        der.length(len(validity)),
        validity,
        subject,
        spki,
    ]
    if extensions:
        body = b"".join(extensions)
        inner = b"\x30" + der.length(len(body)) + body
        parts += (b"\xa3", der.length(len(inner)), inner)
    content = b"".join(parts)
    return PreparedTbs(b"\x30" + der.length(len(content)) + content, algorithm_id)


def assemble(prepared: PreparedTbs, signature: bytes) -> bytes:
    """SEQUENCE { tbs, algorithm, BIT STRING signature } (RFC 5280 §4.1)."""
    bit_string = b"\x03" + der.length(len(signature) + 1) + b"\x00" + signature
    body = prepared.tbs + prepared.algorithm_id + bit_string
    return b"\x30" + der.length(len(body)) + body


def sign_der(prepared: PreparedTbs, signer: Signer) -> bytes:
    """Sign the prepared TBS with the real key: the certificate's DER."""
    return assemble(prepared, signer.sign(prepared.tbs))


def sign_certificate(prepared: PreparedTbs, signer: Signer) -> x509.Certificate:
    """Sign the prepared TBS with the real key and return the certificate."""
    return x509.load_der_x509_certificate(sign_der(prepared, signer))
