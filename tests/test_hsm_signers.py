"""One signer suite, run against software keys and against SoftHSM: every algorithm, every pyca builder.

Each signature is checked twice, by pyca and by ``openssl dgst -verify``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils
from cryptography.x509 import ocsp
from cryptography.x509.oid import NameOID

from hsm import (
    HashName,
    KeyBackend,
    KeyKind,
    PayloadLengthInvalid,
    Scheme,
    SignatureAlgorithm,
    Signer,
    as_private_key,
    builder_arguments,
    open_backend,
    raw_pkcs1,
    verify_signature,
)
from hsm.errors import KeyNotExtractable, MechanismUnsupported

from .conftest import need_softhsm

PASSPHRASE = "correct horse battery staple"
NOW = dt.datetime(2026, 11, 26, 0, 0, tzinfo=dt.UTC)

CASES = [
    (KeyKind.RSA2048, Scheme.RSA_PKCS1V15, HashName.SHA256),
    (KeyKind.RSA2048, Scheme.RSA_PKCS1V15, HashName.SHA384),
    (KeyKind.RSA2048, Scheme.RSA_PKCS1V15, HashName.SHA512),
    (KeyKind.RSA2048, Scheme.RSA_PSS, HashName.SHA256),
    (KeyKind.RSA2048, Scheme.RSA_PSS, HashName.SHA384),
    (KeyKind.RSA2048, Scheme.RSA_PSS, HashName.SHA512),
    (KeyKind.RSA3072, Scheme.RSA_PKCS1V15, HashName.SHA256),
    (KeyKind.RSA3072, Scheme.RSA_PSS, HashName.SHA384),
    (KeyKind.RSA4096, Scheme.RSA_PKCS1V15, HashName.SHA512),
    (KeyKind.RSA4096, Scheme.RSA_PSS, HashName.SHA256),
    (KeyKind.P256, Scheme.ECDSA, HashName.SHA256),
    (KeyKind.P256, Scheme.ECDSA, HashName.SHA384),
    (KeyKind.P384, Scheme.ECDSA, HashName.SHA384),
    (KeyKind.P384, Scheme.ECDSA, HashName.SHA256),
]


class Keys:
    """One backend and one pre-generated key per kind (key generation is the slow part)."""

    def __init__(self, backend: KeyBackend, name: str) -> None:
        self.backend = backend
        self.name = name
        self._signers: dict[KeyKind, Signer] = {}

    def signer(self, kind: KeyKind) -> Signer:
        if kind not in self._signers:
            self._signers[kind] = self.backend.generate(f"suite-{kind.value}", kind)
        return self._signers[kind]


@pytest.fixture(scope="session", params=["file", "softhsm"])
def keys(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Keys]:
    if request.param == "file":
        directory = tmp_path_factory.mktemp("filekeys")
        backend = open_backend(f"file:{directory}", environ={"JLIS_KEY_PASSPHRASE": PASSPHRASE})
    else:
        hsm = need_softhsm()
        backend = open_backend(hsm.uri("jlis-test"), pin_source=hsm.pin_file)
    with backend:
        yield Keys(backend, request.param)


def _openssl_verify(
    openssl: str, tmp: Path, signer: Signer, alg: SignatureAlgorithm, data: bytes, sig: bytes
) -> None:
    (tmp / "pub.pem").write_bytes(
        signer.public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    (tmp / "data").write_bytes(data)
    (tmp / "sig").write_bytes(sig)
    cmd = [
        openssl,
        "dgst",
        f"-{alg.hash.value}",
        "-verify",
        str(tmp / "pub.pem"),
        "-signature",
        str(tmp / "sig"),
    ]
    if alg.scheme is Scheme.RSA_PSS:
        cmd += ["-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:digest"]
    result = subprocess.run([*cmd, str(tmp / "data")], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Verified OK" in result.stdout


@pytest.mark.parametrize(("kind", "scheme", "hash_name"), CASES, ids=lambda v: str(v.value))
def test_signature_verifies_with_pyca_and_openssl(
    keys: Keys, kind: KeyKind, scheme: Scheme, hash_name: HashName, openssl: str, tmp_path: Path
) -> None:
    algorithm = SignatureAlgorithm(scheme, hash_name)
    signer = keys.signer(kind).with_algorithm(algorithm)
    data = b"jlis-pki \x00 signer suite " * 100
    signature = signer.sign(data)
    assert signer.algorithm == algorithm
    assert verify_signature(signer.public_key, algorithm, data, signature)
    assert not verify_signature(signer.public_key, algorithm, data + b"!", signature)
    _openssl_verify(openssl, tmp_path, signer, algorithm, data, signature)


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"), x509.NameAttribute(NameOID.COMMON_NAME, cn)]
    )


def _self_signed(signer: Signer) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name("Signer suite CA"))
        .issuer_name(_name("Signer suite CA"))
        .public_key(signer.public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW)
        .not_valid_after(NOW + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    )
    return builder.sign(**builder_arguments(signer))


@pytest.mark.parametrize(
    ("kind", "scheme", "hash_name"),
    [
        (KeyKind.RSA2048, Scheme.RSA_PKCS1V15, HashName.SHA256),
        (KeyKind.RSA3072, Scheme.RSA_PSS, HashName.SHA384),
        (KeyKind.P256, Scheme.ECDSA, HashName.SHA256),
        (KeyKind.P384, Scheme.ECDSA, HashName.SHA384),
    ],
    ids=lambda v: str(v.value),
)
def test_pyca_certificate_builder_signs_through_signer(
    keys: Keys, kind: KeyKind, scheme: Scheme, hash_name: HashName, openssl: str, tmp_path: Path
) -> None:
    signer = keys.signer(kind).with_algorithm(SignatureAlgorithm(scheme, hash_name))
    cert = _self_signed(signer)
    cert.verify_directly_issued_by(cert)
    assert cert.signature_hash_algorithm is not None
    assert cert.signature_hash_algorithm.name == hash_name.value
    if scheme is Scheme.RSA_PSS:
        assert isinstance(cert.signature_algorithm_parameters, padding.PSS)
    pem = tmp_path / "ca.pem"
    pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    result = subprocess.run(
        [openssl, "verify", "-CAfile", str(pem), "-attime", str(int(NOW.timestamp()) + 60), str(pem)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("kind", [KeyKind.RSA2048, KeyKind.P256], ids=lambda k: k.value)
def test_pyca_crl_builder_signs_through_signer(
    keys: Keys, kind: KeyKind, openssl: str, tmp_path: Path
) -> None:
    signer = keys.signer(kind)
    revoked = [
        x509.RevokedCertificateBuilder().serial_number(n).revocation_date(NOW).build() for n in range(1, 51)
    ]
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(_name("Signer suite CA"))
        .last_update(NOW)
        .next_update(NOW + dt.timedelta(days=1))
        .add_extension(x509.CRLNumber(1), critical=False)
    )
    for entry in revoked:
        builder = builder.add_revoked_certificate(entry)
    crl = builder.sign(**builder_arguments(signer))
    assert crl.is_signature_valid(signer.public_key)
    assert len(crl) == 50
    ca = tmp_path / "ca.pem"
    ca.write_bytes(_self_signed(signer).public_bytes(serialization.Encoding.PEM))
    der = tmp_path / "crl.der"
    der.write_bytes(crl.public_bytes(serialization.Encoding.DER))
    result = subprocess.run(
        [openssl, "crl", "-inform", "DER", "-in", str(der), "-CAfile", str(ca), "-noout"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0 and "verify OK" in result.stderr + result.stdout, result.stderr


@pytest.mark.parametrize("kind", [KeyKind.RSA2048, KeyKind.P384], ids=lambda k: k.value)
def test_pyca_ocsp_response_builder_signs_through_signer(keys: Keys, kind: KeyKind) -> None:
    signer = keys.signer(kind)
    ca = _self_signed(signer)
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(_name("leaf"))
        .issuer_name(ca.subject)
        .public_key(leaf_key.public_key())
        .serial_number(4242)
        .not_valid_before(NOW)
        .not_valid_after(NOW + dt.timedelta(days=1))
        .sign(as_private_key(signer), signer.algorithm.hash.pyca())
    )
    response = (
        ocsp.OCSPResponseBuilder()
        .add_response(
            cert=leaf,
            issuer=ca,
            algorithm=hashes.SHA256(),
            cert_status=ocsp.OCSPCertStatus.GOOD,
            this_update=NOW,
            next_update=NOW + dt.timedelta(hours=1),
            revocation_time=None,
            revocation_reason=None,
        )
        .responder_id(ocsp.OCSPResponderEncoding.HASH, ca)
        .sign(as_private_key(signer), signer.algorithm.hash.pyca())
    )
    parsed = ocsp.load_der_ocsp_response(response.public_bytes(serialization.Encoding.DER))
    assert parsed.serial_number == 4242
    assert verify_signature(signer.public_key, signer.algorithm, parsed.tbs_response_bytes, parsed.signature)


def test_adapter_never_gives_out_the_private_key(keys: Keys) -> None:
    for kind in (KeyKind.RSA2048, KeyKind.P256):
        key = as_private_key(keys.signer(kind))
        with pytest.raises(KeyNotExtractable):
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        with pytest.raises(KeyNotExtractable):
            key.private_numbers()
    rsa_key = as_private_key(keys.signer(KeyKind.RSA2048))
    assert isinstance(rsa_key, rsa.RSAPrivateKey)
    with pytest.raises(KeyNotExtractable):
        rsa_key.decrypt(b"x" * 256, padding.PKCS1v15())


def test_adapter_refuses_what_the_signer_cannot_do(keys: Keys) -> None:
    rsa_key = as_private_key(keys.signer(KeyKind.RSA2048))
    assert isinstance(rsa_key, rsa.RSAPrivateKey)
    with pytest.raises(MechanismUnsupported):
        rsa_key.sign(b"data", padding.PKCS1v15(), hashes.SHA1())
    with pytest.raises(MechanismUnsupported):
        rsa_key.sign(b"data", padding.PSS(padding.MGF1(hashes.SHA256()), 20), hashes.SHA256())
    ec_key = as_private_key(keys.signer(KeyKind.P256))
    assert isinstance(ec_key, ec.EllipticCurvePrivateKey)
    with pytest.raises(MechanismUnsupported):
        ec_key.sign(b"data", ec.ECDSA(hashes.SHA512()))


def test_unsupported_algorithm_is_a_typed_error(keys: Keys) -> None:
    with pytest.raises(MechanismUnsupported):
        keys.signer(KeyKind.P256).with_algorithm(SignatureAlgorithm(Scheme.RSA_PSS, HashName.SHA256))
    with pytest.raises(MechanismUnsupported):
        keys.backend.signer("suite-rsa2048", SignatureAlgorithm(Scheme.ECDSA, HashName.SHA256))
    with pytest.raises(MechanismUnsupported):
        SignatureAlgorithm(Scheme.ECDSA, HashName.SHA512)
    with pytest.raises(MechanismUnsupported):
        KeyKind.of(rsa.generate_private_key(65537, 1024).public_key())


def test_signer_from_backend_matches_generated_key(keys: Keys) -> None:
    generated = keys.signer(KeyKind.P256)
    reopened = keys.backend.signer(generated.label)
    assert reopened.public_key == generated.public_key
    assert keys.backend.public_key(generated.label) == generated.public_key
    listed = {info.label: info for info in keys.backend.list_keys()}
    assert listed[generated.label].kind is KeyKind.P256


# -- raw PKCS#1 v1.5 (a card's DigestInfo) ----------------------------------------------------------------

SHA256_DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420")  # RFC 8017 §9.2 note 1


@pytest.mark.parametrize("kind", [KeyKind.RSA2048, KeyKind.RSA3072], ids=lambda k: k.value)
def test_raw_pkcs1_signs_a_digest_info_as_given(
    keys: Keys, kind: KeyKind, openssl: str, tmp_path: Path
) -> None:
    signer = raw_pkcs1(keys.signer(kind).with_algorithm(SignatureAlgorithm(Scheme.RSA_PSS, HashName.SHA384)))
    data = b"signed by the card holder"
    digest = hashlib.sha256(data).digest()
    signature = signer.sign_pkcs1_raw(SHA256_DIGEST_INFO + digest)
    public = signer.public_key
    assert isinstance(public, rsa.RSAPublicKey)
    # the bound (PSS) algorithm plays no part: this is sha256WithRSAEncryption over ``data``
    public.verify(signature, digest, padding.PKCS1v15(), utils.Prehashed(hashes.SHA256()))
    assert verify_signature(public, SignatureAlgorithm(Scheme.RSA_PKCS1V15, HashName.SHA256), data, signature)
    _openssl_verify(openssl, tmp_path, signer, SignatureAlgorithm.default_for(kind), data, signature)


def test_raw_pkcs1_signs_any_payload_that_fits(keys: Keys) -> None:
    signer = raw_pkcs1(keys.signer(KeyKind.RSA2048))
    public = signer.public_key
    assert isinstance(public, rsa.RSAPublicKey)
    for payload in (b"\x01", b"\xab" * 245):
        signature = signer.sign_pkcs1_raw(payload)
        public.verify(signature, payload, padding.PKCS1v15(), utils.NoDigestInfo())


@pytest.mark.parametrize("length", [0, 246, 300])
def test_raw_pkcs1_refuses_what_the_padding_cannot_hold(keys: Keys, length: int) -> None:
    signer = raw_pkcs1(keys.signer(KeyKind.RSA2048))
    with pytest.raises(PayloadLengthInvalid) as caught:
        signer.sign_pkcs1_raw(b"\x01" * length)
    assert (caught.value.length, caught.value.maximum) == (length, 256 - 11)


def test_raw_pkcs1_refuses_ec_keys(keys: Keys) -> None:
    signer = raw_pkcs1(keys.signer(KeyKind.P256))
    with pytest.raises(MechanismUnsupported, match="needs an RSA key"):
        signer.sign_pkcs1_raw(SHA256_DIGEST_INFO + bytes(32))


def test_raw_pkcs1_is_refused_for_a_signer_without_it(keys: Keys) -> None:
    class HashOnly:
        """A Signer stand-in that only hashes and signs."""

        def __init__(self, real: Signer) -> None:
            self.public_key = real.public_key
            self.algorithm = real.algorithm
            self.label = real.label

        def sign(self, data: bytes) -> bytes:
            raise AssertionError("not used")

        def with_algorithm(self, algorithm: SignatureAlgorithm) -> Signer:
            raise AssertionError("not used")

    with pytest.raises(MechanismUnsupported, match="HashOnly does not offer it"):
        raw_pkcs1(HashOnly(keys.signer(KeyKind.RSA2048)))
