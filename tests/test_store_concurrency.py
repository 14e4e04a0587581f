"""Many writers at once: processes (spawned, as separate CA workers would be) and threads, on both databases.

Whatever the interleaving, no serial is recorded twice, every issuance is recorded, CRL numbers are never
handed out twice and only increase, and the audit chain never forks.
"""

from __future__ import annotations

import multiprocessing
import queue
import threading
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pki.errors import AlreadyRevoked, DuplicateSerial
from pki.model import CertStatus, RevocationReason, new_serial
from pki.store import Store
from tests.test_store_support import T0, backend_url, ca_row, entry, pending, query, verify_chain

CA = "busy-ca"
CRL_EVERY = 10
"""Each worker draws a CRL number after every this many issuances (alternating two scopes)."""
SCOPES = ("full", "shard:1")


@dataclass(frozen=True)
class Outcome:
    """What one worker did: the serials it recorded and the CRL numbers it drew, in the order it drew them."""

    serials: list[int]
    crl_numbers: dict[str, list[int]]
    seconds: float


def run_worker(url: str, count: int, start: Any | None = None) -> Outcome:
    """Issue ``count`` certificates (reserve, then complete) and draw CRL numbers in between."""
    with Store.open(url) as store:
        if start is not None:
            start.wait()
        began = time.perf_counter()
        serials: list[int] = []
        numbers: dict[str, list[int]] = {scope: [] for scope in SCOPES}
        for index in range(count):
            serials.append(_issue(store, new_serial()))
            if index % CRL_EVERY == 0:
                scope = SCOPES[(index // CRL_EVERY) % len(SCOPES)]
                numbers[scope].append(store.next_crl_number(CA, scope))
        return Outcome(serials, numbers, time.perf_counter() - began)


def _issue(store: Store, serial: int) -> int:
    cert, der = pending(CA, serial)
    cert_id = store.reserve_certificate(cert, entry("cert.reserve", f"{CA}/{serial:x}"))
    store.complete_certificate(cert_id, der, entry("cert.signed", f"{CA}/{serial:x}"))
    return serial


def process_main(url: str, count: int, start: Any, results: Any) -> None:
    """Entry point of a spawned worker: report the outcome, or the traceback, through ``results``."""
    try:
        results.put(run_worker(url, count, start))
    except BaseException:
        results.put(traceback.format_exc())


def run_processes(url: str, workers: int, count: int) -> list[Outcome]:
    """Spawn ``workers`` processes that start issuing at the same moment; wait for all of them."""
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(workers)
    results = context.Queue()
    processes = [
        context.Process(target=process_main, args=(url, count, start, results)) for _ in range(workers)
    ]
    for process in processes:
        process.start()
    try:
        outcomes = [results.get(timeout=600) for _ in processes]
    finally:
        for process in processes:
            process.join(timeout=60)
    failures = [outcome for outcome in outcomes if isinstance(outcome, str)]
    assert not failures, "a worker failed:\n" + "\n".join(failures)
    return outcomes


def run_threads(url: str, workers: int, count: int) -> list[Outcome]:
    """``workers`` threads sharing one Store (one engine, one pool), released together."""
    start = threading.Barrier(workers)
    outcomes: queue.Queue[Outcome | str] = queue.Queue()

    def work() -> None:
        try:
            outcomes.put(run_worker(url, count, start))
        except BaseException:
            outcomes.put(traceback.format_exc())

    threads = [threading.Thread(target=work) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)
    results = [outcomes.get_nowait() for _ in threads]
    failures = [result for result in results if isinstance(result, str)]
    assert not failures, "a worker failed:\n" + "\n".join(failures)
    return [result for result in results if isinstance(result, Outcome)]


def check_outcome(url: str, outcomes: list[Outcome], per_worker: int) -> None:
    """No duplicate serial, every issuance recorded good, CRL numbers unique and increasing, chain whole."""
    total = per_worker * len(outcomes)
    serials = [serial for outcome in outcomes for serial in outcome.serials]
    assert len(serials) == len(set(serials)) == total
    counts = query(
        url,
        {
            "good": f"SELECT count(*) FROM certificate WHERE ca_id = '{CA}' AND status = 'good'",
            "all": f"SELECT count(*) FROM certificate WHERE ca_id = '{CA}'",
            "distinct": f"SELECT count(DISTINCT serial_hex) FROM certificate WHERE ca_id = '{CA}'",
        },
    )
    assert counts == {"good": total, "all": total, "distinct": total}
    for scope in SCOPES:
        drawn = [outcome.crl_numbers[scope] for outcome in outcomes]
        for mine in drawn:
            assert mine == sorted(mine) and len(set(mine)) == len(mine), f"{scope} not strictly increasing"
        every = [number for mine in drawn for number in mine]
        assert sorted(every) == list(range(1, len(every) + 1)), f"{scope} numbers repeated or skipped"
    with Store.open(url) as store:
        records = list(store.audit_records())
    assert len(records) == 1 + 2 * total
    verify_chain(records)


@pytest.fixture
def prepared(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database (the test's ``backend`` parameter) holding one CA."""
    with backend_url(request.param, tmp_path, "concurrency") as url:
        with Store.open(url) as store:
            store.add_ca(ca_row(CA), entry("ca.add", CA))
        yield url


def _report(label: str, outcomes: list[Outcome], per_worker: int) -> None:
    slowest = max(outcome.seconds for outcome in outcomes)
    rate = per_worker * len(outcomes) / slowest
    print(f"\n{label}: {slowest:.1f} s, {rate:.0f} certificates/s (reserve + complete)")


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.parametrize("prepared", ["postgres"], indirect=True)
def test_two_processes_issue_2000_each_on_postgres(prepared: str) -> None:
    outcomes = run_processes(prepared, workers=2, count=2000)
    _report("postgres 2 processes x 2000", outcomes, 2000)
    check_outcome(prepared, outcomes, 2000)


@pytest.mark.parametrize("prepared", ["sqlite"], indirect=True)
def test_two_processes_issue_300_each_on_sqlite(prepared: str) -> None:
    outcomes = run_processes(prepared, workers=2, count=300)
    _report("sqlite 2 processes x 300", outcomes, 300)
    check_outcome(prepared, outcomes, 300)


@pytest.mark.parametrize(
    "prepared", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_eight_threads_share_one_store(prepared: str) -> None:
    outcomes = run_threads(prepared, workers=8, count=60)
    _report("8 threads x 60", outcomes, 60)
    check_outcome(prepared, outcomes, 60)


@pytest.mark.parametrize(
    "prepared", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_contested_serials_are_recorded_once(prepared: str) -> None:
    """Eight threads race to reserve the same serials: each is reserved exactly once, the rest refused."""
    contested = list(range(1000, 1040))
    start = threading.Barrier(8)
    won: queue.Queue[int] = queue.Queue()
    refused: queue.Queue[int] = queue.Queue()
    with Store.open(prepared) as store:

        def race() -> None:
            start.wait()
            for serial in contested:
                try:
                    store.reserve_certificate(pending(CA, serial)[0], entry("cert.reserve", str(serial)))
                    won.put(serial)
                except DuplicateSerial:
                    refused.put(serial)

        threads = [threading.Thread(target=race) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        records = list(store.audit_records())
    assert sorted(won.queue) == contested
    assert refused.qsize() == 7 * len(contested)
    assert len(records) == 1 + len(contested)
    verify_chain(records)


@pytest.mark.parametrize(
    "prepared", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_racing_holds_and_revocations_of_one_serial(prepared: str) -> None:
    """Holds and keyCompromise revocations race on the same serials: each ends revoked for keyCompromise,
    the losers get AlreadyRevoked (never another error), and change_seq counts exactly the winners."""
    serials = list(range(1, 31))
    reasons = [RevocationReason.certificate_hold] * 2 + [RevocationReason.key_compromise] * 2
    start = threading.Barrier(len(reasons))
    wins: queue.Queue[int] = queue.Queue()
    errors: queue.Queue[BaseException] = queue.Queue()
    with Store.open(prepared) as store:
        for serial in serials:
            _issue(store, serial)

        def race(reason: RevocationReason) -> None:
            start.wait()
            for serial in serials:
                try:
                    store.revoke(CA, serial, reason, T0, None, entry("cert.revoke", str(serial)))
                    wins.put(serial)
                except AlreadyRevoked:
                    pass
                except BaseException as exc:
                    errors.put(exc)

        threads = [threading.Thread(target=race, args=(reason,)) for reason in reasons]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert list(errors.queue) == []
        for serial in serials:
            status = store.status(CA, serial)
            assert status is not None
            assert (status.status, status.reason) == (CertStatus.revoked, RevocationReason.key_compromise)
        assert store.change_seq(CA) == wins.qsize()
        records = list(store.audit_records())
    assert len(records) == 1 + 2 * len(serials) + wins.qsize()
    verify_chain(records)
