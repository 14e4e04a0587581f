"""The certificate store as its callers see it, on SQLite and on PostgreSQL (the same tests, parametrised)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy.exc as sa_exc

from pki.clock import FixedClock
from pki.errors import (
    AlreadyRevoked,
    DuplicateSerial,
    InvalidRevocation,
    StoreUnavailable,
    UnknownCa,
    UnknownSerial,
)
from pki.model import CertStatus, RevocationReason
from pki.store import (
    AuditEntry,
    CaExists,
    Checkpoint,
    CrlRow,
    DerMismatch,
    DuplicateCrlNumber,
    LinkKind,
    NotPending,
    Store,
    StoreConflict,
    UnknownCertificate,
    auditlog,
)
from tests.test_store_support import (
    BACKENDS,
    JST,
    T0,
    backend_url,
    bulk_revoke,
    ca_row,
    entry,
    migrated_template,
    pending,
    signed,
    state,
    verify_chain,
)

CA = "test-ca"
KEY_COMPROMISE = RevocationReason.key_compromise
HOLD = RevocationReason.certificate_hold


@pytest.fixture(scope="module")
def pg_template() -> Iterator[str]:
    with migrated_template("store_template") as name:
        yield name


@pytest.fixture(params=BACKENDS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each test's own database; PostgreSQL ones are copies of a migrated template (faster)."""
    template = request.getfixturevalue("pg_template") if request.param == "postgres" else None
    with backend_url(request.param, tmp_path, "store", template=template) as database:
        yield database


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


@pytest.fixture
def store(url: str, clock: FixedClock) -> Iterator[Store]:
    with Store.open(url, clock=clock) as opened:
        opened.add_ca(ca_row(CA), entry("ca.add", CA))
        yield opened


def issue(store: Store, serial: int, *, ca_id: str = CA, shards: int = 1, is_ca: bool = False) -> int:
    """Reserve and complete one certificate, as the CA engine does around signing."""
    cert, der = pending(ca_id, serial, shards=shards, is_ca=is_ca)
    cert_id = store.reserve_certificate(cert, entry("cert.reserve", f"{ca_id}/{serial:x}"))
    store.complete_certificate(cert_id, der, entry("cert.signed", f"{ca_id}/{serial:x}"))
    return cert_id


def revoke(store: Store, serial: int, reason: RevocationReason = KEY_COMPROMISE) -> None:
    store.revoke(CA, serial, reason, T0, None, entry("cert.revoke", f"{CA}/{serial:x}", reason=reason))


# -- issuance ------------------------------------------------------------------------------------------


def test_reserve_then_complete_makes_a_good_certificate(store: Store, clock: FixedClock) -> None:
    cert, der = pending(CA, 0x1234, holder="holder-1")
    cert_id = store.reserve_certificate(cert, entry("cert.reserve", "test-ca/1234"))
    reserved = store.status(CA, 0x1234)
    assert reserved is not None and reserved.status is CertStatus.pending
    assert store.get_certificate(CA, 0x1234).der is None

    clock.advance(dt.timedelta(seconds=5))
    store.complete_certificate(cert_id, der, entry("cert.signed", "test-ca/1234"))

    status = store.status(CA, 0x1234)
    assert status is not None
    assert (status.cert_id, status.status, status.revoked_at, status.reason) == (
        cert_id,
        CertStatus.good,
        None,
        None,
    )
    row = store.get_certificate(CA, 0x1234)
    assert row.der == der and row.holder_ref == "holder-1" and row.serial == 0x1234
    assert row.created_at == T0 and row.issued_at == T0 + dt.timedelta(seconds=5)
    assert row.not_after == cert.not_after and row.not_after.tzinfo is not None
    assert store.status(CA, 0x9999) is None
    assert store.status("other-ca", 0x1234) is None


def test_duplicate_serial_is_refused_and_changes_nothing(store: Store, url: str) -> None:
    issue(store, 77)
    before = state(url)
    again, _ = pending(CA, 77)
    with pytest.raises(DuplicateSerial) as caught:
        store.reserve_certificate(again, entry("cert.reserve", "test-ca/4d"))
    assert (caught.value.ca_id, caught.value.serial) == (CA, 77)
    assert state(url) == before
    assert store.status(CA, 77) is not None and store.get_certificate(CA, 77).status is CertStatus.good


