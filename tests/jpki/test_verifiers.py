"""Registered verifiers on a real store: tokens (shown once, kept as a hash), suspension, rotation, scopes,
the TTL cache, refusal auditing, the fee ledger and its statements, the hooks, and the CLI."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from typer.testing import CliRunner

from jlis.cli.jpki_verifier import verifier_app
from jpki import tables
from jpki.verifiers import (
    BilledOcsp,
    FeeSchedule,
    Flusher,
    InvalidVerifier,
    Ledger,
    LedgerError,
    RefusalLog,
    RefusalReason,
    Scope,
    Service,
    UnknownVerifier,
    VerifierCrlAccess,
    VerifierKind,
    VerifierRegistry,
    VerifierServices,
    VerifierStateError,
    VerifierStatus,
)
from jpki.verifiers.fees import FEES_FILE
from ocsp.answer import Answer, Outcome, Requester
from pki.audit.chain import payload_digest
from pki.clock import FixedClock
from pki.errors import ProfileError, StoreUnavailable
from pki.http import Access, Admission, build_router
from pki.publication import Published
from pki.store import DomainSchema, DomainTx, Store
from tests.jpki.support import make_home
from tests.test_store_support import BACKENDS, backend_url

ACTOR = "test:operator"
T0 = dt.datetime(2026, 11, 26, 1, 0, tzinfo=dt.UTC)  # 10:00 JST
SIGN, AUTH = "jpki-sign", "jpki-auth"


class Ticker:
    """A monotonic clock tests move by hand (the cache TTL and the refusal window)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


@pytest.fixture
def ticker() -> Ticker:
    return Ticker()


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path, clock: FixedClock) -> Iterator[Store]:
    with backend_url(request.param, tmp_path, "verifiers") as url:
        opened = Store.open(url, clock=clock)
        yield opened
        opened.close()


@pytest.fixture
def refusals(clock: FixedClock, ticker: Ticker) -> RefusalLog:
    return RefusalLog(clock, window=60.0, ticker=ticker)


@pytest.fixture
def registry(store: Store, clock: FixedClock, refusals: RefusalLog, ticker: Ticker) -> VerifierRegistry:
    return VerifierRegistry(store, clock, refusals=refusals, ttl=5.0, ticker=ticker)


@pytest.fixture
def ledger(store: Store, clock: FixedClock) -> Ledger:
    return Ledger(store, clock)


def rows(store: Store, table: sa.Table) -> list[dict[str, object]]:
    with store.domain_read() as conn:
        return [dict(m) for m in conn.execute(sa.select(table)).mappings()]


def audits(store: Store, action: str) -> list[tuple[str, str, bytes]]:
    return [(r.actor, r.object, r.payload_digest) for r in store.audit_records() if r.action == action]


def requester(token: str | None) -> Requester:
    return Requester(token, "192.0.2.7")


# -- tokens -------------------------------------------------------------------------------------------------


def test_the_token_is_returned_once_and_only_its_hash_is_stored(
    registry: VerifierRegistry, store: Store, tmp_path: Path
) -> None:
    added = registry.add("Example Platform", "pf", actor=ACTOR)
    token = added.token
    token_id, secret = token.removeprefix("jv_").split("_", 1)
    assert token_id == added.token_id and len(secret) == 43  # 32 random bytes, base64url
    assert token not in repr(added) and secret not in repr(added)
    stored = rows(store, tables.verifier_token)
    assert [r["token_id"] for r in stored] == [added.token_id]
    assert stored[0]["token_sha256"] == hashlib.sha256(token.encode()).digest()
    # nothing in the verifier tables or the audit log holds the token or its secret
    everything = json.dumps(
        [rows(store, t) for t in (tables.verifier, tables.verifier_token)], default=repr
    ) + json.dumps([repr(r) for r in store.audit_records()])
    assert secret not in everything and token not in everything
    if store.url.startswith("sqlite"):
        dump = "\n".join(sqlite3.connect(store.url.removeprefix("sqlite:///")).iterdump())
        assert secret not in dump
    assert registry.get(added.verifier.verifier_id) == added.verifier
    assert [t.token_id for t in registry.tokens(added.verifier.verifier_id)] == [added.token_id]


def test_authenticate_accepts_the_token_and_nothing_else(registry: VerifierRegistry) -> None:
    added = registry.add("Example Platform", "pf", actor=ACTOR)
    token = added.token
    assert registry.authenticate(token) == added.verifier
    other = token[:-1] + ("A" if token[-1] != "A" else "B")
    for wrong in (other, token + "x", "jv_0000000000000000_" + token[-43:], "nonsense", "", None):
        assert registry.authenticate(wrong) is None


