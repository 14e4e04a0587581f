"""The values the store takes and returns: frozen rows that check their invariants when built.

The store never hands out SQLAlchemy rows: callers get these, with serials as ``int``, statuses and reasons
as enums and every time aware UTC. ``RevokedEntry`` is the CRL encoder's input type (``pki.crl.entry``),
re-exported here: the store streams exactly what the encoder consumes.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, field
from typing import Any

from pki.audit.chain import AuditRecord, Checkpoint
from pki.clock import ensure_aware
from pki.crl.entry import RevokedEntry
from pki.model import CertStatus, RevocationReason

__all__ = [
    "AuditEntry",
    "AuditRecord",
    "CaRow",
    "CertRow",
    "Checkpoint",
    "CrlRow",
    "LinkKind",
    "PendingCert",
    "RevocationRow",
    "RevokedEntry",
    "StatusRow",
]

MAX_SERIAL = 1 << 159
"""Serials are positive and at most 20 octets as a DER INTEGER (RFC 5280 §4.1.2.2): below 2**159."""


def check_serial(serial: int) -> int:
    """Refuse serials RFC 5280 forbids (zero, negative, over 20 octets) before they reach the database."""
    if not 0 < serial < MAX_SERIAL:
        raise ValueError(f"serial {serial} is outside 1 .. 2**159-1 (RFC 5280 §4.1.2.2)")
    return serial


def _check_digest(name: str, value: bytes, size: int) -> None:
    if len(value) != size:
        raise ValueError(f"{name} must be {size} bytes, got {len(value)}")


def aware_or_none(value: dt.datetime | None) -> dt.datetime | None:
    """``ensure_aware`` that lets None through (optional dates such as the invalidity date)."""
    return None if value is None else ensure_aware(value)


class LinkKind(enum.StrEnum):
    """How two certificates relate (``cert_link.kind``)."""

    renewal = "renewal"
    """Same subject, new key or validity: the successor of an expiring certificate."""
    reissue = "reissue"
    """Same subject and key, issued again (e.g. after a correction)."""
    pair = "pair"
    """Issued together for one holder (JPKI's signing and authentication certificates)."""
    link = "link"
    """A key-rollover link certificate (new-with-old, old-with-new) tied to the CA certificate it bridges."""


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """What a state-changing call asks the store to record; the store adds seq, time and hashes."""

    actor: str
    """Who acted: an operator, ``system``, or a service name."""
    action: str
    """What happened, dotted: ``cert.reserve``, ``cert.revoke``, ``crl.save``."""
    object: str
    """What it happened to: ``jpki-sign/3fa9…`` for a certificate, a CA id for a CA."""
    payload: dict[str, Any] = field(default_factory=dict)
    """Details; only their digest enters the chain (pki.audit.chain.payload_digest)."""

    def __post_init__(self) -> None:
        if not self.actor or not self.action:
            raise ValueError("an audit entry needs an actor and an action")


@dataclass(frozen=True, slots=True)
class CaRow:
    """A CA the store knows (``ca`` table)."""

    ca_id: str
    subject_der: bytes
    key_uri: str
    """Where the CA key lives (an hsm URI); never the key itself."""
    cert_der: bytes
    """The CA's current certificate."""
    key_sha1: bytes
    """SHA-1 of the CA's subjectPublicKey bits: OCSP's issuerKeyHash (RFC 6960 §4.1.1)."""
    created_at: dt.datetime

    def __post_init__(self) -> None:
        if not self.ca_id:
            raise ValueError("a CA needs an id")
        _check_digest("key_sha1", self.key_sha1, 20)
        object.__setattr__(self, "created_at", ensure_aware(self.created_at))


@dataclass(frozen=True, slots=True)
class PendingCert:
    """A certificate whose serial is reserved and TBS recorded before signing (``status=pending``)."""

    ca_id: str
    serial: int
    subject_der: bytes
    subject_text: str
    not_before: dt.datetime
    not_after: dt.datetime
    profile: str
    tbs_sha256: bytes
    """SHA-256 of the TBSCertificate about to be signed: proves later which bytes the key signed."""
    holder_ref: str | None = None
    """An opaque reference to the holder (never the My Number itself), for finding a holder's certificates."""
    is_ca: bool = False
    shard: int = 0
    """The CRL shard (``model.shard_of``) this certificate's CRLDP points at."""

    def __post_init__(self) -> None:
        check_serial(self.serial)
        _check_digest("tbs_sha256", self.tbs_sha256, 32)
        if self.shard < 0:
            raise ValueError(f"shard must be >= 0, got {self.shard}")
        object.__setattr__(self, "not_before", ensure_aware(self.not_before))
        object.__setattr__(self, "not_after", ensure_aware(self.not_after))
        if self.not_after < self.not_before:
            raise ValueError("not_after is before not_before")


@dataclass(frozen=True, slots=True)
class CertRow:
    """A certificate as stored, whatever its status (``der`` is None while pending or aborted)."""

    id: int
    ca_id: str
    serial: int
    status: CertStatus
    subject_der: bytes
    subject_text: str
    not_before: dt.datetime
    not_after: dt.datetime
    profile: str
    holder_ref: str | None
    is_ca: bool
    shard: int
    tbs_sha256: bytes
    der: bytes | None
    created_at: dt.datetime
    issued_at: dt.datetime | None


@dataclass(frozen=True, slots=True)
class StatusRow:
    """What OCSP needs to answer for one serial (RFC 6960 §2.2): status, and when and why it was revoked."""

    cert_id: int
    serial: int
    status: CertStatus
    not_after: dt.datetime
    revoked_at: dt.datetime | None
    reason: RevocationReason | None
    invalidity_date: dt.datetime | None


@dataclass(frozen=True, slots=True)
class PresignedResponse:
    """A signed OCSP response kept for one certificate and one CertID encoding."""

    ca_id: str
    serial: int
    cert_id_der: bytes
    status: CertStatus
    """The status the response was signed for: it is stored only while the certificate still has it."""
    der: bytes
    this_update: dt.datetime
    next_update: dt.datetime
    produced_at: dt.datetime
    seq: int
    """The CA's revocation counter read before the status (see ``Store.status_at``)."""


@dataclass(frozen=True, slots=True)
class RevocationRow:
    """A certificate's revocation (or hold) as stored; ``released_at`` is set once a hold is released."""

    certificate_id: int
    ca_id: str
    serial: int
    reason: RevocationReason
    revoked_at: dt.datetime
    invalidity_date: dt.datetime | None
    released_at: dt.datetime | None
    change_seq: int


@dataclass(frozen=True, slots=True)
class CrlRow:
    """A CRL as issued. ``base_crl_number`` is set for delta CRLs (the deltaCRLIndicator)."""

    ca_id: str
    scope: str
    """``full`` (full CRLs and their deltas share one number sequence), ``shard:N`` or ``arl``."""
    crl_number: int
    this_update: dt.datetime
    next_update: dt.datetime
    change_seq: int
    """The CA's revocation high-water mark this CRL covers; a delta lists the changes after its base's."""
    der: bytes
    base_crl_number: int | None = None

    def __post_init__(self) -> None:
        if self.crl_number < 0 or self.change_seq < 0:
            raise ValueError("crl_number and change_seq are never negative")
        object.__setattr__(self, "this_update", ensure_aware(self.this_update))
        object.__setattr__(self, "next_update", ensure_aware(self.next_update))

    @property
    def is_delta(self) -> bool:
        return self.base_crl_number is not None