def test_same_serial_under_two_cas_is_fine(store: Store) -> None:
    store.add_ca(ca_row("other-ca"), entry("ca.add", "other-ca"))
    issue(store, 5)
    issue(store, 5, ca_id="other-ca")
    assert store.get_certificate(CA, 5).id != store.get_certificate("other-ca", 5).id


def test_reserve_for_unknown_ca_changes_nothing(store: Store, url: str) -> None:
    before = state(url)
    with pytest.raises(UnknownCa):
        store.reserve_certificate(pending("nobody", 1)[0], entry("cert.reserve", "nobody/1"))
    assert state(url) == before


def test_complete_checks_the_der_against_the_reservation(store: Store, url: str) -> None:
    cert, der = pending(CA, 10)
    cert_id = store.reserve_certificate(cert, entry("cert.reserve", "test-ca/a"))
    before = state(url)
    other_der, _ = signed(11)
    with pytest.raises(DerMismatch, match="serial"):
        store.complete_certificate(cert_id, other_der, entry("cert.signed", "test-ca/a"))
    same_serial_other_tbs, _ = signed(10, days=400)
    with pytest.raises(DerMismatch, match="TBSCertificate"):
        store.complete_certificate(cert_id, same_serial_other_tbs, entry("cert.signed", "test-ca/a"))
    with pytest.raises(DerMismatch, match="not a DER certificate"):
        store.complete_certificate(cert_id, b"\x30\x03\x02\x01\x0a", entry("cert.signed", "test-ca/a"))
    with pytest.raises(UnknownCertificate):
        store.complete_certificate(cert_id + 1000, der, entry("cert.signed", "test-ca/a"))
    assert state(url) == before
    store.complete_certificate(cert_id, der, entry("cert.signed", "test-ca/a"))
    with pytest.raises(NotPending):
        store.complete_certificate(cert_id, der, entry("cert.signed", "test-ca/a"))


def test_a_batch_reserves_and_completes_with_a_record_per_certificate(store: Store, url: str) -> None:
    batch = [pending(CA, serial) for serial in (0x101, 0x102, 0x103)]
    head = store.audit_head()
    assert head is not None
    store.reserve_certificates(
        [c for c, _ in batch], [entry("cert.prepare", f"{CA}/{c.serial:x}") for c, _ in batch]
    )
    assert all(store.get_certificate(CA, c.serial).status is CertStatus.pending for c, _ in batch)
    store.complete_certificates(
        CA,
        [(c.serial, der) for c, der in batch],
        [entry("cert.signed", f"{CA}/{c.serial:x}") for c, _ in batch],
    )
    for cert, der in batch:
        row = store.get_certificate(CA, cert.serial)
        assert (row.status, row.der) == (CertStatus.good, der)
    records = list(store.audit_records())
    verify_chain(records)
    added = [(r.action, r.object) for r in records if r.seq > head.seq]
    objects = ["test-ca/101", "test-ca/102", "test-ca/103"]
    assert added == [("cert.prepare", o) for o in objects] + [("cert.signed", o) for o in objects]


def test_a_refused_batch_changes_nothing(store: Store, url: str) -> None:
    issue(store, 0x77)
    before = state(url)
    batch = [pending(CA, serial) for serial in (0x201, 0x77, 0x202)]
    audits = [entry("cert.prepare", f"{CA}/{c.serial:x}") for c, _ in batch]
    with pytest.raises(DuplicateSerial):
        store.reserve_certificates([c for c, _ in batch], audits)
    with pytest.raises(UnknownCa):
        store.reserve_certificates([pending("nobody", 5)[0]], audits[:1])
    assert state(url) == before

    good = [pending(CA, serial) for serial in (0x301, 0x302)]
    store.reserve_certificates([c for c, _ in good], audits[:2])
    before = state(url)
    wrong_tbs, _ = signed(0x302, days=400)
    completions = [(0x301, good[0][1]), (0x302, wrong_tbs)]
    with pytest.raises(DerMismatch):
        store.complete_certificates(CA, completions, audits[:2])
    with pytest.raises(UnknownSerial):
        store.complete_certificates(CA, [(0x301, good[0][1]), (0x999, good[1][1])], audits[:2])
    with pytest.raises(DerMismatch):
        store.complete_certificates(CA, [(0x301, b"\x30\x00")], audits[:1])
    assert state(url) == before
    assert store.get_certificate(CA, 0x301).status is CertStatus.pending  # the good half was not kept
    store.complete_certificates(CA, [(c.serial, der) for c, der in good], audits[:2])
    with pytest.raises(NotPending):
        store.complete_certificates(CA, [(0x301, good[0][1])], audits[:1])
    verify_chain(list(store.audit_records()))


