"""The JPKI lifecycle against a real store and real CAs: cards, registry events, renewal, notices."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from jpki.card import JST, KeySlot
from jpki.fourinfo import decode
from jpki.lifecycle import CardOrder, CardRefused, CertKind, CertState, Jpki
from jpki.registry import (
    EventConflict,
    EventKind,
    EventRefused,
    EventState,
    ResidentEvent,
    ResidentStatus,
    UnknownResident,
)
from pki.clock import FixedClock
from pki.model import CertStatus, RevocationReason
from pki.store import LinkKind
from tests.jpki.support import START, make_home, open_jpki, resident
from tests.pg import fresh_database
from tests.test_store_support import BACKENDS

ACTOR = "test:counter"


@pytest.fixture(scope="module", params=BACKENDS)
def home(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A JPKI home on SQLite (the embedded default) and on PostgreSQL."""
    root = tmp_path_factory.mktemp("jpki")
    if request.param == "sqlite":
        yield make_home(root)
        return
    with fresh_database("jpki") as url:
        yield make_home(root, store_url=url)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START)


@pytest.fixture
def jpki(home: Path, clock: FixedClock) -> Iterator[Jpki]:
    opened = open_jpki(home, clock)
    yield opened
    opened.close()


def status(jpki: Jpki, cert: x509.Certificate, kind: CertKind) -> tuple[CertStatus, RevocationReason | None]:
    row = jpki.pki.store.status(jpki.ca_for(kind).id, cert.serial_number)
    assert row is not None
    return row.status, row.reason


def test_a_card_gets_both_certificates_with_the_holders_data(jpki: Jpki) -> None:
    person = jpki.add_resident(resident(), actor=ACTOR)
    issued = jpki.issue_card(person.code, signing_pin="ABC123", auth_pin="1234", actor=ACTOR)
    assert issued.signing is not None
    assert decode(issued.signing) == person.info
    localities = [a.value for a in issued.signing.subject.get_attributes_for_oid(NameOID.LOCALITY_NAME)]
    assert localities == ["Tokyo", "Chiyoda-ku"]
    assert issued.signing.not_valid_after_utc <= issued.auth.not_valid_after_utc
    # until the 5th birthday after issuance, 23:59:59 JST
    assert issued.auth.not_valid_after_utc.astimezone(JST).replace(tzinfo=None) == dt.datetime(
        2031, 1, 2, 23, 59, 59
    )
    assert issued.signing.issuer == jpki.sign_ca.certificate.subject
    with jpki.open_card(issued.card_id) as card:
        assert card.certificate(KeySlot.SIGNING) == issued.signing
        assert card.certificate(KeySlot.AUTH) == issued.auth
        assert card.ca_certificate_der(KeySlot.AUTH) == jpki.auth_ca.certificate.public_bytes(
            __import__("cryptography.hazmat.primitives.serialization", fromlist=["Encoding"]).Encoding.DER
        )
    held = jpki.records.certs(card_id=issued.card_id)
    assert {h.kind for h in held} == {CertKind.signing, CertKind.auth}
    assert all(h.state is CertState.current for h in held)
    assert jpki.card_record(issued.card_id).expires_on == dt.date(2036, 1, 2)  # 10th birthday after issuance


def test_no_signing_certificate_under_15_or_under_guardianship(jpki: Jpki) -> None:
    child = jpki.add_resident(resident(birth=dt.date(2012, 11, 27)), actor=ACTOR)  # 14 today, 15 tomorrow
    issued = jpki.issue_card(child.code, signing_pin=None, auth_pin="1234", actor=ACTOR)
    assert issued.signing is None
    with jpki.open_card(issued.card_id) as card:
        assert not card.has_certificate(KeySlot.SIGNING)
    ward = jpki.add_resident(resident(guardianship=True), actor=ACTOR)
    assert jpki.issue_card(ward.code, signing_pin=None, auth_pin="1234", actor=ACTOR).signing is None
    adult = jpki.add_resident(resident(birth=dt.date(2011, 11, 26)), actor=ACTOR)  # 15 today
    with pytest.raises(CardRefused, match="signing PIN is needed"):
        jpki.issue_card(adult.code, signing_pin=None, auth_pin="1234", actor=ACTOR)
    with pytest.raises(UnknownResident):
        jpki.issue_card("99999999999", signing_pin="ABC123", auth_pin="1234", actor=ACTOR)


