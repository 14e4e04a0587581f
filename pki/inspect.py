"""Describe certificates and CRLs as plain data (for ``jlis cert show`` and ``--json``)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from pki.errors import PkiError


class NotACertificate(PkiError):
    def __init__(self, what: str) -> None:
        super().__init__(f"not a certificate: {what}")


def load_certificate(data: bytes) -> x509.Certificate:
    """A certificate from PEM or DER; anything else is NotACertificate (never a parser exception)."""
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_certificate(data)
        return x509.load_der_x509_certificate(data)
    except ValueError as exc:
        raise NotACertificate(str(exc).splitlines()[0] if str(exc) else "unparseable input") from None


def describe_name(name: x509.Name) -> list[dict[str, str]]:
    """Each attribute in order with its string type (PrintableString vs UTF8String matters to JPKI)."""
    out = []
    for rdn in name.rdns:
        for attribute in rdn:
            kind = getattr(attribute, "_type", None)
            out.append(
                {
                    "attr": attribute.rfc4514_attribute_name,
                    "value": str(attribute.value),
                    "type": getattr(kind, "name", "unknown"),
                }
            )
    return out


def _time(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _key(public_key: object) -> str:
    if isinstance(public_key, rsa.RSAPublicKey):
        return f"RSA-{public_key.key_size}"
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        return f"EC {public_key.curve.name}"
    return type(public_key).__name__


def describe_certificate(cert: x509.Certificate) -> dict[str, Any]:
    """The fields an operator checks, JSON-able."""
    extensions = []
    for ext in cert.extensions:
        extensions.append(
            {
                "oid": ext.oid.dotted_string,
                "name": getattr(ext.oid, "_name", ext.oid.dotted_string),
                "critical": ext.critical,
                "value": _extension_text(ext),
            }
        )
    return {
        "subject": cert.subject.rfc4514_string(),
        "subject_attributes": describe_name(cert.subject),
        "issuer": cert.issuer.rfc4514_string(),
        "serial": format(cert.serial_number, "x"),
        "not_before": _time(cert.not_valid_before_utc),
        "not_after": _time(cert.not_valid_after_utc),
        "public_key": _key(cert.public_key()),
        "signature_algorithm": getattr(
            cert.signature_algorithm_oid, "_name", cert.signature_algorithm_oid.dotted_string
        ),
        "sha256_fingerprint": cert.fingerprint(hashes.SHA256()).hex(),
        "extensions": extensions,
        "pem": cert.public_bytes(serialization.Encoding.PEM).decode(),
    }


def _extension_text(ext: x509.Extension[x509.ExtensionType]) -> str:
    value = ext.value
    if isinstance(value, x509.UnrecognizedExtension):
        return value.value.hex()
    text = repr(value)
    return text if len(text) <= 2000 else text[:2000] + "..."
