"""CMS SignedData signing (RFC 5652 §5) through an :class:`hsm.Signer`, detached by default.

One SignerInfo (version 1, issuerAndSerialNumber) with the signed attributes contentType, messageDigest,
signingTime and ESS signingCertificateV2 (RFC 5035), which binds the signature to the certificate.
Everything is built and checked first; the Signer's single ``sign`` call is the last step.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from asn1crypto import algos, cms, pem, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm as PycaUnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization

from hsm import HashName, MechanismUnsupported, SignatureAlgorithm, Signer
from pki.clock import SystemClock
from pki.cms.errors import CertificateKeyMismatch, InvalidSigningTime, UnsupportedAlgorithm
from pki.crl import algorithm_identifier

PEM_LABEL = "CMS"
"""The PEM label ``openssl cms -outform PEM`` writes (RFC 7468 §9 also allows ``PKCS7``)."""
UTC_TIME_YEARS = range(1950, 2050)
"""RFC 5652 §11.3: signing times in 1950-2049 are UTCTime; any other year is GeneralizedTime."""


def sign_cms(
    content: bytes,
    signer: Signer,
    certificate: x509.Certificate,
    *,
    chain: Sequence[x509.Certificate] = (),
    detached: bool = True,
    signing_time: dt.datetime | None = None,
    digest: str = "sha256",
) -> bytes:
    """Sign ``content`` as a DER ContentInfo holding a SignedData (RFC 5652 §5), through ``signer``.

    ``certificate`` must certify the Signer's key (else :class:`CertificateKeyMismatch`); it and ``chain``
    go into the certificates field. ``digest`` (sha256, sha384, sha512) hashes the content and the signed
    attributes, and the Signer is rebound to it (:class:`UnsupportedAlgorithm` for ECDSA with SHA-512).
    ``signing_time`` must be timezone-aware (:class:`InvalidSigningTime`); it defaults to now. With
    ``detached`` the content is left out and the verifier supplies it. Backend failures while signing
    propagate as :class:`hsm.HsmError`.
    """
    hash_name = _hash_name(digest)
    check_certificate_key(signer, certificate)
    bound = _bind(signer, hash_name)
    when = _signing_time(signing_time)
    cert = asn1_x509.Certificate.load(certificate.public_bytes(serialization.Encoding.DER))
    signed_attrs = _signed_attributes(_hash(hash_name, content), cert, hash_name, when)
    # RFC 5652 §5.4: the signature covers the DER of the attributes as a SET OF (tag 0x31), though
    # SignerInfo stores them as [0] IMPLICIT; asn1crypto sorts the SET as DER requires.
    to_sign = bytes(signed_attrs.dump())
    signer_info = _unsigned_signer_info(cert, hash_name, signed_attrs, bound.algorithm)
    certificates = _certificates([certificate, *chain])
    signature = bound.sign(to_sign)
    signed_data = cms.SignedData(
        {
            "version": "v1",  # RFC 5652 §5.1: id-data, issuerAndSerialNumber, no v2 CRLs or attr certs
            "digest_algorithms": [_digest_algorithm(hash_name)],
            "encap_content_info": _encapsulated(content, detached),
            "certificates": certificates,
            "signer_infos": [{**signer_info, "signature": signature}],
        }
    )
    return bytes(cms.ContentInfo({"content_type": "signed_data", "content": signed_data}).dump())


def _unsigned_signer_info(
    cert: asn1_x509.Certificate,
    hash_name: HashName,
    signed_attrs: cms.CMSAttributes,
    algorithm: SignatureAlgorithm,
) -> dict[str, object]:
    """SignerInfo v1 (RFC 5652 §5.3) but its signature. The signatureAlgorithm is the X.509 identifier of
    the Signer's algorithm (sha256WithRSAEncryption, RSASSA-PSS, ecdsa-with-SHA256), which RFC 5754 §3
    allows for RSA beside OpenSSL's plain rsaEncryption."""
    return {
        "version": "v1",
        "sid": cms.SignerIdentifier(
            name="issuer_and_serial_number",
            value={"issuer": cert.issuer, "serial_number": cert.serial_number},
        ),
        "digest_algorithm": _digest_algorithm(hash_name),
        "signed_attrs": signed_attrs,
        "signature_algorithm": algos.SignedDigestAlgorithm.load(algorithm_identifier(algorithm)),
    }


def to_pem(der: bytes) -> bytes:
    """A DER ContentInfo as PEM, ``-----BEGIN CMS-----`` with 64-column base64, as OpenSSL writes it."""
    return bytes(pem.armor(PEM_LABEL, der))


