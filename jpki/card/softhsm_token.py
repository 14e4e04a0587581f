"""A card token in SoftHSM: one PKCS#11 token per card, its two RSA-2048 key pairs generated inside it.

The keys are sensitive and never extractable (``hsm``'s PKCS#11 key template); the card's SIGN command is
``CKM_RSA_PKCS`` over the client's DigestInfo, through ``hsm``'s raw PKCS#1 v1.5 path as for ``file`` cards.

**Making the token.** SoftHSM lists the tokens that exist when a process initialises it (``C_Initialize``),
plus one free slot. A token made by ``softhsm2-util`` after that stays invisible to the process until it
finalizes and initialises the module again, which would end every other session of the process. So the
token is made in-process instead: ``C_InitToken`` on the free slot (called through ctypes on the module
``hsm`` loaded, as python-pkcs11 0.10 does not wrap it), then the SO logs in and sets the user PIN
(``C_InitPIN``). SoftHSM (2.6) then adds a fresh free slot for the next card. A process-wide lock keeps two
threads off the same free slot; processes never share one (each has its own slot list, and each new token
is a new directory in the token store).

[I] A consequence: a process sees the token of a card issued by *another* process only if that token
existed when it initialised SoftHSM; otherwise opening the card is :class:`CardTokenNotFound`, and a new
process opens it.

**Secrets.** The user PIN is a random per-card secret in ``token.secret`` (0600), as the ``file`` kind's
passphrase: on the chip the card's PIN guards the *use* of a key, and the card checks it before the token
is asked to sign. The SO PIN is random and forgotten once the user PIN is set: nothing after issuance needs
the SO, and deleting a token (``softhsm2-util --delete-token --serial S``) needs no PIN.

**Settings.** :class:`SoftHsmSettings` at issuance: the module (default: ``hsm``'s ``default_module()``:
``JLIS_PKCS11_MODULE``, else SoftHSM's library) and the SoftHSM configuration (default: ``SOFTHSM2_CONF`` of
the process). SoftHSM reads ``SOFTHSM2_CONF`` once per process, when it is initialised: a configuration is
put into the environment only while SoftHSM is not yet initialised here, and must match afterwards. Where
the token is (label, serial, module, configuration) is recorded in ``softhsm.json`` in the card's
directory, and opening the card uses that record.

[I] Should issuance fail after the token was made (generating a key, say), the card's directory is removed
but the token stays in the store, orphaned: delete it by its serial.
"""

from __future__ import annotations

import ctypes
import json
import os
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

import pkcs11
import pkcs11.exceptions as p11e
from pkcs11 import TokenFlag

if TYPE_CHECKING:
    from pkcs11._pkcs11 import lib as P11Lib  # noqa: N812  (a type alias)

from hsm import BackendFailure, TokenNotFound, open_backend
from hsm.p11_module import default_module, load_module, translate
from jpki.card.errors import CardCorrupt, CardError
from jpki.card.store import CardDirectory, write_atomically
from jpki.card.token import BackendCardToken, TokenSettings, TokenSettingsInvalid

KIND = "softhsm"
CONF_ENV = "SOFTHSM2_CONF"
"""The environment variable SoftHSM reads its configuration file from, at ``C_Initialize``."""
RECORD_FILE = "softhsm.json"
RECORD_FORMAT = 1
_LABEL_ID_CHARS = 16
"""Token labels are 32 bytes (PKCS#11 CK_TOKEN_INFO): ``jpki-`` + card id prefix + ``-`` + 10 random hex."""
_CKR_CRYPTOKI_NOT_INITIALIZED = 0x190
_init_lock = threading.Lock()


@dataclass(frozen=True, slots=True)
class SoftHsmSettings:
    """Where a new card's SoftHSM token is made. Both default to the process's environment."""

    module: str | None = None
    """The PKCS#11 module: None for ``hsm``'s default (``JLIS_PKCS11_MODULE``, else SoftHSM's library)."""
    conf: Path | None = None
    """The SoftHSM configuration: None for the process's ``SOFTHSM2_CONF`` (or SoftHSM's built-in default)."""

    @property
    def kind(self) -> str:
        return KIND


