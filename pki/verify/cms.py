"""CMS SignedData verification (RFC 5652 §5.6): parsing with asn1crypto, signature math with pyca, then
the signer certificate's path validated by a :class:`PathValidator`.

::

    result = verify_cms(p7s, validator, content=document)       # detached; attached: content=None
    result.verdict, result.reason, result.signer, result.signing_time, result.path

Checks, cheapest first: one SignerInfo; the signer certificate (issuerAndSerialNumber or
subjectKeyIdentifier) among the SignedData certificates or those supplied; with signed attributes, the
contentType attribute equals eContentType, the messageDigest equals the content's digest, an ESS
signingCertificate(V2) names this certificate, and the signature covers the DER SET OF the attributes;
without them, the signature covers the content itself. Then the key usage (digitalSignature or
nonRepudiation) and the path, at the given time, the claimed signing time, or now.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from asn1crypto import cms, pem, tsp
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.base import InvalidVersion

from pki.verify.errors import BadParameter, ContentConflict, ContentMissing, MalformedInput, UnsupportedInput
from pki.verify.inputs import PolicyInputs
from pki.verify.path import PathValidator
from pki.verify.result import PathValidation, Problem, Revocation, Verdict
from pki.verify.signature import Rejected, hash_algorithm, scheme, verify

_ESS_ATTRIBUTES = tsp.SigningCertificateV2
"""Importing asn1crypto.tsp registers signingCertificate(V2) with cms: without it they parse as Any."""

_BROKEN = (ValueError, TypeError, KeyError, IndexError, AttributeError, UnsupportedAlgorithm, InvalidVersion)
"""What parsing damaged bytes can raise in asn1crypto and pyca: each means malformed input, never a crash."""

SIGNATURE_USAGES = ("digital_signature", "non_repudiation")
"""RFC 5280 §4.2.1.3: a key that signs documents asserts one of these."""


@dataclass(frozen=True)
class SignatureVerification:
    """The result of verifying one CMS SignedData."""

    verdict: Verdict
    reason: str
    problem: Problem | None
    signer: x509.Certificate | None
    """The signer's certificate; None when it was not found."""
    signing_time: dt.datetime | None
    """The signingTime attribute: what the signer claims, not a trusted time."""
    content: bytes
    """The content the signature was checked against (attached, or the one given)."""
    digest_algorithm: str
    validation: PathValidation | None
    """The signer certificate's path validation; None when the signature itself already failed."""

    def __post_init__(self) -> None:
        if (self.verdict is Verdict.valid) != (self.problem is None):
            raise ValueError("a problem goes with every verdict but valid, and only with those")
        if self.verdict is Verdict.valid and self.validation is None:
            raise ValueError("a valid signature has a validated path")

    @property
    def path(self) -> tuple[x509.Certificate, ...]:
        """The signer certificate first, the anchor last (just the signer when no path was built)."""
        if self.validation is not None:
            return self.validation.path
        return (self.signer,) if self.signer is not None else ()

    @property
    def revocation(self) -> Revocation | None:
        return self.validation.revocation if self.validation is not None else None

    @property
    def validation_time(self) -> dt.datetime | None:
        return self.validation.validation_time if self.validation is not None else None


@dataclass(frozen=True)
class _Parsed:
    signed_data: cms.SignedData
    signer_info: cms.SignerInfo
    signed_attrs_der: bytes | None
    """The signed attributes exactly as received ([0] IMPLICIT), or None when there are none."""
    content: bytes
    certificates: tuple[x509.Certificate, ...]


def verify_cms(
    signature: bytes,
    validator: PathValidator,
    *,
    content: bytes | None = None,
    certificates: Sequence[x509.Certificate] = (),
    crls: Sequence[bytes] = (),
    ocsp_responses: Sequence[bytes] = (),
    policy: PolicyInputs | None = None,
    at: dt.datetime | None = None,
    at_signing_time: bool = False,
) -> SignatureVerification:
    """Verify a DER (or PEM) ContentInfo holding a SignedData with one signer.

    ``content`` is required for a detached signature and refused for an attached one.
    ``certificates`` adds certificates to find the signer and build the path with (untrusted).
    The path is validated at ``at``; else, with ``at_signing_time``, at the signingTime the signer claims
    (for an archived signature: revocation data issued later still counts); else at the validator's now.
    Input that is not a SignedData raises :class:`MalformedInput`; everything else is a verdict.
    """
    try:
        parsed = _parse(signature, content, certificates)
        info = parsed.signer_info
        digest_name = str(info["digest_algorithm"]["algorithm"].native)
    except _BROKEN as exc:
        raise MalformedInput("CMS signature", "signature", str(exc) or type(exc).__name__) from None
    signer: x509.Certificate | None = None
    signing_time: dt.datetime | None = None
    try:
        signer = _signer(info, parsed.certificates)
        signing_time = _check_signed(parsed, signer, digest_name)
        _check_key_usage(signer)
    except _BROKEN as exc:  # asn1crypto parses lazily: a malformed field shows when it is read
        raise MalformedInput("CMS signature", "signature", str(exc) or type(exc).__name__) from None
    except Rejected as rejected:
        return SignatureVerification(
            Verdict.invalid,
            rejected.reason,
            rejected.problem,
            signer,
            signing_time,
            parsed.content,
            digest_name,
            None,
        )
    when = at if at is not None else _signing_time_or_none(signing_time, at_signing_time)
    others = [c for c in parsed.certificates if c != signer]
    validation = validator.validate(
        signer,
        intermediates=others,
        crls=crls,
        ocsp_responses=ocsp_responses,
        policy=policy,
        at=when,
        retroactive_revinfo=at is None and at_signing_time,
    )
    return SignatureVerification(
        validation.verdict,
        validation.reason,
        validation.problem,
        signer,
        signing_time,
        parsed.content,
        digest_name,
        validation,
    )