def check_certificate_key(signer: Signer, certificate: x509.Certificate) -> None:
    """Refuse a certificate that does not certify the Signer's key (the signature could never verify)."""
    try:
        matches = certificate.public_key() == signer.public_key
    except (ValueError, PycaUnsupportedAlgorithm):  # a key pyca cannot load is not the Signer's key
        matches = False
    if not matches:
        raise CertificateKeyMismatch(
            signer.label, certificate.subject.rfc4514_string(), certificate.serial_number
        )


def _hash_name(digest: str) -> HashName:
    try:
        return HashName(digest.lower())
    except ValueError:
        choices = ", ".join(h.value for h in HashName)
        raise UnsupportedAlgorithm(digest, f"use one of {choices}") from None


def _bind(signer: Signer, hash_name: HashName) -> Signer:
    """The Signer bound to ``hash_name``: CMS hashes the signed attributes with the digestAlgorithm."""
    if signer.algorithm.hash is hash_name:
        return signer
    try:
        return signer.with_algorithm(SignatureAlgorithm(signer.algorithm.scheme, hash_name))
    except MechanismUnsupported as exc:
        name = f"{signer.algorithm.scheme.value} with {hash_name.value}"
        raise UnsupportedAlgorithm(name, exc.message) from None


def _signing_time(value: dt.datetime | None) -> cms.Time:
    """The signingTime value, in whole seconds (UTCTime has none finer) and in UTC."""
    if value is None:
        value = SystemClock().now()
    elif value.tzinfo is None or value.utcoffset() is None:
        raise InvalidSigningTime(value)
    when = value.astimezone(dt.UTC).replace(microsecond=0)
    if when.year in UTC_TIME_YEARS:
        return cms.Time(name="utc_time", value=when)
    return cms.Time(name="generalized_time", value=when)


def _signed_attributes(
    message_digest: bytes, cert: asn1_x509.Certificate, hash_name: HashName, when: cms.Time
) -> cms.CMSAttributes:
    """RFC 5652 §11.1-§11.3 contentType, messageDigest, signingTime; RFC 5035 §5.4 signingCertificateV2."""
    return cms.CMSAttributes(
        [
            {"type": "content_type", "values": ["data"]},
            {"type": "message_digest", "values": [message_digest]},
            {"type": "signing_time", "values": [when]},
            {"type": "signing_certificate_v2", "values": [_signing_certificate_v2(cert, hash_name)]},
        ]
    )


def _signing_certificate_v2(cert: asn1_x509.Certificate, hash_name: HashName) -> tsp.SigningCertificateV2:
    """ESSCertIDv2 of the signing certificate with its issuerSerial (RFC 5035 §5.4.1.1); hashAlgorithm is
    left out when SHA-256, its DEFAULT, as DER requires."""
    cert_id = {
        "cert_hash": _hash(hash_name, bytes(cert.dump())),
        "issuer_serial": {
            "issuer": [asn1_x509.GeneralName(name="directory_name", value=cert.issuer)],
            "serial_number": cert.serial_number,
        },
    }
    if hash_name is not HashName.SHA256:
        cert_id["hash_algorithm"] = _digest_algorithm(hash_name)
    return tsp.SigningCertificateV2({"certs": [cert_id]})


def _encapsulated(content: bytes, detached: bool) -> dict[str, object]:
    """EncapsulatedContentInfo: id-data, with eContent only when attached (RFC 5652 §5.2). A plain dict, as
    asn1crypto picks the class by SignedData version (PKCS#7's ContentInfo for v1, same encoding)."""
    if detached:
        return {"content_type": "data"}
    return {"content_type": "data", "content": content}


def _certificates(certificates: Sequence[x509.Certificate]) -> list[cms.CertificateChoices]:
    """The certificates field: each certificate once (a chain may repeat the signing certificate)."""
    unique = dict.fromkeys(c.public_bytes(serialization.Encoding.DER) for c in certificates)
    return [
        cms.CertificateChoices(name="certificate", value=asn1_x509.Certificate.load(der)) for der in unique
    ]


def _digest_algorithm(hash_name: HashName) -> algos.DigestAlgorithm:
    """A SHA-2 AlgorithmIdentifier with parameters absent, as RFC 5754 §2 requires of CMS generators."""
    return algos.DigestAlgorithm({"algorithm": hash_name.value, "parameters": None})


def _hash(hash_name: HashName, data: bytes) -> bytes:
    hasher = hashes.Hash(hash_name.pyca())
    hasher.update(data)
    return hasher.finalize()
