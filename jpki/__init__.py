"""JPKI (公的個人認証サービス): signing and user-authentication CAs, My Number Card, registry-driven
lifecycle.

::

    from jpki import Jpki, Resident, ResidentEvent, EventKind, FourInfo, Sex
    with Jpki.open(home) as jpki:                       # a home made by `jlis init`
        jpki.add_resident(Resident("12345678901", FourInfo(...), "131016"), actor="municipality:131016")
        card = jpki.issue_card("12345678901", signing_pin="ABC123", auth_pin="1234", actor="counter:1")
        move = ResidentEvent("ev-1", "12345678901", EventKind.move, day, address="...")
        jpki.record_event(move, actor="registry")  # the signing certificate is revoked now

See docs/jpki.md.
"""

from jpki.card import CardStatus, JpkiApplet, KeySlot, MyNumberCard
from jpki.card.signer import CardSigner
from jpki.errors import FourInfoError, JpkiError, NoFourInfo
from jpki.fourinfo import Era, FourInfo, Sex, decode
from jpki.lifecycle import (
    CardOrder,
    CardRefused,
    CertKind,
    CertState,
    EventOutcome,
    IssuedCard,
    Jpki,
    JpkiSettings,
    Notice,
    Revoked,
)
from jpki.registry import (
    EventKind,
    EventState,
    Resident,
    ResidentEvent,
    ResidentRegistry,
    ResidentStatus,
)

__all__ = [
    "CardOrder",
    "CardRefused",
    "CardSigner",
    "CardStatus",
    "CertKind",
    "CertState",
    "Era",
    "EventKind",
    "EventOutcome",
    "EventState",
    "FourInfo",
    "FourInfoError",
    "IssuedCard",
    "Jpki",
    "JpkiApplet",
    "JpkiError",
    "JpkiSettings",
    "KeySlot",
    "MyNumberCard",
    "NoFourInfo",
    "Notice",
    "Resident",
    "ResidentEvent",
    "ResidentRegistry",
    "ResidentStatus",
    "Revoked",
    "Sex",
    "decode",
]
