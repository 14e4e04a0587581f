"""The JPKI lifecycle: cards, certificates and registry events together (``jpki.lifecycle``).

::

    from jpki.lifecycle import Jpki
    jpki = Jpki.open(home)
    jpki.add_resident(resident, actor="municipality:131016")
    card = jpki.issue_card("12345678901", signing_pin="ABC123", auth_pin="1234", actor="counter:1")
    jpki.record_event(ResidentEvent("ev-1", "12345678901", EventKind.move, today, address=...), actor=...)
"""

from jpki.lifecycle.records import CardRecord, CardRecords, CardRecordState, CertKind, CertState, HeldCert
from jpki.lifecycle.service import (
    HOLDER_REF,
    SIGNING_MIN_AGE,
    CardOrder,
    CardRefused,
    EventOutcome,
    IssuedCard,
    Jpki,
    JpkiSettings,
    Notice,
    Revoked,
)

__all__ = [
    "HOLDER_REF",
    "SIGNING_MIN_AGE",
    "CardOrder",
    "CardRecord",
    "CardRecordState",
    "CardRecords",
    "CardRefused",
    "CertKind",
    "CertState",
    "EventOutcome",
    "HeldCert",
    "IssuedCard",
    "Jpki",
    "JpkiSettings",
    "Notice",
    "Revoked",
]
