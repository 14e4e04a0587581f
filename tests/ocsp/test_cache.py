"""The OCSP response cache: L1 alone and with the shared Redis L2, expiry, invalidation across processes,
the revocation race (tombstones), Redis outages, eviction, threads.

Redis tests use ``JLIS_TEST_REDIS`` (default ``redis://127.0.0.1:6379/0``), a namespace of their own, and
delete its keys afterwards. When Redis is unreachable they skip with the reason, except under ``CI=true``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import random
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import pytest
import redis

from ocsp.cache import CachedResponse, ResponseCache, pack_response, unpack_response
from pki.clock import FixedClock

IN_CI = os.environ.get("CI") == "true"
REDIS_URL = os.environ.get("JLIS_TEST_REDIS", "redis://127.0.0.1:6379/0")
DEAD_REDIS = "redis://127.0.0.1:1/0"
"""Nothing listens on port 1: connections are refused at once."""
T0 = dt.datetime.now(dt.UTC).replace(microsecond=0)
"""Near real time: Redis expires keys by its own clock at the responses' nextUpdate."""
HOUR = dt.timedelta(hours=1)
SHA1_FORM = b"\x30\x41" + b"\x01" * 65
SHA256_FORM = b"\x30\x51" + b"\x02" * 81
"""Two CertID encodings of one certificate (stand-ins: the cache treats them as opaque bytes)."""


@cache
def redis_unavailable() -> str | None:
    """Why Redis cannot be used for tests, or None (checked once per process)."""
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=1, socket_connect_timeout=1)
    try:
        client.ping()
        return None
    except redis.RedisError as exc:
        return f"Redis is not reachable at {REDIS_URL} (set JLIS_TEST_REDIS): {exc}"
    finally:
        client.close()


def need_redis() -> redis.Redis:
    """A client to look behind the cache's back; skips (locally) or fails (CI) without Redis."""
    reason = redis_unavailable()
    if reason is not None:
        if IN_CI:
            pytest.fail(f"Redis tests are required in CI: {reason}")
        pytest.skip(reason)
    return redis.Redis.from_url(REDIS_URL, socket_timeout=2)


@dataclass
class Backend:
    """Makes caches ("responder processes") over one clock, and one Redis namespace when shared."""

    clock: FixedClock
    raw: redis.Redis | None = None
    namespace: str = "jlis-test:unused"
    made: list[ResponseCache] = field(default_factory=list)

    @property
    def shared(self) -> bool:
        return self.raw is not None

    def cache(self, **options: Any) -> ResponseCache:
        options.setdefault("clock", self.clock)
        url = REDIS_URL if self.raw is not None else None
        made = ResponseCache(redis_url=url, namespace=self.namespace, **options)
        self.made.append(made)
        return made

    def redis_key(self, ca_id: str, serial: int) -> str:
        return f"{self.namespace}:{ca_id}:{serial:x}"


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


def _namespaced(raw: redis.Redis) -> Iterator[str]:
    namespace = f"jlis-test:ocsp-cache:{os.getpid()}:{secrets.token_hex(4)}"
    try:
        yield namespace
    finally:
        names = list(raw.scan_iter(match=f"{namespace}:*"))
        if names:
            raw.delete(*names)
        raw.close()


@pytest.fixture
def redis_backend(clock: FixedClock) -> Iterator[Backend]:
    """Redis-backed caches only."""
    raw = need_redis()
    for namespace in _namespaced(raw):
        backend = Backend(clock, raw, namespace)
        yield backend
        for made in backend.made:
            made.close()


@pytest.fixture(params=["local", "redis"])
def backend(request: pytest.FixtureRequest, clock: FixedClock) -> Iterator[Backend]:
    """Each test twice: in-process cache only, and with the shared Redis cache."""
    if request.param == "local":
        yield Backend(clock)
        return
    yield request.getfixturevalue("redis_backend")


def response(
    seq: int = 1, *, at: dt.datetime = T0, valid: dt.timedelta = HOUR, der: bytes | None = None
) -> CachedResponse:
    """A stand-in response (the cache never parses the DER)."""
    body = der if der is not None else b"\x30\x82" + secrets.token_bytes(300)
    return CachedResponse(body, at, at + valid, at, seq)


