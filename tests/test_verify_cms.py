"""CMS SignedData verification (`pki.verify.cms`, `jlis verify`), cross-checked with `openssl cms -verify`.

Signatures are made by `pki.cms.sign_cms` through hsm Signers (file backend) on RSA PKCS#1 v1.5, RSA-PSS
and ECDSA keys, certified by a small pyca CA at a frozen time; `jlis verify` and openssl must agree on
valid, tampered, wrong-content, wrong-anchor and revoked signatures. No test reads the wall clock.
"""

from __future__ import annotations

import datetime as dt
import itertools
import random
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from asn1crypto import cms
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from hsm import HashName, KeyBackend, KeyKind, PublicKey, Scheme, SignatureAlgorithm, Signer, open_backend
from pki.clock import FixedClock
from pki.cms import sign_cms, to_pem
from pki.verify import (
    ContentConflict,
    ContentMissing,
    MalformedInput,
    PathValidator,
    Problem,
    RevocationMode,
    RevocationSettings,
    UnsupportedInput,
    Verdict,
    VerifyError,
    load_crl,
)
from pki.verify.cms import verify_cms
from tests.test_verify_path import AT, DAY, NOW, Builder, Issued, Ran, run

PASSPHRASE = "correct horse battery staple"
CONTENT = b"jlis-pki verifier test\r\n\x00\xff binary content\n" * 20
OTHER = CONTENT.replace(b"binary", b"BINARY")
SIGNED_AT = NOW + dt.timedelta(minutes=10)
OFF = RevocationSettings(mode=RevocationMode.off)


@dataclass(frozen=True)
class Made:
    der: bytes
    cert: x509.Certificate


@dataclass
class Signers:
    backend: KeyBackend
    builder: Builder
    ca: Issued
    other_ca: Issued
    crl: Path
    ca_with_crl: Path
    """The CA certificate and its CRL in one PEM file: openssl cms takes CRLs from its -CAfile."""
    dir: Path
    made: dict[tuple[str, str | None, bool], Made] = field(default_factory=dict)
    labels: Iterator[int] = field(default_factory=itertools.count)

    def signer(self, kind: KeyKind, scheme: Scheme | None = None) -> Signer:
        signer = self.backend.generate(f"cms-{kind.value}-{next(self.labels)}", kind)
        if scheme is not None:
            signer = signer.with_algorithm(SignatureAlgorithm(scheme, HashName.SHA256))
        return signer

    def certify(
        self, public_key: PublicKey, cn: str, *, usage: x509.KeyUsage | None = None
    ) -> x509.Certificate:
        usage = usage or x509.KeyUsage(True, True, False, False, False, False, False, False, False)
        return (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, cn)]))
            .issuer_name(self.ca.name)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(NOW - DAY)
            .not_valid_after(NOW + 365 * DAY)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.ca.key.public_key()), False
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
            .add_extension(usage, critical=True)
            .sign(self.ca.key, hashes.SHA256())
        )


@pytest.fixture(scope="module")
def signers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Signers]:
    directory = tmp_path_factory.mktemp("verify-cms")
    builder = Builder(directory)
    ca = builder.issue("ca", "CMS verify CA", None, ca=True)
    other_ca = builder.issue("other-ca", "CMS verify CA", None, ca=True)  # same DN, another key
    backend = open_backend(f"file:{directory / 'keys'}", environ={"JLIS_KEY_PASSPHRASE": PASSPHRASE})
    with backend:
        crl = builder.crl("ca", ca)
        ca_with_crl = directory / "ca-with-crl.pem"
        ca_with_crl.write_bytes(ca.file.read_bytes() + crl.read_bytes())
        yield Signers(backend, builder, ca, other_ca, crl, ca_with_crl, directory)