def test_the_secret_is_compared_in_constant_time(
    registry: VerifierRegistry, monkeypatch: pytest.MonkeyPatch, ticker: Ticker
) -> None:
    added = registry.add("Example Platform", "pf", actor=ACTOR)
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)  # what jpki.verifiers.tokens calls
    assert registry.authenticate(added.token) is not None  # from the store
    assert registry.authenticate(added.token) is not None  # from the cache
    assert registry.authenticate(added.token[:-1] + "_") is None
    assert len(calls) == 3
    assert all(a == hashlib.sha256(added.token.encode()).digest() for a, _ in calls)


def test_a_suspended_verifier_is_refused_until_resumed(registry: VerifierRegistry, store: Store) -> None:
    added = registry.add("Example Platform", "pf", actor=ACTOR)
    vid = added.verifier.verifier_id
    assert registry.allows(requester(added.token), SIGN)
    suspended = registry.suspend(vid, actor=ACTOR, reason="contract ended")
    assert suspended.status is VerifierStatus.suspended
    assert registry.authenticate(added.token) is None  # at once, though the token was cached
    assert not registry.allows(requester(added.token), SIGN)
    with pytest.raises(VerifierStateError, match="already suspended"):
        registry.suspend(vid, actor=ACTOR)
    registry.resume(vid, actor=ACTOR)
    assert registry.allows(requester(added.token), SIGN)
    assert [a[:2] for a in audits(store, "jpki.verifier.suspend")] == [(ACTOR, f"verifier/{vid}")]
    assert audits(store, "jpki.verifier.suspend")[0][2] == payload_digest({"reason": "contract ended"})
    assert [a[:2] for a in audits(store, "jpki.verifier.resume")] == [(ACTOR, f"verifier/{vid}")]
    assert [a[:2] for a in audits(store, "jpki.verifier.add")] == [(ACTOR, f"verifier/{vid}")]


def test_a_rotated_token_is_refused_and_the_new_one_accepted(
    registry: VerifierRegistry, store: Store
) -> None:
    added = registry.add("Example Platform", "pf", actor=ACTOR)
    vid = added.verifier.verifier_id
    assert registry.authenticate(added.token) is not None  # cached
    rotated = registry.rotate_token(vid, actor=ACTOR)
    assert rotated.token != added.token
    assert registry.authenticate(added.token) is None
    assert registry.authenticate(rotated.token) == rotated.verifier
    infos = {t.token_id: t for t in registry.tokens(vid)}
    assert infos[added.token_id].revoked_at is not None and infos[rotated.token_id].revoked_at is None
    assert audits(store, "jpki.verifier.rotate-token")[0][2] == payload_digest(
        {"token_id": rotated.token_id, "revoked": [added.token_id]}
    )


def test_a_change_made_elsewhere_applies_within_the_ttl(
    registry: VerifierRegistry, store: Store, clock: FixedClock, ticker: Ticker
) -> None:
    added = registry.add("Example Platform", "pf", actor=ACTOR)
    assert registry.authenticate(added.token) is not None  # now cached for 5 s
    elsewhere = VerifierRegistry(store, clock)  # the CLI, in another process
    elsewhere.suspend(added.verifier.verifier_id, actor=ACTOR)
    ticker.now += 4.9
    assert registry.authenticate(added.token) is not None  # within the TTL: still the cached answer
    ticker.now += 0.2
    assert registry.authenticate(added.token) is None


# -- kinds and scopes ---------------------------------------------------------------------------------------


