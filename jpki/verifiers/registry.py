"""The registry of verifiers on the store, and the check every restricted service asks.

Credentials: an API token (:mod:`.tokens`: only its SHA-256 is stored, found by its lookup id, compared in
constant time) sent as ``Authorization: Bearer TOKEN``, and optionally a client certificate, kept as the
SHA-256 of its DER.

The hot path (an OCSP request) asks :meth:`VerifierRegistry.authorize` for every request. A token found in
the store is cached in memory for ``ttl`` seconds (default 5) under its lookup id, with its stored hash and
its verifier, so a verifier's requests cost one store read per ``ttl`` per process; the secret is still
hashed and compared in constant time on every request. A change made through this registry (suspend,
resume, rotate, scopes) clears the cache at once; a change made by another process (``jlis jpki verifier
suspend`` while ``jlis serve`` runs) takes effect there within ``ttl`` seconds. Unknown lookup ids are not
cached (anyone can make them up), so they cannot crowd out real entries.

Every change is one transaction with its audit record; refusals go to a :class:`~.refusals.RefusalLog`.
"""

from __future__ import annotations

import builtins
import datetime as dt
import logging
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from sqlalchemy.engine import Connection

from jpki import tables
from jpki.verifiers import tokens
from jpki.verifiers.errors import InvalidVerifier, UnknownVerifier, VerifierStateError
from jpki.verifiers.model import (
    DEFAULT_SCOPES,
    Registered,
    Scope,
    TokenInfo,
    Verifier,
    VerifierId,
    VerifierKind,
    VerifierStatus,
    check_name,
    parse_kind,
    parse_scopes,
    scopes_text,
)
from jpki.verifiers.refusals import RefusalKey, RefusalLog, RefusalReason
from ocsp.answer import Requester
from pki.clock import Clock
from pki.errors import PkiError
from pki.store import AuditEntry, Store

log = logging.getLogger(__name__)

V = tables.verifier
T = tables.verifier_token
DEFAULT_TTL = 5.0
"""Seconds a token found in the store is trusted from memory (see the module docstring)."""
MAX_CACHED = 4096
"""Cached tokens per process; when full, the cache starts over."""


@dataclass(frozen=True, slots=True)
class Decision:
    """What :meth:`VerifierRegistry.authorize` found: the verifier (when known) and why it was refused."""

    verifier: Verifier | None
    refusal: RefusalReason | None = None

    @property
    def granted(self) -> bool:
        return self.refusal is None


@dataclass(frozen=True, slots=True)
class _Entry:
    token_sha256: bytes
    verifier: Verifier
    revoked: bool
    expires: float


