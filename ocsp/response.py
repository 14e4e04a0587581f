"""OCSP responses assembled from bytes (RFC 6960 §4.2.1): several SingleResponses per response, which
pyca's builder cannot make, and each part cheap enough to build per request.

The steps are separate so a caller can cache and audit between them: ``encode_single`` per certificate,
``encode_response_data`` around them, then ``sign_response`` (or ``encode_basic`` + ``encode_successful``).
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from hsm import PublicKey, Signer, verify_signature
from ocsp.errors import ResponseError
from pki.crl import algorithm_identifier, der
from pki.tbs import public_key_bits

_GOOD = b"\x80\x00"
"""good [0] IMPLICIT NULL."""
_UNKNOWN = b"\x82\x00"
"""unknown [2] IMPLICIT UnknownInfo (NULL)."""
_REASONS = {code: der.context(0, der.enumerated(code)) for code in (0, 1, 2, 3, 4, 5, 6, 9, 10)}
"""revocationReason [0] EXPLICIT CRLReason (RFC 5280 §5.3.1): 7 is unused, removeFromCRL (8) exists only
in delta CRLs."""
_SUCCESSFUL = der.enumerated(0)
_BASIC = der.oid("1.3.6.1.5.5.7.48.1.1")
"""id-pkix-ocsp-basic."""
_NONCE = der.oid("1.3.6.1.5.5.7.48.1.2")
"""id-pkix-ocsp-nonce."""
_KEY_HASH_SIZE = 20
"""RFC 6960 §4.2.1: byKey is the SHA-1 of the responder's subjectPublicKey."""
_MAX_NONCE = 32


class ResponseStatus(enum.IntEnum):
    """OCSPResponseStatus (RFC 6960 §4.2.1); 4 is not used."""

    successful = 0
    malformed_request = 1
    internal_error = 2
    try_later = 3
    sig_required = 5
    unauthorized = 6


_ERROR_RESPONSES: dict[ResponseStatus, bytes] = {
    status: bytes((0x30, 0x03, 0x0A, 0x01, status))
    for status in ResponseStatus
    if status is not ResponseStatus.successful
}
"""Unsigned OCSPResponses with no responseBytes, pre-encoded."""


@dataclass(frozen=True, slots=True)
class SingleStatus:
    """One certificate's status as a SingleResponse will carry it; checked when built."""

    cert_id_der: bytes
    """The CertID exactly as the request sent it."""
    status: Literal["good", "revoked", "unknown"]
    revocation_time: dt.datetime | None
    revocation_reason: int | None
    """CRLReason code; None leaves revocationReason out."""
    this_update: dt.datetime
    next_update: dt.datetime | None

    def __post_init__(self) -> None:
        if self.cert_id_der[:1] != b"\x30":
            raise ResponseError("certID", "not a DER SEQUENCE: pass CertId.der")
        if self.status not in ("good", "revoked", "unknown"):
            raise ResponseError("certStatus", f"{self.status!r} is not good, revoked or unknown")
        revoked = self.status == "revoked"
        if revoked != (self.revocation_time is not None):
            raise ResponseError("revocationTime", "required when revoked, not allowed otherwise")
        if self.revocation_reason is not None and (not revoked or self.revocation_reason not in _REASONS):
            raise ResponseError("revocationReason", f"{self.revocation_reason} with status {self.status}")
        this_update = _utc(self.this_update)
        if self.next_update is not None and _utc(self.next_update) < this_update:
            raise ResponseError("nextUpdate", "before thisUpdate")
        if self.revocation_time is not None:
            _utc(self.revocation_time)


def encode_single(s: SingleStatus) -> bytes:
    """SingleResponse (RFC 6960 §4.2.1) with certStatus, thisUpdate and nextUpdate [0] EXPLICIT."""
    if s.revocation_time is not None:  # set exactly when revoked (checked in SingleStatus)
        reason = b"" if s.revocation_reason is None else _REASONS[s.revocation_reason]
        status = der.context(1, generalized_time(s.revocation_time), reason)  # [1] IMPLICIT RevokedInfo
    else:
        status = _GOOD if s.status == "good" else _UNKNOWN
    next_update = b"" if s.next_update is None else der.context(0, generalized_time(s.next_update))
    return der.sequence(s.cert_id_der, status, generalized_time(s.this_update), next_update)