def test_default_scopes_by_kind_and_explicit_scopes(registry: VerifierRegistry) -> None:
    pf = registry.add("Platform", "pf", actor=ACTOR)
    public = registry.add("City of Example", VerifierKind.public, actor=ACTOR)
    sp = registry.add("Shop", "sp", actor=ACTOR, platform_id=pf.verifier.verifier_id)
    assert pf.verifier.scopes == public.verifier.scopes == frozenset(Scope)
    assert sp.verifier.scopes == {Scope.ocsp} and sp.verifier.platform_id == pf.verifier.verifier_id
    assert sp.verifier.verifier_id.startswith("sp-") and public.verifier.verifier_id.startswith("public-")
    assert registry.allows(requester(sp.token), AUTH)
    assert not registry.allows_crl(requester(sp.token), AUTH)
    crl_only = registry.add("Archive", "public", actor=ACTOR, scopes=["crl"])
    assert registry.allows_crl(requester(crl_only.token), SIGN)
    assert not registry.allows(requester(crl_only.token), SIGN)
    widened = registry.set_scopes(sp.verifier.verifier_id, ["ocsp", "crl"], actor=ACTOR)
    assert widened.scopes == {Scope.ocsp, Scope.crl}
    assert registry.allows_crl(requester(sp.token), AUTH)
    assert [v.verifier_id for v in registry.list()] == [
        v.verifier.verifier_id for v in (pf, crl_only, public, sp)
    ]  # by kind, then name


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"name": " ", "kind": "pf"}, "name: is empty"),
        ({"name": "X", "kind": "bank"}, "unknown kind 'bank'"),
        ({"name": "X", "kind": "pf", "scopes": ["ocps"]}, "unknown scope 'ocps'"),
        ({"name": "X", "kind": "pf", "platform_id": "pf-000000000000"}, "only a service provider"),
        ({"name": "X", "kind": "sp", "platform_id": "pf-000000000000"}, "not a registered platform"),
        ({"name": "X\n", "kind": "pf"}, None),
        ({"name": "X\x07Y", "kind": "pf"}, "control character"),
    ],
)
def test_invalid_registrations_are_refused(
    registry: VerifierRegistry, kwargs: dict[str, object], match: str | None
) -> None:
    if match is None:  # surrounding white space is trimmed, not refused
        assert registry.add(actor=ACTOR, **kwargs).verifier.name == "X"  # type: ignore[arg-type]
        return
    with pytest.raises(InvalidVerifier, match=match):
        registry.add(actor=ACTOR, **kwargs)  # type: ignore[arg-type]
    assert registry.list() == []


def test_unknown_verifiers_are_errors(registry: VerifierRegistry) -> None:
    for call in (registry.get, registry.tokens):
        with pytest.raises(UnknownVerifier, match="pf-000000000000"):
            call("pf-000000000000")
    with pytest.raises(UnknownVerifier):
        registry.suspend("pf-000000000000", actor=ACTOR)
    with pytest.raises(UnknownVerifier):
        registry.rotate_token("pf-000000000000", actor=ACTOR)


def client_certificate(cn: str) -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(T0)
        .not_valid_after(T0 + dt.timedelta(days=365))
        .sign(key, hashes.SHA256())
    )


def test_a_client_certificate_identifies_its_verifier(registry: VerifierRegistry) -> None:
    cert = client_certificate("platform.example.jp")
    added = registry.add("Platform", "pf", actor=ACTOR, client_certificate=cert)
    assert added.verifier.cert_sha256 == cert.fingerprint(hashes.SHA256()).hex()
    assert registry.authenticate_certificate(cert) == added.verifier
    assert registry.authenticate_certificate(client_certificate("stranger")) is None
    with pytest.raises(InvalidVerifier, match="already registered"):
        registry.add("Copycat", "pf", actor=ACTOR, client_certificate=cert)
    registry.suspend(added.verifier.verifier_id, actor=ACTOR)
    assert registry.authenticate_certificate(cert) is None
    registry.set_client_certificate(added.verifier.verifier_id, None, actor=ACTOR)
    assert registry.get(added.verifier.verifier_id).cert_sha256 is None


# -- refusals -----------------------------------------------------------------------------------------------


def test_refusals_are_audited_once_per_kind_and_window_however_many(
    registry: VerifierRegistry, refusals: RefusalLog, store: Store, ticker: Ticker, clock: FixedClock
) -> None:
    added = registry.add("Shop", "sp", actor=ACTOR)  # scope ocsp only
    flusher = Flusher(store, [refusals])
    forged = [f"jv_{i:016x}_{'A' * 43}" for i in range(500)]
    for token in forged:
        assert not registry.allows(Requester(token, "198.51.100.1"), SIGN)
    for _ in range(300):
        assert not registry.allows(Requester(None, "198.51.100.2"), SIGN)
    assert not registry.allows_crl(requester(added.token), SIGN)
    assert refusals.pending() == 801
    assert flusher.flush() == 1
    records = audits(store, "jpki.verifier.refused")
    assert sorted(r[1] for r in records) == sorted(
        ["verifier/unknown", "verifier/unknown", f"verifier/{added.verifier.verifier_id}"]
    )
    assert all(r[0] == "system:verifiers" for r in records)
    expected = {
        "reason": RefusalReason.invalid.value,
        "scope": "ocsp",
        "ca": SIGN,
        "count": 500,
        "first": T0.isoformat(),
        "last": T0.isoformat(),
        "clients": ["198.51.100.1"],
    }
    assert payload_digest(expected) in {r[2] for r in records}
    # more of the same within the window: counted, recorded when the window has passed
    for token in forged[:10]:
        registry.allows(Requester(token, "198.51.100.3"), SIGN)
    assert flusher.flush() == 0
    ticker.now += 60
    assert flusher.flush() == 1
    assert len(audits(store, "jpki.verifier.refused")) == 4
    # at shutdown, everything is written whatever the window
    registry.allows(Requester(forged[0], None), SIGN)
    flusher.stop()
    assert len(audits(store, "jpki.verifier.refused")) == 5