class VerifierRegistry:
    """Registered verifiers over a store. Thread-safe; implements ``ocsp.access.VerifierCheck``."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        *,
        refusals: RefusalLog | None = None,
        ttl: float = DEFAULT_TTL,
        ticker: Callable[[], float] = time.monotonic,
    ) -> None:
        store.ensure_domain(tables.SCHEMA)
        self._store = store
        self._clock = clock
        self._refusals = refusals
        self._ttl = ttl
        self._ticker = ticker
        self._lock = threading.Lock()
        self._cache: dict[str, _Entry] = {}

    # -- registration ----------------------------------------------------------------------------------------

    def add(
        self,
        name: str,
        kind: VerifierKind | str,
        *,
        actor: str,
        scopes: Iterable[Scope | str] | None = None,
        platform_id: str | None = None,
        client_certificate: x509.Certificate | None = None,
    ) -> Registered:
        """Register a verifier; the returned token is shown this once and never stored (only its hash)."""
        name = check_name(name)
        kind = parse_kind(kind)
        granted = DEFAULT_SCOPES[kind] if scopes is None else parse_scopes(scopes)
        if platform_id is not None and kind is not VerifierKind.sp:
            raise InvalidVerifier("platform", "only a service provider (sp) names a platform business")
        fingerprint = None if client_certificate is None else _fingerprint(client_certificate)
        verifier_id = VerifierId(f"{kind.value}-{secrets.token_hex(6)}")
        token_id, token = tokens.mint()
        now = self._clock.now()
        with self._store.domain_write() as tx:
            if platform_id is not None:
                platform = _get(tx.conn, platform_id)
                if platform is None or platform.kind is not VerifierKind.pf:
                    raise InvalidVerifier(
                        "platform", f"{platform_id!r} is not a registered platform business"
                    )
            if fingerprint is not None:
                _check_certificate_free(tx.conn, fingerprint)
            tx.conn.execute(
                sa.insert(V).values(
                    verifier_id=verifier_id,
                    name=name,
                    kind=kind.value,
                    status=VerifierStatus.active.value,
                    scopes=scopes_text(granted),
                    platform_id=platform_id,
                    cert_sha256=fingerprint,
                    created_at=now,
                    updated_at=now,
                )
            )
            _insert_token(tx.conn, verifier_id, token_id, token, now)
            details = {
                "name": name,
                "kind": kind.value,
                "scopes": scopes_text(granted),
                "platform": platform_id,
                "token_id": token_id,
                "client_cert_sha256": fingerprint,
            }
            tx.audit(AuditEntry(actor, "jpki.verifier.add", f"verifier/{verifier_id}", details))
        return Registered(self.get(verifier_id), token, token_id)

    def get(self, verifier_id: str) -> Verifier:
        with self._store.domain_read() as conn:
            found = _get(conn, verifier_id)
        if found is None:
            raise UnknownVerifier(verifier_id)
        return found

    def list(self) -> list[Verifier]:
        """Every verifier, by kind and name."""
        query = sa.select(V).order_by(V.c.kind, V.c.name, V.c.verifier_id)
        with self._store.domain_read() as conn:
            return [_verifier_of(m) for m in conn.execute(query).mappings()]

    def tokens(self, verifier_id: str) -> builtins.list[TokenInfo]:
        """A verifier's tokens, the current one first, then the revoked ones, latest first (lookup ids and
        dates; never a hash)."""
        self.get(verifier_id)
        query = (
            sa.select(T.c.token_id, T.c.created_at, T.c.revoked_at)
            .where(T.c.verifier_id == verifier_id)
            .order_by(T.c.revoked_at.is_not(None), T.c.revoked_at.desc(), T.c.created_at.desc(), T.c.token_id)
        )
        with self._store.domain_read() as conn:
            return [
                TokenInfo(m["token_id"], m["created_at"], m["revoked_at"])
                for m in conn.execute(query).mappings()
            ]

    # -- changes ---------------------------------------------------------------------------------------------

    def suspend(self, verifier_id: str, *, actor: str, reason: str | None = None) -> Verifier:
        """Refuse the verifier everything until resumed (its tokens stay valid for then)."""
        return self._set_status(verifier_id, VerifierStatus.suspended, actor=actor, reason=reason)

    def resume(self, verifier_id: str, *, actor: str, reason: str | None = None) -> Verifier:
        return self._set_status(verifier_id, VerifierStatus.active, actor=actor, reason=reason)

    def _set_status(
        self, verifier_id: str, status: VerifierStatus, *, actor: str, reason: str | None
    ) -> Verifier:
        action = "suspend" if status is VerifierStatus.suspended else "resume"
        with self._store.domain_write() as tx:
            found = _get(tx.conn, verifier_id, lock=True)
            if found is None:
                raise UnknownVerifier(verifier_id)
            if found.status is status:
                raise VerifierStateError(verifier_id, f"is already {status.value}")
            _update(tx.conn, verifier_id, updated_at=self._clock.now(), status=status.value)
            details = {} if reason is None else {"reason": reason}
            tx.audit(AuditEntry(actor, f"jpki.verifier.{action}", f"verifier/{verifier_id}", details))
        self._forget()
        return self.get(verifier_id)

    def rotate_token(self, verifier_id: str, *, actor: str) -> Registered:
        """A new token for the verifier; every earlier one stops working (here at once, elsewhere within
        ``ttl``). The new token is shown this once."""
        token_id, token = tokens.mint()
        now = self._clock.now()
        with self._store.domain_write() as tx:
            if _get(tx.conn, verifier_id, lock=True) is None:
                raise UnknownVerifier(verifier_id)
            current = T.c.verifier_id == verifier_id, T.c.revoked_at.is_(None)
            revoked = list(tx.conn.execute(sa.select(T.c.token_id).where(*current)).scalars())
            tx.conn.execute(sa.update(T).where(*current).values(revoked_at=now))
            _insert_token(tx.conn, verifier_id, token_id, token, now)
            _update(tx.conn, verifier_id, updated_at=now)
            details = {"token_id": token_id, "revoked": sorted(revoked)}
            tx.audit(AuditEntry(actor, "jpki.verifier.rotate-token", f"verifier/{verifier_id}", details))
        self._forget()
        return Registered(self.get(verifier_id), token, token_id)

    def set_scopes(self, verifier_id: str, scopes: Iterable[Scope | str], *, actor: str) -> Verifier:
        granted = parse_scopes(scopes)
        with self._store.domain_write() as tx:
            found = _get(tx.conn, verifier_id, lock=True)
            if found is None:
                raise UnknownVerifier(verifier_id)
            _update(tx.conn, verifier_id, updated_at=self._clock.now(), scopes=scopes_text(granted))
            details = {"scopes": scopes_text(granted), "before": scopes_text(found.scopes)}
            tx.audit(AuditEntry(actor, "jpki.verifier.scopes", f"verifier/{verifier_id}", details))
        self._forget()
        return self.get(verifier_id)

    def set_client_certificate(
        self, verifier_id: str, certificate: x509.Certificate | None, *, actor: str
    ) -> Verifier:
        """Register (or with None, remove) the verifier's client certificate."""
        fingerprint = None if certificate is None else _fingerprint(certificate)
        with self._store.domain_write() as tx:
            if _get(tx.conn, verifier_id, lock=True) is None:
                raise UnknownVerifier(verifier_id)
            if fingerprint is not None:
                _check_certificate_free(tx.conn, fingerprint, verifier_id)
            _update(tx.conn, verifier_id, updated_at=self._clock.now(), cert_sha256=fingerprint)
            details = {"client_cert_sha256": fingerprint}
            tx.audit(AuditEntry(actor, "jpki.verifier.client-cert", f"verifier/{verifier_id}", details))
        return self.get(verifier_id)

    # -- authentication --------------------------------------------------------------------------------------

    def authenticate(self, bearer_token: str | None) -> Verifier | None:
        """The active verifier this token belongs to, or None (unknown, rotated, wrong, suspended)."""
        if bearer_token is None:
            return None
        verifier, valid = self._identify(bearer_token)
        return verifier if valid and verifier is not None and verifier.active else None

    def authenticate_certificate(self, certificate: x509.Certificate) -> Verifier | None:
        """The active verifier that registered this client certificate, or None."""
        query = sa.select(V).where(V.c.cert_sha256 == _fingerprint(certificate))
        with self._store.domain_read() as conn:
            found = conn.execute(query).mappings().first()
        verifier = None if found is None else _verifier_of(found)
        return verifier if verifier is not None and verifier.active else None

    def authorize(
        self, bearer_token: str | None, scope: Scope, ca_id: str, client: str | None = None
    ) -> Decision:
        """May this token use ``scope`` for ``ca_id``'s certificates? Refusals are counted for the audit."""
        decision = self._decide(bearer_token, scope)
        if decision.refusal is not None and self._refusals is not None:
            verifier_id = None if decision.verifier is None else decision.verifier.verifier_id
            self._refusals.note(RefusalKey(decision.refusal, verifier_id, scope.value, ca_id), client)
        return decision

    def _decide(self, bearer_token: str | None, scope: Scope) -> Decision:
        if bearer_token is None:
            return Decision(None, RefusalReason.missing)
        verifier, valid = self._identify(bearer_token)
        if verifier is None or not valid:
            return Decision(verifier, RefusalReason.invalid)
        if not verifier.active:
            return Decision(verifier, RefusalReason.suspended)
        if scope not in verifier.scopes:
            return Decision(verifier, RefusalReason.scope)
        return Decision(verifier)

    def allows(self, requester: Requester, ca_id: str) -> bool:
        """``ocsp.access.VerifierCheck``: an active verifier with scope ``ocsp``. Never raises: a store
        that cannot be read refuses (logged)."""
        return self._allows(requester, Scope.ocsp, ca_id)

    def allows_crl(self, requester: Requester, ca_id: str) -> bool:
        """The same for CRL downloads (scope ``crl``)."""
        return self._allows(requester, Scope.crl, ca_id)

    def _allows(self, requester: Requester, scope: Scope, ca_id: str) -> bool:
        try:
            return self.authorize(requester.bearer_token, scope, ca_id, requester.client_address).granted
        except PkiError as exc:
            log.warning("verifier check failed, refused: %s", exc)
            return False

    def _identify(self, token: str) -> tuple[Verifier | None, bool]:
        """``(verifier the token's lookup id names, whether the token is valid)``; (None, False) when the
        lookup id is unknown or the token malformed."""
        token_id = tokens.lookup_id(token)
        if token_id is None:
            return None, False
        entry = self._cached(token_id)
        if entry is None:
            entry = self._load(token_id)
            if entry is None:
                return None, False
        valid = tokens.matches(entry.token_sha256, token) and not entry.revoked
        return entry.verifier, valid

    def _cached(self, token_id: str) -> _Entry | None:
        with self._lock:
            entry = self._cache.get(token_id)
        if entry is None or entry.expires <= self._ticker():
            return None
        return entry

    def _load(self, token_id: str) -> _Entry | None:
        query = sa.select(V, T.c.token_sha256, T.c.revoked_at).join(T, T.c.verifier_id == V.c.verifier_id)
        with self._store.domain_read() as conn:
            found = conn.execute(query.where(T.c.token_id == token_id)).mappings().first()
        if found is None:
            return None
        entry = _Entry(
            bytes(found["token_sha256"]),
            _verifier_of(found),
            found["revoked_at"] is not None,
            self._ticker() + self._ttl,
        )
        with self._lock:
            if len(self._cache) >= MAX_CACHED:
                self._cache.clear()
            self._cache[token_id] = entry
        return entry

    def _forget(self) -> None:
        """Drop every cached token (after a change here: suspensions and rotations apply at once)."""
        with self._lock:
            self._cache.clear()