def test_a_move_revokes_the_signing_certificate_only_and_a_replay_changes_nothing(jpki: Jpki) -> None:
    person = jpki.add_resident(resident(), actor=ACTOR)
    issued = jpki.issue_card(person.code, signing_pin="ABC123", auth_pin="1234", actor=ACTOR)
    assert issued.signing is not None
    today = jpki.today()
    move = ResidentEvent(
        "mv-" + person.code, person.code, EventKind.move, today, address="大阪府大阪市北区1番"
    )
    outcome = jpki.record_event(move, actor="registry")
    assert outcome.new and outcome.state is EventState.applied
    assert [(r.kind, r.reason) for r in outcome.revoked] == [
        (CertKind.signing, RevocationReason.affiliation_changed)
    ]
    assert status(jpki, issued.signing, CertKind.signing) == (
        CertStatus.revoked,
        RevocationReason.affiliation_changed,
    )
    assert status(jpki, issued.auth, CertKind.auth) == (CertStatus.good, None)
    assert jpki.resident(person.code).info.address == "大阪府大阪市北区1番"
    audit_before = sum(1 for _ in jpki.pki.store.audit_records())
    again = jpki.record_event(move, actor="registry")
    assert not again.new and again.revoked == outcome.revoked
    assert sum(1 for _ in jpki.pki.store.audit_records()) == audit_before
    changed = ResidentEvent(move.event_id, person.code, EventKind.move, today, address="別の住所")
    with pytest.raises(EventConflict):
        jpki.record_event(changed, actor="registry")
    # re-issue: a new signing certificate with the new address, linked to the revoked one
    new = jpki.reissue_signing(issued.card_id, actor=ACTOR)
    assert decode(new).address == "大阪府大阪市北区1番"
    line = jpki.chain(jpki.sign_ca.id, issued.signing.serial_number)
    assert [h.serial for h in line] == [issued.signing.serial_number, new.serial_number]
    assert [h.state for h in line] == [CertState.revoked, CertState.current]
    assert new.not_valid_after_utc <= issued.auth.not_valid_after_utc
    with pytest.raises(CardRefused, match="still valid"):
        jpki.reissue_signing(issued.card_id, actor=ACTOR)


def test_death_revokes_both_and_nothing_more_can_happen(jpki: Jpki) -> None:
    person = jpki.add_resident(resident(), actor=ACTOR)
    issued = jpki.issue_card(person.code, signing_pin="ABC123", auth_pin="1234", actor=ACTOR)
    assert issued.signing is not None
    death = ResidentEvent("death-" + person.code, person.code, EventKind.death, jpki.today())
    outcome = jpki.record_event(death, actor="registry")
    assert {(r.kind, r.reason) for r in outcome.revoked} == {
        (CertKind.signing, RevocationReason.cessation_of_operation),
        (CertKind.auth, RevocationReason.cessation_of_operation),
    }
    assert status(jpki, issued.auth, CertKind.auth)[0] is CertStatus.revoked
    assert jpki.resident(person.code).status is ResidentStatus.deceased
    with pytest.raises(EventRefused, match="deceased"):
        jpki.record_event(
            ResidentEvent("late-move-" + person.code, person.code, EventKind.move, jpki.today(), address="x"),
            actor="registry",
        )
    with pytest.raises(CardRefused, match="deceased"):
        jpki.issue_card(person.code, signing_pin="ABC123", auth_pin="1234", actor=ACTOR)


def test_emigration_revokes_the_signing_certificate_on_its_day(jpki: Jpki, clock: FixedClock) -> None:
    person = jpki.add_resident(resident(), actor=ACTOR)
    issued = jpki.issue_card(person.code, signing_pin="ABC123", auth_pin="1234", actor=ACTOR)
    assert issued.signing is not None
    leave = ResidentEvent(
        "emi-" + person.code, person.code, EventKind.emigrate, jpki.today() + dt.timedelta(days=3)
    )
    outcome = jpki.record_event(leave, actor="registry")
    assert outcome.state is EventState.scheduled and not outcome.revoked
    assert status(jpki, issued.signing, CertKind.signing)[0] is CertStatus.good
    assert jpki.resident(person.code).status is ResidentStatus.resident
    clock.advance(dt.timedelta(days=3))
    done = [o for o in jpki.apply_due(actor="scheduler") if o.event_id == leave.event_id]
    assert [(r.kind, r.reason) for r in done[0].revoked] == [
        (CertKind.signing, RevocationReason.cessation_of_operation)
    ]
    assert status(jpki, issued.auth, CertKind.auth)[0] is CertStatus.good
    assert jpki.resident(person.code).status is ResidentStatus.abroad
    assert not [o for o in jpki.apply_due(actor="scheduler") if o.event_id == leave.event_id]