def test_a_suspended_or_unscoped_verifier_is_refused_under_its_own_id(
    registry: VerifierRegistry, refusals: RefusalLog, store: Store
) -> None:
    added = registry.add("Shop", "sp", actor=ACTOR)
    vid = added.verifier.verifier_id
    assert registry.authorize(added.token, Scope.crl, SIGN).refusal is RefusalReason.scope
    registry.suspend(vid, actor=ACTOR)
    assert registry.authorize(added.token, Scope.ocsp, SIGN).refusal is RefusalReason.suspended
    wrong = added.token[:-2] + ("AA" if not added.token.endswith("AA") else "BB")
    decision = registry.authorize(wrong, Scope.ocsp, SIGN)
    assert decision.refusal is RefusalReason.invalid and decision.verifier is not None
    Flusher(store, [refusals]).flush()
    assert [r[1] for r in audits(store, "jpki.verifier.refused")] == [f"verifier/{vid}"] * 3


# -- the ledger ---------------------------------------------------------------------------------------------


def test_statements_sum_twenty_yen_signing_and_two_yen_auth(
    registry: VerifierRegistry, ledger: Ledger, store: Store
) -> None:
    pf = registry.add("Platform", "pf", actor=ACTOR).verifier.verifier_id
    city = registry.add("City", "public", actor=ACTOR).verifier.verifier_id
    for _ in range(3):
        ledger.record_provision(pf, Service.ocsp, SIGN)
    ledger.record_provision(pf, "ocsp", AUTH, count=5)
    ledger.record_provision(pf, Service.crl, SIGN)
    ledger.record_provision(city, Service.linkage, SIGN, ref="link-1")
    assert ledger.pending() == 10
    assert ledger.statement(None, "2026-11").rows == ()  # nothing flushed yet
    Flusher(store, [ledger]).flush()
    assert ledger.pending() == 0
    statement = ledger.statement(None, "2026-11")
    assert [r.as_dict() for r in statement.rows] == [
        {
            "verifier": pf,
            "name": "Platform",
            "service": "crl",
            "ca": SIGN,
            "count": 1,
            "unit_fee": 0,
            "amount": 0,
        },
        {
            "verifier": pf,
            "name": "Platform",
            "service": "ocsp",
            "ca": AUTH,
            "count": 5,
            "unit_fee": 2,
            "amount": 10,
        },
        {
            "verifier": pf,
            "name": "Platform",
            "service": "ocsp",
            "ca": SIGN,
            "count": 3,
            "unit_fee": 20,
            "amount": 60,
        },
        {
            "verifier": city,
            "name": "City",
            "service": "linkage",
            "ca": SIGN,
            "count": 1,
            "unit_fee": 20,
            "amount": 20,
        },
    ]  # by verifier id ("pf-…" before "public-…"), service, CA
    assert statement.total == 90 and statement.totals() == {pf: 70, city: 20}
    assert ledger.statement(pf, "2026-11").total == 70
    assert ledger.references(city, "2026-11")[0]["ref"] == "link-1"
    # a second flush adds to the same rows
    ledger.record_provision(pf, Service.ocsp, SIGN)
    Flusher(store, [ledger]).flush()
    assert ledger.statement(pf, "2026-11").total == 90
    assert len(rows(store, tables.provision)) == 4


def test_days_and_months_are_japans(ledger: Ledger, store: Store, clock: FixedClock) -> None:
    clock.at = dt.datetime(2026, 11, 30, 14, 59, 59, tzinfo=dt.UTC)  # 23:59:59 JST on 30 November
    ledger.record_provision("pf-000000000001", Service.ocsp, SIGN)
    clock.at = dt.datetime(2026, 11, 30, 15, 0, tzinfo=dt.UTC)  # 00:00 JST on 1 December
    ledger.record_provision("pf-000000000001", Service.ocsp, SIGN, count=2)
    clock.at = dt.datetime(2026, 12, 31, 15, 0, tzinfo=dt.UTC)  # 00:00 JST on 1 January
    ledger.record_provision("pf-000000000001", Service.ocsp, AUTH, count=4)
    Flusher(store, [ledger]).flush()
    assert ledger.statement(None, "2026-11").count == 1
    assert ledger.statement(None, "2026-12").count == 2
    assert ledger.statement(None, "2027-01").total == 8
    assert {r["day"] for r in rows(store, tables.provision)} == {
        dt.date(2026, 11, 30),
        dt.date(2026, 12, 1),
        dt.date(2027, 1, 1),
    }
    assert ledger.statement(None, "2027-01").rows[0].verifier_name is None  # not registered: still billed


