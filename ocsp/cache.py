"""The OCSP response cache: signed responses kept in process (L1) and, optionally, in Redis shared by every
responder process (L2), so a known answer costs no signature.

Layout. L1 is ``{(ca_id, serial): {cert_id_der: CachedResponse}}``: one group per certificate holds every
CertID encoding of it (SHA-1, SHA-256… of the issuer name and key), so a revocation drops them all at once.
L2 mirrors it: one Redis hash per certificate, ``{namespace}:{ca_id}:{serial:x}``, field = the CertID DER,
value = :func:`pack_response`; the key expires (PEXPIREAT) at the latest nextUpdate of its fields.

Revocations and the race. A response is built from a status read after the CA's revocation counter ``seq``
was read. :meth:`ResponseCache.invalidate` drops the certificate's entries and leaves a tombstone
``(ca_id, serial) -> max(seq)``; a response with ``seq`` below the tombstone may predate that revocation,
so it is refused by ``put`` and when a Redis read would copy it into L1. A put that reaches Redis checks the
tombstone again after its write and deletes the key if an invalidation overtook it, so no interleaving leaves
a stale response in Redis. Tombstones are per process (each process's revocation watcher calls
``invalidate``) and live ``tombstone_ttl``.

Redis is an optimisation: when it is unreachable or slow, calls behave as misses and skipped writes, log a
warning at most every 30 s per kind, count the failure, and leave Redis alone for ``redis_backoff`` seconds
so a dead server does not cost every request a timeout. Deletions that could not be made are retried first
thing once Redis answers again. Needs Redis >= 7.0 (PEXPIREAT NX / GT).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import logging
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import islice
from typing import TypeVar, cast

import redis
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry

from pki.clock import Clock, ensure_aware

log = logging.getLogger(__name__)

T = TypeVar("T")
Key = tuple[str, int]
"""(ca_id, serial): one certificate."""

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MICROSECOND = dt.timedelta(microseconds=1)
_HEADER = struct.Struct(">Bqqqq")
"""Packed header: format version, thisUpdate, nextUpdate, producedAt (µs since the epoch), seq; then DER."""
_FORMAT = 1
WARN_INTERVAL = 30.0
"""Seconds between two warnings of one kind (Redis read, write, invalidate…)."""
MAX_PENDING_DELETES = 100_000
"""Redis deletions kept for retry while Redis is away; beyond this the oldest are given up (and logged)."""
_FLUSH_BATCH = 500


@dataclass(frozen=True, slots=True)
class CachedResponse:
    """One signed OCSPResponse for one CertID, with the times a client and the cache need."""

    der: bytes = field(repr=False)
    """The complete OCSPResponse DER (never logged: ``repr`` leaves it out)."""
    this_update: dt.datetime
    next_update: dt.datetime
    """Never served at or after this instant."""
    produced_at: dt.datetime
    seq: int
    """The CA's revocation counter, read before the certificate's status this response states."""
    _etag: str | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in ("this_update", "next_update", "produced_at"):
            object.__setattr__(self, name, ensure_aware(getattr(self, name)))
        if self.seq < 0:
            raise ValueError(f"revocation seq {self.seq} is negative")
        if self.next_update < self.this_update:
            raise ValueError("nextUpdate is before thisUpdate")

    @property
    def etag(self) -> str:
        """Strong ETag (quoted SHA-1 of the DER, RFC 5019 §6.2), computed on first use."""
        if self._etag is None:
            object.__setattr__(
                self, "_etag", f'"{hashlib.sha1(self.der, usedforsecurity=False).hexdigest()}"'
            )
        return cast(str, self._etag)


def pack_response(response: CachedResponse) -> bytes:
    """The Redis value of a response: a fixed header (``_HEADER``) then the DER. Shared by processes of
    different versions, so the layout must not drift (a golden test pins it)."""
    times = (response.this_update, response.next_update, response.produced_at)
    return _HEADER.pack(_FORMAT, *(_micros(t) for t in times), response.seq) + response.der


def unpack_response(data: bytes) -> CachedResponse:
    """Inverse of :func:`pack_response`; ValueError for anything else."""
    if len(data) <= _HEADER.size:
        raise ValueError(f"packed OCSP response too short ({len(data)} bytes)")
    version, this_update, next_update, produced_at, seq = _HEADER.unpack_from(data)
    if version != _FORMAT:
        raise ValueError(f"packed OCSP response format {version}, expected {_FORMAT}")
    return CachedResponse(
        data[_HEADER.size :], _instant(this_update), _instant(next_update), _instant(produced_at), seq
    )


def _micros(at: dt.datetime) -> int:
    return (at - EPOCH) // _MICROSECOND


def _instant(micros: int) -> dt.datetime:
    return EPOCH + micros * _MICROSECOND


@dataclass(slots=True)
class CacheStats:
    """Counters of one cache (a snapshot from :attr:`ResponseCache.stats`)."""

    local_hits: int = 0
    """Lookups answered by L1 (``get_local``, or ``get`` before trying Redis)."""
    local_misses: int = 0
    """L1 lookups that found nothing valid; ``get_local`` then ``get`` counts two for one request."""
    shared_hits: int = 0
    """``get`` calls answered by Redis."""
    misses: int = 0
    """``get`` calls that found nothing in any layer."""
    expired: int = 0
    """Entries found at or past their nextUpdate (dropped)."""
    puts: int = 0
    """Responses accepted by ``put``."""
    refused: int = 0
    """Responses refused: older than a tombstone, or already past nextUpdate."""
    evictions: int = 0
    """Entries dropped to keep L1 within ``max_entries``."""
    invalidations: int = 0
    redis_errors: int = 0
    """Redis calls that failed (unreachable, timeout, error reply): each starts a back-off."""
    redis_skipped: int = 0
    """Redis calls not made because of the back-off."""
    redis_corrupt: int = 0
    """Redis values that did not unpack (treated as misses)."""
    entries: int = 0
    """Responses in L1 now."""
    tombstones: int = 0
    """Tombstones held now (some may have expired but not yet been purged)."""
    pending_deletes: int = 0
    """Redis keys whose invalidation waits for Redis to come back."""

    @property
    def hits(self) -> int:
        return self.local_hits + self.shared_hits

    def hit_ratio(self) -> float:
        """Hits over lookups that ended (a hit, or a ``get`` that missed everywhere); 0.0 before any.
        ``get_local`` misses are left out: the responder follows each with ``get``, which counts it."""
        ended = self.hits + self.misses
        return self.hits / ended if ended else 0.0


class ResponseCache:
    """Signed OCSP responses by (CA, serial, CertID): thread-safe, bounded, invalidated by revocations.

    L1 eviction is oldest-written first: groups sit in a dict in insertion order and a ``put`` to a group
    moves it to the end, so eviction pops the front group (all its CertID forms) — O(1), no per-read
    bookkeeping, and responses refreshed by the pre-signer stay.
    """

    def __init__(
        self,
        *,
        clock: Callable[[], dt.datetime] | Clock,
        max_entries: int = 1_000_000,
        redis_url: str | None = None,
        namespace: str = "jlis:ocsp",
        tombstone_ttl: dt.timedelta = dt.timedelta(minutes=15),
        redis_timeout: float = 0.25,
        redis_backoff: float = 1.0,
    ) -> None:
        if max_entries < 1:
            raise ValueError(f"max_entries must be at least 1, not {max_entries}")
        if tombstone_ttl <= dt.timedelta(0):
            raise ValueError("tombstone_ttl must be positive")
        if redis_timeout <= 0 or redis_backoff < 0:
            raise ValueError("redis_timeout must be positive and redis_backoff not negative")
        self._now = _now_function(clock)
        self._max_entries = max_entries
        self._namespace = namespace
        self._tombstone_ttl = tombstone_ttl
        self._backoff = redis_backoff
        self._lock = threading.Lock()
        self._l1: dict[Key, dict[bytes, CachedResponse]] = {}
        self._count = 0
        self._tombstones: dict[Key, tuple[int, dt.datetime]] = {}
        """(ca_id, serial) -> (highest seq invalidated, expiry); in order of last invalidation."""
        self._stats = CacheStats()
        self._shared = redis_url is not None
        self._client = None if redis_url is None else _connect(redis_url, redis_timeout)
        self._down_until = 0.0
        self._pending: dict[str, None] = {}
        """Redis keys to delete once Redis answers (an ordered set)."""
        self._warned: dict[str, float] = {}

    @property
    def shared(self) -> bool:
        """Whether a Redis cache shared with other processes is configured."""
        return self._shared

    @property
    def stats(self) -> CacheStats:
        """A consistent snapshot of the counters."""
        with self._lock:
            return dataclasses.replace(
                self._stats,
                entries=self._count,
                tombstones=len(self._tombstones),
                pending_deletes=len(self._pending),
            )

    def hit_ratio(self) -> float:
        return self.stats.hit_ratio()

    def __len__(self) -> int:
        return self._count

    # --- reads

    def get_local(self, ca_id: str, serial: int, cert_id_der: bytes) -> CachedResponse | None:
        """From L1 only: never any I/O (safe on the event loop)."""
        now = self._now()
        with self._lock:
            return self._lookup((ca_id, serial), cert_id_der, now)

    def get(self, ca_id: str, serial: int, cert_id_der: bytes) -> CachedResponse | None:
        """From L1, else from Redis (copied into L1 on a hit). May block up to ``redis_timeout``."""
        key = (ca_id, serial)
        now = self._now()
        with self._lock:
            hit = self._lookup(key, cert_id_der, now)
        if hit is not None:
            return hit
        found = self._get_shared(key, cert_id_der) if self._client is not None else None
        with self._lock:
            hit = None if found is None else self._fill(key, cert_id_der, found, now)
            if hit is None:
                self._stats.misses += 1
            else:
                self._stats.shared_hits += 1
            return hit

    def _lookup(self, key: Key, cert_id_der: bytes, now: dt.datetime) -> CachedResponse | None:
        """(Lock held.) A valid L1 entry, dropping it when expired."""
        group = self._l1.get(key)
        hit = None if group is None else group.get(cert_id_der)
        if hit is not None and hit.next_update > now:
            self._stats.local_hits += 1
            return hit
        if group is not None and hit is not None:
            self._drop_form(key, group, cert_id_der)
            self._stats.expired += 1
        self._stats.local_misses += 1
        return None

    def _fill(
        self, key: Key, cert_id_der: bytes, response: CachedResponse, now: dt.datetime
    ) -> CachedResponse | None:
        """(Lock held.) Copy a Redis hit into L1 unless stale or expired; an L1 entry put meanwhile wins."""
        present = self._l1.get(key, {}).get(cert_id_der)
        if present is not None and present.next_update > now:
            return present
        if not self._acceptable(key, response, now):
            return None
        self._insert(key, cert_id_der, response)
        return response

    # --- writes

    def put(self, ca_id: str, serial: int, cert_id_der: bytes, response: CachedResponse) -> bool:
        """Keep a response in L1 and Redis; False (nothing kept) when a revocation newer than
        ``response.seq`` was invalidated, or the response is already past its nextUpdate."""
        key = (ca_id, serial)
        now = self._now()
        with self._lock:
            if not self._acceptable(key, response, now):
                self._stats.refused += 1
                return False
            self._insert(key, cert_id_der, response)
            self._stats.puts += 1
        if self._client is not None:
            self._put_shared(key, cert_id_der, response)
        return True

    def _acceptable(self, key: Key, response: CachedResponse, now: dt.datetime) -> bool:
        """(Lock held.) Not expired and not older than the key's tombstone (an expired one is purged)."""
        if response.next_update <= now:
            return False
        tombstone = self._tombstones.get(key)
        if tombstone is None:
            return True
        seq, expires = tombstone
        if expires <= now:
            del self._tombstones[key]
            return True
        return response.seq >= seq

    def _insert(self, key: Key, cert_id_der: bytes, response: CachedResponse) -> None:
        """(Lock held.) Store, move the group to the end (newest), evict from the front."""
        group = self._l1.pop(key, None)
        if group is None:
            group = {}
        self._l1[key] = group
        if cert_id_der not in group:
            self._count += 1
        group[cert_id_der] = response
        while self._count > self._max_entries:
            self._evict_one(key, cert_id_der)

    def _evict_one(self, keep_key: Key, keep_form: bytes) -> None:
        oldest = next(iter(self._l1))
        if oldest != keep_key:
            self._count -= len(self._l1.pop(oldest))
            self._stats.evictions += 1
            return
        # only the group being written is left: drop its other CertID forms
        group = self._l1[oldest]
        form = next(f for f in group if f != keep_form)
        self._drop_form(oldest, group, form)
        self._stats.evictions += 1

    def _drop_form(self, key: Key, group: dict[bytes, CachedResponse], cert_id_der: bytes) -> None:
        del group[cert_id_der]
        self._count -= 1
        if not group:
            del self._l1[key]

    # --- invalidation

    def invalidate(self, ca_id: str, serial: int, seq: int) -> None:
        """Drop every CertID form of the certificate in L1 and Redis, and refuse from now on any response
        older than revocation ``seq`` (for ``tombstone_ttl``)."""
        key = (ca_id, serial)
        now = self._now()
        with self._lock:
            self._bury(key, seq, now)
            group = self._l1.pop(key, None)
            if group is not None:
                self._count -= len(group)
            self._stats.invalidations += 1
        if self._client is not None:
            self._delete_shared(self._redis_key(key), "invalidate")

    def _bury(self, key: Key, seq: int, now: dt.datetime) -> None:
        """(Lock held.) Raise (never lower) the tombstone and purge expired ones from the oldest."""
        previous = self._tombstones.pop(key, None)
        top = seq if previous is None else max(seq, previous[0])
        self._tombstones[key] = (top, now + self._tombstone_ttl)
        while self._tombstones:
            oldest = next(iter(self._tombstones))
            if self._tombstones[oldest][1] > now:
                break
            del self._tombstones[oldest]

    def clear(self, *, shared: bool = False) -> None:
        """Drop every L1 entry (tombstones stay: they guard against races). With ``shared``, also delete
        this namespace's keys in Redis — every process's shared cache, not just this one's."""
        with self._lock:
            self._l1.clear()
            self._count = 0
        if shared and self._client is not None:
            pattern = f"{_glob_escape(self._namespace)}:*"
            self._attempt("clear", lambda client: _delete_matching(client, pattern))

    def close(self) -> None:
        """Release the Redis connections; later calls use L1 only."""
        client, self._client = self._client, None
        if client is not None:
            client.close()

    # --- Redis

    def _redis_key(self, key: Key) -> str:
        return f"{self._namespace}:{key[0]}:{key[1]:x}"

    def _get_shared(self, key: Key, cert_id_der: bytes) -> CachedResponse | None:
        name = self._redis_key(key)

        def read(client: redis.Redis) -> object:
            return client.hget(name, cert_id_der)  # type: ignore[arg-type]  # bytes fields work; typed str

        ok, value = self._attempt("read", read)
        if not ok or not isinstance(value, bytes):
            return None
        try:
            return unpack_response(value)
        except ValueError as exc:
            with self._lock:
                self._stats.redis_corrupt += 1
            self._warn("decode", f"unreadable value under {name}: {exc}")
            return None

    def _put_shared(self, key: Key, cert_id_der: bytes, response: CachedResponse) -> None:
        name = self._redis_key(key)
        value = pack_response(response)
        expires_ms = -(-_micros(response.next_update) // 1000)

        def write(client: redis.Redis) -> None:
            with client.pipeline(transaction=True) as pipe:
                pipe.hset(name, cert_id_der, value)  # type: ignore[arg-type]  # bytes work; typed str
                # NX sets the first expiry; GT only ever extends it (GT alone ignores keys with none)
                pipe.pexpireat(name, expires_ms, nx=True)
                pipe.pexpireat(name, expires_ms, gt=True)
                pipe.execute()

        if not self._attempt("write", write)[0]:
            return
        with self._lock:  # an invalidation may have deleted the key before our write landed
            stale = not self._acceptable(key, response, self._now())
        if stale:
            self._delete_shared(name, "write")

    def _delete_shared(self, name: str, kind: str) -> None:
        """Delete a Redis key now, or remember it for when Redis is back."""
        if self._attempt(kind, lambda client: client.delete(name))[0]:
            return
        with self._lock:
            self._pending.pop(name, None)
            self._pending[name] = None
            given_up = 0
            while len(self._pending) > MAX_PENDING_DELETES:
                del self._pending[next(iter(self._pending))]
                given_up += 1
        if given_up:
            self._warn("pending", f"gave up {given_up} Redis deletions (Redis away too long)")

    def _flush_pending(self, client: redis.Redis) -> None:
        """Retry deletions that failed, before anything else reads or writes Redis."""
        if not self._pending:
            return
        with self._lock:
            names = list(islice(self._pending, _FLUSH_BATCH))
            for name in names:
                del self._pending[name]
        try:
            client.delete(*names)
        except (RedisError, OSError):
            with self._lock:
                for name in names:
                    self._pending[name] = None
            raise

    def _attempt(self, kind: str, operation: Callable[[redis.Redis], T]) -> tuple[bool, T | None]:
        """Run a Redis operation unless backing off; (succeeded, result). Never raises a Redis error."""
        client = self._client
        if client is None:
            return False, None
        if time.monotonic() < self._down_until:
            with self._lock:
                self._stats.redis_skipped += 1
            return False, None
        try:
            self._flush_pending(client)
            return True, operation(client)
        except (RedisError, OSError) as exc:
            self._down_until = time.monotonic() + self._backoff
            with self._lock:
                self._stats.redis_errors += 1
            self._warn(kind, f"{type(exc).__name__}: {exc}")
            return False, None

    def _warn(self, kind: str, message: str) -> None:
        now = time.monotonic()
        with self._lock:
            last = self._warned.get(kind)
            if last is not None and now - last < WARN_INTERVAL:
                return
            self._warned[kind] = now
        log.warning(
            "OCSP shared cache (Redis) %s failed: %s (further %s warnings muted 30 s)", kind, message, kind
        )


def _now_function(clock: Callable[[], dt.datetime] | Clock) -> Callable[[], dt.datetime]:
    """A Clock's ``now``, or the callable itself."""
    now = getattr(clock, "now", None)
    if callable(now):
        return cast(Callable[[], dt.datetime], now)
    if callable(clock):
        return clock
    raise TypeError(f"clock must be a pki.clock.Clock or a callable returning a datetime, not {clock!r}")


def _connect(url: str, timeout: float) -> redis.Redis:
    """A client that connects lazily, waits at most ``timeout`` per connect or socket operation, and never
    retries by itself (the cache's back-off decides when to try again)."""
    return redis.Redis.from_url(
        url, socket_timeout=timeout, socket_connect_timeout=timeout, retry=Retry(NoBackoff(), 0)
    )


def _delete_matching(client: redis.Redis, pattern: str) -> int:
    deleted = 0
    batch: list[bytes] = []
    for name in client.scan_iter(match=pattern, count=_FLUSH_BATCH):
        batch.append(name)
        if len(batch) >= _FLUSH_BATCH:
            deleted += cast(int, client.unlink(*batch))
            batch.clear()
    if batch:
        deleted += cast(int, client.unlink(*batch))
    return deleted


def _glob_escape(text: str) -> str:
    """Escape Redis glob metacharacters so a namespace matches only itself."""
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)
