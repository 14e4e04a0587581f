"""Extensions built from profiles: exact DER where it matters (otherName, policyMappings), requested values
only where the profile allows them, URL placeholders, key identifiers."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtensionOID, NameOID

from pki.errors import IssuanceRefused
from pki.model import CaId
from pki.profile import IssueContext, Profile, load_profile, other_name, shipped_profiles

PROFILES = shipped_profiles()
SUBJECT_KEY = ec.generate_private_key(ec.SECP256R1())
ISSUER_KEY = ec.generate_private_key(ec.SECP256R1()).public_key()
ISSUER = x509.Name(
    [x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"), x509.NameAttribute(NameOID.ORGANIZATION_NAME, "JPKI")]
)
AT = dt.datetime(2026, 11, 26, 3, 4, 5, tzinfo=dt.UTC)
PD = "1.2.392.200149.8.5.5"
FOUR = {
    f"{PD}.6": "0000000",
    f"{PD}.5": "東京都千代田区",
    f"{PD}.4": "419900102",
    f"{PD}.3": "1",
    f"{PD}.2": "00000",
    f"{PD}.1": "山田　太郎",
}


def context(**more: object) -> IssueContext:
    defaults: dict[str, object] = {"ca_id": CaId("jpki-sign"), "base_url": "https://pki.example.jp/"}
    return IssueContext(SUBJECT_KEY.public_key(), ISSUER_KEY, ISSUER, AT, **{**defaults, **more})  # type: ignore[arg-type]


def by_oid(
    extensions: list[x509.Extension[x509.ExtensionType]],
) -> dict[x509.ObjectIdentifier, x509.Extension[x509.ExtensionType]]:
    return {ext.oid: ext for ext in extensions}


def csr(*extensions: x509.ExtensionType) -> tuple[x509.Extension[x509.ExtensionType], ...]:
    builder = x509.CertificateSigningRequestBuilder().subject_name(ISSUER)
    for value in extensions:
        builder = builder.add_extension(value, critical=False)
    return tuple(builder.sign(SUBJECT_KEY, hashes.SHA256()).extensions)


def write(tmp_path: Path, extensions: str, kind: str = "ee") -> Profile:
    text = (
        f'kind = "{kind}"\nkeys = ["p256"]\n[[subject]]\nattr = "CN"\n[validity]\nrule = "fixed"\ndays = 1\n'
        '[extensions]\nkey_usage = { usages = ["digitalSignature"] }\nauthority_key_identifier = true\n'
        f"{extensions}\n"
    )
    path = tmp_path / "t.toml"
    path.write_text(text, encoding="utf-8")
    return load_profile(path)


def test_other_name_golden_der() -> None:
    """RFC 5280 §4.2.1.6 AnotherName: [0] IMPLICIT SEQUENCE { type-id, [0] EXPLICIT UTF8String }."""
    sex = x509.SubjectAlternativeName([other_name(x509.ObjectIdentifier(f"{PD}.3"), "1")])
    assert sex.public_bytes().hex() == "3013a011060a2a83088c9b5508050503a0030c0131"
    name = x509.SubjectAlternativeName([other_name(x509.ObjectIdentifier(f"{PD}.1"), "山田　太郎")])
    expected = "3021a01f060a2a83088c9b5508050501a0110c0fe5b1b1e794b0e38080e5a4aae9838e"
    assert name.public_bytes().hex() == expected


def test_jpki_basic_four_information_in_the_real_order() -> None:
    extensions = by_oid(PROFILES["jpki-sign"].extensions(context(other_names=FOUR)))
    der = extensions[ExtensionOID.SUBJECT_ALTERNATIVE_NAME].value.public_bytes()
    parsed = asn1_x509.GeneralNames.load(der)
    pairs = [(g.chosen["type_id"].dotted, g.chosen["value"].parsed.native) for g in parsed]
    assert [oid[-1] for oid, _ in pairs] == ["1", "4", "3", "5", "2", "6"]
    assert dict(pairs) == FOUR
    assert all(type(g.chosen["value"].parsed).__name__ == "UTF8String" for g in parsed)


def test_jpki_sign_criticality_and_issuer_alt_name() -> None:
    extensions = by_oid(PROFILES["jpki-sign"].extensions(context(other_names=FOUR)))
    assert extensions[ExtensionOID.KEY_USAGE].critical
    policies = extensions[ExtensionOID.CERTIFICATE_POLICIES]
    assert policies.critical
    assert isinstance(policies.value, x509.CertificatePolicies)
    assert policies.value[0].policy_identifier.dotted_string == "1.2.392.200149.8.5.1.1.20"
    ian = extensions[ExtensionOID.ISSUER_ALTERNATIVE_NAME].value
    assert isinstance(ian, x509.IssuerAlternativeName)
    (dirname,) = ian.get_values_for_type(x509.DirectoryName)
    assert dirname.rfc4514_string() == "O=公的個人認証サービス,C=JP"


@pytest.mark.parametrize(
    ("other_names", "why"),
    [
        ({k: v for k, v in FOUR.items() if not k.endswith(".3")}, f"otherName {PD}.3"),
        ({**FOUR, "1.2.3.4": "x"}, "does not allow the requested name"),
        ({**FOUR, "not-an-oid": "x"}, "is not an OID"),
    ],
    ids=["missing", "not-in-profile", "bad-oid"],
)
def test_other_names_must_match_the_profile(other_names: dict[str, str], why: str) -> None:
    with pytest.raises(IssuanceRefused, match=why):
        PROFILES["jpki-sign"].extensions(context(other_names=other_names))


def test_requested_san_from_a_csr_is_taken_where_allowed() -> None:
    requested = csr(x509.SubjectAlternativeName([x509.DNSName("www.example.jp"), x509.DNSName("example.jp")]))
    extensions = by_oid(PROFILES["tls-server"].extensions(context(requested_extensions=requested)))
    san = extensions[ExtensionOID.SUBJECT_ALTERNATIVE_NAME].value
    assert isinstance(san, x509.SubjectAlternativeName)
    assert san.get_values_for_type(x509.DNSName) == ["www.example.jp", "example.jp"]


@pytest.mark.parametrize(
    ("profile", "requested", "why"),
    [
        (
            "tls-server",
            csr(x509.KeyUsage(True, False, True, False, False, False, False, False, False)),
            "keyUsage",
        ),
        ("tls-server", csr(x509.BasicConstraints(ca=True, path_length=None)), "basicConstraints"),
        ("jpki-auth", csr(x509.SubjectAlternativeName([x509.DNSName("a.example.jp")])), "subjectAltName"),
        (
            "tls-server",
            csr(x509.SubjectAlternativeName([x509.DNSName("a.jp"), x509.RFC822Name("a@a.jp")])),
            "requested name",
        ),
        ("tls-server", csr(x509.SubjectAlternativeName([x509.DNSName("bad name.jp")])), "is not a DNS name"),
        ("tls-server", (), "must give a dns name"),
    ],
    ids=["key-usage", "basic-constraints", "san-not-taken", "wrong-name-kind", "bad-dns", "none-given"],
)
def test_requested_extensions_are_refused_unless_allowed(
    profile: str, requested: tuple[x509.Extension[x509.ExtensionType], ...], why: str
) -> None:
    with pytest.raises(IssuanceRefused, match=why):
        PROFILES[profile].extensions(context(requested_extensions=requested))


def test_url_placeholders_are_filled_from_the_context(tmp_path: Path) -> None:
    profile = write(
        tmp_path,
        "crl_distribution_points = { points = "
        '[{ dirname = "issuer", uris = ["{base_url}/crl/{ca_id}/{shard}.crl"] }] }\n'
        'freshest_crl = { points = [{ uris = ["{base_url}/crl/{ca_id}/delta.crl"] }] }\n'
        'authority_info_access = { ocsp = ["{base_url}/ocsp/{ca_id}"], '
        'ca_issuers = ["{base_url}/ca/{ca_id}.cer"] }',
    )
    extensions = by_oid(profile.extensions(context(shard=7)))
    crldp = extensions[ExtensionOID.CRL_DISTRIBUTION_POINTS].value
    assert isinstance(crldp, x509.CRLDistributionPoints)
    full_name = crldp[0].full_name or []
    assert full_name == [
        x509.DirectoryName(ISSUER),
        x509.UniformResourceIdentifier("https://pki.example.jp/crl/jpki-sign/7.crl"),
    ]
    freshest = extensions[ExtensionOID.FRESHEST_CRL]
    assert not freshest.critical
    aia = extensions[ExtensionOID.AUTHORITY_INFORMATION_ACCESS].value
    assert isinstance(aia, x509.AuthorityInformationAccess)
    assert [d.access_location.value for d in aia] == [
        "https://pki.example.jp/ocsp/jpki-sign",
        "https://pki.example.jp/ca/jpki-sign.cer",
    ]
    with pytest.raises(IssuanceRefused, match="shard"):
        profile.extensions(context())
    with pytest.raises(IssuanceRefused, match="base_url"):
        profile.extensions(context(shard=1, base_url=""))


def test_policy_mappings_der_parses_with_asn1crypto() -> None:
    extensions = by_oid(PROFILES["cross-ca"].extensions(context()))
    mappings = extensions[ExtensionOID.POLICY_MAPPINGS]
    assert mappings.critical
    assert isinstance(mappings.value, x509.UnrecognizedExtension)
    parsed = asn1_x509.PolicyMappings.load(mappings.value.value)
    test = "2.16.840.1.101.3.2.1.48."
    assert [(m["issuer_domain_policy"].dotted, m["subject_domain_policy"].dotted) for m in parsed] == [
        (test + "1", test + "3"),
        (test + "2", test + "4"),
    ]
    constraints = extensions[ExtensionOID.POLICY_CONSTRAINTS]
    assert constraints.critical and constraints.value == x509.PolicyConstraints(0, 1)
    assert extensions[ExtensionOID.INHIBIT_ANY_POLICY].value == x509.InhibitAnyPolicy(0)
    nc = extensions[ExtensionOID.NAME_CONSTRAINTS]
    assert nc.critical and isinstance(nc.value, x509.NameConstraints)


def test_key_identifiers() -> None:
    extensions = by_oid(PROFILES["sub-ca"].extensions(context()))
    ski = extensions[ExtensionOID.SUBJECT_KEY_IDENTIFIER].value
    assert ski == x509.SubjectKeyIdentifier.from_public_key(SUBJECT_KEY.public_key())
    aki = extensions[ExtensionOID.AUTHORITY_KEY_IDENTIFIER].value
    assert isinstance(aki, x509.AuthorityKeyIdentifier)
    assert aki.key_identifier == x509.SubjectKeyIdentifier.from_public_key(ISSUER_KEY).digest
    given = by_oid(PROFILES["sub-ca"].extensions(context(issuer_key_id=b"\x01" * 20)))
    issued_aki = given[ExtensionOID.AUTHORITY_KEY_IDENTIFIER].value
    assert isinstance(issued_aki, x509.AuthorityKeyIdentifier) and issued_aki.key_identifier == b"\x01" * 20


def test_optional_requested_names_may_be_absent(tmp_path: Path) -> None:
    profile = write(
        tmp_path, 'subject_alt_name = { names = [{ type = "email", from_request = true, required = false }] }'
    )
    assert ExtensionOID.SUBJECT_ALTERNATIVE_NAME not in by_oid(profile.extensions(context()))
    with_email = by_oid(profile.extensions(context(san=(x509.RFC822Name("taro@example.jp"),))))
    assert ExtensionOID.SUBJECT_ALTERNATIVE_NAME in with_email


def test_fixed_alt_names_and_other_names_in_a_profile(tmp_path: Path) -> None:
    profile = write(
        tmp_path,
        'subject_alt_name = { names = [{ type = "uri", value = "https://example.jp/" }, '
        '{ type = "other_name", type_id = "1.2.3.4", value = "固定" }, '
        '{ type = "dirname", value = [{ attr = "C", value = "JP" }, '
        '{ attr = "O", value = "LGPKI", type = "printable" }] }] }',
    )
    san = by_oid(profile.extensions(context()))[ExtensionOID.SUBJECT_ALTERNATIVE_NAME].value
    assert isinstance(san, x509.SubjectAlternativeName)
    assert list(san)[:2] == [
        x509.UniformResourceIdentifier("https://example.jp/"),
        x509.OtherName(x509.ObjectIdentifier("1.2.3.4"), b"\x0c\x06" + "固定".encode()),
    ]


def test_extensions_come_out_in_profile_order() -> None:
    sign = PROFILES["jpki-sign"].extensions(context(other_names=FOUR))
    assert [ext.oid for ext in sign] == [
        ExtensionOID.KEY_USAGE,
        ExtensionOID.CERTIFICATE_POLICIES,
        ExtensionOID.SUBJECT_ALTERNATIVE_NAME,
        ExtensionOID.ISSUER_ALTERNATIVE_NAME,
        ExtensionOID.CRL_DISTRIBUTION_POINTS,
        ExtensionOID.AUTHORITY_INFORMATION_ACCESS,
        ExtensionOID.SUBJECT_KEY_IDENTIFIER,
        ExtensionOID.AUTHORITY_KEY_IDENTIFIER,
    ]