def test_a_fee_change_does_not_reprice_what_was_provided(store: Store, clock: FixedClock) -> None:
    before = Ledger(store, clock)
    before.record_provision("pf-000000000001", Service.ocsp, SIGN, count=2)
    after = Ledger(store, clock, FeeSchedule.standard().overridden({(Service.ocsp, SIGN): 25}))
    after.record_provision("pf-000000000001", Service.ocsp, SIGN)
    Flusher(store, [before, after]).flush()
    statement = after.statement(None, "2026-11")
    assert [(r.unit_fee, r.count) for r in statement.rows] == [(20, 2), (25, 1)]
    assert statement.total == 65


def test_bad_provisions_and_months_are_errors(ledger: Ledger) -> None:
    with pytest.raises(LedgerError, match="unknown service 'ocps'"):
        ledger.record_provision("pf-1", "ocps", SIGN)
    for count in (0, -1, True):
        with pytest.raises(LedgerError, match="count"):
            ledger.record_provision("pf-1", Service.ocsp, SIGN, count=count)
    with pytest.raises(LedgerError, match="ref"):
        ledger.record_provision("pf-1", Service.ocsp, SIGN, ref="x" * 129)
    for month in ("2026-13", "2026-1", "11-2026", "2026/11"):
        with pytest.raises(LedgerError, match="YYYY-MM"):
            ledger.statement(None, month)
    assert ledger.pending() == 0


class _Failing:
    def write(self, tx: DomainTx) -> None:
        raise StoreUnavailable("the database went away")

    def restore(self) -> None:
        pass

    def done(self) -> None:
        pass


class _FailingSource:
    def take(self, *, everything: bool = False) -> _Failing:
        return _Failing()


def test_a_failed_flush_keeps_the_counts_for_the_next(ledger: Ledger, store: Store) -> None:
    ledger.record_provision("pf-000000000001", Service.ocsp, SIGN, count=3, ref="r")
    with pytest.raises(StoreUnavailable):
        Flusher(store, [ledger, _FailingSource()]).flush()
    assert ledger.pending() == 3
    ledger.record_provision("pf-000000000001", Service.ocsp, SIGN)
    Flusher(store, [ledger]).flush()
    assert ledger.statement(None, "2026-11").count == 4
    assert len(ledger.references("pf-000000000001", "2026-11")) == 1


def test_the_background_flusher_writes_within_its_period_and_at_stop(ledger: Ledger, store: Store) -> None:
    import time

    flusher = Flusher(store, [ledger], period=0.05)
    flusher.start()
    try:
        ledger.record_provision("pf-000000000001", Service.ocsp, SIGN, count=7)
        deadline = time.monotonic() + 20
        while ledger.statement(None, "2026-11").count != 7:
            assert time.monotonic() < deadline, "the flusher did not write the counts"
            time.sleep(0.02)
    finally:
        flusher.stop()
    slow = Flusher(store, [ledger], period=3600)
    slow.start()
    ledger.record_provision("pf-000000000001", Service.ocsp, AUTH, count=2)
    slow.stop()  # the last flush
    assert ledger.statement(None, "2026-11").count == 9


def test_fees_from_the_home_file(tmp_path: Path) -> None:
    assert FeeSchedule.for_home(tmp_path, [SIGN, AUTH]) == FeeSchedule.standard()
    (tmp_path / FEES_FILE).write_text("[ocsp]\njpki-sign = 30\n\n[crl]\njpki-auth = 1\n")
    fees = FeeSchedule.for_home(tmp_path, [SIGN, AUTH])
    assert fees.unit(Service.ocsp, SIGN) == 30 and fees.unit(Service.ocsp, AUTH) == 2
    assert fees.unit(Service.crl, AUTH) == 1 and fees.unit(Service.crl, SIGN) == 0
    assert fees.unit(Service.four_info, SIGN) == 20 and fees.unit(Service.linkage, AUTH) == 2
    for text, match in (
        ("[ocsp]\njpki-sing = 3\n", "did you mean 'jpki-sign'"),
        ("[ocps]\njpki-sign = 3\n", "did you mean 'ocsp'"),
        ("[ocsp]\njpki-sign = -1\n", "below the minimum"),
        ("[ocsp]\njpki-sign = 2.5\n", "must be an integer"),
    ):
        (tmp_path / FEES_FILE).write_text(text)
        with pytest.raises(ProfileError, match=match):
            FeeSchedule.for_home(tmp_path, [SIGN, AUTH])


