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
import hashlib
import logging
import multiprocessing
import secrets
import shutil
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from jpki.card import JST, CardStatus, KeySlot, MyNumberCard, age_on, card_expiry
from jpki.card.errors import CardError, CardNotFound
from jpki.card.pin import PinInput
from jpki.card.store import check_card_id
from jpki.errors import JpkiError
from jpki.lifecycle.records import (
    CardRecord,
    CardRecords,
    CardRecordState,
    CertKind,
    CertState,
    HeldCert,
    NewCert,
)
from jpki.registry import (
    FOUR_INFO_CHANGES,
    EventKind,
    EventRecord,
    EventState,
    Resident,
    ResidentEvent,
    ResidentRegistry,
    ResidentStatus,
    locality,
)
from pki.ca import CertificateAuthority, IssueRequest
from pki.clock import Clock
from pki.errors import AlreadyRevoked
from pki.model import RevocationReason
from pki.runtime import Pki
from pki.store import AuditEntry, LinkKind

log = logging.getLogger(__name__)

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


def _der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def _spki(key: Any) -> bytes:
    return bytes(
        key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


def _opaque_cn() -> str:
    """[I] An opaque 23-character id (real CNs are about 23 characters and carry no personal data)."""
    alphabet = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"
    return "".join(secrets.choice(alphabet) for _ in range(23))


class Jpki:
    """JPKI over a PKI home. ``Jpki.open(home)`` for the home's own store and cards; share it freely."""

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
    def open(cls, home: Path, *, clock: Clock | None = None, settings: JpkiSettings | None = None) -> Jpki:
        """Open a PKI home (``jlis init``) for JPKI work; cards live in ``<home>/cards``."""
        pki = Pki.open(home, clock=clock)
        return cls(pki, home / "cards", settings=settings, clock=clock)

    def close(self) -> None:
        self.pki.close()

    def __enter__(self) -> Jpki:
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

    def record_event(self, event: ResidentEvent, *, actor: str) -> EventOutcome:
        """Record a registry event and carry out its effects on the certificates (idempotent by event id)."""
        record, new = self.registry.record(event, today=self.today(), actor=actor)
        if record.state is EventState.applied:
            return EventOutcome(event.event_id, record.state, new, _revoked_of(record))
        if record.state is EventState.scheduled:
            return EventOutcome(event.event_id, record.state, new)
        return self._apply(record, new, actor=actor)

    def apply_due(self, *, actor: str) -> list[EventOutcome]:
        """Carry out what is due: scheduled events whose day came, pending ones a crash interrupted."""
        outcomes = []
        for record in self.registry.unfinished(self.today()):
            started = record
            if record.state is EventState.scheduled:
                started = self.registry.start_scheduled(record.event.event_id, actor=actor)
            outcomes.append(self._apply(started, True, actor=actor))
        return outcomes

    def _apply(self, record: EventRecord, new: bool, *, actor: str) -> EventOutcome:
        event = record.event
        kinds: tuple[CertKind, ...]
        if event.kind is EventKind.death:
            kinds, reason = (CertKind.signing, CertKind.auth), RevocationReason.cessation_of_operation
        elif event.kind is EventKind.emigrate:
            kinds, reason = (CertKind.signing,), RevocationReason.cessation_of_operation
        elif event.kind in FOUR_INFO_CHANGES or event.kind is EventKind.return_:
            kinds, reason = (CertKind.signing,), RevocationReason.affiliation_changed
        else:  # pragma: no cover - every kind is handled above
            kinds, reason = (), RevocationReason.unspecified
        since = dt.datetime.combine(event.on, dt.time(0), JST)
        invalid = since if since < self.clock.now() else None
        revoked = []
        for held in self.records.certs(code=event.code, state=CertState.current):
            if held.kind in kinds:
                revoked.append(self._revoke(held, reason, actor=actor, invalidity_date=invalid))
        outcome = EventOutcome(event.event_id, EventState.applied, new, tuple(revoked))
        self.registry.mark_applied(event.event_id, {"revoked": [r.as_dict() for r in revoked]}, actor=actor)
        return outcome

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

    # -- cards --------------------------------------------------------------------------------------------

    def issue_card(
        self,
        code: str,
        *,
        signing_pin: PinInput | None,
        auth_pin: PinInput,
        actor: str,
        card_id: str | None = None,
        token_kind: str | None = None,
    ) -> IssuedCard:
        """Issue a My Number Card with its certificates (see the module docstring)."""
        order = CardOrder(code, signing_pin, auth_pin, card_id=card_id, token_kind=token_kind)
        return self.issue_cards([order], actor=actor)[0]

    def issue_cards(
        self,
        orders: Sequence[CardOrder],
        *,
        actor: str,
        chunk: int = 200,
        progress: ProgressHook | None = None,
        workers: int = 1,
    ) -> list[IssuedCard]:
        """Issue many cards, ``chunk`` at a time: the chunk's card rows in one commit, the cards' keys made
        (by ``workers`` processes for file tokens: key generation is the card factory's work and runs in
        parallel), then each CA's certificates for the chunk in batch, then the records and links in one
        commit each. Orders whose batch key already has a card resume it: no card or certificate twice."""
        if chunk < 1:
            raise ValueError("chunk must be at least 1")
        issued: list[IssuedCard] = []
        # forkserver: a fork of this (threaded, maybe PKCS#11-loaded) process could inherit held locks
        pool = (
            ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("forkserver"))
            if workers > 1
            else None
        )
        try:
            for start in range(0, len(orders), chunk):
                part = orders[start : start + chunk]
                works = self._begin(part, pool, actor=actor)
                try:
                    self._certify(works, actor=actor)
                    issued.extend(self._finish(works, actor=actor))
                finally:
                    for work in works:
                        work.card.close()
                if progress is not None:
                    progress(len(part))
        finally:
            if pool is not None:
                pool.shutdown()
        return issued

    def _plan(self, order: CardOrder, today: dt.date) -> tuple[Resident, CardRecord, bool]:
        if order.card_id is not None:
            check_card_id(order.card_id)
        resident = self.registry.get(order.code)
        if resident.status is ResidentStatus.deceased:
            raise CardRefused(f"resident {order.code}", "the resident is deceased")
        wants_signing = self.signing_eligible(resident, today) is None
        if wants_signing and order.signing_pin is None:
            raise CardRefused(
                f"resident {order.code}", "a signing PIN is needed (the holder gets a signing certificate)"
            )
        card_id = order.card_id or (
            f"B{hashlib.sha256(order.batch_key.encode()).hexdigest()[:23].upper()}"
            if order.batch_key
            else f"C{secrets.token_hex(12).upper()}"
        )
        wanted = CardRecord(
            card_id,
            order.code,
            order.token_kind or self.settings.token_kind,
            CardRecordState.creating,
            CardStatus.ACTIVE,
            today,
            card_expiry(resident.info.birth, today),
            order.batch_key,
        )
        return resident, wanted, wants_signing

    def _begin(self, orders: Sequence[CardOrder], pool: Executor | None, *, actor: str) -> list[_Work]:
        """Every order checked first (one refusal refuses the chunk, nothing written), then the card rows
        in one commit, then the cards opened (resumed) or made."""
        today = self.today()
        plans = [self._plan(order, today) for order in orders]
        records = self.records.begin_cards([plan[1] for plan in plans], actor=actor)
        jobs: list[_CardJob] = []
        for order, (resident, _, wants_signing), record in zip(orders, plans, records, strict=True):
            if self._whole_on_disk(record):
                continue
            signing_pin = order.signing_pin if wants_signing and order.signing_pin is not None else None
            jobs.append(
                _CardJob(
                    self.cards_dir,
                    record.card_id,
                    resident.info.birth,
                    record.issued_on,
                    signing_pin or _unusable_pin(),
                    order.auth_pin,
                    record.token_kind,
                )
            )
        parallel = [job for job in jobs if pool is not None and job.token_kind == "file"]
        if pool is not None and parallel:
            list(pool.map(_make_card, parallel))
        for job in jobs:
            if job not in parallel:
                _make_card(job)
        works = []
        for order, (resident, _, _), record in zip(orders, plans, records, strict=True):
            card = MyNumberCard.open(self.cards_dir, record.card_id, clock=self.clock)
            work = _Work(order, resident, record, card)
            if record.state is CardRecordState.issued:
                for kind in CertKind:
                    if card.has_certificate(kind.slot):
                        work.certs[kind] = card.certificate(kind.slot)
            works.append(work)
        return works

    def _whole_on_disk(self, record: CardRecord) -> bool:
        """Whether the record's card is whole on disk; a partial card (a crash before its state was written:
        keys never certified) is cleared. A missing card of an issued record is an error."""
        try:
            MyNumberCard.open(self.cards_dir, record.card_id, clock=self.clock).close()
            return True
        except CardError:
            if record.state is CardRecordState.issued:
                raise
        shutil.rmtree(self.cards_dir / record.card_id, ignore_errors=True)
        return False

    def _certify(self, works: Sequence[_Work], *, actor: str) -> None:
        """Issue what the cards of a chunk lack: auth certificates first (they cap the signing ones)."""
        for kind in (CertKind.auth, CertKind.signing):
            todo = []
            for work in works:
                if kind in work.certs:
                    continue
                if kind is CertKind.signing and self.signing_eligible(work.resident, work.record.issued_on):
                    continue
                found = self._stored_for(work, kind)
                if found is not None:
                    work.certs[kind] = found
                else:
                    todo.append(work)
            if not todo:
                continue
            requests = [self._request(work, kind) for work in todo]
            certs = self.ca_for(kind).issue_requests(requests, actor=actor)
            for work, cert in zip(todo, certs, strict=True):
                work.certs[kind] = cert

    def _stored_for(self, work: _Work, kind: CertKind) -> x509.Certificate | None:
        """A certificate already issued for this card's current key (an interrupted issuance)."""
        key = _spki(work.card.public_key(kind.slot))
        ca = self.ca_for(kind)
        for row in self.pki.store.certificates(
            ca.id, holder_ref=HOLDER_REF.format(card_id=work.record.card_id)
        ):
            if row.der is None:
                continue
            cert = x509.load_der_x509_certificate(row.der)
            if _spki(cert.public_key()) == key:
                return cert
        return None

    def _request(self, work: _Work, kind: CertKind, *, renewal_of: dt.datetime | None = None) -> IssueRequest:
        resident, card = work.resident, work.card
        attributes = {
            "birth_date": resident.info.birth.isoformat(),
            "card_expiry": work.record.expires_on.isoformat(),
        }
        if renewal_of is not None:
            attributes["renewal_of_expiry"] = renewal_of.isoformat()
        holder_ref = HOLDER_REF.format(card_id=work.record.card_id)
        public_key = card.public_key(kind.slot)
        if kind is CertKind.auth:
            return IssueRequest(
                self.settings.auth_profile,
                public_key=public_key,
                subject=[("C", "JP"), ("CN", _opaque_cn())],
                holder_ref=holder_ref,
                attributes=attributes,
            )
        auth = work.certs.get(CertKind.auth)
        if auth is None and card.has_certificate(KeySlot.AUTH):
            auth = card.certificate(KeySlot.AUTH)
        if auth is not None:
            attributes["not_after_cap"] = auth.not_valid_after_utc.isoformat()
        subject = [
            ("C", "JP"),
            *(("L", value) for value in locality(resident.municipality)),
            ("CN", _opaque_cn()),
        ]
        return IssueRequest(
            self.settings.sign_profile,
            public_key=public_key,
            subject=subject,
            holder_ref=holder_ref,
            other_names=resident.info.other_names(),
            attributes=attributes,
        )

    def _finish(self, works: Sequence[_Work], *, actor: str) -> list[IssuedCard]:
        """Write the certificates to the cards, then record them, link the pairs and mark the cards issued,
        one commit each for the whole chunk (each step skips what a resumed run already did)."""
        ids: dict[CertKind, dict[int, int]] = {}
        for kind in CertKind:
            serials = [w.certs[kind].serial_number for w in works if kind in w.certs]
            ids[kind] = self.pki.store.certificate_ids(self.ca_for(kind).id, serials) if serials else {}
        rows: list[NewCert] = []
        links: list[tuple[int, int, LinkKind]] = []
        for work in works:
            card_id = work.record.card_id
            writes = {
                kind.slot: (_der(cert), _der(self.ca_for(kind).certificate))
                for kind, cert in work.certs.items()
                if not work.card.has_certificate(kind.slot)
                or work.card.certificate_der(kind.slot) != _der(cert)
            }
            if writes:
                work.card.write_certificates(writes)
            for kind, cert in work.certs.items():
                rows.append(
                    NewCert(
                        card_id,
                        work.record.code,
                        kind,
                        self.ca_for(kind).id,
                        cert.serial_number,
                        ids[kind][cert.serial_number],
                        cert.not_valid_after_utc,
                        work.previous.get(kind),
                    )
                )
            if len(work.certs) == 2 and work.record.state is not CardRecordState.issued:
                signing = ids[CertKind.signing][work.certs[CertKind.signing].serial_number]
                links.append(
                    (signing, ids[CertKind.auth][work.certs[CertKind.auth].serial_number], LinkKind.pair)
                )
        self.records.add_certs(rows)
        if links:
            audits = [_link_audit(actor, w.record.card_id) for w in works if len(w.certs) == 2]
            self.pki.store.link_many(links, audits[: len(links)])
        fresh = [w.record.card_id for w in works if w.record.state is not CardRecordState.issued]
        self.records.finish_cards(fresh, actor=actor)
        return [
            IssuedCard(
                w.record.card_id,
                w.record.code,
                w.record.expires_on,
                w.certs[CertKind.auth],
                w.certs.get(CertKind.signing),
            )
            for w in works
        ]

    def open_card(self, card_id: str) -> MyNumberCard:
        """The card as a card reader sees it (close it when done)."""
        self.card_record(card_id)
        return MyNumberCard.open(self.cards_dir, card_id, clock=self.clock)

    def card_record(self, card_id: str) -> CardRecord:
        found = self.records.card(card_id)
        if found is None:
            raise CardNotFound(card_id, "the JPKI card records")
        return found

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


