"""The card's key token: where its two key pairs are generated and used. One token per card.

:class:`CardToken` is the seam: the card asks for a key pair per slot, the public keys, and raw PKCS#1 v1.5
signatures over the DigestInfo a client sends. Both kinds sit on an ``hsm`` KeyBackend
(:class:`BackendCardToken`) and sign through its raw PKCS#1 v1.5 operation (:class:`hsm.RawPkcs1Signer`):
:class:`FileCardToken` (kind ``file``) keeps the keys in an ``hsm`` software key store (``file:``) in the
card's directory; ``SoftHsmCardToken`` (kind ``softhsm``, :mod:`jpki.card.softhsm_token`) in a SoftHSM
token of its own (``pkcs11:``, ``CKM_RSA_PKCS``).

[I] The key store's passphrase is a random per-card secret in ``token.secret`` next to it (0600): on the
real chip the PIN guards the *use* of a key, not its storage, and so it is here; the PIN is checked by the
card before the token is asked to sign.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Mapping
from typing import Protocol
from urllib.parse import quote

from hsm import (
    KeyBackend,
    KeyKind,
    PayloadLengthInvalid,
    PublicKey,
    RawPkcs1Signer,
    Signer,
    open_backend,
    raw_pkcs1,
)
from jpki.card.errors import CardError, SignInputInvalid
from jpki.card.slots import KeySlot
from jpki.card.store import CardDirectory

KEY_KIND = KeyKind.RSA2048
"""JPKI keys are RSA-2048, e = 65537 (jpki-facts §1 [V])."""
KEY_LABELS: dict[KeySlot, str] = {KeySlot.SIGNING: "jpki-signing", KeySlot.AUTH: "jpki-auth"}


class CardToken(Protocol):
    """The card's key custody, one key pair per slot. Private keys never leave it."""

    kind: str
    """The name the card's state records, to reopen the same kind of token."""

    @property
    def description(self) -> str:
        """How messages name the token (never with a secret)."""
        ...

    def generate(self, slot: KeySlot) -> PublicKey:
        """Generate the slot's RSA-2048 key pair inside the token; an existing key is hsm's KeyExists."""
        ...

    def public_key(self, slot: KeySlot) -> PublicKey: ...

    def signer(self, slot: KeySlot) -> Signer:
        """The slot's key as an ``hsm`` Signer (hash-and-sign), for code that signs whole messages."""
        ...

    def sign_pkcs1(self, slot: KeySlot, payload: bytes) -> bytes:
        """PKCS#1 v1.5 over ``payload`` as given (a DigestInfo): what the card's SIGN command does."""
        ...

    def use_labels(self, labels: Mapping[KeySlot, str]) -> None:
        """Address each slot's key by these labels (the card's state keeps them)."""
        ...

    def rotate(self, slot: KeySlot, label: str) -> PublicKey:
        """Generate a new key pair for the slot under a new label and use it from now on."""
        ...

    def close(self) -> None: ...


class TokenSettings(Protocol):
    """How to make a new card's token, for kinds that need settings (``SoftHsmSettings``)."""

    @property
    def kind(self) -> str:
        """The token kind these settings are for."""
        ...


class TokenSettingsInvalid(CardError):
    """Token settings that do not fit the token kind asked for."""

    def __init__(self, kind: str, why: str) -> None:
        super().__init__(f"settings for a {kind!r} card token: {why}")
        self.kind = kind
        self.why = why


class BackendCardToken:
    """A card token over an ``hsm`` KeyBackend: keys generated in it, raw PKCS#1 v1.5 through its Signers."""

    kind: str

    def __init__(self, card_dir: CardDirectory, backend: KeyBackend) -> None:
        self._card_dir = card_dir
        self._backend = backend
        self._raw: dict[KeySlot, RawPkcs1Signer] = {}
        self._lock = threading.Lock()
        self._labels: dict[KeySlot, str] = dict(KEY_LABELS)

    @property
    def description(self) -> str:
        return f"card {self._card_dir.card_id} token ({self._backend.description})"

    def generate(self, slot: KeySlot) -> PublicKey:
        return self._backend.generate(self._labels[slot], KEY_KIND).public_key

    def public_key(self, slot: KeySlot) -> PublicKey:
        return self._backend.public_key(self._labels[slot])

    def signer(self, slot: KeySlot) -> Signer:
        return self._backend.signer(self._labels[slot])

    def use_labels(self, labels: Mapping[KeySlot, str]) -> None:
        with self._lock:
            self._labels.update(labels)
            self._raw.clear()

    def rotate(self, slot: KeySlot, label: str) -> PublicKey:
        public = self._backend.generate(label, KEY_KIND).public_key
        with self._lock:
            self._labels[slot] = label
            self._raw.pop(slot, None)
        return public

    def sign_pkcs1(self, slot: KeySlot, payload: bytes) -> bytes:
        try:
            return self._raw_signer(slot).sign_pkcs1_raw(payload)
        except PayloadLengthInvalid as exc:
            raise SignInputInvalid(exc.length, exc.maximum) from None

    def close(self) -> None:
        with self._lock:
            self._raw.clear()
        self._backend.close()

    def _raw_signer(self, slot: KeySlot) -> RawPkcs1Signer:
        with self._lock:
            signer = self._raw.get(slot)
        if signer is None:
            signer = raw_pkcs1(self._backend.signer(self._labels[slot]))
            with self._lock:
                self._raw[slot] = signer
        return signer


class FileCardToken(BackendCardToken):
    """A card token over an ``hsm`` software key store in the card's directory."""

    kind = "file"

    @classmethod
    def create(cls, card_dir: CardDirectory) -> FileCardToken:
        """Make the key store of a new card, with a fresh random passphrase."""
        card_dir.write_secret(card_dir.token_secret, secrets.token_urlsafe(32))
        return cls.open(card_dir)

    @classmethod
    def open(cls, card_dir: CardDirectory) -> FileCardToken:
        uri = "file:" + quote(str(card_dir.token_dir))
        return cls(card_dir, open_backend(uri, pin_source=card_dir.token_secret))


TokenMaker = Callable[[CardDirectory, TokenSettings | None], CardToken]
TokenOpener = Callable[[CardDirectory], CardToken]


def _create_file(card_dir: CardDirectory, settings: TokenSettings | None) -> CardToken:
    return FileCardToken.create(card_dir)


# The SoftHSM kind is imported when used: jpki.card.softhsm_token builds on this module.
def _create_softhsm(card_dir: CardDirectory, settings: TokenSettings | None) -> CardToken:
    from jpki.card.softhsm_token import SoftHsmCardToken

    return SoftHsmCardToken.create(card_dir, settings)


def _open_softhsm(card_dir: CardDirectory) -> CardToken:
    from jpki.card.softhsm_token import SoftHsmCardToken

    return SoftHsmCardToken.open(card_dir)


TOKEN_KINDS: dict[str, tuple[TokenMaker, TokenOpener]] = {
    "file": (_create_file, FileCardToken.open),
    "softhsm": (_create_softhsm, _open_softhsm),
}
"""Token kinds by the name a card's state records: (create for a new card, open for an existing one)."""