# --- the value object and its packed form


def test_etag_is_the_quoted_sha1_of_the_der_computed_once() -> None:
    r = response(der=b"ocsp response der")
    assert r.etag == '"' + hashlib.sha1(b"ocsp response der").hexdigest() + '"'
    assert r.etag is r.etag
    assert r == CachedResponse(r.der, r.this_update, r.next_update, r.produced_at, r.seq)


def test_a_cached_response_checks_its_times_and_seq_and_never_shows_its_bytes() -> None:
    naive = dt.datetime(2026, 1, 1)
    with pytest.raises(ValueError, match="naive"):
        CachedResponse(b"x", naive, naive + HOUR, naive, 1)
    with pytest.raises(ValueError, match="negative"):
        response(-1)
    with pytest.raises(ValueError, match="before thisUpdate"):
        response(valid=-HOUR)
    jst = dt.timezone(dt.timedelta(hours=9))
    r = CachedResponse(b"\x30\x03der", T0.astimezone(jst), T0 + HOUR, T0, 2)
    assert r.this_update == T0 and r.this_update.tzinfo is dt.UTC
    assert "der" not in repr(r) and "\\x30" not in repr(r)


def test_the_packed_layout_does_not_drift() -> None:
    at = dt.datetime(2025, 4, 1, 9, 30, 0, 123456, tzinfo=dt.UTC)
    r = CachedResponse(b"\x30\x00", at, at + HOUR, at - dt.timedelta(seconds=1), 258)
    packed = pack_response(r)
    assert packed.hex() == (
        "01"  # format version
        "000631b42e409840"  # thisUpdate, µs since 1970
        "000631b504d43c40"  # nextUpdate
        "000631b42e315600"  # producedAt
        "0000000000000102"  # seq
        "3000"  # the DER
    )
    assert unpack_response(packed) == r
    assert unpack_response(packed).next_update == at + HOUR


@pytest.mark.parametrize(
    "data", [b"", b"\x01" * 33, b"\x02" + b"\x00" * 32 + b"\x30\x00"], ids=["empty", "no-der", "version"]
)
def test_unpacking_refuses_what_is_not_a_packed_response(data: bytes) -> None:
    with pytest.raises(ValueError, match="packed OCSP response"):
        unpack_response(data)


# --- reads, writes, expiry


def test_put_then_get(backend: Backend) -> None:
    cache = backend.cache()
    assert cache.shared is backend.shared
    r = response(7)
    assert cache.get_local("ca", 0x1234, SHA1_FORM) is None
    assert cache.put("ca", 0x1234, SHA1_FORM, r)
    assert cache.get_local("ca", 0x1234, SHA1_FORM) is r
    assert cache.get("ca", 0x1234, SHA1_FORM) is r
    assert cache.get_local("ca", 0x1234, SHA256_FORM) is None
    assert cache.get_local("ca", 0x1235, SHA1_FORM) is None
    assert cache.get_local("other-ca", 0x1234, SHA1_FORM) is None
    stats = cache.stats
    assert (stats.puts, stats.local_hits, stats.entries) == (1, 2, 1)


def test_get_looks_in_redis_where_get_local_does_not(redis_backend: Backend) -> None:
    first, second = redis_backend.cache(), redis_backend.cache()
    r = response(5)
    first.put("ca", 99, SHA256_FORM, r)
    assert second.get_local("ca", 99, SHA256_FORM) is None  # no I/O: this process has not seen it
    shared = second.get("ca", 99, SHA256_FORM)
    assert shared == r and shared is not r
    assert shared is not None and shared.der == r.der and shared.seq == 5
    assert (shared.this_update, shared.next_update, shared.produced_at) == (T0, T0 + HOUR, T0)
    assert shared.etag == r.etag
    assert second.get_local("ca", 99, SHA256_FORM) is shared  # the Redis hit filled L1
    stats = second.stats
    assert (stats.shared_hits, stats.misses, stats.local_hits) == (1, 0, 1)


