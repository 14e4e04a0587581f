"""Where a card's state lives: one directory per card, its state in one JSON file.

Layout of ``<cards>/<card_id>/``::

    state.json      the CardState (0600), replaced atomically: temporary file, fsync, rename, fsync of the dir
    .lock           target of the per-card fcntl lock taken around every read-modify-write
    token/          the card's key store (see ``jpki.card.token``)
    token.secret    the key store's passphrase (0600)

Every change is a transaction under an exclusive ``flock`` on ``.lock``: it re-reads the state, decides, and
writes. Readers without the lock always see a whole state (old or new), never a torn one. ``flock`` locks
belong to the open file, so two threads of one process exclude each other as two processes do.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import fcntl
import json
import os
import re
import secrets
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from jpki.card.errors import CardCorrupt, CardExists, CardNotFound, InvalidCardId
from jpki.card.pin import PinState, ScryptCost
from jpki.card.slots import KeySlot
from jpki.card.status import CardStatus, StatusChange

STATE_FORMAT = 1
_CARD_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


def check_card_id(card_id: str) -> str:
    """Card ids: 1-64 of ``A-Z a-z 0-9 _ -``, starting with a letter or digit (safe as a directory name)."""
    if not _CARD_ID.fullmatch(card_id):
        raise InvalidCardId(card_id, "use 1-64 characters of A-Z a-z 0-9 _ - (first a letter or digit)")
    return card_id


@dataclass(frozen=True, slots=True)
class CardState:
    """Everything a card keeps besides its private keys. Immutable: changes make a new state."""

    card_id: str
    holder_birth: dt.date
    issued_on: dt.date
    expires_on: dt.date
    status: CardStatus
    history: tuple[StatusChange, ...]
    pins: Mapping[KeySlot, PinState]
    token_kind: str
    """Which CardToken implementation holds the keys (``file`` for now)."""
    key_labels: Mapping[KeySlot, str]
    certificates: Mapping[KeySlot, bytes] = field(default_factory=dict)
    ca_certificates: Mapping[KeySlot, bytes] = field(default_factory=dict)

    def with_pin(self, slot: KeySlot, pin: PinState) -> CardState:
        return replace(self, pins={**self.pins, slot: pin})

    def with_certificate(self, slot: KeySlot, der: bytes, *, ca: bool = False) -> CardState:
        if ca:
            return replace(self, ca_certificates={**self.ca_certificates, slot: der})
        return replace(self, certificates={**self.certificates, slot: der})

    def with_status(self, change: StatusChange) -> CardState:
        return replace(self, status=change.status, history=(*self.history, change))


class CardDirectory:
    """The directory of one card: paths, the lock, atomic state writes."""

    STATE = "state.json"
    LOCK = ".lock"
    TOKEN = "token"
    TOKEN_SECRET = "token.secret"

    def __init__(self, path: Path, card_id: str) -> None:
        self.path = path
        self.card_id = card_id

    @classmethod
    def create(cls, cards_dir: Path, card_id: str) -> CardDirectory:
        """Make the directory of a new card (0700); an existing one is CardExists."""
        check_card_id(card_id)
        cards_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = cards_dir / card_id
        try:
            path.mkdir(mode=0o700)
        except FileExistsError:
            raise CardExists(card_id, str(cards_dir)) from None
        return cls(path, card_id)

    @classmethod
    def existing(cls, cards_dir: Path, card_id: str) -> CardDirectory:
        check_card_id(card_id)
        path = cards_dir / card_id
        if not (path / cls.STATE).is_file():
            raise CardNotFound(card_id, str(cards_dir))
        return cls(path, card_id)

    @property
    def token_dir(self) -> Path:
        return self.path / self.TOKEN

    @property
    def token_secret(self) -> Path:
        return self.path / self.TOKEN_SECRET

    def read(self) -> CardState:
        """The current state (no lock needed: the file is only ever replaced whole)."""
        try:
            raw = (self.path / self.STATE).read_bytes()
        except FileNotFoundError:
            raise CardNotFound(self.card_id, str(self.path.parent)) from None
        except OSError as exc:
            raise CardCorrupt(self.card_id, f"cannot read the state ({exc.strerror})") from None
        return decode_state(self.card_id, raw)

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the card's exclusive lock (blocking) for one read-modify-write."""
        fd = os.open(self.path / self.LOCK, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def write(self, state: CardState) -> None:
        """Replace the state durably: when this returns, the new state survives a crash."""
        if state.card_id != self.card_id:
            raise CardCorrupt(self.card_id, f"refusing to write the state of card {state.card_id!r}")
        write_atomically(self.path / self.STATE, encode_state(state))

    def write_secret(self, path: Path, value: str) -> None:
        """Create a 0600 file that must not exist yet (the token passphrase)."""
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(value)
            fh.flush()
            os.fsync(fh.fileno())


def write_atomically(path: Path, data: bytes) -> None:
    """Write a 0600 file via a unique temporary name, fsync, rename it over ``path``, fsync the directory."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


# -- JSON -----------------------------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _pin_json(pin: PinState) -> dict[str, Any]:
    cost = pin.cost
    return {
        "kdf": "scrypt",
        "n": cost.n,
        "r": cost.r,
        "p": cost.p,
        "salt": _b64(pin.salt),
        "hash": _b64(pin.digest),
        "remaining": pin.remaining,
        "max_tries": pin.max_tries,
    }


def encode_state(state: CardState) -> bytes:
    doc = {
        "format": STATE_FORMAT,
        "card_id": state.card_id,
        "holder_birth": state.holder_birth.isoformat(),
        "issued_on": state.issued_on.isoformat(),
        "expires_on": state.expires_on.isoformat(),
        "status": state.status.value,
        "history": [
            {
                "previous": c.previous.value if c.previous else None,
                "status": c.status.value,
                "at": c.at.isoformat(),
            }
            for c in state.history
        ],
        "token": {
            "kind": state.token_kind,
            "labels": {s.value: label for s, label in state.key_labels.items()},
        },
        "pins": {slot.value: _pin_json(pin) for slot, pin in state.pins.items()},
        "certificates": {slot.value: _b64(der) for slot, der in state.certificates.items()},
        "ca_certificates": {slot.value: _b64(der) for slot, der in state.ca_certificates.items()},
    }
    return json.dumps(doc, indent=2, sort_keys=True).encode("utf-8") + b"\n"


def decode_state(card_id: str, raw: bytes) -> CardState:
    """Parse a state file; anything malformed is CardCorrupt naming the problem."""
    try:
        doc = json.loads(raw)
        if not isinstance(doc, dict) or doc.get("format") != STATE_FORMAT:
            raise CardCorrupt(card_id, f"unknown state format (expected {STATE_FORMAT})")
        state = _decode(doc)
    except CardCorrupt:
        raise
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise CardCorrupt(card_id, f"malformed state ({type(exc).__name__}: {exc})") from None
    if state.card_id != card_id:
        raise CardCorrupt(card_id, f"the state belongs to card {state.card_id!r}")
    return state


def _decode(doc: dict[str, Any]) -> CardState:
    token = doc["token"]
    if set(doc["pins"]) != set(KeySlot) or set(token["labels"]) != set(KeySlot):
        raise ValueError("a PIN or key label is missing")
    return CardState(
        card_id=str(doc["card_id"]),
        holder_birth=dt.date.fromisoformat(doc["holder_birth"]),
        issued_on=dt.date.fromisoformat(doc["issued_on"]),
        expires_on=dt.date.fromisoformat(doc["expires_on"]),
        status=CardStatus(doc["status"]),
        history=tuple(
            StatusChange(
                CardStatus(c["previous"]) if c["previous"] is not None else None,
                CardStatus(c["status"]),
                dt.datetime.fromisoformat(c["at"]),
            )
            for c in doc["history"]
        ),
        pins={KeySlot(slot): _decode_pin(pin) for slot, pin in doc["pins"].items()},
        token_kind=str(token["kind"]),
        key_labels={KeySlot(slot): str(label) for slot, label in token["labels"].items()},
        certificates={KeySlot(s): base64.b64decode(v, validate=True) for s, v in doc["certificates"].items()},
        ca_certificates={
            KeySlot(s): base64.b64decode(v, validate=True) for s, v in doc["ca_certificates"].items()
        },
    )


def _decode_pin(doc: dict[str, Any]) -> PinState:
    if doc["kdf"] != "scrypt":
        raise ValueError(f"unknown PIN hash {doc['kdf']!r}")
    return PinState(
        salt=base64.b64decode(doc["salt"], validate=True),
        digest=base64.b64decode(doc["hash"], validate=True),
        remaining=int(doc["remaining"]),
        max_tries=int(doc["max_tries"]),
        cost=ScryptCost(int(doc["n"]), int(doc["r"]), int(doc["p"])),
    )