def test_abort_pending_retires_dead_issuances(store: Store, clock: FixedClock) -> None:
    old_id = store.reserve_certificate(pending(CA, 1)[0], entry("cert.reserve", "test-ca/1"))
    clock.advance(dt.timedelta(hours=1))
    store.reserve_certificate(pending(CA, 2)[0], entry("cert.reserve", "test-ca/2"))

    aborted = store.abort_pending(CA, T0 + dt.timedelta(minutes=30), entry("cert.abort", CA))

    assert aborted == 1
    assert store.get_certificate(CA, 1).status is CertStatus.aborted
    assert store.get_certificate(CA, 2).status is CertStatus.pending
    with pytest.raises(NotPending):
        store.complete_certificate(old_id, signed(1)[0], entry("cert.signed", "test-ca/1"))
    with pytest.raises(UnknownSerial):
        revoke(store, 1)


def test_serials_outside_rfc_5280_are_refused() -> None:
    cert, _ = pending(CA, 1)
    for bad in (0, -1, 1 << 159):
        with pytest.raises(ValueError, match="RFC 5280"):
            dataclasses.replace(cert, serial=bad)


# -- revocation ----------------------------------------------------------------------------------------


def test_revoke_returns_the_revocation_and_status_shows_it(store: Store) -> None:
    cert_id = issue(store, 0xABC)
    when = dt.datetime(2025, 4, 2, 10, 0, tzinfo=JST)
    invalid = dt.datetime(2025, 3, 30, tzinfo=JST)
    row = store.revoke(CA, 0xABC, KEY_COMPROMISE, when, invalid, entry("cert.revoke", "test-ca/abc"))
    assert (row.certificate_id, row.reason, row.change_seq, row.released_at) == (
        cert_id,
        KEY_COMPROMISE,
        1,
        None,
    )
    status = store.status(CA, 0xABC)
    assert status is not None and status.status is CertStatus.revoked
    assert status.revoked_at == when and status.revoked_at.tzinfo == dt.UTC
    assert status.invalidity_date == invalid and status.reason is KEY_COMPROMISE
    assert store.change_seq(CA) == 1


def test_refused_revocations_change_nothing(store: Store, url: str) -> None:
    issue(store, 1)
    revoke(store, 1)
    store.reserve_certificate(pending(CA, 2)[0], entry("cert.reserve", "test-ca/2"))  # pending, not issued
    issue(store, 3)
    before = state(url)

    with pytest.raises(AlreadyRevoked) as twice:
        revoke(store, 1, RevocationReason.superseded)
    assert twice.value.reason == "keyCompromise"
    with pytest.raises(UnknownSerial):
        revoke(store, 0xDEAD)
    with pytest.raises(UnknownSerial):
        revoke(store, 2)
    with pytest.raises(InvalidRevocation, match="removeFromCRL"):
        revoke(store, 3, RevocationReason.remove_from_crl)
    with pytest.raises(InvalidRevocation, match="not on hold"):
        store.release_hold(CA, 3, T0, entry("cert.release", "test-ca/3"))
    with pytest.raises(UnknownSerial):
        store.release_hold(CA, 0xDEAD, T0, entry("cert.release", "test-ca/dead"))

    assert state(url) == before
    assert store.get_certificate(CA, 3).status is CertStatus.good
    assert store.change_seq(CA) == 1