@dataclass(frozen=True, slots=True)
class SoftHsmTokenRecord:
    """Where a card's token is: what ``softhsm.json`` in the card's directory holds (no secret)."""

    label: str
    serial: str
    module: str
    conf: str | None
    """The absolute SOFTHSM2_CONF the token was made under; None: SoftHSM's built-in default."""

    @property
    def uri(self) -> str:
        """The RFC 7512 URI of the token: label and serial, so no other token can match."""
        return f"pkcs11:token={self.label};serial={self.serial}?module-path={quote(self.module, safe='/')}"

    def write(self, card_dir: CardDirectory) -> None:
        doc = {"format": RECORD_FORMAT, "label": self.label, "serial": self.serial}
        doc |= {"module": self.module, "conf": self.conf}
        write_atomically(card_dir.path / RECORD_FILE, json.dumps(doc, indent=2).encode("utf-8") + b"\n")

    @classmethod
    def read(cls, card_dir: CardDirectory) -> SoftHsmTokenRecord:
        """The card's record; missing or malformed is CardCorrupt."""
        try:
            doc = json.loads((card_dir.path / RECORD_FILE).read_bytes())
            if doc["format"] != RECORD_FORMAT:
                raise ValueError(f"unknown format {doc['format']!r}")
            conf = doc["conf"]
            return cls(str(doc["label"]), str(doc["serial"]), str(doc["module"]), conf and str(conf))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            why = f"its SoftHSM token record {RECORD_FILE} is unusable ({type(exc).__name__}: {exc})"
            raise CardCorrupt(card_dir.card_id, why) from None


class SoftHsmSetupError(CardError):
    """The card's SoftHSM token cannot be made or reached with this process's module and configuration."""

    def __init__(self, card_id: str, why: str) -> None:
        super().__init__(f"card {card_id!r}: SoftHSM token: {why}")
        self.card_id = card_id
        self.why = why


class CardTokenNotFound(CardError):
    """The card's token is not among the tokens SoftHSM lists to this process."""

    def __init__(self, card_id: str, record: SoftHsmTokenRecord) -> None:
        super().__init__(
            f"card {card_id!r}: SoftHSM lists no token {record.label!r} (serial {record.serial}) to this "
            f"process (SOFTHSM2_CONF={record.conf or '(default)'}). A process sees the tokens that existed "
            "when it initialised SoftHSM and those it made itself: open the card in a new process, or check "
            "that the token was not deleted"
        )
        self.card_id = card_id
        self.record = record


class SoftHsmCardToken(BackendCardToken):
    """A card token that is a SoftHSM token of its own (``pkcs11:token=jpki-...;serial=...``)."""

    kind = KIND

    def __init__(self, card_dir: CardDirectory, record: SoftHsmTokenRecord) -> None:
        try:
            backend = open_backend(record.uri, pin_source=card_dir.token_secret)
        except TokenNotFound:
            raise CardTokenNotFound(card_dir.card_id, record) from None
        super().__init__(card_dir, backend)
        self.record = record

    @classmethod
    def create(cls, card_dir: CardDirectory, settings: TokenSettings | None = None) -> SoftHsmCardToken:
        """Make the token of a new card: a fresh token with a random user PIN, recorded in the card."""
        card_id = card_dir.card_id
        chosen = _softhsm_settings(settings)
        module = chosen.module or default_module()
        if module is None:
            raise SoftHsmSetupError(card_id, "no PKCS#11 module: install softhsm2 or set JLIS_PKCS11_MODULE")
        conf = str(chosen.conf.resolve()) if chosen.conf is not None else _conf_in_environment()
        _use_conf(card_id, module, conf)
        user_pin = secrets.token_urlsafe(32)
        card_dir.write_secret(card_dir.token_secret, user_pin)
        label = f"jpki-{card_id[:_LABEL_ID_CHARS]}-{secrets.token_hex(5)}"
        serial = _init_token(card_id, module, label, user_pin)
        record = SoftHsmTokenRecord(label, serial, module, conf)
        record.write(card_dir)
        return cls(card_dir, record)

    @classmethod
    def open(cls, card_dir: CardDirectory) -> SoftHsmCardToken:
        record = SoftHsmTokenRecord.read(card_dir)
        if not Path(record.module).exists():
            raise SoftHsmSetupError(card_dir.card_id, f"the PKCS#11 module {record.module} is not installed")
        _use_conf(card_dir.card_id, record.module, record.conf)
        return cls(card_dir, record)


