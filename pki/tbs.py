"""Two-phase signing for pyca builders: get the exact TBS bytes first, sign them later.

pyca builds a TBSCertificate only inside ``builder.sign()``. To record the TBS (and reserve the serial)
before the CA key is touched, ``prepare_tbs`` runs the builder once with a capturing key that records the
bytes it is asked to sign and returns a placeholder; ``assemble`` later wraps the real signature around the
very same TBS. The certificate that comes out is byte-for-byte what pyca would have produced.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from hsm import PublicKey, SignatureAlgorithm, Signer, builder_arguments
from hsm.algorithms import Scheme


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


def _read_tlv(data: bytes, offset: int) -> tuple[int, int]:
    """(start of the value, end of the element) of the DER element at ``offset``."""
    length = data[offset + 1]
    start = offset + 2
    if length & 0x80:
        count = length & 0x7F
        length = int.from_bytes(data[start : start + count], "big")
        start += count
    return start, start + length


def _der_length(n: int) -> bytes:
    if n < 0x80:
        return bytes((n,))
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((0x80 | len(raw),)) + raw


def _split(signed: bytes) -> PreparedTbs:
    """TBS and AlgorithmIdentifier out of a signed SEQUENCE { tbs, algorithm, signature }."""
    body, _ = _read_tlv(signed, 0)
    _, tbs_end = _read_tlv(signed, body)
    _, alg_end = _read_tlv(signed, tbs_end)
    return PreparedTbs(signed[body:tbs_end], signed[tbs_end:alg_end])


def prepare_tbs(sign_with: Callable[..., Any], signer: Signer) -> PreparedTbs:
    """Run a pyca ``builder.sign`` (passed as the bound method) with a capturing key: the TBS, unsigned."""
    capture = _CapturingSigner(signer)
    signed = sign_with(**builder_arguments(capture))
    der = signed.public_bytes(serialization.Encoding.DER)
    prepared = _split(der)
    if capture.captured != prepared.tbs:
        raise RuntimeError("pyca signed something other than the TBS it encoded")  # a library change
    return prepared


def assemble(prepared: PreparedTbs, signature: bytes) -> bytes:
    """SEQUENCE { tbs, algorithm, BIT STRING signature } (RFC 5280 §4.1)."""
    bit_string = b"\x03" + _der_length(len(signature) + 1) + b"\x00" + signature
    body = prepared.tbs + prepared.algorithm_id + bit_string
    return b"\x30" + _der_length(len(body)) + body


def sign_der(prepared: PreparedTbs, signer: Signer) -> bytes:
    """Sign the prepared TBS with the real key: the certificate's DER."""
    return assemble(prepared, signer.sign(prepared.tbs))


def sign_certificate(prepared: PreparedTbs, signer: Signer) -> x509.Certificate:
    """Sign the prepared TBS with the real key and return the certificate."""
    return x509.load_der_x509_certificate(sign_der(prepared, signer))
