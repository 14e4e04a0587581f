"""CMS SignedData signing, checked by ``openssl cms -verify`` and by parsing back with asn1crypto.

The suite runs on software keys and on SoftHSM keys. Certificates are valid around a frozen time, which
openssl is told with ``-attime``; no test reads the wall clock.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import cms
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

from hsm import (
    HashName,
    KeyBackend,
    KeyKind,
    PublicKey,
    Scheme,
    SignatureAlgorithm,
    Signer,
    builder_arguments,
    open_backend,
    verify_signature,
)
from pki.cms import (
    CertificateKeyMismatch,
    CmsError,
    InvalidSigningTime,
    UnsupportedAlgorithm,
    sign_cms,
    to_pem,
)

from .conftest import need_softhsm

PASSPHRASE = "correct horse battery staple"
NOW = dt.datetime(2026, 11, 26, 0, 0, tzinfo=dt.UTC)
CONTENT = b"jlis-pki CMS test document\r\n\x00\xff\x1a binary, CRLF kept as is\n" * 40
SIGNED_ATTRIBUTES = ["content_type", "message_digest", "signing_certificate_v2", "signing_time"]


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"), x509.NameAttribute(NameOID.COMMON_NAME, cn)]
    )


@dataclass
class TestPki:
    """A CA and one end-entity key and certificate per key kind, all in one backend."""

    __test__ = False

    backend: KeyBackend
    ca: Signer
    ca_certificate: x509.Certificate
    ca_file: Path
    _signers: dict[KeyKind, Signer] = field(default_factory=dict)
    _certificates: dict[KeyKind, x509.Certificate] = field(default_factory=dict)

    def signer(self, kind: KeyKind) -> Signer:
        if kind not in self._signers:
            self._signers[kind] = self.backend.generate(f"cms-ee-{kind.value}", kind)
        return self._signers[kind]

    def certificate(self, kind: KeyKind) -> x509.Certificate:
        if kind not in self._certificates:
            self._certificates[kind] = self.issue(self.signer(kind).public_key, f"CMS signer {kind.value}")
        return self._certificates[kind]

    def issue(self, public_key: PublicKey, cn: str) -> x509.Certificate:
        usage = x509.KeyUsage(True, True, False, False, False, False, False, False, False)
        return (
            _builder(self.ca_certificate.subject, _name(cn), public_key)
            .add_extension(usage, critical=True)
            .sign(**builder_arguments(self.ca))
        )


def _builder(issuer: x509.Name, subject: x509.Name, public_key: PublicKey) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .issuer_name(issuer)
        .subject_name(subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=365))
    )


def _make_pki(backend: KeyBackend, directory: Path) -> TestPki:
    ca = backend.generate("cms-ca", KeyKind.P256)
    ca_name = _name("CMS test CA")
    usage = x509.KeyUsage(False, False, False, False, False, True, True, False, False)
    ca_certificate = (
        _builder(ca_name, ca_name, ca.public_key)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(usage, critical=True)
        .sign(**builder_arguments(ca))
    )
    ca_file = directory / "ca.pem"
    ca_file.write_bytes(ca_certificate.public_bytes(serialization.Encoding.PEM))
    return TestPki(backend, ca, ca_certificate, ca_file)


@pytest.fixture(scope="session", params=["file", pytest.param("softhsm", marks=pytest.mark.softhsm)])
def pki(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestPki]:
    directory = tmp_path_factory.mktemp(f"cms-{request.param}")
    if request.param == "file":
        backend = open_backend(f"file:{directory / 'keys'}", environ={"JLIS_KEY_PASSPHRASE": PASSPHRASE})
    else:
        softhsm = need_softhsm()
        backend = open_backend(softhsm.uri("jlis-test"), pin_source=softhsm.pin_file)
    with backend:
        yield _make_pki(backend, directory)


class RecordingSigner:
    """A Signer that counts its signatures, to prove refused requests never reach the key."""

    def __init__(self, inner: Signer) -> None:
        self.inner = inner
        self.calls = 0
        self.public_key = inner.public_key
        self.algorithm = inner.algorithm
        self.label = inner.label

    def sign(self, data: bytes) -> bytes:
        self.calls += 1
        return self.inner.sign(data)

    def with_algorithm(self, algorithm: SignatureAlgorithm) -> Signer:
        return RecordingSigner(self.inner.with_algorithm(algorithm))


def openssl_verify(
    openssl: str, pki: TestPki, tmp: Path, der: bytes, content: bytes | None, *, inform: str = "DER"
) -> subprocess.CompletedProcess[bytes]:
    """``openssl cms -verify`` at NOW + 1 h; ``content`` is given for detached signatures."""
    (tmp / "signature").write_bytes(der)
    cmd = [openssl, "cms", "-verify", "-binary", "-inform", inform, "-in", str(tmp / "signature")]
    cmd += ["-CAfile", str(pki.ca_file), "-purpose", "any", "-out", str(tmp / "out")]
    cmd += ["-attime", str(int((NOW + dt.timedelta(hours=1)).timestamp()))]
    if content is not None:
        (tmp / "content").write_bytes(content)
        cmd += ["-content", str(tmp / "content")]
    return subprocess.run(cmd, capture_output=True)


def assert_verified(result: subprocess.CompletedProcess[bytes], tmp: Path) -> None:
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    assert b"Verification successful" in result.stderr
    assert (tmp / "out").read_bytes() == CONTENT


def signed_data(der: bytes) -> cms.SignedData:
    info = cms.ContentInfo.load(der)
    assert info["content_type"].native == "signed_data"
    return info["content"]


def attributes(info: cms.SignerInfo) -> dict[str, Any]:
    """Signed attributes by name: each must hold exactly one value (RFC 5652 §11)."""
    found = {}
    for attribute in info["signed_attrs"]:
        assert len(attribute["values"]) == 1
        found[attribute["type"].native] = attribute["values"][0]
    return found


# -- openssl verifies ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", [KeyKind.RSA2048, KeyKind.P256, KeyKind.P384], ids=str)
def test_detached_signature_verifies_with_openssl(
    pki: TestPki, kind: KeyKind, openssl: str, tmp_path: Path
) -> None:
    der = sign_cms(CONTENT, pki.signer(kind), pki.certificate(kind), signing_time=NOW)
    assert signed_data(der)["encap_content_info"]["content"].native is None
    assert_verified(openssl_verify(openssl, pki, tmp_path, der, CONTENT), tmp_path)


@pytest.mark.parametrize("kind", [KeyKind.RSA2048, KeyKind.P256], ids=str)
def test_attached_signature_embeds_content_and_verifies(
    pki: TestPki, kind: KeyKind, openssl: str, tmp_path: Path
) -> None:
    der = sign_cms(CONTENT, pki.signer(kind), pki.certificate(kind), detached=False, signing_time=NOW)
    assert signed_data(der)["encap_content_info"]["content"].native == CONTENT
    assert_verified(openssl_verify(openssl, pki, tmp_path, der, None), tmp_path)


@pytest.mark.parametrize(
    ("kind", "scheme", "digest"),
    [
        (KeyKind.RSA2048, Scheme.RSA_PKCS1V15, "sha384"),
        (KeyKind.RSA2048, Scheme.RSA_PKCS1V15, "sha512"),
        (KeyKind.RSA2048, Scheme.RSA_PSS, "sha256"),
        (KeyKind.RSA2048, Scheme.RSA_PSS, "sha512"),
        (KeyKind.P256, Scheme.ECDSA, "sha384"),
        (KeyKind.P384, Scheme.ECDSA, "sha256"),
        (KeyKind.P384, Scheme.ECDSA, "sha384"),
    ],
    ids=lambda v: str(v.value) if isinstance(v, KeyKind | Scheme) else v,
)
def test_every_digest_and_scheme_verifies_with_openssl(
    pki: TestPki, kind: KeyKind, scheme: Scheme, digest: str, openssl: str, tmp_path: Path
) -> None:
    signer = pki.signer(kind).with_algorithm(SignatureAlgorithm(scheme, HashName.SHA256))
    der = sign_cms(CONTENT, signer, pki.certificate(kind), digest=digest, signing_time=NOW)
    info = signed_data(der)["signer_infos"][0]
    assert info["digest_algorithm"]["algorithm"].native == digest
    assert signed_data(der)["digest_algorithms"].native == [{"algorithm": digest, "parameters": None}]
    assert_verified(openssl_verify(openssl, pki, tmp_path, der, CONTENT), tmp_path)


def test_tampered_content_fails_openssl_verify(pki: TestPki, openssl: str, tmp_path: Path) -> None:
    der = sign_cms(CONTENT, pki.signer(KeyKind.RSA2048), pki.certificate(KeyKind.RSA2048), signing_time=NOW)
    tampered = CONTENT[:-1] + bytes([CONTENT[-1] ^ 1])
    result = openssl_verify(openssl, pki, tmp_path, der, tampered)
    assert result.returncode != 0
    assert b"Verification failure" in result.stderr


def test_tampered_attached_content_fails_openssl_verify(pki: TestPki, openssl: str, tmp_path: Path) -> None:
    signer, certificate = pki.signer(KeyKind.P256), pki.certificate(KeyKind.P256)
    der = sign_cms(CONTENT, signer, certificate, detached=False, signing_time=NOW)
    at = der.index(CONTENT) + 10
    tampered = der[:at] + bytes([der[at] ^ 1]) + der[at + 1 :]
    result = openssl_verify(openssl, pki, tmp_path, tampered, None)
    assert result.returncode != 0
    assert b"Verification failure" in result.stderr


def test_pem_is_what_openssl_writes_and_verifies(pki: TestPki, openssl: str, tmp_path: Path) -> None:
    der = sign_cms(CONTENT, pki.signer(KeyKind.P256), pki.certificate(KeyKind.P256), signing_time=NOW)
    (tmp_path / "cms.der").write_bytes(der)
    cmd = [openssl, "cms", "-cmsout", "-inform", "DER", "-outform", "PEM", "-in", str(tmp_path / "cms.der")]
    written = subprocess.run(cmd, capture_output=True, check=True).stdout
    pem = to_pem(der)
    assert pem.startswith(b"-----BEGIN CMS-----\n")
    assert pem == written
    assert_verified(openssl_verify(openssl, pki, tmp_path, pem, CONTENT, inform="PEM"), tmp_path)


# -- the structure, parsed back -----------------------------------------------------------------------


def test_signed_attributes_hold_digest_time_and_signing_certificate(pki: TestPki) -> None:
    signer, certificate = pki.signer(KeyKind.RSA2048), pki.certificate(KeyKind.RSA2048)
    der = sign_cms(CONTENT, signer, certificate, signing_time=NOW)
    info = signed_data(der)["signer_infos"][0]
    attrs = attributes(info)
    assert sorted(attrs) == SIGNED_ATTRIBUTES
    assert attrs["content_type"].native == "data"
    assert attrs["message_digest"].native == hashlib.sha256(CONTENT).digest()
    assert attrs["signing_time"].name == "utc_time"
    assert attrs["signing_time"].native == NOW
    cert_der = certificate.public_bytes(serialization.Encoding.DER)
    (cert_id,) = attrs["signing_certificate_v2"]["certs"]
    assert cert_id["cert_hash"].native == hashlib.sha256(cert_der).digest()
    assert cert_id["hash_algorithm"].native == {"algorithm": "sha256", "parameters": None}
    assert cert_id.dump()[2] == 0x04, "hashAlgorithm is its DEFAULT (SHA-256), which DER leaves out"
    assert cert_id["issuer_serial"]["serial_number"].native == certificate.serial_number
    (issuer,) = cert_id["issuer_serial"]["issuer"]
    assert issuer.name == "directory_name"
    assert issuer.chosen.untag().dump() == certificate.issuer.public_bytes()


def test_signature_covers_the_signed_attributes_as_a_der_set(pki: TestPki) -> None:
    signer, certificate = pki.signer(KeyKind.P256), pki.certificate(KeyKind.P256)
    info = signed_data(sign_cms(CONTENT, signer, certificate, signing_time=NOW))["signer_infos"][0]
    stored = info["signed_attrs"].dump()
    assert stored[0] == 0xA0, "stored as [0] IMPLICIT"
    as_set = b"\x31" + stored[1:]  # RFC 5652 §5.4: the signature is over the EXPLICIT SET OF tag
    encoded = [attribute.dump() for attribute in info["signed_attrs"]]
    assert encoded == sorted(encoded), "DER sorts a SET OF"
    algorithm = SignatureAlgorithm(Scheme.ECDSA, HashName.SHA256)
    assert verify_signature(signer.public_key, algorithm, as_set, info["signature"].native)
    assert info["signature_algorithm"].signature_algo == "ecdsa"


def test_signer_info_names_the_certificate_and_absent_digest_parameters(pki: TestPki) -> None:
    certificate = pki.certificate(KeyKind.RSA2048)
    der = sign_cms(CONTENT, pki.signer(KeyKind.RSA2048), certificate, signing_time=NOW)
    data = signed_data(der)
    assert data["version"].native == "v1"
    (info,) = data["signer_infos"]
    assert info["version"].native == "v1"
    sid = info["sid"].chosen
    assert sid["issuer"].dump() == certificate.issuer.public_bytes()
    assert sid["serial_number"].native == certificate.serial_number
    sha256_absent_parameters = bytes.fromhex("300b0609608648016503040201")  # RFC 5754 §2
    assert info["digest_algorithm"].dump() == sha256_absent_parameters
    assert info["signature_algorithm"]["algorithm"].native == "sha256_rsa"


def test_certificates_carry_the_chain_once(pki: TestPki) -> None:
    certificate = pki.certificate(KeyKind.P256)
    chain = [certificate, pki.ca_certificate, pki.ca_certificate]
    der = sign_cms(CONTENT, pki.signer(KeyKind.P256), certificate, chain=chain, signing_time=NOW)
    carried = sorted(c.chosen.dump() for c in signed_data(der)["certificates"])
    expected = sorted(c.public_bytes(serialization.Encoding.DER) for c in (certificate, pki.ca_certificate))
    assert carried == expected


def test_sha384_names_its_hash_in_the_signing_certificate(pki: TestPki) -> None:
    certificate = pki.certificate(KeyKind.P384)
    der = sign_cms(CONTENT, pki.signer(KeyKind.P384), certificate, digest="sha384", signing_time=NOW)
    attrs = attributes(signed_data(der)["signer_infos"][0])
    assert attrs["message_digest"].native == hashlib.sha384(CONTENT).digest()
    (cert_id,) = attrs["signing_certificate_v2"]["certs"]
    assert cert_id["hash_algorithm"]["algorithm"].native == "sha384"
    cert_der = certificate.public_bytes(serialization.Encoding.DER)
    assert cert_id["cert_hash"].native == hashlib.sha384(cert_der).digest()


@pytest.mark.parametrize(
    ("when", "choice", "stored"),
    [
        (dt.datetime(2049, 12, 31, 23, 59, 59, tzinfo=dt.UTC), "utc_time", b"491231235959Z"),
        (dt.datetime(2050, 1, 1, tzinfo=dt.UTC), "generalized_time", b"20500101000000Z"),
        (dt.datetime(1950, 1, 1, tzinfo=dt.UTC), "utc_time", b"500101000000Z"),
        (dt.datetime(1949, 12, 31, 23, 59, 59, tzinfo=dt.UTC), "generalized_time", b"19491231235959Z"),
        (
            dt.datetime(2026, 11, 26, 9, 0, 0, 123456, tzinfo=dt.timezone(dt.timedelta(hours=9))),
            "utc_time",
            b"261126000000Z",
        ),
    ],
    ids=["2049-utc", "2050-generalized", "1950-utc", "1949-generalized", "jst-to-utc-whole-seconds"],
)
def test_signing_time_encoding_follows_rfc5652_11_3(
    pki: TestPki, when: dt.datetime, choice: str, stored: bytes
) -> None:
    """RFC 5652 §11.3: UTCTime for 1950 to 2049, GeneralizedTime otherwise; always UTC, whole seconds."""
    der = sign_cms(CONTENT, pki.signer(KeyKind.P256), pki.certificate(KeyKind.P256), signing_time=when)
    signing_time = attributes(signed_data(der)["signer_infos"][0])["signing_time"]
    assert signing_time.name == choice
    assert signing_time.chosen.contents == stored


def test_signing_time_defaults_to_an_aware_now(pki: TestPki) -> None:
    der = sign_cms(CONTENT, pki.signer(KeyKind.P256), pki.certificate(KeyKind.P256))
    signing_time = attributes(signed_data(der)["signer_infos"][0])["signing_time"].native
    assert isinstance(signing_time, dt.datetime)
    assert signing_time.utcoffset() == dt.timedelta(0)


# -- refusals: nothing reaches the key ----------------------------------------------------------------


def test_certificate_for_another_key_is_refused_before_signing(pki: TestPki) -> None:
    signer = RecordingSigner(pki.signer(KeyKind.P256))
    other = pki.certificate(KeyKind.RSA2048)
    with pytest.raises(CertificateKeyMismatch) as refused:
        sign_cms(CONTENT, signer, other, signing_time=NOW)
    assert refused.value.serial == other.serial_number
    assert refused.value.subject == other.subject.rfc4514_string()
    assert refused.value.signer_label == signer.label
    assert "does not hold the key of certificate" in refused.value.message
    assert isinstance(refused.value, CmsError)
    assert signer.calls == 0


def test_certificate_for_another_key_of_the_same_kind_is_refused(pki: TestPki) -> None:
    signer = RecordingSigner(pki.signer(KeyKind.P256))
    stranger = pki.issue(pki.ca.public_key, "same kind, other key")
    with pytest.raises(CertificateKeyMismatch):
        sign_cms(CONTENT, signer, stranger, signing_time=NOW)
    assert signer.calls == 0


@pytest.mark.parametrize("digest", ["md5", "sha1", "sha3-256", ""])
def test_unknown_digest_is_refused(pki: TestPki, digest: str) -> None:
    signer = RecordingSigner(pki.signer(KeyKind.RSA2048))
    with pytest.raises(UnsupportedAlgorithm) as refused:
        sign_cms(CONTENT, signer, pki.certificate(KeyKind.RSA2048), digest=digest, signing_time=NOW)
    assert refused.value.name == digest
    assert "sha256, sha384, sha512" in refused.value.message
    assert signer.calls == 0


def test_ecdsa_with_sha512_is_refused(pki: TestPki) -> None:
    signer = RecordingSigner(pki.signer(KeyKind.P384))
    with pytest.raises(UnsupportedAlgorithm) as refused:
        sign_cms(CONTENT, signer, pki.certificate(KeyKind.P384), digest="sha512", signing_time=NOW)
    assert refused.value.name == "ecdsa with sha512"
    assert signer.calls == 0


def test_naive_signing_time_is_refused(pki: TestPki) -> None:
    signer = RecordingSigner(pki.signer(KeyKind.P256))
    naive = dt.datetime(2026, 11, 26, 9, 0)
    with pytest.raises(InvalidSigningTime) as refused:
        sign_cms(CONTENT, signer, pki.certificate(KeyKind.P256), signing_time=naive)
    assert refused.value.value == naive
    assert signer.calls == 0
