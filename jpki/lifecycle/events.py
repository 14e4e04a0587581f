"""Registry events drive the CAs: which certificates an event revokes, with which reason, and when."""

from __future__ import annotations

import datetime as dt

from jpki.card import JST
from jpki.lifecycle.base import JpkiCore
from jpki.lifecycle.records import (
    CertKind,
    CertState,
)
from jpki.lifecycle.values import (
    EventOutcome,
    Revoked,
)
from jpki.registry import (
    FOUR_INFO_CHANGES,
    EventKind,
    EventRecord,
    EventState,
    ResidentEvent,
)
from pki.model import RevocationReason


class EventDriver(JpkiCore):
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


def _revoked_of(record: EventRecord) -> tuple[Revoked, ...]:
    items = (record.outcome or {}).get("revoked", [])
    return tuple(
        Revoked(CertKind(i["kind"]), i["ca"], int(i["serial"], 16), RevocationReason(i["reason"]))
        for i in items
    )
