"""Let pyca/cryptography's certificate builder sign through a Signer (here a software key).

The same code works unchanged with a ``pkcs11:`` URI: the builder only ever sees the Signer's adapter.
"""

from __future__ import annotations

import datetime as dt
import tempfile

from cryptography import x509
from cryptography.x509.oid import NameOID

from hsm import KeyKind, builder_arguments, open_backend

name = x509.Name(
    [
        x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "jlis-pki example"),
        x509.NameAttribute(NameOID.COMMON_NAME, "Example Root CA"),
    ]
)
now = dt.datetime(2026, 11, 26, tzinfo=dt.UTC)

with open_backend(
    f"file:{tempfile.mkdtemp(prefix='jlis-keys-')}", environ={"JLIS_KEY_PASSPHRASE": "example passphrase"}
) as backend:
    signer = backend.generate("example-root", KeyKind.RSA2048)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(signer.public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(**builder_arguments(signer))
    )

certificate.verify_directly_issued_by(certificate)
print(f"self-signed {certificate.subject.rfc4514_string()} serial {certificate.serial_number:x}")
