"""What the OCSP responder reads and writes in the store, on SQLite and on PostgreSQL."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from pki.clock import FixedClock
from pki.errors import UnknownCa
from pki.model import CertStatus, RevocationReason
from pki.store import PresignedResponse, Store
from tests.test_store_support import BACKENDS, T0, backend_url, ca_row, entry, pending

CA = "ocsp-ca"


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    with (
        backend_url(request.param, tmp_path, "store_ocsp") as url,
        Store.open(url, clock=FixedClock(T0)) as s,
    ):
        s.add_ca(ca_row(CA), entry("ca.add", CA))
        yield s


def issue(store: Store, serial: int) -> None:
    cert, der = pending(CA, serial)
    cert_id = store.reserve_certificate(cert, entry("cert.prepare", f"{CA}/{serial:x}"))
    store.complete_certificate(cert_id, der, entry("cert.signed", f"{CA}/{serial:x}"))


def revoke(store: Store, serial: int, reason: RevocationReason = RevocationReason.key_compromise) -> None:
    store.revoke(CA, serial, reason, T0, None, entry("cert.revoke", f"{CA}/{serial:x}"))


def response(
    serial: int, seq: int, status: CertStatus = CertStatus.good, cert_id: bytes = b"\x30\x01"
) -> PresignedResponse:
    return PresignedResponse(
        ca_id=CA,
        serial=serial,
        cert_id_der=cert_id,
        status=status,
        der=b"\x30\x03\x0a\x01\x00" + serial.to_bytes(4, "big"),
        this_update=T0,
        next_update=T0 + dt.timedelta(hours=1),
        produced_at=T0,
        seq=seq,
    )


def test_status_at_reads_the_counter_with_the_status(store: Store) -> None:
    issue(store, 0x10)
    status, seq = store.status_at(CA, 0x10)
    assert status is not None and status.status is CertStatus.good and seq == 0
    assert store.status_at(CA, 0x11) == (None, 0)  # never issued: no status, the counter still read
    revoke(store, 0x10)
    status, seq = store.status_at(CA, 0x10)
    assert status is not None and status.status is CertStatus.revoked and seq == 1
    assert status.reason is RevocationReason.key_compromise and status.revoked_at == T0
    with pytest.raises(UnknownCa):
        store.status_at("nobody", 0x10)


def test_counters_and_changes_follow_revocations_holds_and_releases(store: Store) -> None:
    for serial in (1, 2, 3):
        issue(store, serial)
    assert store.revocation_counters() == {CA: 0}
    revoke(store, 2)
    revoke(store, 3, RevocationReason.certificate_hold)
    store.release_hold(CA, 3, T0, entry("cert.release", f"{CA}/3"))
    assert store.revocation_counters() == {CA: 3}
    assert store.changes_since(CA, 0) == [(2, 1), (3, 3)]  # the release moved serial 3's change to 3
    assert store.changes_since(CA, 1) == [(3, 3)]
    assert store.changes_since(CA, 3) == []


def test_a_presigned_response_is_kept_and_read_back(store: Store) -> None:
    issue(store, 0x20)
    kept = response(0x20, seq=0)
    assert store.save_responses([kept]) == 1
    assert store.presigned_response(CA, 0x20, kept.cert_id_der) == kept
    assert store.presigned_response(CA, 0x20, b"\x30\x02") is None  # another CertID encoding
    newer = dataclasses.replace(kept, der=b"\x30\x00", next_update=T0 + dt.timedelta(hours=2))
    assert store.save_responses([newer]) == 1  # replaces
    assert store.presigned_response(CA, 0x20, kept.cert_id_der) == newer


def test_a_revocation_deletes_kept_responses_and_stale_ones_are_refused(store: Store) -> None:
    issue(store, 0x30)
    issue(store, 0x31)
    assert store.save_responses([response(0x30, 0), response(0x31, 0, cert_id=b"\x30\x02")]) == 2
    revoke(store, 0x30)
    assert store.presigned_response(CA, 0x30, b"\x30\x01") is None
    assert store.presigned_response(CA, 0x31, b"\x30\x02") is not None  # other certificates keep theirs
    # signed "good" before the revocation, stored after it: refused
    assert store.save_responses([response(0x30, 0)]) == 0
    assert store.presigned_response(CA, 0x30, b"\x30\x01") is None
    assert store.save_responses([response(0x30, 1, CertStatus.revoked)]) == 1
    # never issued serials get no kept response
    assert store.save_responses([response(0x99, 0)]) == 0


def test_a_hold_and_its_release_each_delete_kept_responses(store: Store) -> None:
    issue(store, 0x40)
    store.save_responses([response(0x40, 0)])
    revoke(store, 0x40, RevocationReason.certificate_hold)
    assert store.presigned_response(CA, 0x40, b"\x30\x01") is None
    store.save_responses([response(0x40, 1, CertStatus.on_hold)])
    store.release_hold(CA, 0x40, T0, entry("cert.release", f"{CA}/40"))
    assert store.presigned_response(CA, 0x40, b"\x30\x01") is None


def test_responses_due_and_issued_statuses_page_through(store: Store) -> None:
    for serial in range(1, 8):
        issue(store, serial)
    revoke(store, 4)
    store.save_responses(
        [dataclasses.replace(response(s, 0), next_update=T0 + dt.timedelta(minutes=s)) for s in (1, 2, 3)]
    )
    assert store.responses_due(CA, T0 + dt.timedelta(minutes=2, seconds=30), 10) == [
        (1, b"\x30\x01"),
        (2, b"\x30\x01"),
    ]
    first = store.issued_statuses(CA, valid_at=T0, limit=3)
    assert [s.serial for s in first] == [1, 2, 3]
    rest = store.issued_statuses(CA, valid_at=T0, after=3, limit=10)
    assert [s.serial for s in rest] == [4, 5, 6, 7]
    assert rest[0].status is CertStatus.revoked
    assert store.issued_statuses(CA, valid_at=T0 + dt.timedelta(days=400)) == []  # all expired by then