# -- the hooks ----------------------------------------------------------------------------------------------


class _Service:
    """An OcspService that answers what it is told."""

    def __init__(self, answer: Answer) -> None:
        self.next = answer

    @property
    def local(self) -> bool:
        return True

    def cached(self, request_der: bytes, requester: Requester) -> Answer | None:
        return None

    def answer(self, request_der: bytes, requester: Requester) -> Answer:
        return self.next


def test_billed_ocsp_records_each_status_answered_to_a_verifier(
    registry: VerifierRegistry, ledger: Ledger, store: Store
) -> None:
    added = registry.add("Platform", "pf", actor=ACTOR)
    inner = _Service(Answer(b"der", Outcome.several, ca_id=SIGN, certificates=3))
    billed = BilledOcsp(inner, registry, ledger, {SIGN, AUTH})
    assert billed.local and billed.cached(b"req", requester(added.token)) is None
    billed.answer(b"req", requester(added.token))
    inner.next = Answer(b"der", Outcome.good, ca_id=AUTH, certificates=1)
    billed.answer(b"req", requester(added.token))
    billed.answer(b"req", requester(None))  # no verifier (a public CA would answer): nothing billed
    inner.next = Answer(b"der", Outcome.unauthorized)
    billed.answer(b"req", requester(added.token))
    inner.next = Answer(b"der", Outcome.good, ca_id="lgpki-app-sub", certificates=1)
    billed.answer(b"req", requester(added.token))  # not a restricted CA
    Flusher(store, [ledger]).flush()
    statement = ledger.statement(None, "2026-11")
    assert [(r.ca_id, r.count, r.amount) for r in statement.rows] == [(AUTH, 1, 2), (SIGN, 3, 60)]


def test_crl_access_admits_verifiers_with_the_crl_scope(
    registry: VerifierRegistry, ledger: Ledger, store: Store
) -> None:
    pf = registry.add("Platform", "pf", actor=ACTOR)
    sp = registry.add("Shop", "sp", actor=ACTOR)
    gate = VerifierCrlAccess(registry, ledger, {SIGN})
    assert gate.admit("lgpki-org", None, None).access is Access.open
    assert gate.admit(SIGN, None, "192.0.2.1").access is Access.missing
    assert gate.admit(SIGN, "jv_nonsense", None).access is Access.invalid
    assert gate.admit(SIGN, sp.token, None).access is Access.forbidden
    granted = gate.admit(SIGN, pf.token, None)
    assert granted.access is Access.granted and granted.holder == pf.verifier.verifier_id
    gate.delivered(SIGN, granted)
    registry.suspend(pf.verifier.verifier_id, actor=ACTOR)
    assert gate.admit(SIGN, pf.token, None).access is Access.invalid
    Flusher(store, [ledger]).flush()
    assert [(r.service, r.count) for r in ledger.statement(None, "2026-11").rows] == [(Service.crl, 1)]


# -- the CLI ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_home(tmp_path_factory.mktemp("verifier-cli"))


