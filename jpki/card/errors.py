"""The CardError tree: what the My Number Card model refuses, with the data a caller acts on.

Messages name the card, the key slot and counts; they never contain a PIN, a PIN hash or key material, so
they are safe to log and to show. The APDU interface maps each of these to one status word.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from jpki.errors import JpkiError

if TYPE_CHECKING:
    from jpki.card.slots import KeySlot
    from jpki.card.status import CardStatus


class CardError(JpkiError):
    """Base of every My Number Card error."""


class InvalidCardId(CardError):
    """A card id that cannot name a card directory."""

    def __init__(self, card_id: str, why: str) -> None:
        super().__init__(f"invalid card id {card_id!r}: {why}")
        self.card_id = card_id
        self.why = why


class CardNotFound(CardError):
    """No card with that id under the cards directory."""

    def __init__(self, card_id: str, where: str) -> None:
        super().__init__(f"card {card_id!r} not found in {where}")
        self.card_id = card_id
        self.where = where


class CardExists(CardError):
    """A card with that id already exists; cards are never overwritten."""

    def __init__(self, card_id: str, where: str) -> None:
        super().__init__(f"card {card_id!r} already exists in {where}")
        self.card_id = card_id
        self.where = where


class CardCorrupt(CardError):
    """The stored state of a card cannot be read back (damaged, incomplete, or of an unknown format)."""

    def __init__(self, card_id: str, why: str) -> None:
        super().__init__(f"card {card_id!r} is unreadable: {why}")
        self.card_id = card_id
        self.why = why


class UnknownTokenKind(CardError):
    """A key token kind no implementation is registered for (``jpki.card.token.TOKEN_KINDS``)."""

    def __init__(self, card_id: str, kind: str, known: list[str]) -> None:
        super().__init__(f"card {card_id!r}: unknown key token kind {kind!r} (known: {', '.join(known)})")
        self.card_id = card_id
        self.kind = kind


class InvalidCardDates(CardError):
    """Birth and issuance dates that cannot belong to one card (issued before birth, for example)."""

    def __init__(self, why: str) -> None:
        super().__init__(f"invalid card dates: {why}")
        self.why = why


# -- PINs -----------------------------------------------------------------------------------------------


class PinError(CardError):
    """Base of the PIN errors; ``slot`` is the key whose PIN was used."""

    slot: KeySlot


class PinFormatInvalid(PinError):
    """A PIN outside its policy (length, alphabet). Refused before any try is spent."""

    def __init__(self, slot: KeySlot, why: str) -> None:
        super().__init__(f"{slot.value} PIN: {why}")
        self.slot = slot
        self.why = why


class PinIncorrect(PinError):
    """A wrong PIN. ``remaining`` tries are left; 0 means this failure locked the PIN."""

    def __init__(self, slot: KeySlot, remaining: int) -> None:
        tail = "the PIN is now locked" if remaining == 0 else f"{remaining} tries left"
        super().__init__(f"incorrect {slot.value} PIN: {tail}")
        self.slot = slot
        self.remaining = remaining

    @property
    def locked(self) -> bool:
        return self.remaining == 0


class PinLocked(PinError):
    """The PIN is locked: no try is left and even the right PIN is refused (only a reset helps)."""

    def __init__(self, slot: KeySlot) -> None:
        super().__init__(f"the {slot.value} PIN is locked")
        self.slot = slot


class PinNotVerified(PinError):
    """An operation that needs the slot's PIN verified in this session (ISO 7816-4: security status not
    satisfied)."""

    def __init__(self, slot: KeySlot, operation: str) -> None:
        super().__init__(f"{operation} needs the {slot.value} PIN verified first")
        self.slot = slot
        self.operation = operation


# -- keys and certificates ------------------------------------------------------------------------------


class SignInputInvalid(CardError):
    """Data the card cannot sign: empty, or longer than PKCS#1 v1.5 leaves room for under the key."""

    def __init__(self, length: int, maximum: int) -> None:
        super().__init__(f"cannot sign {length} bytes: give 1 to {maximum} bytes (a DigestInfo)")
        self.length = length
        self.maximum = maximum


class CertificateMissing(CardError):
    """No certificate has been written to that slot."""

    def __init__(self, card_id: str, slot: KeySlot, what: str = "certificate") -> None:
        super().__init__(f"card {card_id!r} has no {slot.value} {what}")
        self.card_id = card_id
        self.slot = slot


class CertificateRejected(CardError):
    """A certificate the card refuses to store: not DER X.509, or not for the slot's key."""

    def __init__(self, card_id: str, slot: KeySlot, why: str) -> None:
        super().__init__(f"card {card_id!r} refuses the {slot.value} certificate: {why}")
        self.card_id = card_id
        self.slot = slot
        self.why = why


# -- statuses -------------------------------------------------------------------------------------------


class InvalidStatusTransition(CardError):
    """A status change the card's life cycle does not allow (returned cards stay returned, for example)."""

    def __init__(self, card_id: str, current: CardStatus, requested: CardStatus, why: str) -> None:
        super().__init__(f"card {card_id!r}: cannot go from {current.value} to {requested.value}: {why}")
        self.card_id = card_id
        self.current = current
        self.requested = requested
        self.why = why


class CardNotActive(CardError):
    """An administrative operation (writing a certificate) on a card that is not active."""

    def __init__(self, card_id: str, status: CardStatus, operation: str) -> None:
        super().__init__(f"card {card_id!r} is {status.value}: cannot {operation}")
        self.card_id = card_id
        self.status = status
        self.operation = operation


class CardNotExpired(CardError):
    """Marking a card expired before its expiry date has passed."""

    def __init__(self, card_id: str, expires_on: dt.date) -> None:
        super().__init__(f"card {card_id!r} is valid through {expires_on.isoformat()}")
        self.card_id = card_id
        self.expires_on = expires_on
