"""The My Number Card's JPKI application: two on-card key pairs, their PINs and certificates, the card's
validity and status.

Two ways in share one PIN state, kept on disk: this API, and the APDU interface (``jpki.card.apdu``). Both
work through a :class:`CardSession` (one card insertion): a PIN verified in a session unlocks its key for
that session only, as on the chip ("verify, then sign"). The try counters are not per session: every
session and process sees the same counts.

**A pulled card gets no free try.** A PIN check first writes the counter *minus one* to disk (fsync,
rename) and only then compares; success writes the full counter back. Cutting power between the two
leaves the try spent, as the chip's anti-tearing does. Every read-modify-write holds the card's file lock.
"""

from __future__ import annotations

import datetime as dt
import logging
import shutil
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes

from hsm import PublicKey
from jpki.card.errors import (
    CardNotActive,
    CardNotExpired,
    CertificateMissing,
    CertificateRejected,
    InvalidCardDates,
    InvalidStatusTransition,
    PinIncorrect,
    PinLocked,
    PinNotVerified,
    UnknownTokenKind,
)
from jpki.card.pin import PIN_POLICIES, PinInput, PinState
from jpki.card.slots import KeySlot
from jpki.card.status import CardStatus, StatusChange, transition_refusal
from jpki.card.store import CardDirectory, CardState
from jpki.card.token import (
    KEY_LABELS,
    TOKEN_KINDS,
    CardToken,
    TokenMaker,
    TokenOpener,
    TokenSettings,
    TokenSettingsInvalid,
)
from jpki.card.validity import card_expiry, jst_date
from pki.clock import Clock, SystemClock

log = logging.getLogger(__name__)


