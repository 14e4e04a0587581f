"""``CrlSpec``: everything about one CRL except its entries, checked against RFC 5280 §5 when built.

A spec describes a complete CRL, a delta CRL (``delta_base``), a shard (an ``issuing_distribution_point``
naming the shard's URL) or an ARL (``only_contains_ca_certs``). Once built it is frozen and valid, so the
encoder only assembles bytes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from hsm import PublicKey
from pki.crl.entry import MAX_SERIAL
from pki.crl.errors import CrlError

MAX_CRL_NUMBER = MAX_SERIAL
"""CRLNumber values are at most 20 octets (RFC 5280 §5.2.3), the same bound as serials."""


def key_identifier(public_key: PublicKey) -> bytes:
    """The key identifier of an issuer key: SHA-1 of its subjectPublicKey (RFC 5280 §4.2.1.2, method 1),
    as our CA certificates put it in their subjectKeyIdentifier."""
    return x509.SubjectKeyIdentifier.from_public_key(public_key).digest


@dataclass(frozen=True, slots=True)
class IssuingDistributionPoint:
    """The scope of a CRL (RFC 5280 §5.2.5): where it is published and which certificates it covers.

    ``uris`` and ``directory_name`` together form the ``fullName`` of the distribution point, in that
    order; they must equal a cRLDistributionPoints name in the certificates this CRL covers.
    """

    uris: tuple[str, ...] = ()
    """URIs of this CRL, e.g. the shard's ``http://…/crl/ca/3.crl``."""
    directory_name: x509.Name | None = None
    """A directory name of this CRL (LGPKI-style DirName distribution points)."""
    only_contains_user_certs: bool = False
    """An end-entity CRL (a shard of a CA that publishes an ARL separately)."""
    only_contains_ca_certs: bool = False
    """An ARL: lists only revoked CA certificates."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "uris", _uri_tuple(self.uris, "issuing_distribution_point.uris"))
        if self.only_contains_user_certs and self.only_contains_ca_certs:
            raise CrlError(
                "issuing_distribution_point",
                "only_contains_user_certs and only_contains_ca_certs cannot both be set (RFC 5280 §5.2.5)",
            )
        if not (
            self.uris or self.directory_name or self.only_contains_user_certs or self.only_contains_ca_certs
        ):
            raise CrlError(
                "issuing_distribution_point",
                "is empty; RFC 5280 §5.2.5 forbids an empty IDP: give a URI, a directory name or a scope",
            )

    @property
    def has_name(self) -> bool:
        """Whether the IDP carries a distributionPoint fullName."""
        return bool(self.uris) or self.directory_name is not None


@dataclass(frozen=True, slots=True)
class CrlSpec:
    """One CRL's header and CRL extensions (RFC 5280 §5.1.2 and §5.2)."""

    issuer: x509.Name | bytes
    """The issuing CA's subject, as a Name or its DER (byte-identical to the CA certificate's subject)."""
    this_update: dt.datetime
    next_update: dt.datetime
    """Required: RFC 5280 §5.1.2.5 makes conforming CRL issuers include nextUpdate."""
    crl_number: int
    """cRLNumber (RFC 5280 §5.2.3): strictly increasing per CA and scope; complete CRLs and their deltas
    share one sequence."""
    authority_key_id: bytes | PublicKey
    """The issuer's key identifier, or its public key to derive it from (:func:`key_identifier`)."""
    delta_base: int | None = None
    """Set for a delta CRL: the cRLNumber of its base complete CRL (deltaCRLIndicator, RFC 5280 §5.2.4)."""
    issuing_distribution_point: IssuingDistributionPoint | None = None
    """The CRL's scope: a shard's URL, user-only, or CA-only (ARL)."""
    freshest_crl: tuple[str, ...] = ()
    """URIs of the delta CRLs for this complete CRL (RFC 5280 §5.2.6); never in a delta CRL."""
    entry_extensions: bool = True
    """Write reasonCode and invalidityDate entry extensions (RFC 5280 §5.3); off, entries carry only
    serial and date (a delta with releases then cannot be encoded: removeFromCRL is a reasonCode)."""
    _issuer_der: bytes = field(init=False, repr=False, compare=False)
    _key_id: bytes = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_issuer_der", _issuer_der(self.issuer))
        object.__setattr__(self, "_key_id", _key_id(self.authority_key_id))
        object.__setattr__(self, "freshest_crl", _uri_tuple(self.freshest_crl, "freshest_crl"))
        _check_times(self.this_update, self.next_update)
        _check_number(self.crl_number, "crl_number")
        self._check_delta()

    @property
    def issuer_der(self) -> bytes:
        """The issuer Name's DER."""
        return self._issuer_der

    @property
    def key_id(self) -> bytes:
        """The keyIdentifier for the authorityKeyIdentifier extension."""
        return self._key_id

    @property
    def is_delta(self) -> bool:
        return self.delta_base is not None

    def _check_delta(self) -> None:
        if self.delta_base is None:
            return
        _check_number(self.delta_base, "delta_base")
        if self.delta_base >= self.crl_number:
            raise CrlError(
                "delta_base",
                f"{self.delta_base} must be below the delta's own crl_number {self.crl_number} "
                "(RFC 5280 §5.2.4: a delta is issued after its base)",
            )
        if self.freshest_crl:
            raise CrlError("freshest_crl", "must not appear in a delta CRL (RFC 5280 §5.2.6)")