def encode_response_data(
    responder_key_hash: bytes,
    produced_at: dt.datetime,
    singles: Sequence[bytes],
    extensions_der: Sequence[bytes] = (),
) -> bytes:
    """ResponseData: version omitted (DEFAULT v1), responderID byKey, producedAt, responses, and
    responseExtensions [1] EXPLICIT only when there are extensions."""
    if len(responder_key_hash) != _KEY_HASH_SIZE:
        raise ResponseError("responderID", "byKey is a 20-octet SHA-1 hash (RFC 6960 §4.2.1)")
    if not singles:
        raise ResponseError("responses", "at least one SingleResponse is needed")
    extensions = der.context(1, der.sequence(*extensions_der)) if extensions_der else b""
    return der.sequence(
        b"\xa2\x16\x04\x14" + responder_key_hash,  # byKey [2] EXPLICIT KeyHash (OCTET STRING)
        generalized_time(produced_at),
        der.sequence(*singles),
        extensions,
    )


def nonce_extension(nonce: bytes) -> bytes:
    """The id-pkix-ocsp-nonce Extension: extnValue wraps an OCTET STRING of 1..32 octets (RFC 8954)."""
    if not 1 <= len(nonce) <= _MAX_NONCE:
        raise ResponseError("nonce", f"{len(nonce)} octets; RFC 8954 allows 1 to 32")
    return der.sequence(_NONCE, der.octet_string(der.octet_string(nonce)))


def responder_key_hash(public_key: PublicKey) -> bytes:
    """SHA-1 of the subjectPublicKey BIT STRING's value, without its unused-bits octet (RFC 6960 §4.2.1)."""
    return hashlib.sha1(public_key_bits(public_key)).digest()


def encode_basic(
    tbs_response_data: bytes, algorithm_id_der: bytes, signature: bytes, certs_der: Sequence[bytes]
) -> bytes:
    """BasicOCSPResponse; ``certs [0] EXPLICIT`` only when there are certificates (pkilint warns on an
    empty SEQUENCE)."""
    certs = der.context(0, der.sequence(*certs_der)) if certs_der else b""
    return der.sequence(tbs_response_data, algorithm_id_der, der.bit_string(signature), certs)


def encode_successful(basic_der: bytes) -> bytes:
    """OCSPResponse { successful, responseBytes [0] EXPLICIT { id-pkix-ocsp-basic, OCTET STRING } }."""
    return der.sequence(_SUCCESSFUL, der.context(0, der.sequence(_BASIC, der.octet_string(basic_der))))


def error_response(status: ResponseStatus) -> bytes:
    """An unsigned OCSPResponse with no responseBytes (RFC 6960 §2.3)."""
    try:
        return _ERROR_RESPONSES[status]
    except KeyError:
        raise ResponseError("responseStatus", f"{status!r} is not an error status") from None


def sign_response(
    signer: Signer, response_data_der: bytes, certs_der: Sequence[bytes] = (), *, verify: bool = True
) -> bytes:
    """Sign ResponseData with ``signer`` and return the complete OCSPResponse. The signature is verified
    before it is returned (unless ``verify`` is False: for one-off nonce answers that are never kept), so a
    faulty key or token never yields a response that is cached and served to every client."""
    signature = signer.sign(response_data_der)
    if verify and not verify_signature(signer.public_key, signer.algorithm, response_data_der, signature):
        raise ResponseError("signature", f"the signature of key {signer.label!r} does not verify")
    basic = encode_basic(response_data_der, algorithm_identifier(signer.algorithm), signature, certs_der)
    return encode_successful(basic)


def generalized_time(value: dt.datetime) -> bytes:
    """GeneralizedTime ``YYYYMMDDHHMMSSZ`` in UTC, fractions of a second dropped (RFC 5280 §4.1.2.5.2)."""
    return b"\x18\x0f" + der.generalized_time_digits(_utc(value), "time")


def _utc(value: dt.datetime) -> dt.datetime:
    if value.utcoffset() is None:
        raise ResponseError("time", f"naive datetime {value.isoformat()}: give a timezone (UTC)")
    return value