def make(signers: Signers, kind: KeyKind, scheme: Scheme | None = None, *, detached: bool = True) -> Made:
    key = (kind.value, scheme.value if scheme else None, detached)
    if key not in signers.made:
        signer = signers.signer(kind, scheme)
        cert = signers.certify(signer.public_key, f"signer {kind.value} {key[1]}")
        digest = "sha384" if kind is KeyKind.P384 else "sha256"
        der = sign_cms(CONTENT, signer, cert, detached=detached, signing_time=SIGNED_AT, digest=digest)
        signers.made[key] = Made(der, cert)
    return signers.made[key]


def files(signers: Signers, name: str, der: bytes, content: bytes | None) -> tuple[Path, Path | None]:
    signature = signers.dir / f"{name}.p7s"
    signature.write_bytes(der)
    if content is None:
        return signature, None
    document = signers.dir / f"{name}.txt"
    document.write_bytes(content)
    return signature, document


def jlis_verify(signature: Path, content: Path | None, anchors: Path, *extra: str | Path) -> Ran:
    args: list[str | Path] = ["verify", signature, "--anchors", anchors, "--at", AT.isoformat(), "--json"]
    if content is not None:
        args += ["--content", content]
    return run(*args, *extra)


def openssl_cms_verify(
    openssl: str, signature: Path, content: Path | None, ca_file: Path, *, crl_check: bool = True
) -> bool:
    cmd = [
        openssl,
        "cms",
        "-verify",
        "-binary",
        "-inform",
        "DER",
        "-in",
        str(signature),
        "-CAfile",
        str(ca_file),
    ]
    cmd += ["-purpose", "any", "-attime", str(int(AT.timestamp())), "-out", "/dev/null"]
    cmd += ["-crl_check"] if crl_check else []
    cmd += ["-content", str(content)] if content is not None else []
    return subprocess.run(cmd, capture_output=True).returncode == 0


def tamper(der: bytes, at: int) -> bytes:
    return der[:at] + bytes([der[at] ^ 0x01]) + der[at + 1 :]


def signature_value_offset(der: bytes) -> int:
    """An offset inside the SignerInfo's signature value."""
    value = bytes(cms.ContentInfo.load(der)["content"]["signer_infos"][0]["signature"].native)
    return der.index(value) + len(value) // 2


# -- agreement with openssl ----------------------------------------------------------------------------------

KINDS = [
    (KeyKind.P256, None),
    (KeyKind.P384, None),
    (KeyKind.RSA2048, Scheme.RSA_PKCS1V15),
    (KeyKind.RSA2048, Scheme.RSA_PSS),
]
KIND_IDS = ["p256", "p384-sha384", "rsa-pkcs1v15", "rsa-pss"]


@pytest.mark.parametrize(("kind", "scheme"), KINDS, ids=KIND_IDS)
@pytest.mark.parametrize("detached", [True, False], ids=["detached", "attached"])
def test_valid_signatures_verify_like_openssl(
    signers: Signers, openssl: str, kind: KeyKind, scheme: Scheme | None, detached: bool
) -> None:
    made = make(signers, kind, scheme, detached=detached)
    signature, content = files(signers, "valid", made.der, CONTENT if detached else None)
    ran = jlis_verify(signature, content, signers.ca.file, "--crl", signers.crl)
    assert ran.code == 0, ran.out + ran.err
    document = ran.json
    assert document["verdict"] == "valid" and document["problem"] is None
    assert document["signer"]["subject"] == made.cert.subject.rfc4514_string()
    assert document["signer"]["serial"] == format(made.cert.serial_number, "x")
    assert document["signing_time"] == SIGNED_AT.isoformat()
    assert [p["subject"] for p in document["path"]] == [
        made.cert.subject.rfc4514_string(),
        signers.ca.cert.subject.rfc4514_string(),
    ]
    assert document["revocation"] == {"revoked": None, "checked": []}
    assert document["four_info"] is None
    assert openssl_cms_verify(openssl, signature, content, signers.ca_with_crl)