class MyNumberCard:
    """One card: its directory (state) and its token (keys). Make one with :meth:`create` or :meth:`open`."""

    def __init__(self, directory: CardDirectory, token: CardToken, clock: Clock) -> None:
        self._dir = directory
        self._token = token
        self._clock = clock

    # -- making and opening -----------------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        cards_dir: Path,
        card_id: str,
        *,
        holder_birth: dt.date,
        issued_on: dt.date,
        signing_pin: PinInput,
        auth_pin: PinInput,
        clock: Clock | None = None,
        token_kind: str = "file",
        token_settings: TokenSettings | None = None,
    ) -> MyNumberCard:
        """Issue a card: check the PINs and dates, generate both key pairs on the card's token, set the PINs.

        ``token_kind`` picks the key token (``TOKEN_KINDS``: ``file``, ``softhsm``); ``token_settings`` are
        that kind's settings (``SoftHsmSettings`` for ``softhsm``), or None for its defaults. The state file
        is written last; a failure before that removes the new card's directory again.
        """
        clock = clock or SystemClock()
        pins = {
            slot: PIN_POLICIES[slot].check(pin)
            for slot, pin in ((KeySlot.SIGNING, signing_pin), (KeySlot.AUTH, auth_pin))
        }
        expires_on = _checked_expiry(holder_birth, issued_on)
        create_token, _ = _token_kind(card_id, token_kind, token_settings)
        directory = CardDirectory.create(cards_dir, card_id)
        token: CardToken | None = None
        try:
            token = create_token(directory, token_settings)
            for slot in KeySlot:
                token.generate(slot)
            now = clock.now()
            state = CardState(
                card_id=card_id,
                holder_birth=holder_birth,
                issued_on=issued_on,
                expires_on=expires_on,
                status=CardStatus.ACTIVE,
                history=(StatusChange(None, CardStatus.ACTIVE, now),),
                pins={slot: PinState.new(pin, PIN_POLICIES[slot].max_tries) for slot, pin in pins.items()},
                token_kind=token_kind,
                key_labels=dict(KEY_LABELS),
            )
            directory.write(state)
        except BaseException:
            if token is not None:
                token.close()
            shutil.rmtree(directory.path, ignore_errors=True)
            raise
        log.info("card %s issued, valid through %s", card_id, expires_on.isoformat())
        return cls(directory, token, clock)

    @classmethod
    def open(cls, cards_dir: Path, card_id: str, *, clock: Clock | None = None) -> MyNumberCard:
        """Open an existing card from its directory."""
        directory = CardDirectory.existing(cards_dir, card_id)
        state = directory.read()
        _, open_token = _token_kind(card_id, state.token_kind)
        token = open_token(directory)
        token.use_labels(state.key_labels)
        return cls(directory, token, clock or SystemClock())

    def close(self) -> None:
        self._token.close()

    def __enter__(self) -> MyNumberCard:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"MyNumberCard({self.card_id!r})"

    # -- what the card holds ----------------------------------------------------------------------------

    @property
    def card_id(self) -> str:
        return self._dir.card_id

    def state(self) -> CardState:
        """A snapshot of the stored state (read fresh: other sessions and processes may have changed it)."""
        return self._dir.read()

    @property
    def holder_birth(self) -> dt.date:
        return self.state().holder_birth

    @property
    def issued_on(self) -> dt.date:
        return self.state().issued_on

    @property
    def expires_on(self) -> dt.date:
        """The last day the card is valid (``jpki.card.validity``)."""
        return self.state().expires_on

    @property
    def token(self) -> CardToken:
        """The card's key token, for issuing-side code: it signs without a PIN; holders use sessions."""
        return self._token

    def public_key(self, slot: KeySlot) -> PublicKey:
        return self._token.public_key(slot)

    def pin_tries_left(self, slot: KeySlot) -> int:
        """Tries left before the slot's PIN locks (0: locked)."""
        return self.state().pins[slot].remaining

    def pin_locked(self, slot: KeySlot) -> bool:
        return self.state().pins[slot].locked

    # -- certificates -----------------------------------------------------------------------------------

    def write_certificate(self, slot: KeySlot, der: bytes) -> x509.Certificate:
        """Write the slot's certificate; it must be DER X.509 for the slot's key, and the card active."""
        certificate = self._parse(slot, der)
        if _spki(certificate.public_key()) != _spki(self.public_key(slot)):
            raise CertificateRejected(
                self.card_id, slot, "its public key is not the card's key for this slot"
            )
        self._update_certificate(slot, der, ca=False)
        return certificate

    def write_certificates(self, writes: Mapping[KeySlot, tuple[bytes, bytes]]) -> None:
        """Write several slots' certificates with their CA certificates in one state write: slot →
        (certificate DER, CA certificate DER). Each is checked as by :meth:`write_certificate`; one bad
        certificate writes none."""
        for slot, (der, ca_der) in writes.items():
            certificate = self._parse(slot, der)
            self._parse(slot, ca_der)
            if _spki(certificate.public_key()) != _spki(self.public_key(slot)):
                raise CertificateRejected(
                    self.card_id, slot, "its public key is not the card's key for this slot"
                )
        with self._dir.locked():
            state = self._dir.read()
            if state.status is not CardStatus.ACTIVE:
                raise CardNotActive(self.card_id, state.status, "write a certificate")
            for slot, (der, ca_der) in writes.items():
                state = state.with_certificate(slot, der).with_certificate(slot, ca_der, ca=True)
            self._dir.write(state)

    def rotate_key(self, slot: KeySlot) -> PublicKey:
        """A new key pair for the slot, generated on the card (renewal, re-issue): the slot's certificate is
        removed with it (it certified the old key); the PIN stays. [I] The old key stays in the token,
        never used again (the token offers no deletion)."""
        with self._dir.locked():
            state = self._dir.read()
            if state.status is not CardStatus.ACTIVE:
                raise CardNotActive(self.card_id, state.status, "generate a key")
            generation = (
                sum(1 for label in state.key_labels.values() if label.startswith(KEY_LABELS[slot])) + 1
            )
            label = f"{KEY_LABELS[slot]}.{self._clock.now():%Y%m%dT%H%M%S%f}.{generation}"
            public = self._token.rotate(slot, label)
            certificates = {s: d for s, d in state.certificates.items() if s is not slot}
            self._dir.write(
                replace(state, key_labels={**state.key_labels, slot: label}, certificates=certificates)
            )
        log.info("card %s: new %s key", self.card_id, slot.value)
        return public

    def write_ca_certificate(self, slot: KeySlot, der: bytes) -> x509.Certificate:
        """Write the certificate of the CA that issues the slot's certificates (EF 0002 / 000B)."""
        certificate = self._parse(slot, der)
        self._update_certificate(slot, der, ca=True)
        return certificate

    def has_certificate(self, slot: KeySlot) -> bool:
        return slot in self.state().certificates

    def certificate_der(self, slot: KeySlot) -> bytes:
        """The slot's certificate as written; CertificateMissing before one is.

        [I] This is the issuing side's view and needs no PIN; the APDU interface applies the chip's rule
        (the signing certificate is readable only after the signing PIN).
        """
        der = self.state().certificates.get(slot)
        if der is None:
            raise CertificateMissing(self.card_id, slot)
        return der

    def certificate(self, slot: KeySlot) -> x509.Certificate:
        return x509.load_der_x509_certificate(self.certificate_der(slot))

    def ca_certificate_der(self, slot: KeySlot) -> bytes:
        der = self.state().ca_certificates.get(slot)
        if der is None:
            raise CertificateMissing(self.card_id, slot, "CA certificate")
        return der

    def _parse(self, slot: KeySlot, der: bytes) -> x509.Certificate:
        try:
            certificate = x509.load_der_x509_certificate(der)
        except ValueError as exc:
            raise CertificateRejected(self.card_id, slot, f"not a DER X.509 certificate ({exc})") from None
        if certificate.public_bytes(serialization.Encoding.DER) != der:
            raise CertificateRejected(self.card_id, slot, "trailing or non-canonical bytes around the DER")
        return certificate

    def _update_certificate(self, slot: KeySlot, der: bytes, *, ca: bool) -> None:
        with self._dir.locked():
            state = self._dir.read()
            if state.status is not CardStatus.ACTIVE:
                raise CardNotActive(self.card_id, state.status, "write a certificate")
            self._dir.write(state.with_certificate(slot, der, ca=ca))

    # -- PINs and signing (convenience: one session per call) -------------------------------------------

    def session(self) -> CardSession:
        """A new session (a card insertion): nothing verified yet."""
        return CardSession(self)

    def verify_pin(self, slot: KeySlot, pin: PinInput) -> None:
        """Check a PIN; on success every try comes back. Raises PinIncorrect, PinLocked, PinFormatInvalid."""
        self.session().verify_pin(slot, pin)

    def change_pin(self, slot: KeySlot, old: PinInput, new: PinInput) -> None:
        """Verify ``old``, then set ``new``. The new PIN's format is checked first: a typo spends no try."""
        PIN_POLICIES[slot].check(new)
        session = self.session()
        session.verify_pin(slot, old)
        session.change_pin(slot, new)

    def sign(self, slot: KeySlot, payload: bytes, pin: PinInput) -> bytes:
        """Verify ``pin`` and sign ``payload`` (a DigestInfo) with PKCS#1 v1.5, as the chip does."""
        session = self.session()
        session.verify_pin(slot, pin)
        return session.sign(slot, payload)

    # -- PIN state (shared by every session) ------------------------------------------------------------

    def _present_pin(self, slot: KeySlot, pin: bytes) -> None:
        """Compare a PIN against the stored one, spending the try on disk before comparing."""
        with self._dir.locked():
            state = self._dir.read()
            record = state.pins[slot]
            if record.locked:
                raise PinLocked(slot)
            spent = record.spend_try()
            self._dir.write(state.with_pin(slot, spent))  # durable before the comparison is acted upon
            if record.matches(pin):
                self._dir.write(state.with_pin(slot, record.restored()))
                return
        log.info("card %s: wrong %s PIN, %d tries left", self.card_id, slot.value, spent.remaining)
        raise PinIncorrect(slot, spent.remaining)

    def _set_pin(self, slot: KeySlot, pin: bytes) -> None:
        with self._dir.locked():
            state = self._dir.read()
            record = state.pins[slot]
            if record.locked:
                raise PinLocked(slot)
            self._dir.write(state.with_pin(slot, record.changed(pin)))
        log.info("card %s: %s PIN changed", self.card_id, slot.value)

    # -- status -----------------------------------------------------------------------------------------

    @property
    def status(self) -> CardStatus:
        return self.state().status

    def status_history(self) -> tuple[StatusChange, ...]:
        return self.state().history

    def is_past_expiry(self) -> bool:
        """Whether today (JST, by the card's clock) is after the card's last valid day."""
        return jst_date(self._clock.now()) > self.expires_on

    def suspend(self) -> StatusChange:
        """一時停止: active -> suspended."""
        return self._transition(CardStatus.SUSPENDED)

    def resume(self) -> StatusChange:
        """Suspended -> active (refused once the card is past its expiry)."""
        return self._transition(CardStatus.ACTIVE)

    def report_lost(self) -> StatusChange:
        """紛失: active or suspended -> lost. The caller revokes both certificates (keyCompromise)."""
        return self._transition(CardStatus.LOST)

    def mark_returned(self) -> StatusChange:
        """返納: any status but returned -> returned."""
        return self._transition(CardStatus.RETURNED)

    def mark_expired(self) -> StatusChange:
        """Active or suspended -> expired, once the clock is past the expiry date (else CardNotExpired)."""
        return self._transition(CardStatus.EXPIRED)

    def _transition(self, requested: CardStatus) -> StatusChange:
        with self._dir.locked():
            state = self._dir.read()
            why = transition_refusal(state.status, requested)
            now = self._clock.now()
            past_expiry = jst_date(now) > state.expires_on
            if why is None and requested is CardStatus.ACTIVE and past_expiry:
                why = f"the card expired after {state.expires_on.isoformat()}"
            if why is not None:
                raise InvalidStatusTransition(self.card_id, state.status, requested, why)
            if requested is CardStatus.EXPIRED and not past_expiry:
                raise CardNotExpired(self.card_id, state.expires_on)
            change = StatusChange(state.status, requested, now)
            self._dir.write(state.with_status(change))
        log.info("card %s: %s -> %s", self.card_id, state.status.value, requested.value)
        return change


