"""The resident registry on the store: residents, and the events that change them.

Events are kept by id. :meth:`ResidentRegistry.record` writes the event and the changed resident in one
transaction with its audit record, in state ``pending`` (or ``scheduled`` when it takes effect later);
whoever drives the CAs marks it ``applied`` with :meth:`ResidentRegistry.mark_applied` once the effects
are done. A crash in between leaves it ``pending``, and recording it again resumes the effects.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from jpki import tables
from jpki.fourinfo import Era, FourInfo, Sex
from jpki.registry.errors import EventConflict, EventRefused, ResidentExists, UnknownResident
from jpki.registry.model import Resident, ResidentEvent, ResidentStatus, check_resident_code
from pki.clock import Clock
from pki.store import AuditEntry, Store

T = tables.resident
E = tables.event


class EventState(enum.StrEnum):
    scheduled = "scheduled"
    """Takes effect on a later day: nothing changed yet."""
    pending = "pending"
    """The registry changed; the certificate effects are not all done."""
    applied = "applied"


@dataclass(frozen=True, slots=True)
class EventRecord:
    event: ResidentEvent
    state: EventState
    recorded_at: dt.datetime
    outcome: Mapping[str, Any] | None = None
    """What the effects did (revoked serials…), once applied."""


def _resident_values(resident: Resident, now: dt.datetime) -> dict[str, Any]:
    info = resident.info
    return {
        "code": resident.code,
        "name": info.name,
        "name_substitutes": info.name_substitutes,
        "birth": info.birth,
        "era": info.era.code,
        "sex": info.sex.code,
        "address": info.address,
        "address_substitutes": info.address_substitutes,
        "municipality": resident.municipality,
        "status": resident.status.value,
        "status_since": resident.status_since,
        "guardianship": resident.guardianship,
        "version": resident.version,
        "updated_at": now,
    }


def resident_of(m: sa.RowMapping) -> Resident:
    era = next(e for e in Era if e.code == m["era"])
    info = FourInfo(
        name=m["name"],
        birth=m["birth"],
        era=era,
        sex=Sex.from_code(m["sex"]),
        address=m["address"],
        name_substitutes=m["name_substitutes"],
        address_substitutes=m["address_substitutes"],
    )
    return Resident(
        code=m["code"],
        info=info,
        municipality=m["municipality"],
        status=ResidentStatus(m["status"]),
        guardianship=bool(m["guardianship"]),
        status_since=m["status_since"],
        version=m["version"],
    )


def _record_of(m: sa.RowMapping) -> EventRecord:
    outcome = None if m["outcome"] is None else json.loads(m["outcome"])
    return EventRecord(
        ResidentEvent.from_payload(m["event_id"], m["payload"]),
        EventState(m["state"]),
        m["recorded_at"],
        outcome,
    )


class ResidentRegistry:
    """Residents keyed by resident code, and their events. Thread-safe (the store is)."""

    def __init__(self, store: Store, clock: Clock) -> None:
        store.ensure_domain(tables.SCHEMA)
        self._store = store
        self._clock = clock

    # -- residents ----------------------------------------------------------------------------------------

    def add(self, resident: Resident, *, actor: str) -> Resident:
        """Register a resident; ResidentExists if the code is taken."""
        with self._store.domain_write() as tx:
            if _get(tx.conn, resident.code, lock=False) is not None:
                raise ResidentExists(resident.code)
            tx.conn.execute(sa.insert(T).values(_resident_values(resident, self._clock.now())))
            tx.audit(AuditEntry(actor, "jpki.resident.add", f"resident/{resident.code}", {}))
        return resident

    def get(self, code: str) -> Resident:
        check_resident_code(code)
        with self._store.domain_read() as conn:
            found = _get(conn, code, lock=False)
        if found is None:
            raise UnknownResident(code)
        return found

    def set_guardianship(self, code: str, under: bool, *, actor: str) -> Resident:
        """Record the start or end of adult guardianship (no signing certificate while under it)."""
        with self._store.domain_write() as tx:
            found = _get(tx.conn, code, lock=True)
            if found is None:
                raise UnknownResident(code)
            tx.conn.execute(
                sa.update(T)
                .where(T.c.code == code)
                .values(guardianship=under, version=found.version + 1, updated_at=self._clock.now())
            )
            tx.audit(AuditEntry(actor, "jpki.resident.guardianship", f"resident/{code}", {"under": under}))
        return self.get(code)

    def count(self) -> int:
        with self._store.domain_read() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(T)).scalar_one())

    # -- events -------------------------------------------------------------------------------------------

    def record(self, event: ResidentEvent, *, today: dt.date, actor: str) -> tuple[EventRecord, bool]:
        """Record an event: ``(record, new)``. A replay returns the stored record and ``new=False``.

        An event whose day has come (``on <= today``) changes the resident at once (state ``pending``
        until its effects are marked applied); a later one is ``scheduled`` and changes nothing yet.
        """
        payload = event.payload()
        with self._store.domain_write() as tx:
            seen = tx.conn.execute(sa.select(E).where(E.c.event_id == event.event_id)).mappings().first()
            if seen is not None:
                if seen["payload"] != payload:
                    raise EventConflict(event.event_id)
                return _record_of(seen), False
            resident = _get(tx.conn, event.code, lock=True)
            if resident is None:
                raise UnknownResident(event.code)
            due = event.on <= today
            if due:
                self._change(tx.conn, resident, event)
            now = self._clock.now()
            state = EventState.pending if due else EventState.scheduled
            tx.conn.execute(
                sa.insert(E).values(
                    event_id=event.event_id,
                    code=event.code,
                    kind=event.kind.value,
                    effective_on=event.on,
                    payload=payload,
                    state=state.value,
                    recorded_at=now,
                )
            )
            details = {"kind": event.kind.value, "on": event.on.isoformat(), "state": state.value}
            tx.audit(
                AuditEntry(actor, "jpki.resident.event", f"resident/{event.code}/{event.event_id}", details)
            )
        return EventRecord(event, state, now), True

    def start_scheduled(self, event_id: str, *, actor: str) -> EventRecord:
        """A scheduled event's day has come: change the resident now (state ``pending``)."""
        with self._store.domain_write() as tx:
            row = tx.conn.execute(sa.select(E).where(E.c.event_id == event_id)).mappings().first()
            if row is None:
                raise EventRefused(event_id, "no such event")
            record = _record_of(row)
            if record.state is not EventState.scheduled:
                return record
            resident = _get(tx.conn, record.event.code, lock=True)
            assert resident is not None  # a foreign key keeps it
            self._change(tx.conn, resident, record.event)
            tx.conn.execute(
                sa.update(E).where(E.c.event_id == event_id).values(state=EventState.pending.value)
            )
            tx.audit(
                AuditEntry(actor, "jpki.resident.event.start", f"resident/{resident.code}/{event_id}", {})
            )
        return EventRecord(record.event, EventState.pending, record.recorded_at)

    def _change(self, conn: Connection, resident: Resident, event: ResidentEvent) -> None:
        if resident.status is ResidentStatus.deceased:
            raise EventRefused(event.event_id, "the resident is recorded as deceased")
        if event.kind.value == "emigrate" and resident.status is ResidentStatus.abroad:
            raise EventRefused(event.event_id, "the resident is already abroad")
        if event.kind.value == "return" and resident.status is not ResidentStatus.abroad:
            raise EventRefused(event.event_id, "the resident is not abroad")
        changed = event.apply_to(resident)
        values = _resident_values(changed, self._clock.now())
        values.pop("code")
        conn.execute(sa.update(T).where(T.c.code == resident.code).values(values))

    def mark_applied(self, event_id: str, outcome: Mapping[str, Any], *, actor: str) -> None:
        with self._store.domain_write() as tx:
            tx.conn.execute(
                sa.update(E)
                .where(E.c.event_id == event_id)
                .values(
                    state=EventState.applied.value,
                    outcome=json.dumps(dict(outcome), sort_keys=True),
                    applied_at=self._clock.now(),
                )
            )
            tx.audit(AuditEntry(actor, "jpki.resident.event.applied", f"event/{event_id}", dict(outcome)))

    def event(self, event_id: str) -> EventRecord | None:
        with self._store.domain_read() as conn:
            row = conn.execute(sa.select(E).where(E.c.event_id == event_id)).mappings().first()
        return None if row is None else _record_of(row)

    def events(self, code: str) -> list[EventRecord]:
        """A resident's events, oldest first."""
        query = sa.select(E).where(E.c.code == code).order_by(E.c.recorded_at, E.c.event_id)
        with self._store.domain_read() as conn:
            return [_record_of(m) for m in conn.execute(query).mappings()]

    def unfinished(self, today: dt.date) -> Iterator[EventRecord]:
        """Events whose effects are due and not done: pending ones, and scheduled ones whose day came."""
        query = (
            sa.select(E)
            .where(
                sa.or_(
                    E.c.state == EventState.pending.value,
                    sa.and_(E.c.state == EventState.scheduled.value, E.c.effective_on <= today),
                )
            )
            .order_by(E.c.effective_on, E.c.recorded_at)
        )
        with self._store.domain_read() as conn:
            rows = list(conn.execute(query).mappings())
        return (_record_of(m) for m in rows)


def _get(conn: Connection, code: str, *, lock: bool) -> Resident | None:
    query = sa.select(T).where(T.c.code == code)
    if lock and conn.dialect.name == "postgresql":
        query = query.with_for_update()
    found = conn.execute(query).mappings().first()
    return None if found is None else resident_of(found)
