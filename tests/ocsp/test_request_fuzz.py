"""parse_request on hostile input: random bytes, random DER-shaped trees, and byte-level mutations of valid
requests (flip, truncate, extend, insert, delete) either parse into a consistent OcspRequest or raise
MalformedRequest with a short reason, never anything else. ``slow`` runs the same with 10,000 examples."""

from __future__ import annotations

import os

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp as pyca_ocsp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ocsp.errors import MalformedRequest
from ocsp.request import parse_request
from pki.crl import der
from tests.ocsp.support import (
    SHA256,
    cert_id,
    extension,
    nonce_ext,
    request,
    signature_field,
)

MAX_CERTS = 4


def _pyca_seed(hash_algorithm: hashes.HashAlgorithm) -> bytes:
    """A one-certificate request from pyca's builder, with a nonce, for a throwaway issuer hash."""
    builder = pyca_ocsp.OCSPRequestBuilder().add_certificate_by_hash(
        os.urandom(hash_algorithm.digest_size),
        os.urandom(hash_algorithm.digest_size),
        0x1234_5678_9ABC,
        hash_algorithm,
    )
    builder = builder.add_extension(x509.OCSPNonce(os.urandom(32)), critical=False)
    return builder.build().public_bytes(serialization.Encoding.DER)


SEEDS = (
    _pyca_seed(hashes.SHA1()),
    _pyca_seed(hashes.SHA256()),
    request(
        [cert_id(serial=bytes((n,))) for n in (1, 2, 3)],
        single_extensions=[None, extension("1.2.3.4", b"\x05\x00")],
        extensions=[nonce_ext(os.urandom(16)), extension("1.3.6.1.5.5.7.48.1.4", b"\x30\x00")],
        version=der.integer(0),
        requestor=der.context(4, b"\x30\x00"),
        signature=signature_field(certs=True),
    ),
    request(
        [cert_id(hash_oid=SHA256, name_hash=bytes(32), key_hash=bytes(32), serial=b"\x00\x80" + bytes(19))],
        extensions=[nonce_ext(b"\x01", critical=True)],
    ),
)
"""Valid requests that reach every branch of the parser: the mutations start from these."""
TAGS = (0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x30, 0xA0, 0xA1, 0xA2, 0x80, 0x82)
"""Tags an OCSP request uses, so random trees look plausible to the parser."""


def check(data: bytes) -> None:
    """The only outcomes allowed: a consistent OcspRequest, or MalformedRequest with a short reason."""
    try:
        parsed = parse_request(data, max_certs=MAX_CERTS)
    except MalformedRequest as refused:
        assert 0 < len(refused.reason) <= 80
        return
    assert 1 <= len(parsed.cert_ids) <= MAX_CERTS
    for one in parsed.cert_ids:
        assert one.der in data
        assert one.serial >= 0 and one.serial.bit_length() <= 160
        size = {"sha1": 20, "sha256": 32, "sha384": 48, "sha512": 64}[one.hash_algorithm]
        assert len(one.issuer_name_hash) == len(one.issuer_key_hash) == size
    assert (parsed.nonce is None) is (parsed.nonce_ext_der is None)
    if parsed.nonce is not None and parsed.nonce_ext_der is not None:
        assert 1 <= len(parsed.nonce) <= 32
        assert parsed.nonce_ext_der.endswith(parsed.nonce) and parsed.nonce_ext_der in data


def _tlv(tag: int, content: bytes) -> bytes:
    return der.tlv(tag, content)


def der_trees() -> st.SearchStrategy[bytes]:
    """DER-shaped trees of plausible tags (well formed lengths, random structure and content)."""
    leaves = st.builds(_tlv, st.sampled_from(TAGS), st.binary(max_size=40))
    return st.recursive(
        leaves,
        lambda children: st.builds(
            lambda tag, parts: _tlv(tag, b"".join(parts)),
            st.sampled_from((0x30, 0xA0, 0xA1, 0xA2)),
            st.lists(children, max_size=4),
        ),
        max_leaves=30,
    )


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A seed request with a few byte-level edits."""
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 4))):
        where = draw(st.integers(0, len(data)))
        edit = draw(st.sampled_from(("flip", "set", "truncate", "extend", "insert", "delete")))
        if edit == "flip" and where < len(data):
            data[where] ^= 1 << draw(st.integers(0, 7))
        elif edit == "set" and where < len(data):
            data[where] = draw(st.sampled_from((0x00, 0x7F, 0x80, 0x81, 0x82, 0x84, 0xFF)))
        elif edit == "truncate":
            del data[where:]
        elif edit == "extend":
            data += draw(st.binary(min_size=1, max_size=8))
        elif edit == "insert":
            data[where:where] = draw(st.binary(min_size=1, max_size=8))
        elif edit == "delete":
            del data[where : where + draw(st.integers(1, 8))]
    return bytes(data)


INPUTS = st.one_of(st.binary(max_size=300), der_trees(), mutated())
FAST = settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SLOW = settings(max_examples=10_000, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def test_seeds_parse() -> None:
    for seed in SEEDS:
        check(seed)
        assert parse_request(seed, max_certs=MAX_CERTS).nonce is not None


@FAST
@given(INPUTS)
def test_fuzz(data: bytes) -> None:
    check(data)


@FAST
@given(mutated())
def test_fuzz_mutations(data: bytes) -> None:
    check(data)


@pytest.mark.slow
@SLOW
@given(INPUTS)
def test_fuzz_slow(data: bytes) -> None:
    check(data)


@pytest.mark.slow
@SLOW
@given(mutated())
def test_fuzz_mutations_slow(data: bytes) -> None:
    check(data)


@pytest.mark.parametrize("depth", [10, 10_000])
def test_deep_nesting(depth: int) -> None:
    """Nesting never recurses in the parser: a deeply nested input is refused, not a RecursionError."""
    data = b"\x05\x00"
    for _ in range(depth):
        data = der.sequence(data)
    with pytest.raises(MalformedRequest):
        parse_request(data, max_certs=MAX_CERTS)


def test_huge_declared_length() -> None:
    for data in (
        b"\x30\x84\xff\xff\xff\xff",
        b"\x30\x84\x7f\xff\xff\xff" + bytes(10),
        b"\x30\xff" + bytes(200),
    ):
        with pytest.raises(MalformedRequest, match="length past the end"):
            parse_request(data, max_certs=MAX_CERTS)