def _revoked_of(record: EventRecord) -> tuple[Revoked, ...]:
    items = (record.outcome or {}).get("revoked", [])
    return tuple(
        Revoked(CertKind(i["kind"]), i["ca"], int(i["serial"], 16), RevocationReason(i["reason"]))
        for i in items
    )


def _link_audit(actor: str, card_id: str) -> AuditEntry:
    return AuditEntry(actor, "jpki.cert.link", f"card/{card_id}", {})


@dataclass(frozen=True, slots=True)
class _CardJob:
    """A card to make (picklable: worker processes make cards)."""

    cards_dir: Path
    card_id: str
    birth: dt.date
    issued_on: dt.date
    signing_pin: PinInput
    auth_pin: PinInput
    token_kind: str


def _make_card(job: _CardJob) -> None:
    """Make a card: keys generated in its token, PINs set. Top-level, so worker processes can run it."""
    MyNumberCard.create(
        job.cards_dir,
        job.card_id,
        holder_birth=job.birth,
        issued_on=job.issued_on,
        signing_pin=job.signing_pin,
        auth_pin=job.auth_pin,
        token_kind=job.token_kind,
    ).close()


def _unusable_pin() -> str:
    """[I] A card whose holder gets no signing certificate still has the signing slot: its PIN is random
    and never told to anyone."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    return "".join(secrets.choice(alphabet) for _ in range(16))


def _add_months(day: dt.date, months: int) -> dt.date:
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    for candidate in (day.day, 30, 29, 28):
        try:
            return dt.date(year, month, min(day.day, candidate))
        except ValueError:
            continue
    raise AssertionError("unreachable")
