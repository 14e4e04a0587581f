"""Verification for relying parties: certification paths (RFC 5280 §6.1, by pyhanko-certvalidator) to
pinned anchors with revocation (OCSP preferred, CRLs cached until nextUpdate), and CMS SignedData.

::

    with PathValidator(anchors, revocation=RevocationSettings(token=token)) as validator:
        path = validator.validate(cert, intermediates=[ca], policy=PolicyInputs.of([oid], explicit=True))
        signed = verify_cms(p7s, validator, content=document)
    signed.verdict, signed.reason, signed.signer, signed.path, signed.revocation

A verdict (valid, invalid, revoked, indeterminate) is returned, never raised; a :class:`VerifyError` is
raised only for input that cannot be judged at all.
"""

from pki.verify.cms import SignatureVerification, verify_cms
from pki.verify.errors import (
    BadParameter,
    ContentConflict,
    ContentMissing,
    FetchFailed,
    MalformedInput,
    NoAnchors,
    UnsupportedInput,
    VerifyError,
)
from pki.verify.fetch import CrlCache, Fetcher, HttpxFetcher
from pki.verify.inputs import (
    ANY_POLICY,
    PolicyInputs,
    RevocationMode,
    RevocationSettings,
    anchors_from,
    load_certificates,
    load_crl,
)
from pki.verify.path import PathValidator
from pki.verify.result import PathValidation, Problem, RevinfoSource, RevinfoUse, Revocation, Verdict

__all__ = [
    "ANY_POLICY",
    "BadParameter",
    "ContentConflict",
    "ContentMissing",
    "CrlCache",
    "FetchFailed",
    "Fetcher",
    "HttpxFetcher",
    "MalformedInput",
    "NoAnchors",
    "PathValidation",
    "PathValidator",
    "PolicyInputs",
    "Problem",
    "RevinfoSource",
    "RevinfoUse",
    "Revocation",
    "RevocationMode",
    "RevocationSettings",
    "SignatureVerification",
    "UnsupportedInput",
    "Verdict",
    "VerifyError",
    "anchors_from",
    "load_certificates",
    "load_crl",
    "verify_cms",
]