@pytest.mark.parametrize(("kind", "scheme"), KINDS, ids=KIND_IDS)
def test_tampered_signature_is_invalid_like_openssl(
    signers: Signers, openssl: str, kind: KeyKind, scheme: Scheme | None
) -> None:
    made = make(signers, kind, scheme)
    bad = tamper(made.der, signature_value_offset(made.der))
    signature, content = files(signers, "tampered", bad, CONTENT)
    ran = jlis_verify(signature, content, signers.ca.file, "--crl", signers.crl)
    assert ran.code == 1 and ran.json["problem"] == "signature_mismatch", ran.out + ran.err
    assert not openssl_cms_verify(openssl, signature, content, signers.ca_with_crl)


def test_tampered_attached_content_is_invalid_like_openssl(signers: Signers, openssl: str) -> None:
    made = make(signers, KeyKind.P256, detached=False)
    bad = tamper(made.der, made.der.index(CONTENT) + 7)
    signature, _ = files(signers, "tampered-attached", bad, None)
    ran = jlis_verify(signature, None, signers.ca.file, "--crl", signers.crl)
    assert ran.code == 1 and ran.json["problem"] == "digest_mismatch"
    assert ran.json["reason"] == "the content does not match the signed message digest"
    assert not openssl_cms_verify(openssl, signature, None, signers.ca_with_crl)


@pytest.mark.parametrize(("kind", "scheme"), KINDS, ids=KIND_IDS)
def test_wrong_content_is_invalid_like_openssl(
    signers: Signers, openssl: str, kind: KeyKind, scheme: Scheme | None
) -> None:
    signature, content = files(signers, "wrong-content", make(signers, kind, scheme).der, OTHER)
    ran = jlis_verify(signature, content, signers.ca.file, "--crl", signers.crl)
    assert ran.code == 1 and ran.json["problem"] == "digest_mismatch"
    assert not openssl_cms_verify(openssl, signature, content, signers.ca_with_crl)


def test_wrong_anchor_is_invalid_like_openssl(signers: Signers, openssl: str) -> None:
    """The other CA has the same DN but another key: a name match is not trust."""
    signature, content = files(signers, "wrong-anchor", make(signers, KeyKind.P256).der, CONTENT)
    ran = jlis_verify(signature, content, signers.other_ca.file, "--revocation", "off")
    assert ran.code == 1, ran.out + ran.err
    assert ran.json["verdict"] == "invalid" and ran.json["problem"] in {"untrusted", "bad_signature"}
    assert not openssl_cms_verify(openssl, signature, content, signers.other_ca.file, crl_check=False)


def test_revoked_signer_exits_1_with_reason_like_openssl(signers: Signers, openssl: str) -> None:
    made = make(signers, KeyKind.P256, Scheme.ECDSA)
    crl = signers.builder.crl("revoking", signers.ca, [(made.cert, x509.ReasonFlags.affiliation_changed)])
    both = signers.dir / "ca-revoking.pem"
    both.write_bytes(signers.ca.file.read_bytes() + crl.read_bytes())
    signature, content = files(signers, "revoked", made.der, CONTENT)
    ran = jlis_verify(signature, content, signers.ca.file, "--crl", crl)
    assert ran.code == 1
    assert ran.json["verdict"] == "revoked"
    assert ran.json["revocation"]["revoked"]["reason"] == "affiliationChanged"
    assert not openssl_cms_verify(openssl, signature, content, both)


# -- the command's other answers -----------------------------------------------------------------------------


def test_no_revocation_data_when_required_is_indeterminate_exit_2(signers: Signers) -> None:
    signature, content = files(signers, "no-revinfo", make(signers, KeyKind.P256).der, CONTENT)
    ran = jlis_verify(signature, content, signers.ca.file)
    assert ran.code == 2
    assert ran.json["verdict"] == "indeterminate" and ran.json["problem"] == "revocation_unavailable"
    soft = jlis_verify(signature, content, signers.ca.file, "--revocation", "soft-fail")
    assert soft.code == 0


