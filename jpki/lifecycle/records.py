"""Cards and card certificates on the store (``jpki_card``, ``jpki_cert``): the lifecycle's bookkeeping."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import sqlalchemy as sa

from jpki import tables
from jpki.card import CardStatus, KeySlot
from pki.clock import Clock
from pki.model import serial_hex
from pki.store import AuditEntry, Store

C = tables.card
X = tables.cert
R = tables.resident


class CertKind(enum.StrEnum):
    signing = "signing"
    auth = "auth"

    @property
    def slot(self) -> KeySlot:
        return KeySlot.SIGNING if self is CertKind.signing else KeySlot.AUTH


class CertState(enum.StrEnum):
    current = "current"
    superseded = "superseded"
    """Replaced by a renewal (and revoked with reason superseded)."""
    revoked = "revoked"


class CardRecordState(enum.StrEnum):
    creating = "creating"
    """Row written, keys or certificates not all done: issuing it again resumes."""
    issued = "issued"


@dataclass(frozen=True, slots=True)
class CardRecord:
    card_id: str
    code: str
    token_kind: str
    state: CardRecordState
    status: CardStatus
    issued_on: dt.date
    expires_on: dt.date
    batch_key: str | None


@dataclass(frozen=True, slots=True)
class HeldCert:
    """A certificate on a card: whose, which slot, and what became of it."""

    id: int
    card_id: str
    code: str
    kind: CertKind
    ca_id: str
    serial: int
    cert_id: int
    not_after: dt.datetime
    state: CertState
    previous_id: int | None


class NewCert(NamedTuple):
    card_id: str
    code: str
    kind: CertKind
    ca_id: str
    serial: int
    cert_id: int
    not_after: dt.datetime
    previous_id: int | None


def _card(m: sa.RowMapping) -> CardRecord:
    return CardRecord(
        m["card_id"],
        m["code"],
        m["token_kind"],
        CardRecordState(m["state"]),
        CardStatus(m["status"]),
        m["issued_on"],
        m["expires_on"],
        m["batch_key"],
    )


def _held(m: sa.RowMapping) -> HeldCert:
    return HeldCert(
        m["id"],
        m["card_id"],
        m["code"],
        CertKind(m["kind"]),
        m["ca_id"],
        int(m["serial_hex"], 16),
        m["cert_id"],
        m["not_after"],
        CertState(m["state"]),
        m["previous_id"],
    )


class CardRecords:
    def __init__(self, store: Store, clock: Clock) -> None:
        store.ensure_domain(tables.SCHEMA)
        self._store = store
        self._clock = clock

    # -- cards --------------------------------------------------------------------------------------------

    def begin_cards(self, records: Sequence[CardRecord], *, actor: str) -> list[CardRecord]:
        """Write new cards' rows (state ``creating``) in one commit; where a batch key already has a card,
        that card's row instead. Returns the rows in order."""
        out: list[CardRecord] = []
        with self._store.domain_write() as tx:
            for record in records:
                if record.batch_key is not None:
                    query = sa.select(C).where(C.c.batch_key == record.batch_key)
                    seen = tx.conn.execute(query).mappings().first()
                    if seen is not None:
                        out.append(_card(seen))
                        continue
                tx.conn.execute(
                    sa.insert(C).values(
                        card_id=record.card_id,
                        code=record.code,
                        token_kind=record.token_kind,
                        state=CardRecordState.creating.value,
                        status=record.status.value,
                        issued_on=record.issued_on,
                        expires_on=record.expires_on,
                        batch_key=record.batch_key,
                        created_at=self._clock.now(),
                    )
                )
                details = {"resident": record.code}
                tx.audit(AuditEntry(actor, "jpki.card.begin", f"card/{record.card_id}", details))
                out.append(record)
        return out

    def finish_cards(self, card_ids: Sequence[str], *, actor: str) -> None:
        """Mark cards issued, in one commit."""
        if not card_ids:
            return
        with self._store.domain_write() as tx:
            for card_id in card_ids:
                issued = CardRecordState.issued.value
                tx.conn.execute(sa.update(C).where(C.c.card_id == card_id).values(state=issued))
                tx.audit(AuditEntry(actor, "jpki.card.issued", f"card/{card_id}", {}))

    def set_status(self, card_id: str, status: CardStatus, *, actor: str) -> None:
        with self._store.domain_write() as tx:
            tx.conn.execute(sa.update(C).where(C.c.card_id == card_id).values(status=status.value))
            tx.audit(AuditEntry(actor, "jpki.card.status", f"card/{card_id}", {"status": status.value}))

    def card(self, card_id: str) -> CardRecord | None:
        with self._store.domain_read() as conn:
            found = conn.execute(sa.select(C).where(C.c.card_id == card_id)).mappings().first()
        return None if found is None else _card(found)

    def cards_of(self, code: str) -> list[CardRecord]:
        query = sa.select(C).where(C.c.code == code).order_by(C.c.created_at)
        with self._store.domain_read() as conn:
            return [_card(m) for m in conn.execute(query).mappings()]

    def batch_cards(self, batch_keys: Sequence[str]) -> dict[str, CardRecord]:
        """Cards already begun for these batch keys, by key."""
        found: dict[str, CardRecord] = {}
        with self._store.domain_read() as conn:
            for start in range(0, len(batch_keys), 500):
                part = list(batch_keys[start : start + 500])
                for m in conn.execute(sa.select(C).where(C.c.batch_key.in_(part))).mappings():
                    found[m["batch_key"]] = _card(m)
        return found

    # -- certificates -------------------------------------------------------------------------------------

    def add_certs(self, held: Sequence[NewCert]) -> None:
        """Record certificates on cards; already recorded ones (a resumed issuance) are skipped."""
        now = self._clock.now()
        with self._store.domain_write() as tx:
            for card_id, code, kind, ca_id, serial, cert_id, not_after, previous_id in held:
                key = (X.c.ca_id == ca_id) & (X.c.serial_hex == serial_hex(serial))
                if tx.conn.execute(sa.select(X.c.id).where(key)).first() is not None:
                    continue
                tx.conn.execute(
                    sa.insert(X).values(
                        card_id=card_id,
                        code=code,
                        kind=kind.value,
                        ca_id=ca_id,
                        serial_hex=serial_hex(serial),
                        cert_id=cert_id,
                        not_after=not_after,
                        state=CertState.current.value,
                        previous_id=previous_id,
                        created_at=now,
                    )
                )

    def set_cert_state(self, ca_id: str, serial: int, state: CertState) -> None:
        with self._store.domain_write() as tx:
            tx.conn.execute(
                sa.update(X)
                .where((X.c.ca_id == ca_id) & (X.c.serial_hex == serial_hex(serial)))
                .values(state=state.value)
            )

    def certs(
        self,
        *,
        code: str | None = None,
        card_id: str | None = None,
        kind: CertKind | None = None,
        state: CertState | None = None,
    ) -> list[HeldCert]:
        """Certificates on cards, oldest first, filtered."""
        query = sa.select(X).order_by(X.c.id)
        if code is not None:
            query = query.where(X.c.code == code)
        if card_id is not None:
            query = query.where(X.c.card_id == card_id)
        if kind is not None:
            query = query.where(X.c.kind == kind.value)
        if state is not None:
            query = query.where(X.c.state == state.value)
        with self._store.domain_read() as conn:
            return [_held(m) for m in conn.execute(query).mappings()]

    def cert(self, ca_id: str, serial: int) -> HeldCert | None:
        query = sa.select(X).where((X.c.ca_id == ca_id) & (X.c.serial_hex == serial_hex(serial)))
        with self._store.domain_read() as conn:
            found = conn.execute(query).mappings().first()
        return None if found is None else _held(found)

    def cert_by_id(self, held_id: int) -> HeldCert | None:
        with self._store.domain_read() as conn:
            found = conn.execute(sa.select(X).where(X.c.id == held_id)).mappings().first()
        return None if found is None else _held(found)

    def successor(self, held_id: int) -> HeldCert | None:
        with self._store.domain_read() as conn:
            found = conn.execute(sa.select(X).where(X.c.previous_id == held_id)).mappings().first()
        return None if found is None else _held(found)

    # -- what expires -------------------------------------------------------------------------------------

    def expiring_certs(self, start: dt.datetime, end: dt.datetime) -> list[tuple[HeldCert, str]]:
        """Current certificates whose notAfter falls in [start, end), with the holder's name."""
        query = (
            sa.select(X, R.c.name)
            .join(R, R.c.code == X.c.code)
            .where((X.c.state == CertState.current.value) & (X.c.not_after >= start) & (X.c.not_after < end))
            .order_by(X.c.not_after, X.c.id)
        )
        with self._store.domain_read() as conn:
            return [(_held(m), m["name"]) for m in conn.execute(query).mappings()]

    def expiring_cards(self, first: dt.date, last: dt.date) -> list[tuple[CardRecord, str]]:
        """Active cards whose last valid day falls in [first, last], with the holder's name."""
        query = (
            sa.select(C, R.c.name)
            .join(R, R.c.code == C.c.code)
            .where(
                (C.c.status == CardStatus.ACTIVE.value)
                & (C.c.state == CardRecordState.issued.value)
                & (C.c.expires_on >= first)
                & (C.c.expires_on <= last)
            )
            .order_by(C.c.expires_on, C.c.card_id)
        )
        with self._store.domain_read() as conn:
            return [(_card(m), m["name"]) for m in conn.execute(query).mappings()]
