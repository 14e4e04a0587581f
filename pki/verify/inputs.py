"""The inputs of a validation: RFC 5280 §6.1.1 policy inputs, the revocation settings, and loaders for
certificates and CRLs given as PEM or DER."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from pyhanko_certvalidator import PKIXValidationParams

from pki.verify.errors import BadParameter, MalformedInput, NoAnchors

ANY_POLICY = "2.5.29.32.0"
"""anyPolicy (RFC 5280 §4.2.1.4)."""
_PYHANKO_ANY_POLICY = "any_policy"
"""How asn1crypto, and so pyhanko-certvalidator, names anyPolicy."""
ANCHOR_SUFFIXES = frozenset({".pem", ".crt", ".cer", ".der"})
"""Files of an anchors directory that are read; anything else there is ignored."""


@dataclass(frozen=True)
class PolicyInputs:
    """The policy inputs of RFC 5280 §6.1.1 (c), (e), (f), (g); defaults accept any policy or none."""

    user_initial_policy_set: frozenset[str] = frozenset({ANY_POLICY})
    """(c) Policies the relying party accepts, as dotted OIDs, in the anchor's policy domain."""
    initial_explicit_policy: bool = False
    """(f) The path must be valid for at least one policy of the user-initial set."""
    initial_policy_mapping_inhibit: bool = False
    """(e) Refuse policy mapping anywhere in the path."""
    initial_any_policy_inhibit: bool = False
    """(g) anyPolicy in a certificate does not match every policy."""

    def __post_init__(self) -> None:
        if not self.user_initial_policy_set:
            raise BadParameter("user-initial-policy-set", "", "give at least one policy (or anyPolicy)")
        for oid in self.user_initial_policy_set:
            check_oid(oid)

    @classmethod
    def of(
        cls,
        policies: Iterable[str] = (),
        *,
        explicit: bool = False,
        inhibit_mapping: bool = False,
        inhibit_any: bool = False,
    ) -> PolicyInputs:
        """Inputs from a possibly empty list of OIDs (empty: anyPolicy)."""
        chosen = frozenset(policies) or frozenset({ANY_POLICY})
        return cls(chosen, explicit, inhibit_mapping, inhibit_any)

    def pyhanko(self) -> PKIXValidationParams:
        """The same inputs as pyhanko-certvalidator takes them."""
        names = frozenset(_PYHANKO_ANY_POLICY if p == ANY_POLICY else p for p in self.user_initial_policy_set)
        return PKIXValidationParams(
            user_initial_policy_set=names,
            initial_policy_mapping_inhibit=self.initial_policy_mapping_inhibit,
            initial_explicit_policy=self.initial_explicit_policy,
            initial_any_policy_inhibit=self.initial_any_policy_inhibit,
        )


def check_oid(oid: str) -> str:
    """A dotted OID, or :class:`BadParameter`."""
    try:
        x509.ObjectIdentifier(oid)
    except ValueError:
        raise BadParameter("policy", oid, "not a dotted OID such as 1.2.392.200149.8.5.1.1.20") from None
    return oid


def policy_name(pyhanko_name: str) -> str:
    """A policy as asn1crypto names it, back to a dotted OID."""
    return ANY_POLICY if pyhanko_name == _PYHANKO_ANY_POLICY else pyhanko_name


class RevocationMode(enum.StrEnum):
    """How much revocation checking a certificate gets."""

    require = "require"
    """A status (OCSP or CRL) must be found; without one the verdict is indeterminate."""
    soft_fail = "soft-fail"
    """Check what the certificate declares; data that cannot be fetched is no obstacle, a revocation is."""
    off = "off"
    """No revocation checking."""


@dataclass(frozen=True)
class RevocationSettings:
    """Where revocation data comes from and how strictly it is required.

    OCSP is preferred: a certificate whose AIA names a responder (or any certificate, with ``ocsp_url``) is
    asked first; CRLs (given, or fetched from the HTTP distribution points and cached until nextUpdate) are
    the fallback. Fetching happens only for certificates whose signature already verified along the path,
    so the URLs followed are ones a trusted CA signed.
    """

    mode: RevocationMode = RevocationMode.require
    """For the end-entity certificate."""
    intermediates: RevocationMode = RevocationMode.soft_fail
    """For the CA certificates between the anchor and the end entity."""
    ocsp: bool = True
    """Ask OCSP responders."""
    ocsp_url: str | None = None
    """A responder to ask instead of the one in the certificate's AIA."""
    fetch_crls: bool = True
    """Download CRLs from the certificate's HTTP CRL distribution points when none given covers it."""
    token: str | None = field(default=None, repr=False)
    """A registered verifier's credential, sent as ``Authorization: Bearer TOKEN`` to responders and CRL
    distribution points (JPKI answers registered verifiers only)."""

    def __post_init__(self) -> None:
        if self.ocsp_url is not None and not self.ocsp_url.startswith(("http://", "https://")):
            raise BadParameter("OCSP URL", self.ocsp_url, "give an http:// or https:// URL")
        if self.token is not None and (not self.token or any(c.isspace() for c in self.token)):
            raise BadParameter("verifier token", "(hidden)", "must be one word without spaces")

    @property
    def fetches(self) -> bool:
        """Whether validation may go to the network."""
        checks = self.mode is not RevocationMode.off or self.intermediates is not RevocationMode.off
        return checks and (self.ocsp or self.fetch_crls)


def aware(value: dt.datetime, name: str = "validation time") -> dt.datetime:
    """``value`` in UTC; a naive time is refused (it would be read in whatever zone the host is in)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise BadParameter(name, value.isoformat(), "give a timezone, e.g. 2026-11-26T10:00:00+09:00")
    return value.astimezone(dt.UTC)


def load_certificates(data: bytes, source: str) -> list[x509.Certificate]:
    """Every certificate in ``data``: one DER certificate or any number of PEM ones (at least one)."""
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            found = x509.load_pem_x509_certificates(data)
        else:
            found = [x509.load_der_x509_certificate(data)]
    except ValueError as exc:
        raise MalformedInput("certificate", source, str(exc) or "does not parse") from None
    return found


def load_crl(data: bytes, source: str) -> bytes:
    """One CRL, PEM or DER, as DER."""
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_crl(data).public_bytes(Encoding.DER)
        x509.load_der_x509_crl(data)
    except ValueError as exc:
        raise MalformedInput("CRL", source, str(exc) or "does not parse") from None
    return data


def anchors_from(path: Path) -> list[x509.Certificate]:
    """The certificates of an anchor file, or of every ``.pem``/``.crt``/``.cer``/``.der`` file in a
    directory; :class:`NoAnchors` when there are none."""
    files = (
        sorted(p for p in path.iterdir() if p.suffix.lower() in ANCHOR_SUFFIXES) if path.is_dir() else [path]
    )
    anchors = [cert for file in files for cert in load_certificates(file.read_bytes(), str(file))]
    if not anchors:
        raise NoAnchors(str(path))
    return anchors