def test_text_output(signers: Signers) -> None:
    made = make(signers, KeyKind.P256)
    signature, content = files(signers, "text", made.der, CONTENT)
    args = ["verify", signature, "--content", content, "--anchors", signers.ca.file]
    ran = run(*args, "--crl", signers.crl, "--at", AT.isoformat())
    assert ran.code == 0
    assert ran.out.splitlines()[:3] == [
        "valid: valid",
        f"signer: {made.cert.subject.rfc4514_string()} (serial {made.cert.serial_number:x})",
        f"signing time (claimed): {SIGNED_AT.isoformat()}",
    ]


def test_anchors_directory_and_signing_time(signers: Signers, tmp_path: Path) -> None:
    (tmp_path / "anchors").mkdir()
    (tmp_path / "anchors" / "ca.crt").write_bytes(signers.ca.file.read_bytes())
    (tmp_path / "anchors" / "README").write_text("ignored")
    signature, content = files(signers, "dir", to_pem(make(signers, KeyKind.P256).der), CONTENT)
    args = ["verify", signature, "--content", content, "--anchors", tmp_path / "anchors"]
    ran = run(*args, "--crl", signers.crl, "--at", "signing-time", "--json")
    assert ran.code == 0, ran.out + ran.err
    assert ran.json["validation_time"] == SIGNED_AT.isoformat()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "no trust anchors"),
        (["--anchors", "ANCHOR", "--ocsp", "http://x/", "--crl", "CRL"], "not both"),
        (["--anchors", "ANCHOR", "--at", "2026-11-26"], "give a timezone"),
        (["--anchors", "EMPTY"], "no trust anchor certificates"),
        (["--anchors", "ANCHOR", "--token-file", "MISSING"], "No such file"),
    ],
    ids=["no-anchors", "ocsp-and-crl", "naive-time", "empty-anchor-dir", "missing-token-file"],
)
def test_usage_errors_exit_2_with_one_line(
    signers: Signers, tmp_path: Path, args: list[str], message: str
) -> None:
    (tmp_path / "empty").mkdir()
    names = {
        "ANCHOR": str(signers.ca.file),
        "CRL": str(signers.crl),
        "EMPTY": str(tmp_path / "empty"),
        "MISSING": str(tmp_path / "missing"),
    }
    signature, content = files(signers, "usage", make(signers, KeyKind.P256).der, CONTENT)
    ran = run("verify", signature, "--content", content, *[names.get(a, a) for a in args])
    assert ran.code == 2
    assert ran.err.startswith("error: ") and message in ran.err and ran.err.count("\n") == 1, ran.err


def test_unusable_signature_files_exit_2(signers: Signers, tmp_path: Path) -> None:
    junk = tmp_path / "junk.p7s"
    junk.write_bytes(b"\x30\x03\x02\x01\x00")
    detached, _ = files(signers, "detached-alone", make(signers, KeyKind.P256).der, None)
    attached, content = files(
        signers, "attached-and-content", make(signers, KeyKind.P256, detached=False).der, CONTENT
    )
    for args in ([junk], [detached], [attached, "--content", content], [tmp_path / "missing.p7s"]):
        ran = run("verify", *args, "--anchors", signers.ca.file, "--revocation", "off")
        assert ran.code == 2, ran.out + ran.err
        assert ran.err.startswith("error: ") and ran.err.count("\n") == 1


# -- the library ---------------------------------------------------------------------------------------------


def validator(signers: Signers) -> PathValidator:
    return PathValidator([signers.ca.cert], revocation=OFF, clock=FixedClock(AT))


def test_detached_and_attached_content_rules(signers: Signers) -> None:
    detached = make(signers, KeyKind.P256).der
    attached = make(signers, KeyKind.P256, detached=False).der
    with pytest.raises(ContentMissing):
        verify_cms(detached, validator(signers))
    with pytest.raises(ContentConflict):
        verify_cms(attached, validator(signers), content=CONTENT)
    result = verify_cms(attached, validator(signers))
    assert result.verdict is Verdict.valid and result.content == CONTENT
    assert result.validation_time == AT, "the injected clock's now"
    with pytest.raises(MalformedInput):
        verify_cms(b"junk", validator(signers), content=CONTENT)