def test_hold_then_release_shows_up_as_released_in_the_delta(store: Store) -> None:
    issue(store, 0x10)
    issue(store, 0x20)
    revoke(store, 0x20)
    base = store.change_seq(CA)

    revoke(store, 0x10, HOLD)
    assert store.get_certificate(CA, 0x10).status is CertStatus.on_hold
    assert [e.serial for e in store.revoked_entries(CA)] == [0x10, 0x20]
    store.release_hold(CA, 0x10, T0 + dt.timedelta(days=1), entry("cert.release", "test-ca/10"))

    status = store.status(CA, 0x10)
    assert status is not None and (status.status, status.revoked_at, status.reason) == (
        CertStatus.good,
        None,
        None,
    )
    assert [e.serial for e in store.revoked_entries(CA)] == [0x20]
    delta = list(store.revoked_entries(CA, after_change_seq=base))
    assert [(e.serial, e.released, e.change_seq) for e in delta] == [(0x10, True, base + 2)]
    assert store.change_seq(CA) == base + 2


def test_a_hold_can_become_key_compromise_but_not_a_second_hold(store: Store) -> None:
    issue(store, 0x42)
    revoke(store, 0x42, HOLD)
    with pytest.raises(AlreadyRevoked):
        revoke(store, 0x42, HOLD)
    later = T0 + dt.timedelta(days=3)
    row = store.revoke(CA, 0x42, KEY_COMPROMISE, later, T0, entry("cert.revoke", "test-ca/42"))
    assert (row.reason, row.revoked_at, row.change_seq) == (KEY_COMPROMISE, later, 2)
    status = store.status(CA, 0x42)
    assert status is not None and (status.status, status.reason) == (CertStatus.revoked, KEY_COMPROMISE)
    with pytest.raises(InvalidRevocation):
        store.release_hold(CA, 0x42, later, entry("cert.release", "test-ca/42"))
    with pytest.raises(AlreadyRevoked):
        revoke(store, 0x42, RevocationReason.superseded)


def test_a_released_certificate_can_be_held_again(store: Store) -> None:
    issue(store, 7)
    revoke(store, 7, HOLD)
    store.release_hold(CA, 7, T0, entry("cert.release", "test-ca/7"))
    revoke(store, 7, HOLD)
    [held] = list(store.revoked_entries(CA))
    assert (held.serial, held.released, held.reason, held.change_seq) == (7, False, HOLD, 3)


def test_revoked_entries_sort_numerically_and_filter(store: Store) -> None:
    serials = [0x100, 0xFF, 1, (1 << 158) + 5, 1 << 64, 0xFFFF_FFFF, 0x1_0000_0000, 0x0F]
    shards = 4
    for serial in serials:
        issue(store, serial, shards=shards, is_ca=serial in (0xFF, 1 << 64))
    for serial in serials:
        revoke(store, serial)
    issue(store, 0x5000, shards=shards)  # good: never listed

    every = list(store.revoked_entries(CA))
    assert [e.serial for e in every] == sorted(serials)
    assert all(e.revoked_at.tzinfo is not None and not e.released for e in every)
    for shard in range(shards):
        mine = [e.serial for e in store.revoked_entries(CA, shard=shard)]
        assert mine == sorted(s for s in serials if store.get_certificate(CA, s).shard == shard)
    assert [e.serial for e in store.revoked_entries(CA, ca_only=True)] == [0xFF, 1 << 64]
    assert len(list(store.revoked_entries(CA, ca_only=False))) == len(serials) - 2
    after = [e.serial for e in store.revoked_entries(CA, after_change_seq=5)]
    assert after == sorted(serials[5:])
    assert list(store.revoked_entries("other-ca")) == []


def test_change_seq_of_unknown_ca(store: Store) -> None:
    assert store.change_seq(CA) == 0
    with pytest.raises(UnknownCa):
        store.change_seq("nobody")


# -- CRLs ----------------------------------------------------------------------------------------------


def test_crl_numbers_increase_per_scope_independently(store: Store) -> None:
    store.add_ca(ca_row("other-ca"), entry("ca.add", "other-ca"))
    assert [store.next_crl_number(CA, "full") for _ in range(3)] == [1, 2, 3]
    assert store.next_crl_number(CA, "shard:0") == 1
    assert store.next_crl_number(CA, "shard:12") == 1
    assert store.next_crl_number(CA, "arl") == 1
    assert store.next_crl_number(CA, "full") == 4
    assert store.next_crl_number("other-ca", "full") == 1
    with pytest.raises(UnknownCa):
        store.next_crl_number("nobody", "full")
    with pytest.raises(ValueError, match="scope"):
        store.next_crl_number(CA, "Full")


