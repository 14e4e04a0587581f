"""``parse_request``: one DER OCSPRequest (RFC 6960 §4.1.1) into the CertIDs and nonce a responder needs.

Strict on purpose: anything that is not exactly one DER OCSPRequest we can answer is a
:class:`MalformedRequest`, raised before any lookup or signature. Each CertID keeps its exact DER, since
the response echoes it byte for byte (RFC 6960 §4.2.1: clients match responses to requests on it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, TypeAlias

from ocsp.der import (
    BIT_STRING,
    BOOLEAN,
    CONTEXT_0,
    CONTEXT_1,
    CONTEXT_2,
    INTEGER,
    OBJECT_IDENTIFIER,
    OCTET_STRING,
    SEQUENCE,
    check_oid,
    element,
    expect,
    only,
)
from ocsp.errors import MalformedRequest

HashAlgorithm: TypeAlias = Literal["sha1", "sha256", "sha384", "sha512"]

_HASHES: dict[bytes, tuple[HashAlgorithm, int]] = {
    bytes.fromhex("2b0e03021a"): ("sha1", 20),  # 1.3.14.3.2.26
    bytes.fromhex("608648016503040201"): ("sha256", 32),  # 2.16.840.1.101.3.4.2.1
    bytes.fromhex("608648016503040202"): ("sha384", 48),
    bytes.fromhex("608648016503040203"): ("sha512", 64),
}
"""OID content octets of the CertID hashes we accept, with their digest sizes."""
NONCE_OID = bytes.fromhex("2b0601050507300102")
"""id-pkix-ocsp-nonce, 1.3.6.1.5.5.7.48.1.2 (content octets)."""
_NULL = b"\x05\x00"
_VERSION_1 = b"\x02\x01\x00"
_MAX_NONCE = 32
"""RFC 8954 §2.1: a nonce of 0 or more than 32 octets is answered with malformedRequest."""
_MAX_SERIAL_OCTETS = 20
"""RFC 5280 §4.1.2.2: serials are at most 20 octets (plus a 0x00 sign octet when the top bit is set)."""
_UNDERSTOOD_REQUEST = frozenset({NONCE_OID})
_UNDERSTOOD_SINGLE: frozenset[bytes] = frozenset()


@dataclass(frozen=True, slots=True)
class CertId:
    """One CertID as received (RFC 6960 §4.1.1); built by :func:`parse_request`, which checked it."""

    hash_algorithm: HashAlgorithm
    issuer_name_hash: bytes
    issuer_key_hash: bytes
    serial: int
    der: bytes
    """The exact DER of the CertID SEQUENCE, echoed in the SingleResponse (parameters NULL or absent)."""


@dataclass(frozen=True, slots=True)
class OcspRequest:
    """What a responder needs from a request; the optional signature is accepted and ignored."""

    cert_ids: tuple[CertId, ...]
    nonce: bytes | None
    """The nonce octets (RFC 8954: 1..32 of them), or None without a nonce extension."""
    signed: bool
    nonce_ext_der: bytes | None
    """The whole nonce Extension as received, to echo in responseExtensions (RFC 6960 §4.4.1)."""


def parse_request(der: bytes, *, max_certs: int) -> OcspRequest:
    """Parse one DER OCSPRequest with at most ``max_certs`` CertIDs; anything else is MalformedRequest."""
    if type(der) is not bytes:
        der = bytes(der)
    start, stop = only(der, 0, len(der), SEQUENCE, "OCSPRequest")
    tbs_start, tbs_stop = expect(der, start, stop, SEQUENCE, "TBSRequest")
    signed = tbs_stop != stop
    if signed:
        _signature(der, tbs_stop, stop)
    return _tbs_request(der, tbs_start, tbs_stop, max_certs, signed)


def _tbs_request(der: bytes, pos: int, end: int, max_certs: int, signed: bool) -> OcspRequest:
    """TBSRequest: [0] version DEFAULT v1, [1] requestorName, requestList, [2] requestExtensions."""
    tag, start, stop = element(der, pos, end)
    if tag == CONTEXT_0:
        if der[start:stop] != _VERSION_1:
            raise MalformedRequest("version is not v1")
        tag, start, stop = element(der, stop, end)
    if tag == CONTEXT_1:
        element_end = element(der, start, stop)[2]  # a GeneralName we do not use, but it must be one
        if element_end != stop:
            raise MalformedRequest("trailing bytes after requestorName")
        tag, start, stop = element(der, stop, end)
    if tag != SEQUENCE:
        raise MalformedRequest(f"requestList: expected tag 0x30, found {tag:#04x}")
    cert_ids = _request_list(der, start, stop, max_certs)
    if stop == end:
        return OcspRequest(cert_ids, None, signed, None)
    ext_start, ext_stop = only(der, stop, end, CONTEXT_2, "requestExtensions")
    extensions = _extensions(der, ext_start, ext_stop, _UNDERSTOOD_REQUEST)
    nonce = extensions.get(NONCE_OID)
    if nonce is None:
        return OcspRequest(cert_ids, None, signed, None)
    ext_start, ext_stop, value_start, value_stop = nonce
    return OcspRequest(cert_ids, _nonce(der, value_start, value_stop), signed, der[ext_start:ext_stop])


def _request_list(der: bytes, pos: int, end: int, max_certs: int) -> tuple[CertId, ...]:
    """requestList: SEQUENCE OF Request, at least one and at most ``max_certs``."""
    cert_ids: list[CertId] = []
    while pos < end:
        if len(cert_ids) >= max_certs:
            raise MalformedRequest("too many certificates")
        start, stop = expect(der, pos, end, SEQUENCE, "Request")
        cert_id, after = _cert_id(der, start, stop)
        if after != stop:  # RFC 6960 §4.1.1: singleRequestExtensions [0] EXPLICIT
            ext_start, ext_stop = only(der, after, stop, CONTEXT_0, "singleRequestExtensions")
            _extensions(der, ext_start, ext_stop, _UNDERSTOOD_SINGLE)
        cert_ids.append(cert_id)
        pos = stop
    if not cert_ids:
        raise MalformedRequest("empty requestList")
    return tuple(cert_ids)


def _cert_id(der: bytes, pos: int, end: int) -> tuple[CertId, int]:
    """CertID (RFC 6960 §4.1.1) at ``pos``, and where it ends."""
    start, stop = expect(der, pos, end, SEQUENCE, "CertID")
    alg_start, alg_stop = expect(der, start, stop, SEQUENCE, "hashAlgorithm")
    oid_start, oid_stop = expect(der, alg_start, alg_stop, OBJECT_IDENTIFIER, "hashAlgorithm")
    known = _HASHES.get(der[oid_start:oid_stop])
    if known is None:
        raise MalformedRequest("unknown hash algorithm")
    if oid_stop != alg_stop and der[oid_stop:alg_stop] != _NULL:
        raise MalformedRequest("hash algorithm parameters are neither absent nor NULL")
    name_start, name_stop = expect(der, alg_stop, stop, OCTET_STRING, "issuerNameHash")
    key_start, key_stop = expect(der, name_stop, stop, OCTET_STRING, "issuerKeyHash")
    name, size = known
    if name_stop - name_start != size or key_stop - key_start != size:
        raise MalformedRequest(f"issuer hash length does not match {name}")
    serial_start, serial_stop = only(der, key_stop, stop, INTEGER, "serialNumber")
    serial = _serial(der, serial_start, serial_stop)
    issuer_name_hash, issuer_key_hash = der[name_start:name_stop], der[key_start:key_stop]
    return CertId(name, issuer_name_hash, issuer_key_hash, serial, der[pos:stop]), stop


def _serial(der: bytes, start: int, stop: int) -> int:
    """A DER INTEGER (minimal, X.690 §8.3.2) that is a non-negative serial of at most 20 octets."""
    size = stop - start
    if size == 0:
        raise MalformedRequest("empty INTEGER")
    first = der[start]
    if first & 0x80:
        raise MalformedRequest("negative serial")
    if size > 1 and first == 0 and not der[start + 1] & 0x80:
        raise MalformedRequest("INTEGER not minimal")
    if size > _MAX_SERIAL_OCTETS + 1 or (size == _MAX_SERIAL_OCTETS + 1 and first != 0):
        raise MalformedRequest("serial longer than 20 octets")
    return int.from_bytes(der[start:stop], "big")


def _extensions(
    der: bytes, pos: int, end: int, understood: frozenset[bytes]
) -> dict[bytes, tuple[int, int, int, int]]:
    """Extensions (RFC 5280 §4.1): OID → (extension start, end, extnValue start, end). Duplicates and
    critical extensions we do not understand are refused; other unknown extensions are ignored."""
    start, stop = only(der, pos, end, SEQUENCE, "Extensions")
    if start == stop:
        raise MalformedRequest("empty Extensions")  # SIZE (1..MAX)
    found: dict[bytes, tuple[int, int, int, int]] = {}
    pos = start
    while pos < stop:
        ext_start, ext_stop = expect(der, pos, stop, SEQUENCE, "Extension")
        oid_start, oid_stop = expect(der, ext_start, ext_stop, OBJECT_IDENTIFIER, "extnID")
        oid = der[oid_start:oid_stop]
        check_oid(der, oid_start, oid_stop)
        tag, value_start, value_stop = element(der, oid_stop, ext_stop)
        critical = tag == BOOLEAN
        if critical:
            if der[value_start:value_stop] != b"\xff":
                raise MalformedRequest("critical is not DER TRUE")  # FALSE is the DEFAULT: omitted in DER
            tag, value_start, value_stop = element(der, value_stop, ext_stop)
        if tag != OCTET_STRING or value_stop != ext_stop:
            raise MalformedRequest("Extension is not extnID, critical, extnValue")
        if oid in found:
            raise MalformedRequest("duplicate extension")
        if critical and oid not in understood:
            raise MalformedRequest("unknown critical extension")
        found[oid] = (pos, ext_stop, value_start, value_stop)
        pos = ext_stop
    return found


def _nonce(der: bytes, start: int, stop: int) -> bytes:
    """The nonce inside extnValue: one OCTET STRING of 1..32 octets (RFC 8954 §2.1)."""
    nonce_start, nonce_stop = only(der, start, stop, OCTET_STRING, "nonce")
    if not 1 <= nonce_stop - nonce_start <= _MAX_NONCE:
        raise MalformedRequest("nonce is not 1 to 32 octets")
    return der[nonce_start:nonce_stop]


def _signature(der: bytes, pos: int, end: int) -> None:
    """optionalSignature [0] EXPLICIT Signature: its shape is checked, its content ignored."""
    start, stop = only(der, pos, end, CONTEXT_0, "optionalSignature")
    sig_start, sig_stop = only(der, start, stop, SEQUENCE, "Signature")
    after_alg = expect(der, sig_start, sig_stop, SEQUENCE, "signatureAlgorithm")[1]
    after_sig = expect(der, after_alg, sig_stop, BIT_STRING, "signature")[1]
    if after_sig != sig_stop:
        only(der, after_sig, sig_stop, CONTEXT_0, "certs")