def test_responses_are_never_returned_at_or_after_next_update(backend: Backend, clock: FixedClock) -> None:
    cache = backend.cache()
    cache.put("ca", 1, SHA1_FORM, response(valid=HOUR))
    clock.advance(HOUR - dt.timedelta(seconds=1))
    assert cache.get_local("ca", 1, SHA1_FORM) is not None
    clock.advance(dt.timedelta(seconds=1))
    assert cache.get_local("ca", 1, SHA1_FORM) is None
    assert cache.get("ca", 1, SHA1_FORM) is None  # nor from Redis (its key lives on by Redis's own clock)
    assert cache.stats.expired == 1 and cache.stats.entries == 0
    assert not cache.put("ca", 1, SHA1_FORM, response(at=T0))  # already past nextUpdate
    assert cache.stats.refused == 1


def test_the_redis_key_expires_at_the_latest_next_update(redis_backend: Backend) -> None:
    cache = redis_backend.cache()
    raw = redis_backend.raw
    assert raw is not None
    key = redis_backend.redis_key("ca", 0xABC)
    cache.put("ca", 0xABC, SHA1_FORM, response(valid=HOUR))
    assert raw.pexpiretime(key) == int((T0 + HOUR).timestamp() * 1000)
    cache.put("ca", 0xABC, SHA256_FORM, response(valid=2 * HOUR))
    assert raw.pexpiretime(key) == int((T0 + 2 * HOUR).timestamp() * 1000)
    cache.put("ca", 0xABC, SHA1_FORM, response(valid=HOUR / 2))  # never shortened
    assert raw.pexpiretime(key) == int((T0 + 2 * HOUR).timestamp() * 1000)
    fields = raw.hkeys(key)
    assert isinstance(fields, list) and set(fields) == {SHA1_FORM, SHA256_FORM}


def test_the_clock_may_be_a_plain_callable(clock: FixedClock) -> None:
    cache = ResponseCache(clock=clock.now)
    cache.put("ca", 1, SHA1_FORM, response())
    clock.advance(HOUR)
    assert cache.get_local("ca", 1, SHA1_FORM) is None


def test_settings_are_checked(clock: FixedClock) -> None:
    with pytest.raises(ValueError, match="max_entries"):
        ResponseCache(clock=clock, max_entries=0)
    with pytest.raises(ValueError, match="tombstone_ttl"):
        ResponseCache(clock=clock, tombstone_ttl=dt.timedelta(0))
    with pytest.raises(ValueError, match="redis_timeout"):
        ResponseCache(clock=clock, redis_timeout=0)
    with pytest.raises(TypeError, match="clock"):
        ResponseCache(clock=42)  # type: ignore[arg-type]


# --- invalidation


def test_invalidate_drops_every_certid_form(backend: Backend) -> None:
    cache = backend.cache()
    for form in (SHA1_FORM, SHA256_FORM):
        cache.put("ca", 10, form, response(3))
    cache.put("ca", 11, SHA1_FORM, response(3))
    cache.invalidate("ca", 10, 4)
    for form in (SHA1_FORM, SHA256_FORM):
        assert cache.get_local("ca", 10, form) is None
        assert cache.get("ca", 10, form) is None
    assert cache.get_local("ca", 11, SHA1_FORM) is not None
    assert cache.stats.entries == 1 and cache.stats.invalidations == 1
    if backend.raw is not None:
        assert not backend.raw.exists(backend.redis_key("ca", 10))
        assert backend.raw.exists(backend.redis_key("ca", 11))


def test_an_invalidation_reaches_other_processes_through_redis_and_their_own_watcher(
    redis_backend: Backend,
) -> None:
    revoking, other = redis_backend.cache(), redis_backend.cache()
    for form in (SHA1_FORM, SHA256_FORM):
        revoking.put("ca", 20, form, response(3))
        assert other.get("ca", 20, form) is not None  # now in the other process's L1 as well
    revoking.invalidate("ca", 20, 4)
    fresh = redis_backend.cache()  # a process with an empty L1 reads Redis: nothing left there
    assert fresh.get("ca", 20, SHA1_FORM) is None and fresh.get("ca", 20, SHA256_FORM) is None
    # the other process's L1 still holds it until its own watcher sees the revocation …
    assert other.get_local("ca", 20, SHA1_FORM) is not None
    other.invalidate("ca", 20, 4)
    # … and then it is gone from every layer there too
    for form in (SHA1_FORM, SHA256_FORM):
        assert other.get_local("ca", 20, form) is None
        assert other.get("ca", 20, form) is None