def test_save_crl_and_latest_full_and_delta(store: Store, url: str) -> None:
    assert store.latest_crl(CA, "full") is None
    for number, base in ((1, None), (2, 1), (3, None), (4, 3)):
        row = CrlRow(CA, "full", number, T0, T0 + dt.timedelta(days=1), number * 10, b"crl%d" % number, base)
        store.save_crl(row, entry("crl.save", f"{CA}/full/{number}"))
    full = store.latest_crl(CA, "full")
    delta = store.latest_crl(CA, "full", delta=True)
    assert full is not None and (full.crl_number, full.is_delta, full.der) == (3, False, b"crl3")
    assert delta is not None and (delta.crl_number, delta.base_crl_number, delta.change_seq) == (4, 3, 40)
    assert full.this_update == T0 and full.next_update.tzinfo is not None
    before = state(url)
    with pytest.raises(DuplicateCrlNumber):
        store.save_crl(CrlRow(CA, "full", 3, T0, T0, 0, b"again"), entry("crl.save", "x"))
    with pytest.raises(UnknownCa):
        store.save_crl(CrlRow("nobody", "full", 1, T0, T0, 0, b"x"), entry("crl.save", "x"))
    assert state(url) == before
    assert store.latest_crl(CA, "arl") is None


# -- CAs and links -------------------------------------------------------------------------------------


def test_cas_are_added_listed_and_unique(store: Store, url: str) -> None:
    store.add_ca(ca_row("a-first"), entry("ca.add", "a-first"))
    assert [row.ca_id for row in store.list_cas()] == ["a-first", CA]
    assert store.get_ca(CA) == ca_row(CA)
    before = state(url)
    with pytest.raises(CaExists):
        store.add_ca(ca_row(CA), entry("ca.add", CA))
    assert state(url) == before
    with pytest.raises(UnknownCa):
        store.get_ca("nobody")


def test_links_between_certificates(store: Store, url: str) -> None:
    old, new = issue(store, 1), issue(store, 2)
    store.link(old, new, LinkKind.renewal, entry("cert.link", "1->2"))
    before = state(url)
    with pytest.raises(StoreConflict, match="already linked"):
        store.link(old, new, LinkKind.renewal, entry("cert.link", "1->2"))
    with pytest.raises(UnknownCertificate):
        store.link(old, 999_999, LinkKind.pair, entry("cert.link", "1->?"))
    assert state(url) == before
    store.link(old, new, LinkKind.pair, entry("cert.link", "1->2"))


# -- audit ---------------------------------------------------------------------------------------------


def test_audit_chain_recomputes_after_a_mixed_sequence(store: Store, clock: FixedClock) -> None:
    payloads: list[dict[str, object]] = [{}]  # the fixture's ca.add

    def audited(action: str, obj: str, **payload: object) -> AuditEntry:
        payloads.append(payload)
        return entry(action, obj, **payload)

    for serial in (1, 2, 3):
        cert, der = pending(CA, serial)
        cert_id = store.reserve_certificate(cert, audited("cert.reserve", f"{CA}/{serial}", serial=serial))
        clock.advance(dt.timedelta(microseconds=250))  # microsecond times survive the round trip
        store.complete_certificate(cert_id, der, audited("cert.signed", f"{CA}/{serial}", id=cert_id))
    store.revoke(CA, 2, HOLD, T0, None, audited("cert.revoke", "2", reason=HOLD))
    store.release_hold(CA, 2, T0, audited("cert.release", "2", note="日本語"))
    store.revoke(CA, 1, KEY_COMPROMISE, T0, T0, audited("cert.revoke", "1", when=T0))
    store.save_crl(CrlRow(CA, "full", 1, T0, T0, 2, b"crl"), audited("crl.save", "1", number=1))
    appended = store.append_audit(audited("key.ceremony", "hsm", step=3))
    with pytest.raises(AlreadyRevoked):  # refused: leaves no record
        store.revoke(CA, 1, HOLD, T0, None, entry("cert.revoke", "1"))

    records = list(store.audit_records())
    verify_chain(records, payloads)
    assert len(records) == 12 and records[-1] == appended
    assert list(store.audit_records(from_seq=11)) == records[10:]
    assert any(r.at.microsecond for r in records)