class CardSession:
    """One insertion of the card: which PINs have been verified since. Both the API and the APDU interface
    use sessions; the try counters behind them are the card's, shared by all.

    [I] As on ISO 7816 cards, a verified PIN stays verified for the session (several signatures may follow
    one VERIFY) until a failed verification of that PIN, :meth:`reset` (card reset, re-selecting the
    application), or the PIN locking through another session.
    """

    def __init__(self, card: MyNumberCard) -> None:
        self.card = card
        self._verified: set[KeySlot] = set()

    def is_verified(self, slot: KeySlot) -> bool:
        return slot in self._verified

    def reset(self) -> None:
        self._verified.clear()

    def verify_pin(self, slot: KeySlot, pin: PinInput) -> None:
        """Check the PIN's format (no try spent on a malformed PIN), then verify it."""
        self.present_pin(slot, PIN_POLICIES[slot].check(pin))

    def present_pin(self, slot: KeySlot, pin: bytes) -> None:
        """Verify PIN bytes as sent to the chip, without the format check: any mismatch spends a try."""
        self._verified.discard(slot)
        self.card._present_pin(slot, pin)
        self._verified.add(slot)

    def change_pin(self, slot: KeySlot, new: PinInput) -> None:
        """Set a new PIN; the old one must have been verified in this session."""
        self._require(slot, "changing the PIN")
        self.card._set_pin(slot, PIN_POLICIES[slot].check(new))

    def sign(self, slot: KeySlot, payload: bytes) -> bytes:
        """PKCS#1 v1.5 over ``payload`` (a DigestInfo), after this session verified the slot's PIN."""
        self._require(slot, "signing")
        return self.card.token.sign_pkcs1(slot, payload)

    def _require(self, slot: KeySlot, operation: str) -> None:
        if slot not in self._verified:
            raise PinNotVerified(slot, operation)
        if self.card.pin_locked(slot):
            self._verified.discard(slot)
            raise PinLocked(slot)


def _token_kind(
    card_id: str, kind: str, settings: TokenSettings | None = None
) -> tuple[TokenMaker, TokenOpener]:
    try:
        chosen = TOKEN_KINDS[kind]
    except KeyError:
        raise UnknownTokenKind(card_id, kind, sorted(TOKEN_KINDS)) from None
    if settings is not None and settings.kind != kind:
        raise TokenSettingsInvalid(kind, f"got settings for a {settings.kind!r} token")
    return chosen


def _checked_expiry(holder_birth: dt.date, issued_on: dt.date) -> dt.date:
    if issued_on < holder_birth:
        raise InvalidCardDates("the card is issued before the holder's date of birth")
    return card_expiry(holder_birth, issued_on)


def _spki(key: CertificatePublicKeyTypes) -> bytes:
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