def _softhsm_settings(settings: TokenSettings | None) -> SoftHsmSettings:
    if settings is None:
        return SoftHsmSettings()
    if not isinstance(settings, SoftHsmSettings):
        raise TokenSettingsInvalid(KIND, f"expected SoftHsmSettings, got {type(settings).__name__}")
    return settings


# -- the process's SoftHSM configuration ----------------------------------------------------------------


def _conf_in_environment() -> str | None:
    value = os.environ.get(CONF_ENV)
    return str(Path(value).resolve()) if value else None


def _use_conf(card_id: str, module: str, conf: str | None) -> None:
    """Make ``conf`` the process's SoftHSM configuration: set it while SoftHSM is not initialised here, else
    require that it already is the one in force."""
    current = _conf_in_environment()
    if current == conf:
        return
    if _initialised(module):
        raise SoftHsmSetupError(
            card_id,
            f"it needs SOFTHSM2_CONF={conf or '(default)'}, but this process initialised SoftHSM with "
            f"{current or '(default)'}; SoftHSM reads it once per process: set {CONF_ENV} before the "
            "process first uses SoftHSM",
        )
    if conf is None:
        os.environ.pop(CONF_ENV, None)
    else:
        os.environ[CONF_ENV] = conf


def _initialised(module: str) -> bool:
    """Whether the module is initialised in this process (it answers C_GetSlotList)."""
    try:
        handle = ctypes.CDLL(module)
    except OSError:
        return False  # not loadable at all: load_module reports it
    count = ctypes.c_ulong(0)
    rv: int = handle.C_GetSlotList(ctypes.c_ubyte(0), None, ctypes.byref(count))
    return rv != _CKR_CRYPTOKI_NOT_INITIALIZED


# -- making a token -------------------------------------------------------------------------------------


def _init_token(card_id: str, module: str, label: str, user_pin: str) -> str:
    """Initialise SoftHSM's free slot as a new token with a random SO PIN, set its user PIN; its serial."""
    lib = load_module(module)
    so_pin = secrets.token_urlsafe(24)
    where = f"token {label!r}"
    with _init_lock:
        slot = _free_slot(card_id, lib, module)
        _c_init_token(module, slot.slot_id, so_pin, label)
    try:
        token = slot.get_token()
        with token.open(rw=True, so_pin=so_pin) as session:
            session.init_pin(user_pin)
        return token.serial.decode("ascii").strip()
    except p11e.PKCS11Error as exc:
        raise translate(exc, where=where, operation="setting the user PIN") from None


def _free_slot(card_id: str, lib: P11Lib, module: str) -> pkcs11.Slot:
    """The slot with an uninitialised token (SoftHSM keeps one)."""
    try:
        for slot in lib.get_slots(token_present=True):
            if not slot.get_token().flags & TokenFlag.TOKEN_INITIALIZED:
                return slot
    except p11e.PKCS11Error as exc:
        raise translate(exc, where=module, operation="listing slots") from None
    raise SoftHsmSetupError(card_id, f"{module} offers no slot with an uninitialised token")


def _c_init_token(module: str, slot_id: int, so_pin: str, label: str) -> None:
    """C_InitToken (PKCS#11 v2.40 §5.6): the label is 32 bytes, blank-padded."""
    init_token = ctypes.CDLL(module).C_InitToken
    init_token.argtypes = (ctypes.c_ulong, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p)
    init_token.restype = ctypes.c_ulong
    pin = so_pin.encode("ascii")
    rv: int = init_token(slot_id, pin, len(pin), label.encode("ascii").ljust(32, b" "))
    if rv != 0:
        raise BackendFailure(f"initialising token {label!r} in {module}", f"CKR 0x{rv:x}")
