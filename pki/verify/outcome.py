"""pyhanko-certvalidator's exceptions as verdicts: the one place that knows how it reports failures."""

from __future__ import annotations

import re
from dataclasses import dataclass

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from pyhanko_certvalidator.errors import (
    DisallowedAlgorithmError,
    ExpiredError,
    InsufficientRevinfoError,
    InvalidCertificateError,
    NotYetValidError,
    PathBuildingError,
    PathError,
    PathValidationError,
    RevokedError,
    ValidationError,
)
from pyhanko_certvalidator.path import ValidationPath

from pki.model import RevocationReason
from pki.verify.result import Problem, Revocation, Verdict

_PREFIX = "The path could not be validated because "
_INTERMEDIATE = re.compile(r"intermediate certificate (\d+)")
_BY_MESSAGE: tuple[tuple[str, Problem], ...] = (
    ("is not a CA", Problem.not_a_ca),  # RFC 5280 §6.1.4(k)
    ("not allowed to sign certificates", Problem.not_a_ca),  # §6.1.4(n)
    ("maximum path length", Problem.path_length),  # §6.1.4(l)
    ("set of policies", Problem.policy),  # §6.1.3(f), §6.1.5(g)
    ("policy graph", Problem.policy),
    ("namespace", Problem.name_constraints),  # §6.1.3(b), (c)
    ("critical extension", Problem.critical_extension),  # §6.1.4(o), §6.1.5(f)
    ("signature", Problem.bad_signature),  # §6.1.3(a)(1)
    ("issuer name could not be matched", Problem.untrusted),  # §6.1.3(a)(4)
)


@dataclass(frozen=True)
class Failure:
    """A failed validation, read from a pyhanko-certvalidator exception."""

    verdict: Verdict
    problem: Problem
    reason: str
    path: ValidationPath | None
    revocation: Revocation | None = None


def failure(exc: ValidationError | PathError) -> Failure:
    """The verdict, problem and reason an exception stands for."""
    path = exc.original_path if isinstance(exc, PathValidationError) else None
    reason = _reason(str(exc))
    if isinstance(exc, RevokedError):
        revocation = _revocation(exc)
        reason = f"{reason.rstrip('.')} ({revocation.reason.value})"
        return Failure(Verdict.revoked, Problem.revoked, reason, path, revocation)
    if isinstance(exc, InsufficientRevinfoError):
        return Failure(Verdict.indeterminate, Problem.revocation_unavailable, reason, path)
    return Failure(Verdict.invalid, _problem(exc), reason, path)


def _problem(exc: ValidationError | PathError) -> Problem:
    if isinstance(exc, ExpiredError):
        return Problem.expired
    if isinstance(exc, NotYetValidError):
        return Problem.not_yet_valid
    if isinstance(exc, DisallowedAlgorithmError):
        return Problem.weak_algorithm
    if isinstance(exc, PathBuildingError | InvalidCertificateError):
        return Problem.untrusted
    message = str(exc)
    return next((problem for text, problem in _BY_MESSAGE if text in message), Problem.other)


def _reason(message: str) -> str:
    """pyhanko's sentence without its boilerplate opening, e.g. ``the end-entity certificate expired
    2026-11-26 00:00:00Z``."""
    message = message.strip().removeprefix(_PREFIX)
    return "the " + message[4:] if message.startswith("The ") else message


def _revocation(exc: RevokedError) -> Revocation:
    """Which certificate is revoked, and why and when."""
    cert = _revoked_certificate(exc)
    try:
        reason = RevocationReason[str(exc.reason.native)]
    except (KeyError, ValueError):
        reason = RevocationReason.unspecified
    pyca = x509.load_der_x509_certificate(cert.dump())
    return Revocation(pyca.subject.rfc4514_string(), pyca.serial_number, reason, exc.revocation_dt)


def _revoked_certificate(exc: RevokedError) -> asn1_x509.Certificate:
    path = exc.current_path
    if not exc.is_ee_cert and (found := _INTERMEDIATE.search(str(exc))):
        cert = path[int(found.group(1))]
        if isinstance(cert, asn1_x509.Certificate):
            return cert
    return path.last
