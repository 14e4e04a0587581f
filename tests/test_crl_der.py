"""The minimal DER writer of pki.crl, checked against asn1crypto (an encoder we did not write)."""

from __future__ import annotations

import datetime as dt

import pytest
from asn1crypto import core
from hypothesis import given
from hypothesis import strategies as st

from pki.crl import CrlError, der

# asn1crypto does not zero-pad years before 1000, so compare from there on
ASN1_TIMES = st.datetimes(
    min_value=dt.datetime(1000, 1, 1),
    max_value=dt.datetime(9999, 12, 31, 23, 59, 59),
    timezones=st.just(dt.UTC),
)


@given(st.integers(min_value=-(1 << 200), max_value=1 << 200))
def test_integer_matches_asn1crypto(value: int) -> None:
    assert der.integer(value) == core.Integer(value).dump()


@given(st.integers(min_value=0, max_value=1 << 40))
def test_length_is_minimal(size: int) -> None:
    encoded = der.tlv(0x04, b"") if size == 0 else der.length(size)
    if size < 0x80:
        assert len(encoded) == (2 if size == 0 else 1)
    else:
        assert encoded[0] == 0x80 | (len(encoded) - 1)
        assert encoded[1] != 0
        assert int.from_bytes(encoded[1:], "big") == size


@given(st.binary(max_size=300))
def test_octet_string_matches_asn1crypto(value: bytes) -> None:
    assert der.octet_string(value) == core.OctetString(value).dump()


@given(st.binary(min_size=1, max_size=300))
def test_bit_string_matches_asn1crypto(value: bytes) -> None:
    assert der.bit_string(value) == core.OctetBitString(value).dump()


@pytest.mark.parametrize(
    "dotted",
    [
        "2.5.29.20",
        "1.2.840.113549.1.1.10",
        "1.2.840.10045.4.3.2",
        "2.999.1234567",
        "0.9.2342.19200300.100.1.1",
    ],
)
def test_oid_matches_asn1crypto(dotted: str) -> None:
    assert der.oid(dotted) == core.ObjectIdentifier(dotted).dump()


@pytest.mark.parametrize("dotted", ["1", "3.1", "1.40", "1.2.x"])
def test_bad_oid_is_refused(dotted: str) -> None:
    with pytest.raises(ValueError):
        der.oid(dotted)


def test_boolean_true_is_ff() -> None:
    assert der.boolean(True) == b"\x01\x01\xff"
    assert der.boolean(False) == b"\x01\x01\x00"


@given(ASN1_TIMES)
def test_time_picks_utctime_before_2050(value: dt.datetime) -> None:
    encoded = der.time(value, "t")
    whole = value.replace(microsecond=0)
    if 1950 <= value.year < 2050:
        assert encoded[0] == der.UTC_TIME
        assert core.UTCTime.load(encoded).native == whole
    else:
        assert encoded[0] == der.GENERALIZED_TIME
        assert encoded == core.GeneralizedTime(whole).dump()


@given(ASN1_TIMES)
def test_generalized_time_whatever_the_year(value: dt.datetime) -> None:
    assert der.generalized_time(value, "t") == core.GeneralizedTime(value.replace(microsecond=0)).dump()


def test_time_in_another_zone_is_written_in_utc() -> None:
    jst = dt.timezone(dt.timedelta(hours=9))
    assert der.time(dt.datetime(2026, 4, 1, 0, 0, 0, tzinfo=jst), "t") == b"\x17\x0d260331150000Z"


def test_naive_time_is_refused() -> None:
    with pytest.raises(CrlError, match="naive"):
        der.time(dt.datetime(2026, 1, 1), "this_update")


def test_non_ascii_ia5_string_is_refused() -> None:
    with pytest.raises(CrlError, match="not ASCII"):
        der.ia5_string("http://例え.jp/crl", "uri")
