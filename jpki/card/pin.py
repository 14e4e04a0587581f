"""PIN policies of the JPKI application and the stored state of one PIN (salted hash and try counter).

Policies (jpki-facts §4 [V]): the signing PIN is 6-16 characters of ``A-Z 0-9`` with 5 tries; the
authentication PIN is exactly 4 digits with 3 tries. The failure that uses the last try locks the PIN;
a successful verification gives every try back.

A PIN is never stored in clear. :class:`PinState` keeps ``scrypt(pin, salt)`` with a random 16-byte salt
per PIN (new on every change). [I] The cost (N=2^13, r=8, p=1: 8 MiB, about 17 ms here) keeps PINs out of
state files and backups without slowing the test suite; it is no defence against someone holding the card
directory, who holds the key files too. The try counter is the defence, as on the real chip.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass, replace

from hsm import Secret
from jpki.card.errors import PinFormatInvalid
from jpki.card.slots import KeySlot

PinInput = str | Secret
"""A PIN as callers hand it over: text, or an :class:`hsm.Secret` that never shows it."""


@dataclass(frozen=True, slots=True)
class PinPolicy:
    """What a PIN of one slot may look like and how many wrong tries lock it."""

    slot: KeySlot
    min_length: int
    max_length: int
    alphabet: str
    """A regular-expression character class body, for example ``A-Z0-9``."""
    alphabet_text: str
    """How messages describe the alphabet."""
    max_tries: int

    def check(self, pin: PinInput) -> bytes:
        """The PIN as the bytes the card compares, or PinFormatInvalid (the message never holds the PIN).

        No case folding: clients upper-case the signing PIN before sending it (jpki-facts §4); the card
        compares what it gets.
        """
        text = pin.reveal() if isinstance(pin, Secret) else pin
        if not self.min_length <= len(text) <= self.max_length:
            span = (
                f"exactly {self.min_length}"
                if self.min_length == self.max_length
                else f"{self.min_length} to {self.max_length}"
            )
            raise PinFormatInvalid(self.slot, f"must be {span} characters")
        if not re.fullmatch(f"[{self.alphabet}]+", text, flags=re.ASCII):
            raise PinFormatInvalid(self.slot, f"may contain only {self.alphabet_text}")
        return text.encode("ascii")


SIGNING_PIN_POLICY = PinPolicy(KeySlot.SIGNING, 6, 16, "A-Z0-9", "upper-case letters A-Z and digits 0-9", 5)
AUTH_PIN_POLICY = PinPolicy(KeySlot.AUTH, 4, 4, "0-9", "digits 0-9", 3)
PIN_POLICIES: dict[KeySlot, PinPolicy] = {KeySlot.SIGNING: SIGNING_PIN_POLICY, KeySlot.AUTH: AUTH_PIN_POLICY}


@dataclass(frozen=True, slots=True)
class ScryptCost:
    """scrypt parameters (RFC 7914), stored with each PIN so they can be raised without a migration."""

    n: int = 2**13
    r: int = 8
    p: int = 1

    def derive(self, pin: bytes, salt: bytes) -> bytes:
        return hashlib.scrypt(
            pin, salt=salt, n=self.n, r=self.r, p=self.p, maxmem=256 * self.n * self.r, dklen=32
        )


PIN_KDF_COST = ScryptCost()
"""The cost new PINs are hashed with."""


@dataclass(frozen=True, slots=True)
class PinState:
    """One PIN as the card keeps it: salted hash, tries left, tries allowed. Immutable: every change is a
    new value, written to disk before the card acts on it."""

    salt: bytes
    digest: bytes
    remaining: int
    max_tries: int
    cost: ScryptCost = PIN_KDF_COST

    def __post_init__(self) -> None:
        if not 0 <= self.remaining <= self.max_tries or self.max_tries < 1:
            raise ValueError(f"PIN counter out of range: {self.remaining} of {self.max_tries}")

    @classmethod
    def new(cls, pin: bytes, max_tries: int, cost: ScryptCost = PIN_KDF_COST) -> PinState:
        """A freshly set PIN with every try available and a new salt."""
        salt = secrets.token_bytes(16)
        return cls(salt, cost.derive(pin, salt), max_tries, max_tries, cost)

    @property
    def locked(self) -> bool:
        return self.remaining == 0

    def matches(self, pin: bytes) -> bool:
        """Whether ``pin`` is this PIN (constant-time comparison of the hashes)."""
        return hmac.compare_digest(self.cost.derive(pin, self.salt), self.digest)

    def spend_try(self) -> PinState:
        """The state after one try is used up, before knowing whether the PIN was right."""
        return replace(self, remaining=max(self.remaining - 1, 0))

    def restored(self) -> PinState:
        """The state after a successful verification: every try back."""
        return replace(self, remaining=self.max_tries)

    def changed(self, pin: bytes) -> PinState:
        """A new PIN (new salt, hashed at the current cost) with every try available."""
        return PinState.new(pin, self.max_tries)

    def __repr__(self) -> str:
        return f"PinState(remaining={self.remaining}, max_tries={self.max_tries})"
