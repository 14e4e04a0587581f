"""User authentication with the card's authentication certificate, the way マイナポータル logs in.

1. The relying party issues a single-use challenge (:meth:`LoginChallenges.issue`): 32 random bytes with
   an expiry. Only its SHA-256 is stored, so a leaked table holds no usable challenge.
2. The card signs it after the authentication PIN is verified (:func:`sign_challenge`: PKCS#1 v1.5 with
   SHA-256 over the challenge bytes, the card's ``80 2A 00 80`` over the DigestInfo).
3. :meth:`LoginVerifier.verify` spends the challenge first (atomically: a second use of the same challenge
   is refused as a replay even when the first attempt failed), then checks the signature with the
   certificate's key, the certificate's key usage, and its path and revocation status now (OCSP or CRL, as
   the :class:`pki.verify.PathValidator` is set up). Every attempt is audited, refusals with their reason.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from jpki.card import CardSession, CardSigner, KeySlot
from jpki.errors import JpkiError
from jpki.services import tables
from pki.clock import Clock
from pki.store import AuditEntry, Store
from pki.verify import PathValidation, PathValidator, Verdict

NONCE_BYTES = 32
DEFAULT_TTL = dt.timedelta(minutes=5)
C = tables.login_challenge


@dataclass(frozen=True, slots=True)
class Challenge:
    nonce: bytes
    expires_at: dt.datetime

    def as_dict(self) -> dict[str, str]:
        return {"nonce": base64.b64encode(self.nonce).decode(), "expires_at": self.expires_at.isoformat()}


class LoginRefused(JpkiError):
    """A login that does not pass: ``reason`` is one of ``unknown-challenge``, ``expired``, ``replayed``,
    ``bad-signature``, ``key-usage``, ``certificate`` (then ``validation`` says why)."""

    def __init__(self, reason: str, message: str, validation: PathValidation | None = None) -> None:
        super().__init__(f"login refused: {message}")
        self.reason = reason
        self.validation = validation


@dataclass(frozen=True, slots=True)
class LoginResult:
    certificate: x509.Certificate
    validation: PathValidation

    @property
    def serial(self) -> int:
        return self.certificate.serial_number


class LoginChallenges:
    """Single-use challenges kept in a store, shared by every process of the relying party."""

    def __init__(self, store: Store, clock: Clock, *, ttl: dt.timedelta = DEFAULT_TTL) -> None:
        if ttl <= dt.timedelta(0):
            raise ValueError("a challenge must live a positive time")
        store.ensure_domain(tables.SCHEMA)
        self._store = store
        self._clock = clock
        self._ttl = ttl

    def issue(self, audience: str | None = None) -> Challenge:
        nonce = secrets.token_bytes(NONCE_BYTES)
        now = self._clock.now()
        challenge = Challenge(nonce, now + self._ttl)
        with self._store.domain_write() as tx:
            tx.conn.execute(
                sa.insert(C).values(
                    nonce_sha256=hashlib.sha256(nonce).digest(),
                    audience=audience,
                    created_at=now,
                    expires_at=challenge.expires_at,
                )
            )
            # keep the table small: challenges expired a day ago are of no use, even to an audit
            tx.conn.execute(sa.delete(C).where(C.c.expires_at < now - dt.timedelta(days=1)))
        return challenge

    def spend(self, nonce: bytes) -> None:
        """Mark a challenge used; LoginRefused when unknown, already used or expired."""
        key = hashlib.sha256(nonce).digest()
        now = self._clock.now()
        with self._store.domain_write() as tx:
            row = tx.conn.execute(
                sa.select(C.c.expires_at, C.c.used_at).where(C.c.nonce_sha256 == key)
            ).first()
            if row is None:
                raise LoginRefused("unknown-challenge", "this challenge was never issued here")
            if row.used_at is not None:
                raise LoginRefused("replayed", "this challenge was used already")
            tx.conn.execute(sa.update(C).where(C.c.nonce_sha256 == key).values(used_at=now))
        if row.expires_at <= now:
            raise LoginRefused("expired", "the challenge expired")


def sign_challenge(session: CardSession, nonce: bytes) -> bytes:
    """What the card does for a login: sign the challenge with the authentication key (the session must have
    the authentication PIN verified)."""
    return CardSigner(session, KeySlot.AUTH).sign(nonce)


class LoginVerifier:
    def __init__(self, challenges: LoginChallenges, validator: PathValidator, store: Store) -> None:
        self._challenges = challenges
        self._validator = validator
        self._store = store

    def verify(
        self,
        nonce: bytes,
        signature: bytes,
        certificate: x509.Certificate,
        *,
        intermediates: Sequence[x509.Certificate] = (),
        crls: Sequence[bytes] = (),
    ) -> LoginResult:
        """Check one login (see the module docstring); LoginRefused with the reason otherwise. ``crls``:
        revocation data the relying party already holds (else the validator fetches what it needs)."""
        subject = f"{certificate.issuer.rfc4514_string()}/{certificate.serial_number:x}"
        try:
            self._challenges.spend(nonce)
            _check_signature(certificate, nonce, signature)
            validation = self._validator.validate(certificate, intermediates=intermediates, crls=crls)
            if validation.verdict is not Verdict.valid:
                raise LoginRefused("certificate", validation.reason, validation)
        except LoginRefused as refused:
            self._audit("jpki.login.refused", subject, {"reason": refused.reason})
            raise
        self._audit("jpki.login.ok", subject, {})
        return LoginResult(certificate, validation)

    def _audit(self, action: str, obj: str, details: dict[str, Any]) -> None:
        self._store.append_audit(AuditEntry("login", action, obj, details))


def _check_signature(certificate: x509.Certificate, nonce: bytes, signature: bytes) -> None:
    key = certificate.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise LoginRefused("bad-signature", "JPKI authentication keys are RSA")
    try:
        usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
        if not usage.digital_signature:
            raise LoginRefused("key-usage", "the certificate's key is not for digital signatures")
    except x509.ExtensionNotFound:
        pass
    try:
        key.verify(signature, nonce, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        raise LoginRefused(
            "bad-signature", "the signature does not verify with the certificate's key"
        ) from None