def test_a_lost_card_revokes_both_for_key_compromise(jpki: Jpki) -> None:
    person = jpki.add_resident(resident(), actor=ACTOR)
    issued = jpki.issue_card(person.code, signing_pin="ABC123", auth_pin="1234", actor=ACTOR)
    revoked = jpki.report_lost(issued.card_id, actor=ACTOR)
    assert {r.reason for r in revoked} == {RevocationReason.key_compromise}
    assert len(revoked) == 2
    assert jpki.card_record(issued.card_id).status.value == "lost"
    with pytest.raises(CardRefused, match="lost"):
        jpki.renew(issued.card_id, actor=ACTOR)


def test_batch_orders_resume_without_duplicates(jpki: Jpki, monkeypatch: pytest.MonkeyPatch) -> None:
    people = [jpki.add_resident(resident(), actor=ACTOR) for _ in range(3)]
    orders = [CardOrder(p.code, "ABC123", "1234", batch_key=f"batch-1:{p.code}") for p in people]
    calls = {"n": 0}
    real = Jpki._finish

    def crash_on_second(self: Jpki, works: object, *, actor: str) -> object:
        calls["n"] += 1
        if calls["n"] == 2:  # the 2nd card: keys made, certificates issued, nothing recorded yet
            raise RuntimeError("power cut")
        return real(self, works, actor=actor)  # type: ignore[arg-type]

    monkeypatch.setattr(Jpki, "_finish", crash_on_second)
    with pytest.raises(RuntimeError):
        jpki.issue_cards(orders, actor=ACTOR, chunk=1)
    monkeypatch.undo()
    first = jpki.issue_cards(orders, actor=ACTOR)
    again = jpki.issue_cards(orders, actor=ACTOR)
    assert [c.card_id for c in first] == [c.card_id for c in again]
    assert [c.auth.serial_number for c in first] == [c.auth.serial_number for c in again]
    for person in people:
        cards = jpki.records.cards_of(person.code)
        assert len(cards) == 1
        ref = f"jpki-card:{cards[0].card_id}"
        assert len(jpki.pki.store.certificates("jpki-auth", holder_ref=ref)) == 1
        assert len(jpki.pki.store.certificates("jpki-sign", holder_ref=ref)) == 1
        assert len(jpki.records.certs(code=person.code)) == 2


def test_pair_link_recorded(jpki: Jpki) -> None:
    person = jpki.add_resident(resident(), actor=ACTOR)
    issued = jpki.issue_card(person.code, signing_pin="ABC123", auth_pin="1234", actor=ACTOR)
    held = {h.kind: h for h in jpki.records.certs(card_id=issued.card_id)}
    from pki.store import StoreConflict

    with pytest.raises(StoreConflict, match="already linked"):
        jpki.pki.store.link(
            held[CertKind.signing].cert_id, held[CertKind.auth].cert_id, LinkKind.pair, _entry()
        )


def _entry() -> object:
    from pki.store import AuditEntry

    return AuditEntry("t", "t", "t", {})


def _jst_day(cert: x509.Certificate) -> dt.date:
    return cert.not_valid_after_utc.astimezone(JST).date()


@pytest.mark.parametrize(
    ("renew_on", "expected"),
    [
        (dt.datetime(2030, 11, 1, 1, tzinfo=dt.UTC), dt.date(2036, 1, 2)),  # inside the window: 6th birthday
        (dt.datetime(2029, 6, 1, 1, tzinfo=dt.UTC), dt.date(2034, 1, 2)),  # outside: the 5th
    ],
    ids=["inside-window", "outside-window"],
)
def test_renewal_supersedes_links_and_follows_the_window(
    jpki: Jpki, clock: FixedClock, renew_on: dt.datetime, expected: dt.date
) -> None:
    person = jpki.add_resident(resident(), actor=ACTOR)
    first = jpki.issue_card(person.code, signing_pin="ABC123", auth_pin="1234", actor=ACTOR)
    assert first.signing is not None and _jst_day(first.auth) == dt.date(2031, 1, 2)
    clock.at = renew_on
    renewed = jpki.renew(first.card_id, actor=ACTOR)
    assert renewed.signing is not None
    assert _jst_day(renewed.auth) == expected and _jst_day(renewed.signing) == expected
    assert renewed.auth.public_key() != first.auth.public_key()  # new keys on the card
    for kind, old, new in (
        (CertKind.auth, first.auth, renewed.auth),
        (CertKind.signing, first.signing, renewed.signing),
    ):
        assert status(jpki, old, kind) == (CertStatus.revoked, RevocationReason.superseded)
        assert [h.serial for h in jpki.chain(jpki.ca_for(kind).id, old.serial_number)] == [
            old.serial_number,
            new.serial_number,
        ]
    with jpki.open_card(first.card_id) as card:
        assert card.certificate(KeySlot.SIGNING) == renewed.signing
        signature = card.sign(
            KeySlot.AUTH,
            b"\x30\x31\x30\x0d\x06\x09\x60\x86\x48\x01\x65\x03\x04\x02\x01\x05\x00\x04\x20" + bytes(32),
            "1234",
        )
        assert len(signature) == 256


