"""A strict DER reader (X.690 §10) for the few shapes an OCSP request has: tag, length, value.

Hand-written because it runs on every HTTP request and sees hostile bytes: it accepts only low-tag-number
elements with definite, minimally encoded lengths that end inside their parent, and it raises nothing but
:class:`MalformedRequest`. It never recurses; callers walk the structure they expect.
"""

from __future__ import annotations

from ocsp.errors import MalformedRequest

BOOLEAN = 0x01
INTEGER = 0x02
BIT_STRING = 0x03
OCTET_STRING = 0x04
OBJECT_IDENTIFIER = 0x06
SEQUENCE = 0x30
CONTEXT_0 = 0xA0
"""``[0]`` constructed: an EXPLICIT tag (X.690 §8.14.2)."""
CONTEXT_1 = 0xA1
CONTEXT_2 = 0xA2

_MAX_LENGTH_OCTETS = 4
"""Lengths up to 4 GiB: far past any request a server reads, and no bignum arithmetic on hostile input."""


def element(data: bytes, pos: int, end: int) -> tuple[int, int, int]:
    """(tag, content start, content end) of the element at ``pos``, which must end by ``end``."""
    if end - pos < 2:
        raise MalformedRequest("truncated element")
    tag = data[pos]
    if tag & 0x1F == 0x1F:
        raise MalformedRequest("high tag number")
    size = data[pos + 1]
    pos += 2
    if size & 0x80:
        count = size & 0x7F
        if count == 0:
            raise MalformedRequest("indefinite length")  # BER only: X.690 §10.1
        if count > _MAX_LENGTH_OCTETS or count > end - pos:
            raise MalformedRequest("length past the end")
        size = int.from_bytes(data[pos : pos + count], "big")
        if size < 0x80 or data[pos] == 0:
            raise MalformedRequest("length not minimal")  # X.690 §10.1: the shortest form
        pos += count
    if size > end - pos:
        raise MalformedRequest("length past the end")
    return tag, pos, pos + size


def expect(data: bytes, pos: int, end: int, tag: int, what: str) -> tuple[int, int]:
    """(content start, content end) of the element at ``pos``, which must carry ``tag``."""
    found, start, stop = element(data, pos, end)
    if found != tag:
        raise MalformedRequest(f"{what}: expected tag {tag:#04x}, found {found:#04x}")
    return start, stop


def only(data: bytes, pos: int, end: int, tag: int, what: str) -> tuple[int, int]:
    """Like :func:`expect`, for an element that must fill ``pos..end`` exactly (nothing after it)."""
    start, stop = expect(data, pos, end, tag, what)
    if stop != end:
        raise MalformedRequest(f"trailing bytes after {what}")
    return start, stop


def check_oid(data: bytes, start: int, stop: int) -> None:
    """An OBJECT IDENTIFIER's content: base-128 arcs, each minimal and the last one complete (X.690 §8.19)."""
    if start == stop or data[stop - 1] & 0x80:
        raise MalformedRequest("object identifier truncated")
    first_of_arc = True
    for pos in range(start, stop):
        octet = data[pos]
        if first_of_arc and octet == 0x80:
            raise MalformedRequest("object identifier not minimal")
        first_of_arc = not octet & 0x80
