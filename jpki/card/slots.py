"""The two key slots of the JPKI application and the elementary files (EFs) each one owns."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class KeySlot(enum.StrEnum):
    """A key pair of the JPKI-AP, each with its own PIN and certificate."""

    SIGNING = "signing"
    """署名用: the digital-signature key (signing PIN, 6-16 of A-Z 0-9, 5 tries)."""
    AUTH = "auth"
    """利用者証明用: the user-authentication key (auth PIN, 4 digits, 3 tries)."""


@dataclass(frozen=True, slots=True)
class SlotFiles:
    """File ids of one slot inside the JPKI-AP (jpki-facts §4 [V]; the same ids as OpenSC's ``jpki.h``)."""

    certificate: int
    ca_certificate: int
    private_key: int
    pin: int


SLOT_FILES: dict[KeySlot, SlotFiles] = {
    KeySlot.SIGNING: SlotFiles(certificate=0x0001, ca_certificate=0x0002, private_key=0x001A, pin=0x001B),
    KeySlot.AUTH: SlotFiles(certificate=0x000A, ca_certificate=0x000B, private_key=0x0017, pin=0x0018),
}