def test_checkpoints_must_name_a_stored_record(store: Store) -> None:
    head = store.append_audit(entry("audit.note", "x"))
    checkpoint = Checkpoint(head.seq, head.record_hash, T0, "audit-key-1", "ed25519", b"sig")
    store.add_checkpoint(checkpoint)
    assert store.checkpoints() == [checkpoint]
    with pytest.raises(StoreConflict):
        store.add_checkpoint(dataclasses.replace(checkpoint, record_hash=bytes(32)))
    with pytest.raises(StoreConflict):
        store.add_checkpoint(dataclasses.replace(checkpoint, seq=head.seq + 5))
    assert store.checkpoints() == [checkpoint]


# -- failures ------------------------------------------------------------------------------------------


def test_a_failure_mid_transaction_leaves_nothing_half_written(
    store: Store, url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    issue(store, 9)
    before = state(url)

    def broken_chain(*_args: object) -> None:
        raise sa_exc.OperationalError("INSERT INTO audit_log", {}, Exception("disk I/O error"))

    # Every append chains its record; revoke does so after writing the revocation.
    monkeypatch.setattr(auditlog, "chain", broken_chain)
    with pytest.raises(StoreUnavailable, match="disk I/O error"):
        revoke(store, 9)
    with pytest.raises(StoreUnavailable):
        store.reserve_certificate(pending(CA, 10)[0], entry("cert.reserve", "test-ca/a"))
    assert state(url) == before
    assert store.get_certificate(CA, 9).status is CertStatus.good


@pytest.mark.parametrize("step", ["reserve", "complete", "revoke"])
def test_a_stale_chain_tip_falls_back_to_locking_the_head(
    store: Store, url: str, clock: FixedClock, monkeypatch: pytest.MonkeyPatch, step: str
) -> None:
    """Another writer moved the chain behind this Store's back: the write is still chained onto the real
    tip; and if that slow path fails, the state change already written in the transaction goes too."""
    issue(store, 9)
    cert, der = pending(CA, 10)
    cert_id = store.reserve_certificate(cert, entry("cert.reserve", "test-ca/a")) if step != "reserve" else 0
    if step == "revoke":
        store.complete_certificate(cert_id, der, entry("cert.signed", "test-ca/a"))

    def write() -> None:
        if step == "reserve":
            store.reserve_certificate(cert, entry("cert.reserve", "test-ca/a"))
        elif step == "complete":
            store.complete_certificate(cert_id, der, entry("cert.signed", "test-ca/a"))
        else:
            revoke(store, 10)

    def broken_append(*_args: object) -> None:
        raise sa_exc.OperationalError("SELECT FROM audit_head", {}, Exception("disk I/O error"))

    with Store.open(url, clock=clock) as other:
        other.append_audit(entry("note", "behind the first store's back"))
    before = state(url)
    with monkeypatch.context() as patched:
        patched.setattr(auditlog, "locked_append", broken_append)
        with pytest.raises(StoreUnavailable, match="disk I/O error"):
            write()
    assert state(url) == before

    with Store.open(url, clock=clock) as other:
        other.append_audit(entry("note", "and again"))
    write()
    records = list(store.audit_records())
    action = {"reserve": "cert.reserve", "complete": "cert.signed", "revoke": "cert.revoke"}[step]
    assert [r.action for r in records[-2:]] == ["note", action]
    verify_chain(records)


@pytest.mark.slow
def test_revoked_entries_stream_in_batches(store: Store, url: str) -> None:
    """A large CRL streams sorted without the whole result in memory (here 60,000 rows, peak < 12 MB)."""
    count = 60_000
    bulk_revoke(url, CA, count)
    tracemalloc.start()
    try:
        seen, last = 0, 0
        for revoked in store.revoked_entries(CA):
            assert revoked.serial > last
            seen, last = seen + 1, revoked.serial
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert (seen, last) == (count, count * 7919)
    assert peak < 12_000_000, f"peak {peak / 1e6:.1f} MB: the stream holds too much at once"
    assert [e.serial for e in store.revoked_entries(CA, shard=3)][:2] == [3 * 7919, 11 * 7919]