def _parse(signature: bytes, content: bytes | None, extra: Sequence[x509.Certificate]) -> _Parsed:
    der = signature
    if pem.detect(signature):
        try:
            _, _, der = pem.unarmor(signature)
        except ValueError as exc:
            raise MalformedInput("CMS signature", "signature", f"bad PEM ({exc})") from None
    try:
        info = cms.ContentInfo.load(der, strict=True)
        if info["content_type"].native != "signed_data":
            raise MalformedInput(
                "CMS signature", "signature", f"content type is {info['content_type'].native}"
            )
        signed = info["content"]
        signer_infos = list(signed["signer_infos"])
        # the bytes as received, taken before anything is read: asn1crypto may re-encode what was read
        attrs_der = [bytes(si["signed_attrs"].dump()) if si["signed_attrs"] else None for si in signer_infos]
        encap = signed["encap_content_info"]["content"].native
        carried = tuple(_certificates(signed))
    except (ValueError, TypeError, KeyError) as exc:
        raise MalformedInput("CMS signature", "signature", str(exc) or type(exc).__name__) from None
    if len(signer_infos) != 1:
        raise UnsupportedInput("CMS signature", f"{len(signer_infos)} signers; exactly one is verified")
    if encap is not None and content is not None:
        raise ContentConflict()
    if encap is None and content is None:
        raise ContentMissing()
    body = content if content is not None else bytes(encap)
    return _Parsed(signed, signer_infos[0], attrs_der[0], body, (*carried, *extra))


def _certificates(signed: cms.SignedData) -> list[x509.Certificate]:
    """The X.509 certificates of the certificates field (other choices, such as attribute certificates,
    are skipped)."""
    found = []
    for choice in signed["certificates"] or []:
        if choice.name == "certificate":
            found.append(x509.load_der_x509_certificate(choice.chosen.dump()))
    return found


def _signer(info: cms.SignerInfo, certificates: Sequence[x509.Certificate]) -> x509.Certificate:
    """The certificate the SignerIdentifier names (RFC 5652 §5.3)."""
    sid = info["sid"]
    for cert in certificates:
        if _matches(sid, cert):
            return cert
    raise Rejected(Problem.signer_not_found, f"the signer certificate ({_describe(sid)}) is not available")


def _matches(sid: cms.SignerIdentifier, cert: x509.Certificate) -> bool:
    if sid.name == "issuer_and_serial_number":
        issuer_der = bytes(sid.chosen["issuer"].dump())
        return (
            cert.serial_number == sid.chosen["serial_number"].native
            and cert.issuer.public_bytes() == issuer_der
        )
    try:
        ski = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    except x509.ExtensionNotFound:
        ski = x509.SubjectKeyIdentifier.from_public_key(cert.public_key()).digest
    return bool(ski == sid.chosen.native)


def _describe(sid: cms.SignerIdentifier) -> str:
    if sid.name == "issuer_and_serial_number":
        return f"issuer {sid.chosen['issuer'].human_friendly}, serial {sid.chosen['serial_number'].native:x}"
    return f"subjectKeyIdentifier {bytes(sid.chosen.native).hex()}"


def _check_signed(parsed: _Parsed, signer: x509.Certificate, digest_name: str) -> dt.datetime | None:
    """The signed attributes and the signature; the claimed signing time."""
    info = parsed.signer_info
    content_type = parsed.signed_data["encap_content_info"]["content_type"]
    attrs = info["signed_attrs"]
    digest = hash_algorithm(digest_name)
    if not attrs:  # RFC 5652 §5.3: allowed only for id-data, and then the content itself is signed
        if content_type.native != "data":
            raise Rejected(Problem.missing_attribute, "signed attributes are required for non-data content")
        to_sign = parsed.content
        signing_time = None
    else:
        values = _attributes(attrs)
        _check_content_type(values, content_type.dotted)
        _check_digest(values, digest, parsed.content)
        _check_signing_certificate(values, signer)
        # §5.4: the signature covers the SET OF (tag 0x31), not the [0] IMPLICIT the SignerInfo stores
        to_sign = b"\x31" + (parsed.signed_attrs_der or b"")[1:]
        signing_time = _signing_time(values)
    chosen = scheme(info["signature_algorithm"], digest_name)
    verify(signer.public_key(), chosen, to_sign, bytes(info["signature"].native))
    return signing_time


