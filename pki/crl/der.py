"""A minimal DER writer (X.690): just the types a CertificateList needs, as plain ``bytes`` functions.

CRLs are assembled from bytes rather than through an ASN.1 object model so that a million entries cost
microseconds each; everything here is small, pure and exact to X.690 §10 (definite minimal lengths,
minimal INTEGERs, BOOLEAN TRUE as 0xFF) and RFC 5280 §4.1.2.5 (times).
"""

from __future__ import annotations

import datetime as dt
import functools

from pki.crl.errors import CrlError

SEQUENCE = 0x30
INTEGER = 0x02
BOOLEAN = 0x01
NULL = b"\x05\x00"
OCTET_STRING = 0x04
BIT_STRING = 0x03
ENUMERATED = 0x0A
OBJECT_IDENTIFIER = 0x06
UTC_TIME = 0x17
GENERALIZED_TIME = 0x18

_UTC_TIME_YEARS = range(1950, 2050)
"""RFC 5280 §4.1.2.5: UTCTime for 1950–2049, GeneralizedTime otherwise."""

TWO_DIGITS = tuple(b"%02d" % i for i in range(100))
HOUR_MINUTE = tuple(b"%02d%02d" % divmod(i, 60) for i in range(24 * 60))
"""``HHMM`` for every minute of the day, indexed by ``hour * 60 + minute``."""
SECOND_Z = tuple(b"%02dZ" % i for i in range(60))
"""``SSZ`` for every second of a minute (X.509 times are always Zulu, RFC 5280 §4.1.2.5.1/.2)."""


def length(n: int) -> bytes:
    """A definite length in its shortest form (X.690 §8.1.3 and §10.1)."""
    if n < 0x80:
        return bytes((n,))
    octets = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((0x80 | len(octets),)) + octets


def element(data: bytes, offset: int = 0) -> tuple[int, int]:
    """(start of the content, end of the element) of the DER element at ``offset``, for DER this code
    (or pyca) wrote itself: no validation beyond what indexing gives (parse untrusted DER elsewhere)."""
    size = data[offset + 1]
    start = offset + 2
    if size & 0x80:
        count = size & 0x7F
        size = int.from_bytes(data[start : start + count], "big")
        start += count
    return start, start + size


def tlv(tag: int, *content: bytes | bytearray) -> bytes:
    """One element: tag, length, then the content parts joined (copied once, however large)."""
    size = sum(map(len, content))
    return b"".join((bytes((tag,)), length(size), *content))


def sequence(*items: bytes | bytearray) -> bytes:
    """A SEQUENCE of already-encoded elements."""
    return tlv(SEQUENCE, *items)


def integer_content(value: int) -> bytes:
    """The minimal two's-complement content octets of an INTEGER (X.690 §8.3.2)."""
    magnitude = value if value >= 0 else ~value
    return value.to_bytes(magnitude.bit_length() // 8 + 1, "big", signed=True)


def integer(value: int) -> bytes:
    """An INTEGER from a Python int."""
    return tlv(INTEGER, integer_content(value))


def enumerated(value: int) -> bytes:
    """An ENUMERATED (encoded as an INTEGER with another tag, X.690 §8.4)."""
    return tlv(ENUMERATED, integer_content(value))


def boolean(value: bool) -> bytes:
    """A BOOLEAN; DER requires 0xFF for TRUE (X.690 §11.1)."""
    return bytes((BOOLEAN, 1, 0xFF if value else 0x00))


def octet_string(value: bytes) -> bytes:
    return tlv(OCTET_STRING, value)


def bit_string(value: bytes) -> bytes:
    """A BIT STRING of whole octets (no unused bits), as signatures are."""
    return tlv(BIT_STRING, b"\x00", value)


@functools.cache
def oid(dotted: str) -> bytes:
    """An OBJECT IDENTIFIER from its dotted form (X.690 §8.19), cached: OIDs repeat in every CRL."""
    arcs = [int(part) for part in dotted.split(".")]
    if len(arcs) < 2 or arcs[0] > 2 or (arcs[0] < 2 and arcs[1] >= 40):
        raise ValueError(f"not an object identifier: {dotted!r}")
    content = b"".join(_base128(arc) for arc in [arcs[0] * 40 + arcs[1], *arcs[2:]])
    return tlv(OBJECT_IDENTIFIER, content)


def _base128(arc: int) -> bytes:
    """One OID arc in base 128, high bit set on every octet but the last."""
    groups = [arc & 0x7F]
    arc >>= 7
    while arc:
        groups.append(0x80 | (arc & 0x7F))
        arc >>= 7
    return bytes(reversed(groups))


def context(number: int, *content: bytes, constructed: bool = True) -> bytes:
    """A context-specific ``[number]`` element: constructed for EXPLICIT tags and constructed IMPLICIT
    types, primitive for IMPLICIT primitive types (X.690 §8.14)."""
    return tlv((0xA0 if constructed else 0x80) | number, *content)


def utc(value: dt.datetime, what: str) -> dt.datetime:
    """``value`` in UTC; a naive datetime is refused, since its zone would be a guess."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise CrlError(what, f"naive datetime {value.isoformat()}: give a timezone (UTC)")
    return value if value.tzinfo is dt.UTC else value.astimezone(dt.UTC)


def date_prefix(value: dt.datetime) -> bytes:
    """Tag, length and date digits of a UTC time: ``YYMMDD`` as UTCTime for 1950–2049, ``YYYYMMDD`` as
    GeneralizedTime otherwise (RFC 5280 §4.1.2.5). Callers append ``HOUR_MINUTE`` and ``SECOND_Z``."""
    digits = TWO_DIGITS[value.month] + TWO_DIGITS[value.day]
    if value.year in _UTC_TIME_YEARS:
        return bytes((UTC_TIME, 13)) + TWO_DIGITS[value.year % 100] + digits
    return bytes((GENERALIZED_TIME, 15)) + b"%04d" % value.year + digits


def time(value: dt.datetime, what: str) -> bytes:
    """An X.509 Time (RFC 5280 §4.1.2.5): whole seconds in UTC; fractions are dropped, as DER forbids
    them in GeneralizedTime (§4.1.2.5.2) and UTCTime cannot hold them."""
    value = utc(value, what)
    return date_prefix(value) + HOUR_MINUTE[value.hour * 60 + value.minute] + SECOND_Z[value.second]


def generalized_time(value: dt.datetime, what: str) -> bytes:
    """A GeneralizedTime whatever the year (``invalidityDate``, RFC 5280 §5.3.2), whole seconds, UTC."""
    return bytes((GENERALIZED_TIME, 15)) + generalized_time_digits(value, what)


def generalized_time_digits(value: dt.datetime, what: str) -> bytes:
    """The 15 content octets ``YYYYMMDDHHMMSSZ`` of a GeneralizedTime (RFC 5280 §4.1.2.5.2)."""
    value = utc(value, what)
    return (
        b"%04d" % value.year
        + TWO_DIGITS[value.month]
        + TWO_DIGITS[value.day]
        + HOUR_MINUTE[value.hour * 60 + value.minute]
        + SECOND_Z[value.second]
    )


def ia5_string(text: str, what: str) -> bytes:
    """The octets of an IA5String (ASCII); anything else is refused rather than mis-encoded."""
    try:
        return text.encode("ascii")
    except UnicodeEncodeError:
        raise CrlError(what, f"{text!r} is not ASCII (IA5String); percent-encode it") from None
