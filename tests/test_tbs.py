"""Two-phase signing gives exactly the certificate pyca would have produced."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

from hsm import HashName, KeyKind, Scheme, SignatureAlgorithm, builder_arguments, open_backend
from pki.tbs import prepare_tbs, sign_certificate

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
