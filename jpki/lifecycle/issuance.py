"""Card issuance, one card or many: resumable, chunked, no card or certificate twice."""

from __future__ import annotations

import datetime as dt
import hashlib
import multiprocessing
import secrets
import shutil
from collections.abc import Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from jpki.card import CardStatus, KeySlot, MyNumberCard, card_expiry
from jpki.card.errors import CardError
from jpki.card.pin import PinInput
from jpki.card.store import check_card_id
from jpki.lifecycle.base import JpkiCore
from jpki.lifecycle.records import (
    CardRecord,
    CardRecordState,
    CertKind,
    NewCert,
)
from jpki.lifecycle.values import (
    HOLDER_REF,
    CardOrder,
    CardRefused,
    IssuedCard,
    ProgressHook,
    _Work,
)
from jpki.registry import (
    Resident,
    ResidentStatus,
    locality,
)
from pki.ca import IssueRequest
from pki.store import AuditEntry, LinkKind


class CardIssuance(JpkiCore):
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
        opened: dict[str, MyNumberCard] = {}
        works: list[_Work] = []
        try:
            jobs: list[_CardJob] = []
            for order, (resident, _, wants_signing), record in zip(orders, plans, records, strict=True):
                whole = self._open_whole(record)
                if whole is not None:
                    opened[record.card_id] = whole
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
            in_pool = [job for job in jobs if pool is not None and job.token_kind == "file"]
            if pool is not None and in_pool:
                list(pool.map(_make_card, in_pool))
            for job in jobs:
                if pool is None or job.token_kind != "file":
                    _make_card(job)
            for order, (resident, _, _), record in zip(orders, plans, records, strict=True):
                card = opened.pop(record.card_id, None) or MyNumberCard.open(
                    self.cards_dir, record.card_id, clock=self.clock
                )
                work = _Work(order, resident, record, card)
                works.append(work)
                if record.state is CardRecordState.issued:
                    for kind in CertKind:
                        if card.has_certificate(kind.slot):
                            work.certs[kind] = card.certificate(kind.slot)
        except BaseException:
            for card in [*opened.values(), *(work.card for work in works)]:
                card.close()
            raise
        return works

    def _open_whole(self, record: CardRecord) -> MyNumberCard | None:
        """The record's card when it is whole on disk; a partial card (a crash before its state was written:
        keys never certified) is cleared and None returned. A missing card of an issued record is an error."""
        try:
            return MyNumberCard.open(self.cards_dir, record.card_id, clock=self.clock)
        except CardError:
            if record.state is CardRecordState.issued:
                raise
        shutil.rmtree(self.cards_dir / record.card_id, ignore_errors=True)
        return None

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
