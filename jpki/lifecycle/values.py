"""The lifecycle's values: settings, orders, results, notices (frozen) and its typed refusal."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509

from jpki.card import MyNumberCard
from jpki.card.pin import PinInput
from jpki.errors import JpkiError
from jpki.lifecycle.records import (
    CardRecord,
    CertKind,
)
from jpki.registry import (
    EventState,
    Resident,
)
from pki.model import RevocationReason

SIGNING_MIN_AGE = 15
"""No signing certificate below this age (jpki-facts §1 [V])."""
HOLDER_REF = "jpki-card:{card_id}"
"""What a card's certificates carry as holder reference in the store (never a My Number)."""
ProgressHook = Callable[[int], None]


class CardRefused(JpkiError):
    """A card or certificate the rules do not allow (deceased holder, card not active…)."""

    def __init__(self, subject: str, reason: str) -> None:
        super().__init__(f"{subject}: {reason}")
        self.subject = subject
        self.reason = reason


@dataclass(frozen=True, slots=True)
class JpkiSettings:
    sign_ca: str = "jpki-sign"
    auth_ca: str = "jpki-auth"
    sign_profile: str = "jpki-sign"
    auth_profile: str = "jpki-auth"
    token_kind: str = "file"


@dataclass(frozen=True, slots=True)
class IssuedCard:
    card_id: str
    code: str
    expires_on: dt.date
    auth: x509.Certificate
    signing: x509.Certificate | None
    """None for a holder under 15 or under adult guardianship."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "card_id": self.card_id,
            "resident": self.code,
            "expires_on": self.expires_on.isoformat(),
            "auth_serial": f"{self.auth.serial_number:x}",
            "signing_serial": None if self.signing is None else f"{self.signing.serial_number:x}",
        }


@dataclass(frozen=True, slots=True)
class CardOrder:
    """One card to issue: whose, with which PINs; ``batch_key`` makes a repeated order find the first card."""

    code: str
    signing_pin: PinInput | None
    auth_pin: PinInput
    card_id: str | None = None
    batch_key: str | None = None
    token_kind: str | None = None


@dataclass(frozen=True, slots=True)
class Revoked:
    kind: CertKind
    ca_id: str
    serial: int
    reason: RevocationReason

    def as_dict(self) -> dict[str, str]:
        return {
            "kind": self.kind.value,
            "ca": self.ca_id,
            "serial": f"{self.serial:x}",
            "reason": self.reason.value,
        }


@dataclass(frozen=True, slots=True)
class EventOutcome:
    event_id: str
    state: EventState
    new: bool
    """False for a replay (nothing was done again)."""
    revoked: tuple[Revoked, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "state": self.state.value,
            "new": self.new,
            "revoked": [r.as_dict() for r in self.revoked],
        }


@dataclass(frozen=True, slots=True)
class Notice:
    """An expiry notice (有効期限通知書): what expires, whose, and what to do."""

    what: str
    """``certificate`` or ``card``."""
    card_id: str
    code: str
    holder: str
    expires_on: dt.date
    action: str
    kind: CertKind | None = None
    serial: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "what": self.what,
            "card_id": self.card_id,
            "resident": self.code,
            "holder": self.holder,
            "kind": None if self.kind is None else self.kind.value,
            "serial": None if self.serial is None else f"{self.serial:x}",
            "expires_on": self.expires_on.isoformat(),
            "action": self.action,
        }


@dataclass(slots=True)
class _Work:
    """One card being issued (internal)."""

    order: CardOrder
    resident: Resident
    record: CardRecord
    card: MyNumberCard
    certs: dict[CertKind, x509.Certificate] = field(default_factory=dict)
    previous: dict[CertKind, int | None] = field(default_factory=dict)
