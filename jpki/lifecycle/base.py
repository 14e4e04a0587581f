"""The core every part of the lifecycle shares: the PKI, the registry, the card records, the CAs, today."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Self

from jpki.card import JST, MyNumberCard, age_on
from jpki.card.errors import CardNotFound
from jpki.lifecycle.records import (
    CardRecord,
    CardRecords,
    CertKind,
    CertState,
    HeldCert,
)
from jpki.lifecycle.values import (
    SIGNING_MIN_AGE,
    JpkiSettings,
    Revoked,
)
from jpki.registry import (
    Resident,
    ResidentRegistry,
    ResidentStatus,
)
from pki.ca import CertificateAuthority
from pki.clock import Clock
from pki.errors import AlreadyRevoked
from pki.model import RevocationReason
from pki.runtime import Pki


class JpkiCore:
    """JPKI over a PKI home (the parts: :mod:`.events`, :mod:`.issuance`, :mod:`.service`)."""

    def __init__(
        self, pki: Pki, cards_dir: Path, *, settings: JpkiSettings | None = None, clock: Clock | None = None
    ) -> None:
        self.pki = pki
        self.cards_dir = cards_dir
        self.settings = settings or JpkiSettings()
        self.clock = clock or pki.clock
        self.registry = ResidentRegistry(pki.store, self.clock)
        self.records = CardRecords(pki.store, self.clock)
        cards_dir.mkdir(parents=True, exist_ok=True, mode=0o700)

    @classmethod
    def open(cls, home: Path, *, clock: Clock | None = None, settings: JpkiSettings | None = None) -> Self:
        """Open a PKI home (``jlis init``) for JPKI work; cards live in ``<home>/cards``."""
        pki = Pki.open(home, clock=clock)
        return cls(pki, home / "cards", settings=settings, clock=clock)

    def close(self) -> None:
        self.pki.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def sign_ca(self) -> CertificateAuthority:
        return self.pki.ca(self.settings.sign_ca)

    @property
    def auth_ca(self) -> CertificateAuthority:
        return self.pki.ca(self.settings.auth_ca)

    def ca_for(self, kind: CertKind) -> CertificateAuthority:
        return self.sign_ca if kind is CertKind.signing else self.auth_ca

    def today(self) -> dt.date:
        """Today in Japan."""
        return self.clock.now().astimezone(JST).date()

    # -- residents ----------------------------------------------------------------------------------------

    def add_resident(self, resident: Resident, *, actor: str) -> Resident:
        return self.registry.add(resident, actor=actor)

    def resident(self, code: str) -> Resident:
        return self.registry.get(code)

    def signing_eligible(self, resident: Resident, on: dt.date | None = None) -> str | None:
        """Why the resident may not hold a signing certificate, or None when they may."""
        day = on or self.today()
        if resident.status is ResidentStatus.deceased:
            return "the resident is deceased"
        if age_on(resident.info.birth, day) < SIGNING_MIN_AGE:
            return f"holders under {SIGNING_MIN_AGE} get no signing certificate"
        if resident.guardianship:
            return "holders under adult guardianship get no signing certificate"
        return None

    # -- events -------------------------------------------------------------------------------------------

    def open_card(self, card_id: str) -> MyNumberCard:
        """The card as a card reader sees it (close it when done)."""
        self.card_record(card_id)
        return MyNumberCard.open(self.cards_dir, card_id, clock=self.clock)

    def card_record(self, card_id: str) -> CardRecord:
        found = self.records.card(card_id)
        if found is None:
            raise CardNotFound(card_id, "the JPKI card records")
        return found

    def _revoke(
        self,
        held: HeldCert,
        reason: RevocationReason,
        *,
        actor: str,
        invalidity_date: dt.datetime | None = None,
    ) -> Revoked:
        try:
            self.pki.ca(held.ca_id).revoke(held.serial, reason, actor=actor, invalidity_date=invalidity_date)
        except AlreadyRevoked:
            pass  # a resumed event, or revoked by hand before: the record catches up
        state = CertState.superseded if reason is RevocationReason.superseded else CertState.revoked
        self.records.set_cert_state(held.ca_id, held.serial, state)
        return Revoked(held.kind, held.ca_id, held.serial, reason)