def _signed_data(der: bytes) -> tuple[cms.ContentInfo, cms.SignedData]:
    info = cms.ContentInfo.load(der)
    return info, info["content"]


def test_signer_found_by_subject_key_identifier_or_supplied(signers: Signers) -> None:
    made = make(signers, KeyKind.P256)
    info, signed = _signed_data(made.der)
    ski = made.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    signed["signer_infos"][0]["sid"] = cms.SignerIdentifier(name="subject_key_identifier", value=ski)
    by_ski = verify_cms(info.dump(force=True), validator(signers), content=CONTENT)
    assert by_ski.verdict is Verdict.valid and by_ski.signer == made.cert
    info, signed = _signed_data(made.der)
    del signed["certificates"]
    bare = info.dump(force=True)
    missing = verify_cms(bare, validator(signers), content=CONTENT)
    assert missing.verdict is Verdict.invalid and missing.problem is Problem.signer_not_found
    assert missing.signer is None and missing.path == ()
    supplied = verify_cms(bare, validator(signers), content=CONTENT, certificates=[made.cert])
    assert supplied.verdict is Verdict.valid


def test_a_signature_moved_to_another_certificate_of_the_key_is_refused(signers: Signers) -> None:
    """ESS signingCertificateV2 binds the signature to the certificate, not only to the key."""
    signer = signers.signer(KeyKind.P256, Scheme.ECDSA)
    first = signers.certify(signer.public_key, "first certificate")
    second = signers.certify(signer.public_key, "second certificate, same key")
    info, signed = _signed_data(sign_cms(CONTENT, signer, first, signing_time=SIGNED_AT))
    signed["certificates"] = [cms.CertificateChoices(name="certificate", value=_asn1(second))]
    sid = signed["signer_infos"][0]["sid"].chosen
    sid["serial_number"] = second.serial_number
    result = verify_cms(info.dump(force=True), validator(signers), content=CONTENT)
    assert result.verdict is Verdict.invalid and result.problem is Problem.signing_certificate_mismatch


def test_signer_key_usage_must_allow_signing(signers: Signers) -> None:
    signer = signers.signer(KeyKind.RSA2048, Scheme.RSA_PKCS1V15)
    usage = x509.KeyUsage(False, False, True, False, False, False, False, False, False)  # keyEncipherment
    cert = signers.certify(signer.public_key, "encryption only", usage=usage)
    result = verify_cms(
        sign_cms(CONTENT, signer, cert, signing_time=SIGNED_AT), validator(signers), content=CONTENT
    )
    assert result.verdict is Verdict.invalid and result.problem is Problem.key_usage


def test_several_signers_are_not_supported(signers: Signers) -> None:
    info, signed = _signed_data(make(signers, KeyKind.P256).der)
    signed["signer_infos"] = [signed["signer_infos"][0], signed["signer_infos"][0]]
    with pytest.raises(UnsupportedInput, match="2 signers"):
        verify_cms(info.dump(force=True), validator(signers), content=CONTENT)


def test_path_failures_come_through_with_the_signer(signers: Signers) -> None:
    made = make(signers, KeyKind.P256)
    later = PathValidator([signers.ca.cert], revocation=OFF)
    expired = verify_cms(made.der, later, content=CONTENT, at=NOW + 400 * DAY)
    assert expired.verdict is Verdict.invalid and expired.problem is Problem.expired
    assert expired.signer == made.cert and expired.path == (made.cert, signers.ca.cert)
    crl = load_crl(
        signers.builder.crl("lib", signers.ca, [(made.cert, x509.ReasonFlags.key_compromise)]).read_bytes(),
        "crl",
    )
    revoked = verify_cms(made.der, PathValidator([signers.ca.cert]), content=CONTENT, crls=[crl], at=AT)
    assert revoked.verdict is Verdict.revoked and revoked.revocation is not None
    assert revoked.revocation.serial == made.cert.serial_number


