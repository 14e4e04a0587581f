"""Certification path validation (RFC 5280 §6.1) to pinned anchors, by pyhanko-certvalidator, with
revocation checking (OCSP preferred, CRLs as fallback) and the RFC 5280 policy inputs exposed.

::

    validator = PathValidator(anchors, revocation=RevocationSettings(mode=RevocationMode.require))
    result = validator.validate(cert, intermediates=[ca], crls=[crl_der], at=when)
    result.verdict, result.reason, result.path

Paths are built by key, not by name: several generations of a CA may share one DN, and a candidate issuer
is kept only when its key identifier matches the certificate's authorityKeyIdentifier and its key verifies
the certificate's signature.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
from collections.abc import Iterable, Sequence

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from pyhanko_certvalidator import CertificateValidator, ValidationContext
from pyhanko_certvalidator.errors import PathError, ValidationError
from pyhanko_certvalidator.ltv.poe import POEManager
from pyhanko_certvalidator.path import ValidationPath
from pyhanko_certvalidator.policy_decl import (
    CertRevTrustPolicy,
    RevocationCheckingPolicy,
    RevocationCheckingRule,
)
from pyhanko_certvalidator.registry import CertificateRegistry
from pyhanko_certvalidator.revinfo.archival import process_legacy_crl_input, process_legacy_ocsp_input
from pyhanko_certvalidator.revinfo.manager import RevinfoManager

from pki.clock import Clock, SystemClock
from pki.verify.errors import MalformedInput, NoAnchors
from pki.verify.fetch import CrlCache, Fetcher, HttpxFetcher
from pki.verify.inputs import PolicyInputs, RevocationMode, RevocationSettings, aware, policy_name
from pki.verify.outcome import failure
from pki.verify.result import PathValidation, Problem, Verdict
from pki.verify.revinfo import RevinfoLog, fetchers

_RULES = {
    RevocationMode.require: RevocationCheckingRule.CRL_OR_OCSP_REQUIRED,
    RevocationMode.soft_fail: RevocationCheckingRule.CHECK_IF_DECLARED_SOFT,
    RevocationMode.off: RevocationCheckingRule.NO_CHECK,
}
"""Our modes as pyhanko-certvalidator's (ETSI TS 119 172-4) revocation checking rules."""


