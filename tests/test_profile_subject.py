"""Subject rules: profile order, required and fixed attributes, string types checked in the DER itself."""

from __future__ import annotations

import string

import pytest
from asn1crypto import core
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import NameOID
from hypothesis import given
from hypothesis import strategies as st

from pki.errors import IssuanceRefused
from pki.profile import Profile, shipped_profiles

PROFILES = shipped_profiles()
SIGN = PROFILES["jpki-sign"]
ROOT = PROFILES["root-ca"]
OPAQUE_ID = "ABCDEFGHIJ0123456789XYZ"
PRINTABLE = string.ascii_letters + string.digits + " '()+,-./:=?"


def string_types(name: x509.Name) -> list[tuple[str, str]]:
    """(attribute, ASN.1 string type) for every attribute, read from the DER with asn1crypto."""
    parsed = asn1_x509.Name.load(name.public_bytes())
    pairs = []
    for rdn in parsed.chosen:
        for atv in rdn:
            value = atv["value"]
            chosen = value.chosen if isinstance(value, core.Choice) else value
            pairs.append((str(atv["type"].native), type(chosen).__name__))
    return pairs


def test_mapping_is_placed_in_profile_order_with_fixed_values_filled() -> None:
    subject = SIGN.subject({"CN": OPAQUE_ID, "L": ["Tokyo-to", "Chiyoda-ku"]})
    assert subject.rfc4514_string() == f"CN={OPAQUE_ID},L=Chiyoda-ku,L=Tokyo-to,C=JP"
    assert string_types(subject) == [
        ("country_name", "PrintableString"),
        ("locality_name", "PrintableString"),
        ("locality_name", "PrintableString"),
        ("common_name", "PrintableString"),
    ]


def test_utf8_and_printable_follow_the_profile_not_the_request() -> None:
    requested = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "JP", _type=_ASN1Type.UTF8String),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "公的個人認証サービス", _type=_ASN1Type.UTF8String),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "JPKI", _type=_ASN1Type.PrintableString),
        ]
    )
    subject = ROOT.subject(requested)
    assert string_types(subject) == [
        ("country_name", "PrintableString"),
        ("organization_name", "UTF8String"),
        ("organizational_unit_name", "UTF8String"),
    ]


def test_ordered_pairs_and_multi_valued_attributes() -> None:
    pairs = [("C", "JP"), ("O", "J-LIS"), ("OU", "one"), ("OU", "two"), ("CN", "Root")]
    subject = ROOT.subject(pairs)
    assert [a.value for a in subject] == ["JP", "J-LIS", "one", "two", "Root"]
    assert ROOT.subject(pairs[:2]).rfc4514_string() == "O=J-LIS,C=JP"  # OU and CN are optional


@pytest.mark.parametrize(
    ("requested", "why"),
    [
        ({"L": ["Tokyo-to"]}, "needs CN"),
        ({"CN": OPAQUE_ID, "L": ["Tokyo-to"], "O": "x"}, "O is not allowed"),
        ({"CN": "山田", "L": ["Tokyo-to"]}, "is not a PrintableString character"),
        ({"CN": "a@b", "L": ["Tokyo-to"]}, "'@' is not a PrintableString character"),
        ({"CN": "x" * 65, "L": ["Tokyo-to"]}, "upper bound of 64"),
        ({"C": "US", "CN": OPAQUE_ID, "L": ["Tokyo-to"]}, "C='US'"),
        ({"CN": "", "L": ["Tokyo-to"]}, "empty value"),
        ({"givenName": "x", "CN": OPAQUE_ID, "L": ["a"]}, "givenName is not allowed"),
        ({"nonsense": "x"}, "unknown subject attribute"),
    ],
    ids=["missing", "unexpected", "japanese-in-printable", "at-sign", "too-long", "fixed-differs", "empty",
         "not-in-profile", "unknown-name"],
)  # fmt: skip
def test_bad_requests_are_refused(requested: dict[str, str | list[str]], why: str) -> None:
    with pytest.raises(IssuanceRefused) as caught:
        SIGN.subject(requested)
    assert why in caught.value.why
    assert "jpki-sign" in caught.value.why


def test_order_is_enforced_for_ordered_requests() -> None:
    with pytest.raises(IssuanceRefused, match="out of order"):
        SIGN.subject([("C", "JP"), ("CN", OPAQUE_ID), ("L", "Tokyo-to")])
    with pytest.raises(IssuanceRefused, match="out of order"):
        ROOT.subject([("O", "J-LIS"), ("C", "JP")])


def test_multi_valued_rdns_are_refused() -> None:
    rdn = x509.RelativeDistinguishedName(
        [x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"), x509.NameAttribute(NameOID.ORGANIZATION_NAME, "x")]
    )
    with pytest.raises(IssuanceRefused, match="multi-valued RDN"):
        ROOT.subject(x509.Name([rdn]))


def test_every_profile_builds_some_subject() -> None:
    samples = {"C": "JP", "O": "J-LIS", "CN": "ABC", "L": ["Tokyo-to"]}
    for profile in PROFILES.values():
        wanted = {
            r.attr.name: samples[r.attr.name]
            for r in profile.subject_rules.rules
            if r.required and r.value is None
        }
        assert len(profile.subject(wanted)) >= 1, profile.id


def _auth() -> Profile:
    return PROFILES["jpki-auth"]


@given(st.text(alphabet=PRINTABLE, min_size=1, max_size=64))
def test_any_printable_value_is_accepted(value: str) -> None:
    subject = _auth().subject({"CN": value})
    assert string_types(subject)[-1] == ("common_name", "PrintableString")
    assert subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == value


@given(st.text(min_size=1, max_size=64).filter(lambda s: any(ch not in PRINTABLE for ch in s)))
def test_any_value_outside_printable_is_refused(value: str) -> None:
    with pytest.raises(IssuanceRefused):
        _auth().subject({"CN": value})
