"""Certificates built from every shipped profile, signed through an hsm Signer, checked by tools we did not
write: pkilint (RFC 5280 linter, single certificates and issuer/subject pairs) and openssl verify."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtensionOID

import hsm
from pki.clock import FixedClock
from pki.model import CaId, new_serial
from pki.profile import IssueContext, Profile, RequestedSubject, load_profile, shipped_profiles
from pki.tbs import encode_tbs, extension_der, spki_der
from pki.tbs import split as prepared_parts

from .conftest import REFERENCE

PROFILES = shipped_profiles()
CLOCK = FixedClock(dt.datetime(2026, 11, 26, 3, 4, 5, tzinfo=dt.UTC))  # 12:04:05 JST
BASE_URL = "http://pki.example.jp"
LINT = Path(sys.executable).parent / "lint_pkix_cert"
LINT_CHAIN = Path(sys.executable).parent / "lint_pkix_signer_signee_cert_chain"

PD = "1.2.392.200149.8.5.5"
FOUR = {
    f"{PD}.{i}": v
    for i, v in enumerate(["山田　太郎", "00000", "1", "419900102", "東京都千代田区", "0000000"], 1)
}
HOLDER = {"birth_date": "1990-01-02"}  # as in FOUR: JPKI certificates run to the 5th birthday after issuance


@dataclass(frozen=True)
class Issuer:
    cert: x509.Certificate
    signer: hsm.Signer


def issue(
    profile: Profile,
    requested: RequestedSubject,
    key: hsm.PublicKey,
    issuer: Issuer | hsm.Signer,
    *,
    san: tuple[x509.GeneralName, ...] = (),
    other_names: Mapping[str, str] | None = None,
    attributes: Mapping[str, str] | None = None,
) -> x509.Certificate:
    """What the CA engine does with a profile: check, build, then sign through the Signer.
    ``issuer`` is the issuing CA, or the Signer of a self-signed certificate."""
    profile.check_key(key)
    subject = profile.subject(requested)
    if isinstance(issuer, Issuer):
        signer = issuer.signer
        ctx = IssueContext(
            key,
            signer.public_key,
            issuer.cert.subject,
            CLOCK.now(),
            ca_id=CaId("root"),
            base_url=BASE_URL,
            shard=3,  # jpki-auth points each certificate at its CRL shard
            issuer_not_after=issuer.cert.not_valid_after_utc,
            san=san,
            other_names=other_names or {},
            attributes=attributes or {},
        )
    else:
        signer = issuer
        ctx = IssueContext.self_signed(key, subject, CLOCK.now(), ca_id=CaId("root"), base_url=BASE_URL)
    not_before, not_after = profile.validity(ctx)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ctx.issuer_name)
        .public_key(key)
        .serial_number(new_serial())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
    )
    for extension in profile.extensions(ctx):
        builder = builder.add_extension(extension.value, extension.critical)
    return builder.sign(**hsm.builder_arguments(signer))


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[hsm.KeyBackend]:
    directory = tmp_path_factory.mktemp("keys")
    with hsm.open_backend(
        f"file:{directory}", environ={"JLIS_KEY_PASSPHRASE": "profile tests passphrase"}
    ) as b:
        yield b


@pytest.fixture(scope="module")
def root(backend: hsm.KeyBackend) -> Issuer:
    signer = backend.generate("root", hsm.KeyKind.P256)
    name = {"C": "JP", "O": "jlis-pki テスト", "CN": "Test Root CA"}
    return Issuer(issue(PROFILES["root-ca"], name, signer.public_key, signer), signer)


@pytest.fixture(scope="module")
def certificates(root: Issuer, backend: hsm.KeyBackend) -> dict[str, x509.Certificate]:
    jpki_ca = backend.generate("jpki-ca-shipped", hsm.KeyKind.RSA2048)
    ec_key = ec.generate_private_key(ec.SECP256R1()).public_key()
    rsa_key = rsa.generate_private_key(65537, 2048).public_key()
    opaque = "ABCDEFGHIJ0123456789XYZ"
    gpki = [("C", "JP"), ("O", "Japanese Government"), ("OU", "GPKI"), ("OU", "Bridge CA")]
    dns = (x509.DNSName("www.example.jp"), x509.DNSName("example.jp"))
    return {
        "root-ca": root.cert,
        "sub-ca": issue(PROFILES["sub-ca"], {"C": "JP", "O": "jlis-pki", "CN": "Sub CA"}, ec_key, root),
        "cross-ca": issue(PROFILES["cross-ca"], gpki, ec_key, root),
        "ocsp-responder": issue(PROFILES["ocsp-responder"], {"CN": "Test OCSP responder"}, ec_key, root),
        "tls-server": issue(PROFILES["tls-server"], {"CN": "www.example.jp"}, ec_key, root, san=dns),
        "jpki-sign": issue(
            PROFILES["jpki-sign"],
            {"L": ["Tokyo-to", "Chiyoda-ku"], "CN": opaque},
            rsa_key,
            root,
            other_names=FOUR,
            attributes=HOLDER,
        ),
        "jpki-auth": issue(PROFILES["jpki-auth"], {"CN": opaque}, rsa_key, root, attributes=HOLDER),
        "jpki-sign-ca": issue(PROFILES["jpki-sign-ca"], {}, jpki_ca.public_key, jpki_ca),
        "jpki-auth-ca": issue(PROFILES["jpki-auth-ca"], {}, jpki_ca.public_key, jpki_ca),
    }


def pem_file(directory: Path, name: str, cert: x509.Certificate) -> Path:
    path = directory / f"{name}.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


def run(*command: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(part) for part in command], capture_output=True, text=True, timeout=120)


def test_every_shipped_profile_is_exercised(certificates: dict[str, x509.Certificate]) -> None:
    assert sorted(certificates) == sorted(PROFILES)


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_pkilint_finds_nothing_at_warning_or_above(
    name: str, certificates: dict[str, x509.Certificate], tmp_path: Path
) -> None:
    result = run(LINT, "lint", "-s", "WARNING", pem_file(tmp_path, name, certificates[name]))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    "name", sorted(set(PROFILES) - {"root-ca", "jpki-sign-ca", "jpki-auth-ca"})
)  # self-signed
def test_chain_lints_and_verifies_against_the_root(
    name: str, certificates: dict[str, x509.Certificate], root: Issuer, tmp_path: Path, openssl: str
) -> None:
    root_pem, cert_pem = pem_file(tmp_path, "root", root.cert), pem_file(tmp_path, name, certificates[name])
    certificates[name].verify_directly_issued_by(root.cert)
    chain = run(LINT_CHAIN, "lint", "-s", "WARNING", root_pem, cert_pem)
    assert chain.returncode == 0, chain.stdout + chain.stderr
    verified = run(openssl, "verify", "-CAfile", root_pem, cert_pem)
    assert verified.returncode == 0 and verified.stdout.strip().endswith(": OK"), (
        verified.stdout + verified.stderr
    )


def test_root_is_self_signed_with_the_root_profile(root: Issuer) -> None:
    root.cert.verify_directly_issued_by(root.cert)
    assert root.cert.extensions.get_extension_for_class(x509.BasicConstraints).value.path_length is None


def test_validity_is_aligned_to_jst_days(certificates: dict[str, x509.Certificate]) -> None:
    aligned = {"root-ca": (2046, 11, 25), "sub-ca": (2036, 11, 25), "cross-ca": (2036, 11, 25)}
    aligned |= {"jpki-sign": (2031, 1, 2), "jpki-auth": (2031, 1, 2)}  # HOLDER's 5th birthday after issuance
    for name, (year, month, day) in aligned.items():
        cert = certificates[name]
        assert cert.not_valid_before_utc == dt.datetime(2026, 11, 25, 15, 0, 0, tzinfo=dt.UTC), name
        assert cert.not_valid_after_utc == dt.datetime(year, month, day, 14, 59, 59, tzinfo=dt.UTC), name
    ocsp = certificates["ocsp-responder"]
    assert ocsp.not_valid_after_utc - ocsp.not_valid_before_utc == dt.timedelta(days=7, seconds=-1)


def der_string_types(cert: x509.Certificate, field: str) -> list[tuple[str, str]]:
    """(attribute, ASN.1 string type) of the subject or issuer, read from the certificate DER."""
    parsed = asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))
    name = parsed["tbs_certificate"][field]
    return [
        (str(atv["type"].native), type(atv["value"].chosen).__name__) for rdn in name.chosen for atv in rdn
    ]


def test_string_types_in_the_certificate_der(certificates: dict[str, x509.Certificate]) -> None:
    assert der_string_types(certificates["jpki-sign"], "subject") == [
        ("country_name", "PrintableString"),
        ("locality_name", "PrintableString"),
        ("locality_name", "PrintableString"),
        ("common_name", "PrintableString"),
    ]
    assert der_string_types(certificates["jpki-sign"], "issuer") == [
        ("country_name", "PrintableString"),
        ("organization_name", "UTF8String"),
        ("common_name", "UTF8String"),
    ]


JPKI_CA_PROFILE = """
# The JPKI CA certificate shape (jpki-facts.md §1): no authorityKeyIdentifier, subjectAltName DirName,
# CRL distribution point = the CA's own name, C PrintableString and O/OU UTF8String, notBefore = issuance.
kind = "ca"
keys = ["rsa2048"]
[[subject]]
attr = "C"
value = "JP"
[[subject]]
attr = "O"
value = "JPKI"
[[subject]]
attr = "OU"
value = "JPKI for digital signature"
[[subject]]
attr = "OU"
value = "Japan Agency for Local Authority Information Systems"
[validity]
rule = "fixed"
years = 10
align = { tz = "Asia/Tokyo", end = "23:59:59" }
[extensions]
key_usage = { critical = true, usages = ["keyCertSign", "cRLSign"] }
[[extensions.subject_alt_name.names]]
type = "dirname"
value = [
    { attr = "C", value = "JP" },
    { attr = "O", value = "公的個人認証サービス" },
    { attr = "OU", value = "公的個人認証サービス署名用" },
    { attr = "OU", value = "地方公共団体情報システム機構" },
]
[extensions.basic_constraints]
critical = true
ca = true
[extensions.crl_distribution_points]
points = [{ dirname = "issuer" }]
[extensions.subject_key_identifier]
"""


def test_a_jpki_ca_profile_reproduces_the_reference_certificate(
    backend: hsm.KeyBackend, tmp_path: Path
) -> None:
    reference_file = REFERENCE / "jpki" / "sign_ca_2023.pem"
    if not reference_file.exists():
        pytest.skip(f"{reference_file} is not available here")
    reference = x509.load_pem_x509_certificate(reference_file.read_bytes())
    path = tmp_path / "jpki-ca.toml"
    path.write_text(JPKI_CA_PROFILE, encoding="utf-8")
    signer = backend.generate("jpki-ca", hsm.KeyKind.RSA2048)
    ours = issue(load_profile(path), {}, signer.public_key, signer)
    assert ours.subject == reference.subject
    assert der_string_types(ours, "subject") == der_string_types(reference, "subject")
    assert [(e.oid, e.critical) for e in ours.extensions] == [
        (e.oid, e.critical) for e in reference.extensions
    ]
    for theirs in reference.extensions:  # byte for byte, but for the key identifier of a different key
        if theirs.oid != ExtensionOID.SUBJECT_KEY_IDENTIFIER:
            ours_der = ours.extensions.get_extension_for_oid(theirs.oid).value.public_bytes()
            assert ours_der == theirs.value.public_bytes(), theirs.oid
    assert ours.not_valid_after_utc == dt.datetime(2036, 11, 25, 14, 59, 59, tzinfo=dt.UTC)
    assert ours.not_valid_before_utc == CLOCK.now()


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_hand_encoded_tbs_is_what_pyca_builds(name: str, certificates: dict[str, x509.Certificate]) -> None:
    """The CA engine encodes TBSCertificates itself (pki.tbs.encode_tbs); for every shipped profile it must
    write the very bytes pyca's CertificateBuilder wrote for the same parts."""
    cert = certificates[name]
    der = cert.public_bytes(serialization.Encoding.DER)
    tbs = encode_tbs(
        serial=cert.serial_number,
        algorithm_id=prepared_parts(der).algorithm_id,
        issuer=cert.issuer.public_bytes(),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        subject=cert.subject.public_bytes(),
        spki=spki_der(cert.public_key()),  # type: ignore[arg-type]
        extensions=[extension_der(extension) for extension in cert.extensions],
    )
    assert tbs.tbs == cert.tbs_certificate_bytes