class PathValidator:
    """Validates paths to a fixed set of pinned anchors; reusable and safe to share between validations
    (the CRL cache and the HTTP client are shared, everything else is per call)."""

    def __init__(
        self,
        anchors: Iterable[x509.Certificate],
        *,
        revocation: RevocationSettings | None = None,
        fetcher: Fetcher | None = None,
        crl_cache: CrlCache | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.anchors = tuple(anchors)
        if not self.anchors:
            raise NoAnchors()
        self.revocation = revocation if revocation is not None else RevocationSettings()
        self._own_fetcher: HttpxFetcher | None = None
        if fetcher is None:
            fetcher = self._own_fetcher = HttpxFetcher()
        self.fetcher: Fetcher = fetcher
        self.crl_cache = crl_cache if crl_cache is not None else CrlCache()  # an empty cache is falsy
        self.clock: Clock = clock if clock is not None else SystemClock()
        self._anchors = [_asn1(cert, "trust anchor") for cert in self.anchors]

    def close(self) -> None:
        """Close the HTTP client the validator opened itself (a fetcher passed in stays the caller's)."""
        if self._own_fetcher is not None:
            self._own_fetcher.close()

    def __enter__(self) -> PathValidator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def validate(
        self,
        certificate: x509.Certificate,
        *,
        intermediates: Sequence[x509.Certificate] = (),
        crls: Sequence[bytes] = (),
        ocsp_responses: Sequence[bytes] = (),
        policy: PolicyInputs | None = None,
        at: dt.datetime | None = None,
        retroactive_revinfo: bool = False,
    ) -> PathValidation:
        """Validate ``certificate`` at ``at`` (default: the clock's now).

        ``intermediates`` are untrusted certificates to build the path with; ``crls`` (DER) and
        ``ocsp_responses`` (DER OCSPResponse) are revocation data used before any is fetched. With
        ``retroactive_revinfo``, revocation data issued after ``at`` counts too (validating in the past with
        today's CRL; sound where certificates are never put on hold). Runs its own event loop: from async
        code, await :meth:`validate_async` instead.
        """
        return asyncio.run(
            self.validate_async(
                certificate,
                intermediates=intermediates,
                crls=crls,
                ocsp_responses=ocsp_responses,
                policy=policy,
                at=at,
                retroactive_revinfo=retroactive_revinfo,
            )
        )

    async def validate_async(
        self,
        certificate: x509.Certificate,
        *,
        intermediates: Sequence[x509.Certificate] = (),
        crls: Sequence[bytes] = (),
        ocsp_responses: Sequence[bytes] = (),
        policy: PolicyInputs | None = None,
        at: dt.datetime | None = None,
        retroactive_revinfo: bool = False,
    ) -> PathValidation:
        """:meth:`validate` for callers already in an event loop (the fetcher still blocks while it
        fetches)."""
        when = aware(at) if at is not None else aware(self.clock.now(), "clock time")
        log = RevinfoLog()
        context = self._context(when, intermediates, crls, ocsp_responses, log, retroactive_revinfo)
        leaf = _asn1(certificate, "certificate")
        params = (policy or PolicyInputs()).pyhanko()
        try:
            validator = CertificateValidator(leaf, validation_context=context, pkix_params=params)
            path = await validator.async_validate_path()
        except (ValidationError, PathError) as exc:
            return self._failed(certificate, when, exc, log)
        return PathValidation(
            verdict=Verdict.valid,
            reason="valid",
            certificate=certificate,
            path=_pyca_path(path),
            validation_time=when,
            anchor=_anchor(path),
            revinfo=tuple(log.uses),
            policies=_policies(path),
        )

    def _context(
        self,
        when: dt.datetime,
        intermediates: Sequence[x509.Certificate],
        crls: Sequence[bytes],
        ocsp_responses: Sequence[bytes],
        log: RevinfoLog,
        retroactive: bool,
    ) -> ValidationContext:
        registry = CertificateRegistry.build(
            [_asn1(cert, "intermediate certificate") for cert in intermediates]
        )
        settings = self.revocation
        manager = RevinfoManager(
            certificate_registry=registry,
            poe_manager=POEManager(),
            crls=process_legacy_crl_input(list(crls)),
            ocsps=process_legacy_ocsp_input(list(ocsp_responses)),
            # a cached CRL is current by the clock, whatever time the path is validated at
            fetchers=fetchers(self.fetcher, settings, self.crl_cache, self.clock.now(), log)
            if settings.fetches
            else None,
        )
        rules = RevocationCheckingPolicy(_RULES[settings.mode], _RULES[settings.intermediates])
        return ValidationContext(
            trust_roots=self._anchors,
            moment=when,
            revinfo_policy=CertRevTrustPolicy(rules, retroactive_revinfo=retroactive),
            certificate_registry=registry,
            revinfo_manager=manager,
        )

    def _failed(
        self,
        certificate: x509.Certificate,
        when: dt.datetime,
        exc: ValidationError | PathError,
        log: RevinfoLog,
    ) -> PathValidation:
        found = failure(exc)
        reason = found.reason
        if found.problem is Problem.revocation_unavailable and log.failures():
            reason = f"{reason}: {'; '.join(log.failures())}"
        path = _pyca_path(found.path) if found.path is not None else (certificate,)
        return PathValidation(
            verdict=found.verdict,
            reason=reason,
            certificate=certificate,
            path=path,
            validation_time=when,
            anchor=_anchor(found.path) if found.path is not None else None,
            problem=found.problem,
            revocation=found.revocation,
            revinfo=tuple(log.uses),
        )


def _asn1(cert: x509.Certificate, what: str) -> asn1_x509.Certificate:
    try:
        return _parsed(cert.public_bytes(Encoding.DER))
    except ValueError as exc:
        raise MalformedInput(what, cert.subject.rfc4514_string(), str(exc)) from None


@functools.lru_cache(maxsize=4096)
def _parsed(der: bytes) -> asn1_x509.Certificate:
    """asn1crypto's parse of a certificate, kept: a relying party meets the same CA and signer certificates
    again and again, and a full parse costs more than the signature check (pyhanko only reads them)."""
    parsed = asn1_x509.Certificate.load(der)
    parsed.native  # noqa: B018 -- asn1crypto parses lazily: fail here, not mid-validation
    return parsed


def _pyca_path(path: ValidationPath) -> tuple[x509.Certificate, ...]:
    """The path with the certificate first and the anchor last."""
    certs = [x509.load_der_x509_certificate(c.dump()) for c in path.iter_certs(include_root=True)]
    return tuple(reversed(certs))


def _anchor(path: ValidationPath) -> x509.Certificate | None:
    try:
        return x509.load_der_x509_certificate(path[0].dump())
    except LookupError:
        return None


def _policies(path: ValidationPath) -> frozenset[str]:
    qualified = path.qualified_policies()
    if qualified is None:
        return frozenset()
    return frozenset(policy_name(p.user_domain_policy_id) for p in qualified)
