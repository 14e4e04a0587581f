"""Our JPKI CA certificates against the real ones (`../shared/reference/jpki/`), field by field: they may
differ only in key, serial, validity dates, subject key identifier and signature."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtensionOID

from pki import Pki

GENERATIONS = {"jpki-sign": ("sign_ca_2015", "sign_ca_2023"), "jpki-auth": ("auth_ca_2015", "auth_ca_2023")}
JST = dt.timezone(dt.timedelta(hours=9))


@pytest.fixture(scope="module")
def ours(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, x509.Certificate]]:
    pki = Pki.initialise(tmp_path_factory.mktemp("jpki-ca") / "home")
    try:
        yield {ca_id: pki.ca(ca_id).certificate for ca_id in GENERATIONS}
    finally:
        pki.close()


def string_types(cert: x509.Certificate, field: str) -> list[tuple[str, str]]:
    """(attribute type, ASN.1 string type) of every name attribute, in order, read from the DER."""
    parsed = asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))
    name = parsed["tbs_certificate"][field]
    return [(atv["type"].dotted, atv["value"].name) for rdn in name.chosen for atv in rdn]


def tbs_fields(cert: x509.Certificate) -> dict[str, object]:
    """Everything of a certificate that must match the real one, as comparable values."""
    key = cert.public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    extensions = {
        e.oid.dotted_string: (
            e.critical,
            None if e.oid == ExtensionOID.SUBJECT_KEY_IDENTIFIER else e.value.public_bytes(),
        )
        for e in cert.extensions
    }
    return {
        "version": cert.version,
        "signature algorithm": cert.signature_algorithm_oid.dotted_string,
        "issuer DER": cert.issuer.public_bytes(),
        "subject DER": cert.subject.public_bytes(),
        "subject string types": string_types(cert, "subject"),
        "issuer string types": string_types(cert, "issuer"),
        "key": ("RSA", key.key_size, key.public_numbers().e),
        "extension order": [e.oid.dotted_string for e in cert.extensions],
        "extensions": extensions,
        "ski present": ExtensionOID.SUBJECT_KEY_IDENTIFIER.dotted_string in extensions,
        "validity shape": validity_shape(cert),
    }


def validity_shape(cert: x509.Certificate) -> tuple[object, ...]:
    """notAfter at 23:59:59 JST on the day before the tenth anniversary of notBefore's JST date."""
    begin = cert.not_valid_before_utc.astimezone(JST)
    end = cert.not_valid_after_utc.astimezone(JST)
    return (end.time(), end.date() == begin.date().replace(year=begin.year + 10) - dt.timedelta(days=1))


@pytest.mark.parametrize(("ca_id", "generation"), [(c, g) for c, gs in GENERATIONS.items() for g in gs])
def test_our_ca_certificate_matches_the_real_one_but_for_key_serial_dates_ski_signature(
    ours: dict[str, x509.Certificate], reference: Path, ca_id: str, generation: str
) -> None:
    real = x509.load_pem_x509_certificate((reference / "jpki" / f"{generation}.pem").read_bytes())
    mine = ours[ca_id]
    expected, got = tbs_fields(real), tbs_fields(mine)
    for field, value in expected.items():
        assert got[field] == value, field
    assert mine.issuer == mine.subject and real.issuer == real.subject  # both self-signed
    with pytest.raises(x509.ExtensionNotFound):  # like the real ones: no authorityKeyIdentifier
        mine.extensions.get_extension_for_oid(ExtensionOID.AUTHORITY_KEY_IDENTIFIER)
    mine.verify_directly_issued_by(mine)
