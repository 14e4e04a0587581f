"""Two-phase signing gives exactly the certificate pyca would have produced."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

from hsm import HashName, KeyKind, Scheme, SignatureAlgorithm, builder_arguments, open_backend
from pki.tbs import algorithm_identifier, encode_tbs, prepare_tbs, sign_certificate, spki_der

NOW = dt.datetime(2026, 11, 26, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("kind", "algorithm"),
    [
        (KeyKind.RSA2048, None),
        (KeyKind.RSA2048, SignatureAlgorithm(Scheme.RSA_PSS, HashName.SHA256)),
        (KeyKind.P256, None),
        (KeyKind.P384, None),
        (KeyKind.RSA4096, None),
    ],
)
def test_two_phase_equals_one_phase(
    tmp_path: Path, kind: KeyKind, algorithm: SignatureAlgorithm | None
) -> None:
    with open_backend(f"file:{tmp_path}", environ={"JLIS_KEY_PASSPHRASE": "x"}) as backend:
        signer = backend.generate("ca", kind)
    if algorithm is not None:
        signer = signer.with_algorithm(algorithm)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "two-phase")])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(signer.public_key)
        .serial_number(12345)
        .not_valid_before(NOW)
        .not_valid_after(NOW + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    )
    prepared = prepare_tbs(builder.sign, signer)
    cert = sign_certificate(prepared, signer)
    cert.verify_directly_issued_by(cert)
    assert cert.tbs_certificate_bytes == prepared.tbs
    reference = builder.sign(**builder_arguments(signer))
    if kind.is_rsa and (algorithm is None or algorithm.scheme is Scheme.RSA_PKCS1V15):
        # PKCS#1 v1.5 is deterministic: the very same bytes
        assert cert.public_bytes(serialization.Encoding.DER) == reference.public_bytes(
            serialization.Encoding.DER
        )
    else:
        assert cert.tbs_certificate_bytes == reference.tbs_certificate_bytes


@pytest.mark.parametrize(
    ("serial", "not_before", "years"),
    [
        (1, NOW.replace(microsecond=654321), 1),  # pyca drops fractions of a second, and so must we
        ((1 << 159) - 1, NOW, 30),  # 20 octets; notAfter in 2056: GeneralizedTime
        (0x80, dt.datetime(1950, 1, 1, tzinfo=dt.UTC), 99),  # a sign octet; UTCTime down to 1950
        (0x7F, dt.datetime(2049, 12, 31, 23, 59, 59, tzinfo=dt.timezone(dt.timedelta(hours=9))), 1),
    ],
)
def test_encode_tbs_matches_pyca_at_the_edges(
    tmp_path: Path, serial: int, not_before: dt.datetime, years: int
) -> None:
    with open_backend(f"file:{tmp_path}", environ={"JLIS_KEY_PASSPHRASE": "x"}) as backend:
        signer = backend.generate("ca", KeyKind.P256)
    issuer = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "issuer")])
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "subject")])
    not_after = not_before + dt.timedelta(days=365 * years)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(signer.public_key)
        .serial_number(serial)
        .not_valid_before(not_before)
        .not_valid_after(not_after)
    )
    reference = prepare_tbs(builder.sign, signer)
    ours = encode_tbs(
        serial=serial,
        algorithm_id=algorithm_identifier(signer),
        issuer=issuer.public_bytes(),
        not_before=not_before,
        not_after=not_after,
        subject=subject.public_bytes(),
        spki=spki_der(signer.public_key),
        extensions=[],
    )
    assert ours == reference


@pytest.mark.parametrize(
    ("kind", "algorithm"),
    [
        (KeyKind.RSA2048, None),
        (KeyKind.RSA2048, SignatureAlgorithm(Scheme.RSA_PSS, HashName.SHA256)),
        (KeyKind.RSA2048, SignatureAlgorithm(Scheme.RSA_PSS, HashName.SHA512)),
        (KeyKind.P256, None),
        (KeyKind.P384, None),
    ],
)
def test_algorithm_identifier_is_what_pyca_writes(
    tmp_path: Path, kind: KeyKind, algorithm: SignatureAlgorithm | None
) -> None:
    with open_backend(f"file:{tmp_path}", environ={"JLIS_KEY_PASSPHRASE": "x"}) as backend:
        signer = backend.generate("ca", kind)
    if algorithm is not None:
        signer = signer.with_algorithm(algorithm)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "alg")])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(signer.public_key)
        .serial_number(1)
        .not_valid_before(NOW)
        .not_valid_after(NOW)
    )
    assert algorithm_identifier(signer) == prepare_tbs(builder.sign, signer).algorithm_id
