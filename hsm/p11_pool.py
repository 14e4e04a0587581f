"""A pool of logged-in PKCS#11 sessions: concurrent signers never share a session.

PKCS#11 login state belongs to the application and token, not to one session: the pool logs in on its
first session, keeps that one open for its whole life, and opens further sessions (up to ``max_sessions``)
that share the login. A thread takes a session, uses it alone, and gives it back. One pool per token per
process: every backend opened on the same token shares it (a second C_Login would fail).
"""

from __future__ import annotations

import hashlib
import hmac
import queue
import secrets
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pkcs11
import pkcs11.exceptions as p11e

from hsm.errors import HsmError, PinIncorrect, TokenBusy
from hsm.p11_module import translate
from hsm.secrets import Secret

_PIN_SALT = secrets.token_bytes(32)


def _pin_digest(pin: Secret) -> bytes:
    return hmac.new(_PIN_SALT, pin.reveal().encode(), hashlib.sha256).digest()


class PooledSession:
    """A session of the pool and the key objects found on it (handles are per session in python-pkcs11)."""

    __slots__ = ("objects", "session")

    def __init__(self, session: pkcs11.Session) -> None:
        self.session = session
        self.objects: dict[Any, Any] = {}

    def cached(self, key: Any, find: Callable[[pkcs11.Session], Any]) -> Any:
        """A key object found once per session and kept for later calls."""
        found = self.objects.get(key)
        if found is None:
            found = find(self.session)
            self.objects[key] = found
        return found


class SessionPool:
    """Logged-in sessions on one token."""

    def __init__(
        self, token: pkcs11.Token, pin: Secret, where: str, *, max_sessions: int, wait: float
    ) -> None:
        self.where = where
        self.token = token
        self._pin_digest = _pin_digest(pin)
        self._max = max_sessions
        self._wait = wait
        self._lock = threading.Lock()
        self._idle: queue.SimpleQueue[PooledSession] = queue.SimpleQueue()
        self._all: list[PooledSession] = []
        self._closed = False
        self._mechanisms: frozenset[pkcs11.Mechanism] | None = None
        try:
            login = token.open(rw=True, user_pin=pin.reveal())
        except p11e.PKCS11Error as exc:
            raise translate(exc, where=where, operation="login") from None
        self._login = PooledSession(login)
        self._all.append(self._login)
        self._idle.put(self._login)
        self.refs = 0

    def mechanisms(self) -> frozenset[pkcs11.Mechanism]:
        """The token's mechanisms, asked once."""
        if self._mechanisms is None:
            try:
                self._mechanisms = frozenset(self.token.slot.get_mechanisms())
            except p11e.PKCS11Error as exc:
                raise translate(exc, where=self.where, operation="listing mechanisms") from None
        return self._mechanisms

    def check_pin(self, pin: Secret) -> None:
        """A second opener of this token must know the PIN the pool logged in with."""
        if not hmac.compare_digest(self._pin_digest, _pin_digest(pin)):
            raise PinIncorrect(self.where)

    def acquire(self) -> PooledSession:
        """Take an idle session, open a new one while under the limit, else wait; TokenBusy after the wait."""
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            pass
        with self._lock:
            if self._closed:
                raise HsmError(f"the sessions of {self.where} are closed")
            if len(self._all) < self._max:
                try:
                    fresh = PooledSession(self.token.open(rw=True))
                except p11e.PKCS11Error as exc:
                    raise translate(exc, where=self.where, operation="opening a session") from None
                self._all.append(fresh)
                return fresh
        try:
            return self._idle.get(timeout=self._wait)
        except queue.Empty:
            raise TokenBusy(
                self.where, f"all {self._max} sessions stayed busy for {self._wait:g} s"
            ) from None

    def release(self, pooled: PooledSession) -> None:
        self._idle.put(pooled)

    @contextmanager
    def session(self) -> Iterator[PooledSession]:
        pooled = self.acquire()
        try:
            yield pooled
        finally:
            self.release(pooled)

    def forget(self, key: Any) -> None:
        """Drop a cached key object from every session (after the key was destroyed or replaced)."""
        with self._lock:
            for pooled in self._all:
                pooled.objects.pop(key, None)

    def close(self) -> None:
        """Close every session, the login session last (closing it logs the application out)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            for pooled in reversed(self._all):
                try:
                    pooled.session.close()
                except p11e.PKCS11Error:
                    continue  # a session the token already dropped: nothing left to release


class PoolRegistry:
    """One pool per (module, token serial) in this process, shared by every backend opened on that token."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pools: dict[tuple[str, str], SessionPool] = {}

    def open(self, key: tuple[str, str], make: Callable[[], SessionPool], pin: Secret) -> SessionPool:
        with self._lock:
            pool = self._pools.get(key)
            if pool is None:
                pool = make()
                self._pools[key] = pool
            else:
                pool.check_pin(pin)
            pool.refs += 1
            return pool

    def release(self, key: tuple[str, str], pool: SessionPool) -> None:
        with self._lock:
            pool.refs -= 1
            if pool.refs <= 0 and self._pools.get(key) is pool:
                del self._pools[key]
                pool.close()

    def in_use(self, key: tuple[str, str]) -> bool:
        with self._lock:
            return key in self._pools


POOLS = PoolRegistry()
"""The process-wide registry."""