def test_card_expiry_caps_certificates(jpki: Jpki, clock: FixedClock) -> None:
    """Issued at 17: the card runs to the 5th birthday after issuance; a renewal inside the window would run
    to the 6th, and the card's expiry caps it."""
    teen = jpki.add_resident(resident(birth=dt.date(2009, 2, 28)), actor=ACTOR)
    issued = jpki.issue_card(teen.code, signing_pin="ABC123", auth_pin="1234", actor=ACTOR)
    card_end = jpki.card_record(issued.card_id).expires_on
    assert card_end == dt.date(2031, 2, 28)
    assert issued.signing is not None and _jst_day(issued.signing) == card_end == _jst_day(issued.auth)
    clock.at = dt.datetime(2031, 1, 15, 1, tzinfo=dt.UTC)
    renewed = jpki.renew(issued.card_id, actor=ACTOR)
    assert renewed.signing is not None
    assert _jst_day(renewed.auth) == card_end and _jst_day(renewed.signing) == card_end


def test_notices_list_certificates_and_cards_expiring_in_the_window(jpki: Jpki) -> None:
    person = jpki.add_resident(resident(name="佐藤　花子"), actor=ACTOR)
    issued = jpki.issue_card(person.code, signing_pin="ABC123", auth_pin="1234", actor=ACTOR)
    assert issued.signing is not None
    mine = [
        n for n in jpki.notices(within_months=3, today=dt.date(2030, 11, 1)) if n.card_id == issued.card_id
    ]
    assert {(n.what, n.kind, n.serial) for n in mine} == {
        ("certificate", CertKind.auth, issued.auth.serial_number),
        ("certificate", CertKind.signing, issued.signing.serial_number),
    }
    assert all(n.holder == "佐藤　花子" and n.expires_on == dt.date(2031, 1, 2) for n in mine)
    assert not [
        n for n in jpki.notices(within_months=3, today=dt.date(2030, 9, 1)) if n.card_id == issued.card_id
    ]
    card_notice = [
        n for n in jpki.notices(within_months=3, today=dt.date(2035, 11, 1)) if n.card_id == issued.card_id
    ]
    assert [(n.what, n.action) for n in card_notice] == [("card", "replace the card")]
    jpki.report_lost(issued.card_id, actor=ACTOR)
    assert not [
        n for n in jpki.notices(within_months=3, today=dt.date(2030, 11, 1)) if n.card_id == issued.card_id
    ]


def test_a_returned_card_revokes_what_is_current_and_a_found_lost_card_can_be_returned(jpki: Jpki) -> None:
    person = jpki.add_resident(resident(), actor=ACTOR)
    kept = jpki.issue_card(person.code, signing_pin="ABC123", auth_pin="1234", actor=ACTOR)
    revoked = jpki.return_card(kept.card_id, actor=ACTOR)
    assert {r.reason for r in revoked} == {RevocationReason.cessation_of_operation} and len(revoked) == 2
    assert jpki.card_record(kept.card_id).status.value == "returned"
    assert jpki.return_card(kept.card_id, actor=ACTOR) == []  # again: nothing more to do
    lost = jpki.issue_card(person.code, signing_pin="ABC123", auth_pin="1234", actor=ACTOR)
    jpki.report_lost(lost.card_id, actor=ACTOR)
    assert jpki.return_card(lost.card_id, actor=ACTOR) == []
    assert status(jpki, lost.auth, CertKind.auth) == (CertStatus.revoked, RevocationReason.key_compromise)