# --- the revocation race


def test_a_response_older_than_the_revocation_is_refused(backend: Backend) -> None:
    cache = backend.cache()
    read_before = response(5)  # status read at seq 5 …
    cache.invalidate("ca", 30, 6)  # … revocation seq 6 invalidated while the response was being signed
    assert not cache.put("ca", 30, SHA1_FORM, read_before)
    assert cache.get("ca", 30, SHA1_FORM) is None
    if backend.shared:
        assert backend.cache().get("ca", 30, SHA1_FORM) is None  # never written to Redis either
    assert cache.stats.refused == 1
    after = response(6)
    assert cache.put("ca", 30, SHA1_FORM, after)
    assert cache.get_local("ca", 30, SHA1_FORM) is after


def test_a_tombstone_never_lowers(backend: Backend) -> None:
    cache = backend.cache()
    cache.invalidate("ca", 31, 8)
    cache.invalidate("ca", 31, 3)  # a late, older change of the same certificate
    assert not cache.put("ca", 31, SHA1_FORM, response(7))
    assert cache.put("ca", 31, SHA1_FORM, response(8))


def test_tombstones_expire(backend: Backend, clock: FixedClock) -> None:
    cache = backend.cache(tombstone_ttl=dt.timedelta(minutes=15))
    cache.invalidate("ca", 32, 6)
    clock.advance(dt.timedelta(minutes=14, seconds=59))
    assert not cache.put("ca", 32, SHA1_FORM, response(5, at=clock.now()))
    clock.advance(dt.timedelta(seconds=1))
    assert cache.put("ca", 32, SHA1_FORM, response(5, at=clock.now()))
    cache.invalidate("ca", 33, 1)
    clock.advance(dt.timedelta(minutes=15))
    cache.invalidate("ca", 34, 1)  # purges the expired ones
    assert cache.stats.tombstones == 1


