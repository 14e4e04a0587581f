"""What a verification finds: a :class:`Verdict`, a machine-readable :class:`Problem`, the reason in words,
the certification path and the revocation data consulted. All frozen values."""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass

from cryptography import x509

from pki.model import RevocationReason


class Verdict(enum.StrEnum):
    """The four answers a relying party can get (ETSI EN 319 102-1 §5.1.3 uses the same split)."""

    valid = "valid"
    invalid = "invalid"
    """Something is wrong for good: bad signature, expired, no path to an anchor, policy not met..."""
    revoked = "revoked"
    """A certificate in the path is revoked at the validation time; see :class:`Revocation`."""
    indeterminate = "indeterminate"
    """No answer either way: revocation data was required and could not be had or was stale."""


class Problem(enum.StrEnum):
    """Why a verdict is not ``valid``, for programs (the reason text is for people)."""

    # path validation (RFC 5280 §6.1)
    expired = "expired"
    not_yet_valid = "not_yet_valid"
    bad_signature = "bad_signature"
    """A certificate's signature does not verify with its issuer's key (§6.1.3(a)(1))."""
    not_a_ca = "not_a_ca"
    """An issuing certificate without basicConstraints cA=TRUE or keyCertSign (§6.1.4(k), (n))."""
    path_length = "path_length"
    policy = "policy"
    """No valid policy left where one is required (§6.1.3(f), §6.1.5(g))."""
    name_constraints = "name_constraints"
    critical_extension = "critical_extension"
    weak_algorithm = "weak_algorithm"
    untrusted = "untrusted"
    """No path from the certificate to a pinned trust anchor."""
    revoked = "revoked"
    revocation_unavailable = "revocation_unavailable"
    """Revocation data was required but missing, unobtainable, refused or stale."""
    # CMS SignedData (RFC 5652 §5.6)
    digest_mismatch = "digest_mismatch"
    """The messageDigest attribute does not match the content: the content was changed."""
    content_type_mismatch = "content_type_mismatch"
    missing_attribute = "missing_attribute"
    signature_mismatch = "signature_mismatch"
    """The SignerInfo's signature does not verify with the signer certificate's key."""
    signer_not_found = "signer_not_found"
    signing_certificate_mismatch = "signing_certificate_mismatch"
    """The ESS signingCertificate(V2) attribute names another certificate (RFC 5035 §5.4)."""
    key_usage = "key_usage"
    unsupported_algorithm = "unsupported_algorithm"
    other = "other"


@dataclass(frozen=True)
class Revocation:
    """A revoked certificate found in the path, with the reason and time its CRL or OCSP entry gives."""

    subject: str
    serial: int
    reason: RevocationReason
    time: dt.datetime


class RevinfoSource(enum.StrEnum):
    ocsp = "ocsp"
    crl = "crl"


@dataclass(frozen=True)
class RevinfoUse:
    """One attempt at revocation data: fetched, served from the cache, supplied, refused or failed."""

    source: RevinfoSource
    location: str
    """The URL asked, or ``given`` for data the caller supplied."""
    outcome: str
    """``fetched``, ``cached``, ``given``, an OCSP responseStatus such as ``unauthorized``, or the error."""

    @property
    def ok(self) -> bool:
        return self.outcome in {"fetched", "cached", "given"}


@dataclass(frozen=True)
class PathValidation:
    """The result of validating one certificate's path (RFC 5280 §6.1) at ``validation_time``."""

    verdict: Verdict
    reason: str
    """One sentence for people: ``valid``, or what failed and where."""
    certificate: x509.Certificate
    path: tuple[x509.Certificate, ...]
    """The certificate first, the trust anchor last (as ``openssl verify -show_chain`` lists them). For a
    failure, the path that was tried; just the certificate when none could be built."""
    validation_time: dt.datetime
    anchor: x509.Certificate | None = None
    """The pinned trust anchor the path ends at; None when no path to an anchor was found."""
    problem: Problem | None = None
    revocation: Revocation | None = None
    revinfo: tuple[RevinfoUse, ...] = ()
    """Revocation data consulted (fetched or failed) for the certificates of the path."""
    policies: frozenset[str] = frozenset()
    """The user-initial policies the path qualifies for (RFC 5280 §6.1.5(g)), as dotted OIDs
    (``2.5.29.32.0`` for anyPolicy)."""

    def __post_init__(self) -> None:
        if (self.verdict is Verdict.valid) != (self.problem is None):
            raise ValueError("a problem goes with every verdict but valid, and only with those")
        if (self.verdict is Verdict.revoked) != (self.revocation is not None):
            raise ValueError("a revocation goes with the revoked verdict, and only with it")
        if self.validation_time.tzinfo is None:
            raise ValueError("the validation time must be timezone-aware")
