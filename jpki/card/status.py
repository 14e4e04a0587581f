"""The card's administrative status and the transitions its life cycle allows.

The status is what the issuing side records about the card; revoking the certificates is the lifecycle's
job (reporting a card lost revokes both with keyCompromise). [I] The status does not switch the chip off:
a lost card still answers and signs, so tests can show that verifiers reject what it signs after the
revocation.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass


class CardStatus(enum.StrEnum):
    """Status of a My Number Card."""

    ACTIVE = "active"
    """有効: in the holder's hands and valid."""
    SUSPENDED = "suspended"
    """一時停止: use stopped for now (typically a card that may be lost); can be resumed."""
    LOST = "lost"
    """紛失: reported lost; its certificates are revoked. Only a return follows."""
    RETURNED = "returned"
    """返納: handed back (or found after a loss and handed in). Final."""
    EXPIRED = "expired"
    """有効期限切れ: past the card's expiry date. Only a return follows."""


_ALLOWED: dict[CardStatus, frozenset[CardStatus]] = {
    CardStatus.ACTIVE: frozenset(
        {CardStatus.SUSPENDED, CardStatus.LOST, CardStatus.RETURNED, CardStatus.EXPIRED}
    ),
    # [I] a suspended card can also be declared lost, and it expires like an active one.
    CardStatus.SUSPENDED: frozenset(
        {CardStatus.ACTIVE, CardStatus.LOST, CardStatus.RETURNED, CardStatus.EXPIRED}
    ),
    CardStatus.LOST: frozenset({CardStatus.RETURNED}),
    CardStatus.EXPIRED: frozenset({CardStatus.RETURNED}),
    CardStatus.RETURNED: frozenset(),
}


def transition_refusal(current: CardStatus, requested: CardStatus) -> str | None:
    """Why the life cycle forbids ``current`` -> ``requested``, or None when it allows it."""
    if requested in _ALLOWED[current]:
        return None
    if current is requested:
        return f"the card is already {current.value}"
    if not _ALLOWED[current]:
        return f"{current.value} is final"
    allowed = ", ".join(sorted(s.value for s in _ALLOWED[current]))
    return f"from {current.value} only {allowed} may follow"


@dataclass(frozen=True, slots=True)
class StatusChange:
    """One entry of a card's status history. ``previous`` is None for the card's creation."""

    previous: CardStatus | None
    status: CardStatus
    at: dt.datetime