def test_an_invalidation_during_the_redis_write_leaves_nothing_stale_in_redis(
    redis_backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = redis_backend.cache()
    client = cache._client  # the process's Redis client: delay its write behind an invalidation
    assert client is not None
    real_pipeline = client.pipeline

    def pipeline_overtaken(*args: Any, **kwargs: Any) -> Any:
        cache.invalidate("ca", 40, 6)  # the watcher, on another thread, between put's check and write
        return real_pipeline(*args, **kwargs)

    monkeypatch.setattr(client, "pipeline", pipeline_overtaken)
    cache.put("ca", 40, SHA1_FORM, response(5))
    assert redis_backend.raw is not None and not redis_backend.raw.exists(redis_backend.redis_key("ca", 40))
    assert cache.get("ca", 40, SHA1_FORM) is None
    assert redis_backend.cache().get("ca", 40, SHA1_FORM) is None


def test_a_stale_response_another_process_wrote_is_refused_where_the_revocation_was_seen(
    redis_backend: Backend,
) -> None:
    seen, late = redis_backend.cache(), redis_backend.cache()
    seen.invalidate("ca", 41, 6)
    assert late.put("ca", 41, SHA1_FORM, response(5))  # its watcher has not seen revocation 6 yet
    assert seen.get("ca", 41, SHA1_FORM) is None
    assert seen.get_local("ca", 41, SHA1_FORM) is None  # not copied into L1 either


# --- Redis away


def test_a_dead_redis_costs_one_attempt_per_back_off_and_l1_keeps_working(
    clock: FixedClock, caplog: pytest.LogCaptureFixture
) -> None:
    cache = ResponseCache(clock=clock, redis_url=DEAD_REDIS, redis_backoff=60)
    r = response(2)
    with caplog.at_level(logging.WARNING, logger="ocsp.cache"):
        assert cache.put("ca", 50, SHA1_FORM, r)  # tries Redis: refused
        assert cache.get("ca", 51, SHA1_FORM) is None  # backing off: no attempt
        cache.invalidate("ca", 52, 3)
        assert cache.get("ca", 50, SHA1_FORM) is r  # from L1
        assert cache.get_local("ca", 50, SHA1_FORM) is r
    stats = cache.stats
    assert (stats.redis_errors, stats.redis_skipped) == (1, 2)
    assert stats.pending_deletes == 1  # the invalidation's DEL waits for Redis
    assert stats.misses == 1 and stats.hits == 2
    assert len(caplog.records) == 1 and "write failed" in caplog.text
    assert r.der.hex() not in caplog.text and repr(r.der) not in caplog.text
    cache.close()


def test_after_the_back_off_redis_is_tried_again_and_warnings_stay_rate_limited(
    clock: FixedClock, caplog: pytest.LogCaptureFixture
) -> None:
    cache = ResponseCache(clock=clock, redis_url=DEAD_REDIS, redis_backoff=0.05)
    with caplog.at_level(logging.WARNING, logger="ocsp.cache"):
        for _ in range(3):
            assert cache.get("ca", 60, SHA1_FORM) is None
            time.sleep(0.06)
    assert cache.stats.redis_errors == 3
    assert len(caplog.records) == 1  # one warning per kind per 30 s
    cache.close()


def test_a_redis_that_never_answers_times_out_once_per_back_off(clock: FixedClock) -> None:
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts connections, never replies
        url = f"redis://127.0.0.1:{silent.getsockname()[1]}/0"
        cache = ResponseCache(clock=clock, redis_url=url, redis_timeout=0.1, redis_backoff=60)
        for serial in range(5):
            assert cache.get("ca", serial, SHA1_FORM) is None
        assert cache.put("ca", 1, SHA1_FORM, response())
        stats = cache.stats
        assert (stats.redis_errors, stats.redis_skipped, stats.misses) == (1, 5, 5)
        cache.close()


def test_deletions_missed_while_redis_was_away_are_made_when_it_is_back(
    redis_backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = redis_backend.cache(redis_backoff=0)
    raw = redis_backend.raw
    assert raw is not None
    cache.put("ca", 70, SHA1_FORM, response(1))
    client = cache._client
    assert client is not None

    def unreachable(*args: Any, **kwargs: Any) -> Any:
        raise redis.ConnectionError("Redis went away (simulated)")

    with monkeypatch.context() as outage:
        outage.setattr(client, "execute_command", unreachable)
        cache.invalidate("ca", 70, 2)
    assert raw.exists(redis_backend.redis_key("ca", 70))  # stale in Redis for now …
    assert cache.stats.pending_deletes == 1
    assert cache.get("ca", 71, SHA1_FORM) is None  # … until the next call that reaches Redis
    assert not raw.exists(redis_backend.redis_key("ca", 70))
    assert cache.stats.pending_deletes == 0


def test_an_unreadable_redis_value_is_a_miss(redis_backend: Backend) -> None:
    cache = redis_backend.cache()
    assert redis_backend.raw is not None
    redis_backend.raw.hset(redis_backend.redis_key("ca", 80), SHA1_FORM, b"\x09garbage")  # type: ignore[arg-type]
    assert cache.get("ca", 80, SHA1_FORM) is None
    assert cache.stats.redis_corrupt == 1 and cache.stats.redis_errors == 0


# --- bounds, clearing, threads


def test_l1_evicts_the_oldest_written_certificate_first() -> None:
    cache = ResponseCache(clock=FixedClock(T0), max_entries=3)
    for serial in (1, 2, 3):
        cache.put("ca", serial, SHA1_FORM, response())
    cache.put("ca", 1, SHA256_FORM, response())  # writing serial 1 again makes it the newest: 2 goes
    assert cache.get_local("ca", 2, SHA1_FORM) is None
    assert [cache.get_local("ca", s, SHA1_FORM) is not None for s in (1, 3)] == [True, True]
    cache.put("ca", 4, SHA1_FORM, response())  # 3 is now the oldest
    assert cache.get_local("ca", 3, SHA1_FORM) is None
    cache.put("ca", 5, SHA1_FORM, response())  # then 1: both its forms go together
    assert cache.get_local("ca", 1, SHA1_FORM) is None and cache.get_local("ca", 1, SHA256_FORM) is None
    assert cache.stats.entries == 2 and cache.stats.evictions == 3


def test_one_certificate_alone_keeps_its_newest_form_within_the_bound() -> None:
    cache = ResponseCache(clock=FixedClock(T0), max_entries=1)
    cache.put("ca", 1, SHA1_FORM, response())
    newest = response()
    cache.put("ca", 1, SHA256_FORM, newest)
    assert cache.get_local("ca", 1, SHA1_FORM) is None
    assert cache.get_local("ca", 1, SHA256_FORM) is newest
    assert len(cache) == 1


def test_clear_drops_l1_but_keeps_tombstones(backend: Backend) -> None:
    cache = backend.cache()
    cache.put("ca", 90, SHA1_FORM, response(1))
    cache.invalidate("ca", 91, 5)
    cache.clear()
    assert cache.get_local("ca", 90, SHA1_FORM) is None and cache.stats.entries == 0
    assert not cache.put("ca", 91, SHA1_FORM, response(4))
    if backend.shared:
        assert cache.get("ca", 90, SHA1_FORM) is not None  # the shared cache is left alone …
        cache.clear(shared=True)  # … unless asked
        assert backend.cache().get("ca", 90, SHA1_FORM) is None


def test_clearing_redis_stays_within_the_namespace(redis_backend: Backend) -> None:
    raw = redis_backend.raw
    assert raw is not None
    neighbour = redis_backend.namespace + "x"  # shares the prefix, not the namespace
    raw.hset(f"{neighbour}:ca:1", "f", "v")
    try:
        cache = redis_backend.cache()
        cache.put("ca", 1, SHA1_FORM, response())
        cache.clear(shared=True)
        assert not raw.exists(redis_backend.redis_key("ca", 1)) and raw.exists(f"{neighbour}:ca:1")
    finally:
        raw.delete(f"{neighbour}:ca:1")


def test_hit_ratio_counts_each_lookup_once(backend: Backend) -> None:
    cache = backend.cache()
    assert cache.hit_ratio() == 0.0
    cache.put("ca", 1, SHA1_FORM, response())
    assert cache.get_local("ca", 1, SHA1_FORM) is not None  # hit
    assert cache.get_local("ca", 2, SHA1_FORM) is None  # the responder then calls get:
    assert cache.get("ca", 2, SHA1_FORM) is None  # one miss
    assert cache.hit_ratio() == 0.5


def test_threads_putting_reading_and_invalidating_leave_a_consistent_cache(backend: Backend) -> None:
    cache = backend.cache(max_entries=50)
    serials = range(1, 41)
    forms = (SHA1_FORM, SHA256_FORM)
    tombstone: dict[int, int] = {}
    tombstone_lock = threading.Lock()
    errors: list[BaseException] = []

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        try:
            for _ in range(400):
                serial, form = rng.choice(serials), rng.choice(forms)
                action = rng.random()
                if action < 0.45:
                    cache.put("ca", serial, form, response(rng.randrange(0, 20), der=b"\x30\x00"))
                elif action < 0.9:
                    (cache.get if backend.shared and action < 0.5 else cache.get_local)("ca", serial, form)
                else:
                    seq = rng.randrange(0, 20)
                    with tombstone_lock:
                        tombstone[serial] = max(seq, tombstone.get(serial, 0))
                    cache.invalidate("ca", serial, seq)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(seed,)) for seed in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    present = [
        (serial, hit)
        for serial in serials
        for form in forms
        if (hit := cache.get_local("ca", serial, form)) is not None
    ]
    assert len(present) == cache.stats.entries <= 50
    assert all(hit.seq >= tombstone.get(serial, 0) for serial, hit in present)