def _issuer_der(issuer: x509.Name | bytes) -> bytes:
    """The issuer's DER, checked to be one whole, non-empty Name (RFC 5280 §5.1.2.3); a truncated or
    padded DER would otherwise be signed as it is."""
    if isinstance(issuer, x509.Name):
        der = issuer.public_bytes()
    elif isinstance(issuer, bytes | bytearray):
        der = bytes(issuer)
    else:
        raise CrlError("issuer", f"give an x509.Name or its DER, not {type(issuer).__name__}")
    try:
        parsed = asn1_x509.Name.load(der, strict=True)
        parsed.native  # noqa: B018  (forces a full parse: asn1crypto parses lazily)
    except (ValueError, TypeError) as exc:
        raise CrlError("issuer", f"is not the DER of a Name ({exc})") from None
    if not parsed.chosen.native:
        raise CrlError("issuer", "is an empty Name (RFC 5280 §5.1.2.3: the issuer MUST be non-empty)")
    return der


def _key_id(value: bytes | PublicKey) -> bytes:
    """The keyIdentifier: given, or derived from the issuer's public key."""
    if isinstance(value, bytes | bytearray):
        if not value:
            raise CrlError("authority_key_id", "is empty; give the issuer's subjectKeyIdentifier")
        return bytes(value)
    if isinstance(value, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
        return key_identifier(value)
    raise CrlError(
        "authority_key_id", f"give key identifier bytes or a public key, not {type(value).__name__}"
    )


def _uri_tuple(uris: Sequence[str], what: str) -> tuple[str, ...]:
    """URIs as a tuple, each ASCII with a scheme (a uniformResourceIdentifier, RFC 5280 §4.2.1.6)."""
    if isinstance(uris, str):
        raise CrlError(what, f"give a sequence of URIs, not the string {uris!r}")
    for uri in uris:
        if not uri.isascii() or ":" not in uri or any(c.isspace() for c in uri):
            raise CrlError(what, f"{uri!r} is not an absolute ASCII URI (percent-encode it)")
    return tuple(uris)


def _check_times(this_update: dt.datetime, next_update: dt.datetime) -> None:
    for name, value in (("this_update", this_update), ("next_update", next_update)):
        if value.tzinfo is None or value.utcoffset() is None:
            raise CrlError(name, f"naive datetime {value.isoformat()}: give a timezone (UTC)")
    if next_update.replace(microsecond=0) <= this_update.replace(microsecond=0):
        raise CrlError(
            "next_update",
            f"{next_update.isoformat()} is not after this_update {this_update.isoformat()} "
            "(RFC 5280 §5.1.2.5)",
        )


def _check_number(value: int, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_CRL_NUMBER:
        raise CrlError(what, f"{value!r} must be an integer from 0 to 2**159-1 (RFC 5280 §5.2.3)")