def _attributes(attrs: cms.CMSAttributes) -> dict[str, cms.CMSAttribute]:
    """Signed attributes by type; RFC 5652 §5.3 allows each type once, with one value for these."""
    found: dict[str, cms.CMSAttribute] = {}
    for attribute in attrs:
        kind = str(attribute["type"].dotted)
        if kind in found:
            raise Rejected(Problem.other, f"signed attribute {attribute['type'].native} appears twice")
        found[kind] = attribute
    return found


_CONTENT_TYPE = "1.2.840.113549.1.9.3"
_MESSAGE_DIGEST = "1.2.840.113549.1.9.4"
_SIGNING_TIME = "1.2.840.113549.1.9.5"
_SIGNING_CERTIFICATE = "1.2.840.113549.1.9.16.2.12"
_SIGNING_CERTIFICATE_V2 = "1.2.840.113549.1.9.16.2.47"


def _single(values: dict[str, cms.CMSAttribute], oid: str, name: str) -> Any:
    attribute = values.get(oid)
    if attribute is None:
        raise Rejected(Problem.missing_attribute, f"the {name} signed attribute is missing")
    if len(attribute["values"]) != 1:
        raise Rejected(Problem.other, f"the {name} signed attribute must have exactly one value")
    return attribute["values"][0]


def _check_content_type(values: dict[str, cms.CMSAttribute], expected: str) -> None:
    """RFC 5652 §11.1: the contentType attribute equals the eContentType."""
    value = _single(values, _CONTENT_TYPE, "contentType")
    if getattr(value, "dotted", None) != expected:
        raise Rejected(
            Problem.content_type_mismatch, "the contentType attribute differs from the content's type"
        )


def _check_digest(values: dict[str, cms.CMSAttribute], digest: hashes.HashAlgorithm, content: bytes) -> None:
    """RFC 5652 §11.2: the messageDigest attribute is the digest of the content."""
    value = _single(values, _MESSAGE_DIGEST, "messageDigest")
    hasher = hashes.Hash(digest)
    hasher.update(content)
    if getattr(value, "native", None) != hasher.finalize():
        raise Rejected(Problem.digest_mismatch, "the content does not match the signed message digest")


def _signing_time(values: dict[str, cms.CMSAttribute]) -> dt.datetime | None:
    if _SIGNING_TIME not in values:
        return None
    value = _single(values, _SIGNING_TIME, "signingTime")
    when = getattr(value, "native", None)
    if not isinstance(when, dt.datetime):
        raise Rejected(Problem.other, "the signingTime attribute is not a time")
    return when.astimezone(dt.UTC)


def _check_signing_certificate(values: dict[str, cms.CMSAttribute], signer: x509.Certificate) -> None:
    """RFC 5035 §5.4 / RFC 2634 §5.4: an ESS signingCertificate(V2) must name the signer certificate by
    its hash (first ESSCertID), so a signature cannot be moved onto another certificate for the key."""
    der = signer.public_bytes(Encoding.DER)
    if _SIGNING_CERTIFICATE_V2 in values:
        cert_id = _single(values, _SIGNING_CERTIFICATE_V2, "signingCertificateV2")["certs"][0]
        name = str(cert_id["hash_algorithm"]["algorithm"].native)
        hasher = hashes.Hash(hash_algorithm(name))
        hasher.update(der)
        expected = hasher.finalize()
    elif _SIGNING_CERTIFICATE in values:
        cert_id = _single(values, _SIGNING_CERTIFICATE, "signingCertificate")["certs"][0]
        expected = hashlib.sha1(der).digest()
    else:
        return
    if cert_id["cert_hash"].native != expected:
        raise Rejected(
            Problem.signing_certificate_mismatch, "the signingCertificate attribute names another certificate"
        )


def _check_key_usage(signer: x509.Certificate) -> None:
    try:
        usage = signer.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return
    if not (usage.digital_signature or usage.content_commitment):
        raise Rejected(
            Problem.key_usage,
            "the signer certificate's keyUsage allows neither digitalSignature nor nonRepudiation",
        )


def _signing_time_or_none(signing_time: dt.datetime | None, wanted: bool) -> dt.datetime | None:
    if not wanted:
        return None
    if signing_time is None:
        raise BadParameter("validation time", "signing-time", "the signature has no signingTime attribute")
    return signing_time
