"""Reading CSRs, public keys and subject names given on the command line (PEM or DER)."""

from __future__ import annotations

from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from hsm import PublicKey
from pki.errors import IssuanceRefused


def _pem(data: bytes) -> bool:
    return data.lstrip().startswith(b"-----BEGIN")


def read_csr(path: Path) -> x509.CertificateSigningRequest:
    data = path.read_bytes()
    try:
        return x509.load_pem_x509_csr(data) if _pem(data) else x509.load_der_x509_csr(data)
    except ValueError:
        raise IssuanceRefused(f"{path} is not a PKCS#10 certificate request") from None


def read_public_key(path: Path) -> PublicKey:
    data = path.read_bytes()
    try:
        key = (
            serialization.load_pem_public_key(data) if _pem(data) else serialization.load_der_public_key(data)
        )
    except (ValueError, TypeError):
        raise IssuanceRefused(f"{path} is not a public key (SubjectPublicKeyInfo, PEM or DER)") from None
    if not isinstance(key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
        raise IssuanceRefused(f"{path}: only RSA and EC public keys are supported")
    return key


def read_subject(text: str) -> x509.Name:
    try:
        return x509.Name.from_rfc4514_string(text)
    except ValueError as exc:
        raise IssuanceRefused(f"subject {text!r} is not an RFC 4514 name ({exc})") from None