def _asn1(cert: x509.Certificate) -> object:
    from asn1crypto import x509 as asn1_x509

    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def test_weak_digest_is_refused(signers: Signers) -> None:
    """A SignerInfo claiming SHA-1 is refused before any signature math (RFC 6151 / SP 800-131A)."""
    info, signed = _signed_data(make(signers, KeyKind.P256).der)
    signed["signer_infos"][0]["digest_algorithm"] = {"algorithm": "sha1"}
    result = verify_cms(info.dump(force=True), validator(signers), content=CONTENT)
    assert result.verdict is Verdict.invalid and result.problem is Problem.weak_algorithm


def test_a_key_that_cannot_make_the_signature_is_a_mismatch(signers: Signers) -> None:
    made = make(signers, KeyKind.P256)
    stranger = ec.generate_private_key(ec.SECP256R1())
    imposter = signers.certify(stranger.public_key(), "imposter")
    info, signed = _signed_data(made.der)
    signed["certificates"] = [cms.CertificateChoices(name="certificate", value=_asn1(imposter))]
    signed["signer_infos"][0]["sid"].chosen["serial_number"] = imposter.serial_number
    attrs = signed["signer_infos"][0]["signed_attrs"]
    ess = [n for n, a in enumerate(attrs) if a["type"].native == "signing_certificate_v2"]
    del attrs[ess[0]]  # without signingCertificateV2 only the signature math can tell
    result = verify_cms(info.dump(force=True), validator(signers), content=CONTENT)
    assert result.verdict is Verdict.invalid and result.problem is Problem.signature_mismatch


@pytest.mark.parametrize("attributes", [True, False], ids=["signed-attributes", "noattr"])
@pytest.mark.parametrize("detached", [True, False], ids=["detached", "attached"])
def test_signatures_made_by_openssl_verify(
    signers: Signers, openssl: str, attributes: bool, detached: bool
) -> None:
    """Interop the other way: `openssl cms -sign` output, with and without signed attributes."""
    ee = signers.builder.issue(f"openssl-{attributes}-{detached}", "openssl signer", signers.ca, ca=False)
    key = signers.dir / f"openssl-{attributes}-{detached}.key"
    key.write_bytes(
        ee.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    document = signers.dir / "openssl-content.bin"
    document.write_bytes(CONTENT)
    out = signers.dir / f"openssl-{attributes}-{detached}.p7s"
    cmd = [
        openssl,
        "cms",
        "-sign",
        "-binary",
        "-in",
        str(document),
        "-signer",
        str(ee.file),
        "-inkey",
        str(key),
    ]
    cmd += ["-outform", "DER", "-out", str(out), "-md", "sha256"]
    cmd += [] if attributes else ["-noattr"]
    cmd += [] if detached else ["-nodetach"]
    subprocess.run(cmd, check=True, capture_output=True)
    result = verify_cms(out.read_bytes(), validator(signers), content=CONTENT if detached else None)
    assert result.verdict is Verdict.valid, result.reason
    assert result.signer == ee.cert
    assert (result.signing_time is not None) == attributes
    tampered = verify_cms(out.read_bytes(), validator(signers), content=OTHER) if detached else None
    assert tampered is None or tampered.problem in {Problem.digest_mismatch, Problem.signature_mismatch}


@pytest.mark.filterwarnings("ignore::cryptography.utils.CryptographyDeprecationWarning")
def test_damaged_signatures_are_a_verdict_or_malformed_input_never_a_crash(signers: Signers) -> None:
    """Bytes flipped anywhere in a signature (RSA and EC): verify_cms answers with a verdict or raises its
    own MalformedInput, whatever asn1crypto or pyca meet on the way."""
    rng = random.Random(20261126)
    originals = [
        make(signers, KeyKind.P256, detached=False).der,
        make(signers, KeyKind.RSA2048, detached=False).der,
    ]
    for i in range(3000):
        damaged = bytearray(originals[i % 2])
        for _ in range(rng.randrange(1, 4)):
            damaged[rng.randrange(len(damaged))] = rng.randrange(256)
        try:
            result = verify_cms(bytes(damaged), validator(signers))
        except VerifyError:
            continue
        assert result.verdict in set(Verdict)