def cli(home: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(verifier_app, [*args, "--home", str(home)])
    return result.exit_code, result.stdout, result.stderr


def test_cli_add_prints_the_token_once_then_manages_the_verifier(home: Path) -> None:
    code, out, err = cli(home, "add", "--name", "Example Platform", "--kind", "pf", "--json")
    assert code == 0, err
    added = json.loads(out)
    token, vid = added["token"], added["verifier"]["id"]
    assert token.startswith("jv_") and "not stored" in err and "not stored" in added["warning"]
    assert added["verifier"]["scopes"] == ["crl", "four-info", "linkage", "ocsp"]
    for args in (("list",), ("list", "--json"), ("show", "--id", vid), ("show", "--id", vid, "--json")):
        code, out, err = cli(home, *args)
        assert code == 0, err
        assert vid in out and token not in out and token.split("_", 2)[2] not in out
    code, out, _ = cli(home, "add", "--name", "Shop", "--kind", "sp", "--platform", vid, "--scope", "ocsp")
    assert code == 0 and "token: jv_" in out and "sp " in out
    code, out, _ = cli(home, "suspend", "--id", vid, "--reason", "test")
    assert code == 0 and "suspended" in out
    code, _, err = cli(home, "suspend", "--id", vid)
    assert code == 1 and err.strip() == f"error: verifier {vid}: is already suspended"
    assert cli(home, "resume", "--id", vid)[0] == 0
    code, out, _ = cli(home, "rotate-token", "--id", vid, "--json")
    assert code == 0 and json.loads(out)["token"] != token
    code, out, _ = cli(home, "scopes", "--id", vid, "--scope", "ocsp", "--json")
    assert code == 0 and json.loads(out)["scopes"] == ["ocsp"]
    code, out, _ = cli(home, "show", "--id", vid, "--json")
    assert [t["revoked_at"] is None for t in json.loads(out)["tokens"]] == [True, False]


def test_cli_statement_in_text_json_and_csv(home: Path) -> None:
    from pki.runtime import Pki

    code, out, _ = cli(home, "add", "--name", "Statement Platform", "--kind", "pf", "--json")
    vid = json.loads(out)["verifier"]["id"]
    pki = Pki.open(home, clock=FixedClock(T0))
    try:
        ledger = Ledger(pki.store, pki.clock)
        ledger.record_provision(vid, Service.ocsp, SIGN, count=3)
        ledger.record_provision(vid, Service.ocsp, AUTH, count=4)
        Flusher(pki.store, [ledger]).flush()
    finally:
        pki.close()
    code, out, err = cli(home, "statement", "--month", "2026-11", "--id", vid, "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["total"] == 68 and doc["currency"] == "JPY" and len(doc["rows"]) == 2
    code, out, _ = cli(home, "statement", "--month", "2026-11", "--id", vid, "--csv")
    assert out.splitlines() == [
        "verifier,name,service,ca,count,unit_fee,amount",
        f"{vid},Statement Platform,ocsp,jpki-auth,4,2,8",
        f"{vid},Statement Platform,ocsp,jpki-sign,3,20,60",
    ]
    code, out, _ = cli(home, "statement", "--month", "2026-11", "--id", vid)
    assert code == 0 and out.rstrip().endswith("68")
    assert cli(home, "statement", "--month", "2026-10", "--id", vid)[1].count("no provisions") == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("add", "--name", "X", "--kind", "bank"),
            "error: verifier kind: unknown kind 'bank': use pf, sp or public",
        ),
        (("show", "--id", "pf-000000000000"), "error: no registered verifier 'pf-000000000000'"),
        (("statement", "--month", "2026-13"), "error: ledger month: '2026-13': write the month as YYYY-MM"),
        (("statement", "--month", "2026-11", "--json", "--csv"), "error: give --json or --csv, not both"),
        (("add", "--name", "X", "--kind", "pf", "--client-cert", "/nonexistent.pem"), "error: No such file"),
    ],
)
def test_cli_errors_are_one_line(home: Path, args: tuple[str, ...], message: str) -> None:
    code, out, err = cli(home, *args)
    assert code == 1 and out == ""
    assert len(err.strip().splitlines()) == 1 and err.startswith(message), err


def test_cli_add_with_a_client_certificate(home: Path, tmp_path: Path) -> None:
    cert = client_certificate("cli.example.jp")
    path = tmp_path / "client.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    code, out, err = cli(
        home, "add", "--name", "Cert Platform", "--kind", "pf", "--client-cert", str(path), "--json"
    )
    assert code == 0, err
    assert json.loads(out)["verifier"]["client_cert_sha256"] == cert.fingerprint(hashes.SHA256()).hex()
    (tmp_path / "junk.pem").write_text("-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n")
    code, _, err = cli(
        home, "add", "--name", "X", "--kind", "pf", "--client-cert", str(tmp_path / "junk.pem")
    )
    assert code == 1 and "not a certificate" in err


# -- schema and assembly ------------------------------------------------------------------------------------


def test_a_store_at_jpki_version_1_gains_the_verifier_tables(tmp_path: Path, clock: FixedClock) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    with Store.open(url, clock=clock) as old:
        old.ensure_domain(DomainSchema("jpki", tables.SCHEMA.steps[:1]))  # a home from before verifiers
        assert old.domain_version("jpki") == 1
    with Store.open(url, clock=clock) as store:
        registry = VerifierRegistry(store, clock)
        assert store.domain_version("jpki") == tables.SCHEMA.version == 2
        assert registry.add("Platform", "pf", actor=ACTOR).verifier.active