def _fingerprint(certificate: x509.Certificate) -> str:
    return certificate.fingerprint(hashes.SHA256()).hex()


def _insert_token(conn: Connection, verifier_id: str, token_id: str, token: str, now: dt.datetime) -> None:
    conn.execute(
        sa.insert(T).values(
            token_id=token_id, verifier_id=verifier_id, token_sha256=tokens.digest(token), created_at=now
        )
    )


def _update(conn: Connection, verifier_id: str, **values: object) -> None:
    conn.execute(sa.update(V).where(V.c.verifier_id == verifier_id).values(**values))


def _check_certificate_free(conn: Connection, fingerprint: str, verifier_id: str | None = None) -> None:
    holder = conn.execute(sa.select(V.c.verifier_id).where(V.c.cert_sha256 == fingerprint)).scalar()
    if holder is not None and holder != verifier_id:
        raise InvalidVerifier("client certificate", f"is already registered to verifier {holder}")


def _get(conn: Connection, verifier_id: str, *, lock: bool = False) -> Verifier | None:
    query = sa.select(V).where(V.c.verifier_id == verifier_id)
    if lock and conn.dialect.name == "postgresql":
        query = query.with_for_update()
    found = conn.execute(query).mappings().first()
    return None if found is None else _verifier_of(found)


def _verifier_of(m: sa.RowMapping) -> Verifier:
    return Verifier(
        verifier_id=VerifierId(m["verifier_id"]),
        name=m["name"],
        kind=VerifierKind(m["kind"]),
        status=VerifierStatus(m["status"]),
        scopes=frozenset(Scope(s) for s in m["scopes"].split()),
        created_at=m["created_at"],
        updated_at=m["updated_at"],
        platform_id=None if m["platform_id"] is None else VerifierId(m["platform_id"]),
        cert_sha256=m["cert_sha256"],
    )
