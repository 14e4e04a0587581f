"""The JPKI lifecycle: the resident registry drives the signing and authentication CAs through the cards.

:class:`Jpki` composes a PKI home (``pki.runtime.Pki``), the resident registry and the cards directory:

- **Card issuance**: registry → card with two on-card key pairs → the auth CA, then the signing CA (capped by
  the auth certificate) → both certificates and the CA certificates written to the card → ``jpki_cert`` rows
  and a ``pair`` link. Every step can be resumed: the card row is written first (state ``creating``), a
  certificate already stored for the card's key is found by its holder reference and not issued twice.
- **Registry events** revoke by the law's rules, the moment they are recorded (or on their day, for
  scheduled ones): a 4-information change revokes the signing certificate (affiliationChanged) and leaves
  the auth certificate; death revokes both (cessationOfOperation); emigration revokes the signing
  certificate (cessationOfOperation). A replayed event changes nothing.
- **Renewal** (new keys on the card, old certificate superseded, linkage old → new), **re-issue** of the
  signing certificate after a move (linked to the revoked one), **lost card** (both revoked keyCompromise),
  **expiry notices**.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from cryptography import x509

from jpki.card import JST, CardStatus
from jpki.lifecycle.events import EventDriver
from jpki.lifecycle.issuance import CardIssuance, _link_audit
from jpki.lifecycle.records import (
    CardRecord,
    CardRecordState,
    CertKind,
    CertState,
    HeldCert,
)
from jpki.lifecycle.values import (
    HOLDER_REF,
    SIGNING_MIN_AGE,
    CardOrder,
    CardRefused,
    EventOutcome,
    IssuedCard,
    JpkiSettings,
    Notice,
    ProgressHook,
    Revoked,
    _Work,
)
from jpki.registry import (
    Resident,
)
from pki.model import RevocationReason
from pki.store import LinkKind

__all__ = [
    "HOLDER_REF",
    "SIGNING_MIN_AGE",
    "CardOrder",
    "CardRefused",
    "EventOutcome",
    "IssuedCard",
    "Jpki",
    "JpkiSettings",
    "Notice",
    "ProgressHook",
    "Revoked",
]


class Jpki(EventDriver, CardIssuance):
    """JPKI over a PKI home. ``Jpki.open(home)`` for the home's own store and cards; share it freely."""

    def report_lost(self, card_id: str, *, actor: str) -> list[Revoked]:
        """紛失: the card becomes lost and both its current certificates are revoked (keyCompromise)."""
        self.card_record(card_id)
        with self.open_card(card_id) as card:
            if card.status is not CardStatus.LOST:
                card.report_lost()
        self.records.set_status(card_id, CardStatus.LOST, actor=actor)
        return [
            self._revoke(held, RevocationReason.key_compromise, actor=actor)
            for held in self.records.certs(card_id=card_id, state=CertState.current)
        ]

    def return_card(self, card_id: str, *, actor: str) -> list[Revoked]:
        """返納: the holder hands the card back (a new card, death, giving it up); its current certificates
        are revoked (cessationOfOperation). A lost card may be returned too (found again): nothing is left to
        revoke then."""
        self.card_record(card_id)
        with self.open_card(card_id) as card:
            if card.status is not CardStatus.RETURNED:
                card.mark_returned()
        self.records.set_status(card_id, CardStatus.RETURNED, actor=actor)
        return [
            self._revoke(held, RevocationReason.cessation_of_operation, actor=actor)
            for held in self.records.certs(card_id=card_id, state=CertState.current)
        ]

    # -- renewal and re-issue -----------------------------------------------------------------------------

    def renew(self, card_id: str, *, actor: str, kinds: Iterable[CertKind] | None = None) -> IssuedCard:
        """更新: new key pairs on the card and new certificates; the old ones are revoked (superseded) and
        linked old → new. Inside the last 3 months before expiry the new one runs to the 6th birthday."""
        wanted = set(kinds or CertKind)
        record = self._active_card(card_id)
        resident = self.registry.get(record.code)
        current = {h.kind: h for h in self.records.certs(card_id=card_id, state=CertState.current)}
        order = [k for k in (CertKind.auth, CertKind.signing) if k in wanted and k in current]
        if not order:
            raise CardRefused(f"card {card_id}", "no current certificate to renew")
        if CertKind.signing in order and (why := self.signing_eligible(resident)):
            raise CardRefused(f"card {card_id}", why)
        return self._replace(record, resident, {k: current[k] for k in order}, LinkKind.renewal, actor=actor)

    def reissue_signing(self, card_id: str, *, actor: str) -> x509.Certificate:
        """再発行 after a move or another 4-information change: a new signing key and certificate carrying the
        current 4 information, linked to the revoked one."""
        record = self._active_card(card_id)
        resident = self.registry.get(record.code)
        if why := self.signing_eligible(resident):
            raise CardRefused(f"card {card_id}", why)
        held = self.records.certs(card_id=card_id, kind=CertKind.signing)
        if any(h.state is CertState.current for h in held):
            raise CardRefused(f"card {card_id}", "its signing certificate is still valid (renew it instead)")
        previous = held[-1] if held else None
        issued = self._replace(record, resident, {CertKind.signing: previous}, LinkKind.reissue, actor=actor)
        assert issued.signing is not None
        return issued.signing

    def _active_card(self, card_id: str) -> CardRecord:
        record = self.card_record(card_id)
        if record.status is not CardStatus.ACTIVE or record.state is not CardRecordState.issued:
            raise CardRefused(f"card {card_id}", f"the card is {record.status.value}, not active")
        if record.expires_on < self.today():
            raise CardRefused(f"card {card_id}", "the card has expired")
        return record

    def _replace(
        self,
        record: CardRecord,
        resident: Resident,
        old: dict[CertKind, HeldCert | None],
        link: LinkKind,
        *,
        actor: str,
    ) -> IssuedCard:
        with self.open_card(record.card_id) as card:
            work = _Work(CardOrder(record.code, None, ""), resident, record, card)
            for kind in CertKind:
                if kind not in old and card.has_certificate(kind.slot):
                    work.certs[kind] = card.certificate(kind.slot)
            for kind in (CertKind.auth, CertKind.signing):
                if kind not in old:
                    continue
                previous = old[kind]
                card.rotate_key(kind.slot)
                renewal_of = previous.not_after if previous is not None and link is LinkKind.renewal else None
                request = self._request(work, kind, renewal_of=renewal_of)
                work.certs[kind] = self.ca_for(kind).issue_request(request, actor=actor)
                work.previous[kind] = None if previous is None else previous.id
            issued = self._finish([work], actor=actor)[0]
            for kind, previous in old.items():
                if previous is None:
                    continue
                if previous.state is CertState.current:
                    self._revoke(previous, RevocationReason.superseded, actor=actor)
                new_id = self.pki.store.get_certificate(
                    self.ca_for(kind).id, work.certs[kind].serial_number
                ).id
                self.pki.store.link(previous.cert_id, new_id, link, _link_audit(actor, record.card_id))
        return issued

    # -- linkage and notices ------------------------------------------------------------------------------

    def chain(self, ca_id: str, serial: int) -> list[HeldCert]:
        """The certificate's line on its card slot, oldest first: every predecessor, it, every successor."""
        held = self.records.cert(ca_id, serial)
        if held is None:
            return []
        line = [held]
        while line[0].previous_id is not None and (before := self.records.cert_by_id(line[0].previous_id)):
            line.insert(0, before)
        while (after := self.records.successor(line[-1].id)) is not None:
            line.append(after)
        return line

    def notices(self, *, within_months: int = 3, today: dt.date | None = None) -> list[Notice]:
        """Every current certificate and active card whose validity ends within the window, soonest first."""
        first = today or self.today()
        last = _add_months(first, within_months)
        start = dt.datetime.combine(first, dt.time(0), JST)
        end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(0), JST)
        notices = [
            Notice(
                "certificate",
                held.card_id,
                held.code,
                holder,
                held.not_after.astimezone(JST).date(),
                f"renew the {held.kind.value} certificate",
                held.kind,
                held.serial,
            )
            for held, holder in self.records.expiring_certs(start, end)
        ]
        notices += [
            Notice("card", card.card_id, card.code, holder, card.expires_on, "replace the card")
            for card, holder in self.records.expiring_cards(first, last)
        ]
        return sorted(notices, key=lambda n: (n.expires_on, n.card_id, n.what))


def _add_months(day: dt.date, months: int) -> dt.date:
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    for candidate in (day.day, 30, 29, 28):
        try:
            return dt.date(year, month, min(day.day, candidate))
        except ValueError:
            continue
    raise AssertionError("unreachable")