def test_serve_assembles_the_services_only_for_restricted_cas(home: Path, tmp_path: Path) -> None:
    from jlis.app import verifier_services
    from pki.runtime import Pki

    (home / FEES_FILE).write_text("[crl]\njpki-sign = 7\n")
    pki = Pki.open(home)
    try:
        services = verifier_services(pki)
        assert services is not None and services.restricted == {SIGN, AUTH}
        assert services.ledger.fees.unit(Service.crl, SIGN) == 7
        assert services.ledger.fees.unit(Service.ocsp, SIGN) == 20
    finally:
        pki.close()
        (home / FEES_FILE).unlink()
    public = Pki.open(make_home(tmp_path, access="public"))
    try:
        assert verifier_services(public) is None
    finally:
        public.close()


class _Gate:
    """A CrlAccess that answers what it is told and remembers deliveries."""

    def __init__(self, access: Access) -> None:
        self.access = access
        self.delivered_to: list[str] = []

    def admit(self, ca_id: str, bearer_token: str | None, client_address: str | None) -> Admission:
        return Admission(self.access, holder=bearer_token, scope="crl")

    def delivered(self, ca_id: str, admission: Admission) -> None:
        self.delivered_to.append(f"{ca_id}:{admission.holder}")


class _Publications:
    def ca_certificate(self, ca_id: str) -> Published | None:
        return Published(b"cert", T0)

    def crl(self, ca_id: str, scope: str, delta: bool) -> Published | None:
        return Published(b"crl", T0, T0 + dt.timedelta(days=1)) if scope == "full" and not delta else None


@pytest.mark.parametrize(
    ("access", "status", "challenge"),
    [
        (Access.missing, 401, 'Bearer realm="jlis-pki"'),
        (Access.invalid, 401, 'Bearer realm="jlis-pki", error="invalid_token"'),
        (Access.forbidden, 403, 'Bearer realm="jlis-pki", error="insufficient_scope", scope="crl"'),
        (Access.unavailable, 503, None),
    ],
)
def test_the_crl_routes_refuse_as_the_hook_says(access: Access, status: int, challenge: str | None) -> None:
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    gate = _Gate(access)
    app = FastAPI()
    app.include_router(build_router(_Publications, FixedClock(T0), access=gate))
    with TestClient(app) as client:
        for path in ("/crl/jpki-sign.crl", "/crl/jpki-sign/delta.crl", "/crl/jpki-sign/7.crl"):
            refused = client.get(path, headers={"Authorization": "Bearer abc"})
            assert refused.status_code == status and refused.headers["cache-control"] == "no-store"
            assert refused.headers.get("www-authenticate") == challenge
        assert client.get("/crl/jpki-sign.txt").status_code == 404  # not a CRL path: no hook asked
        assert client.get("/ca/jpki-sign.cer").status_code == 200
    assert gate.delivered_to == []


def test_the_crl_routes_report_only_what_they_deliver() -> None:
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    gate = _Gate(Access.granted)
    app = FastAPI()
    app.include_router(build_router(_Publications, FixedClock(T0), access=gate))
    with TestClient(app) as client:
        bearer = {"Authorization": "bearer  abc"}
        got = client.get("/crl/jpki-sign.crl", headers=bearer)
        assert got.status_code == 200 and got.headers["cache-control"].startswith("private, ")
        same = client.get("/crl/jpki-sign.crl", headers={**bearer, "If-None-Match": got.headers["etag"]})
        assert same.status_code == 304
        assert client.get("/crl/jpki-sign/delta.crl", headers=bearer).status_code == 404  # none published
    assert gate.delivered_to == ["jpki-sign:abc"]
    public = FastAPI()
    public.include_router(build_router(_Publications, FixedClock(T0)))
    with TestClient(public) as client:
        assert client.get("/crl/jpki-sign.crl").headers["cache-control"].startswith("public, ")


def test_the_services_facade_is_a_directory_for_linkage_and_four_info(
    store: Store, clock: FixedClock
) -> None:
    services = VerifierServices(store, clock, restricted={SIGN, AUTH})
    added = services.registry.add("Platform", "pf", actor=ACTOR)
    found = services.authenticate(added.token)
    assert found is not None and found.id == added.verifier.verifier_id
    assert "linkage" in found.scopes and "four-info" in found.scopes  # scopes compare as their names
    assert services.authenticate(None) is None
    services.record_provision(found.id, "four-info", SIGN, ref="consent-1")
    services.record_provision(found.id, "linkage", AUTH, count=2)
    services.stop()  # the last flush
    statement = services.ledger.statement(found.id, "2026-11")
    assert [(r.service, r.amount) for r in statement.rows] == [(Service.four_info, 20), (Service.linkage, 4)]
