"""An APDU interface to the card's JPKI application, so that card-reading client code can run against it.

:class:`JpkiApplet` answers ISO 7816-4 command APDUs as the JPKI-AP does (jpki-facts §4 [V]; the commands
OpenSC's ``card-jpki.c`` and the open-source My Number readers send):

- SELECT AP ``00 A4 04 0C 0A D392F000260100000001``: 9000; another AID 6A82.
- SELECT EF ``00 A4 02 0C 02 <FID>``: 9000; an unknown FID (or no AP selected) 6A82.
- READ BINARY ``00 B0 <offset hi> <offset lo> <Le>``: data 9000; a short read 6282; an offset past the end
  6B00; a key or PIN EF 6981; no current EF 6986; the signing certificate before its PIN 6982.
- Retries left ``00 20 00 80``: 63Cx; 6983 when locked.
- VERIFY ``00 20 00 80 <Lc> <PIN>``: 9000; wrong 63Cx (63C0 on the try that locks); 6983 when locked.
- CHANGE PIN ``00 24 01 80 <Lc> <new PIN>``: 9000; PIN not verified 6982; a new PIN outside the policy 6A80.
- SIGN ``80 2A 00 80 <Lc> <DigestInfo> 00`` with the key EF current: the 256-byte PKCS#1 v1.5 signature,
  9000; PIN not verified 6982; Lc outside 1..245 6700.

Anything else gets a status word, never an exception: a malformed APDU 6700, unknown CLA 6E00, unknown
INS 6D00, wrong P1/P2 6A86. Files (FID): 0001 signing certificate (after the signing PIN), 0002 signing CA
certificate, 0006 token info, 0008 certificate availability, 000A auth certificate, 000B auth CA
certificate, 0017/001A auth/signing private keys, 0018/001B auth/signing PINs.

Choices where the public record is silent:

- [I] EF 0006 is 32 bytes: the token label padded with spaces (readers compare 32 bytes, or trim spaces).
- [I] EF 0008 is three bytes: signing, auth, 00; ``8F`` where the certificate is written, ``00`` where not
  (``8F 8F 00`` = both present is the one value the facts give).
- [I] A certificate EF holds the DER and nothing else (readers take the length from the 4-byte DER header,
  as OpenSC does); an EF with nothing written is empty. A CA certificate EF is free to read.
- [I] READ BINARY follows ISO 7816-4 strictly: fewer bytes than Ne left (Le=00 asks for 256) answers what is
  left with 6282; an offset beyond the end is 6B00; P1 bit 8 (short EF identifier) is not supported: 6A81.
- [I] VERIFY without data answers 63Cx even after a successful VERIFY (OpenSC expects SW1 63), 6983 when
  locked. PIN bytes are compared as sent (no format check: a malformed PIN spends a try, as any wrong one).
- [I] A command that needs a PIN or key EF while another EF (or none) is current answers 6A88 (referenced
  data not found). CHANGE PIN takes only P1=01 (new PIN alone, after VERIFY); P1=00 (old and new
  concatenated) cannot be split for a 6-16 character PIN: 6A86. A new PIN outside the policy is 6A80.
- [I] SELECT AP (again) resets the session: verified PINs must be verified again. SELECT with P2=00 is
  accepted like 0C and returns no FCI.
- [I] SIGN signs any payload of 1 to k-11 bytes (OpenSC registers the card as RSA "hash none, PKCS#1
  padding"): normally a DigestInfo. An Le below the signature length answers 6Cxx (xx: the length, 00 =
  256); no Le is accepted.
- An internal failure (unreadable state, key store error) is logged and answered 6F00.
"""

from __future__ import annotations

import enum
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from hsm import HsmError
from jpki.card.card import CardSession, MyNumberCard
from jpki.card.errors import (
    CardError,
    PinFormatInvalid,
    PinIncorrect,
    PinLocked,
    PinNotVerified,
    SignInputInvalid,
)
from jpki.card.slots import SLOT_FILES, KeySlot

log = logging.getLogger(__name__)

JPKI_AID = bytes.fromhex("D392F000260100000001")
"""The JPKI-AP's application identifier (jpki-facts §4 [V])."""

TOKEN_LABEL_CARD = "JPKIAPICCTOKEN2"
TOKEN_LABEL_ANDROID = "JPKIAPGPSETOKEN"
TOKEN_LABEL_IPHONE = "JPKIAPIOSTOKEN"
TOKEN_INFO_LENGTH = 32

EF_TOKEN_INFO = 0x0006
EF_AVAILABILITY = 0x0008
CERTIFICATE_PRESENT = 0x8F
CERTIFICATE_ABSENT = 0x00


class Sw(enum.IntEnum):
    """Status words we answer, named after ISO/IEC 7816-4 §5.1.3."""

    OK = 0x9000
    END_OF_FILE_REACHED = 0x6282
    RETRIES_LEFT = 0x63C0
    """Verification failed; the low nibble is the number of tries left."""
    WRONG_LENGTH = 0x6700
    COMMAND_INCOMPATIBLE_WITH_FILE_STRUCTURE = 0x6981
    SECURITY_STATUS_NOT_SATISFIED = 0x6982
    AUTHENTICATION_METHOD_BLOCKED = 0x6983
    COMMAND_NOT_ALLOWED_NO_CURRENT_EF = 0x6986
    INCORRECT_DATA = 0x6A80
    FUNCTION_NOT_SUPPORTED = 0x6A81
    FILE_NOT_FOUND = 0x6A82
    INCORRECT_P1_P2 = 0x6A86
    REFERENCED_DATA_NOT_FOUND = 0x6A88
    WRONG_PARAMETERS_OFFSET = 0x6B00
    WRONG_LE = 0x6C00
    """The low byte gives the right Le (00 = 256)."""
    INS_NOT_SUPPORTED = 0x6D00
    CLA_NOT_SUPPORTED = 0x6E00
    NO_PRECISE_DIAGNOSIS = 0x6F00


def retries_left(remaining: int) -> int:
    """``63Cx``: x tries left."""
    return Sw.RETRIES_LEFT | min(remaining, 0x0F)


class _Answer(Exception):
    """Internal: stop handling a command and answer this status word, with data for a warning such as
    6282 (never leaves ``transmit``)."""

    def __init__(self, sw: int, data: bytes = b"") -> None:
        super().__init__(f"{sw:04X}")
        self.sw = sw
        self.data = data


@dataclass(frozen=True, slots=True)
class Command:
    """A command APDU (ISO/IEC 7816-3 §12.1.3 / 7816-4 §5.1): header, command data, Ne (None: no Le)."""

    cla: int
    ins: int
    p1: int
    p2: int
    data: bytes = b""
    ne: int | None = None

    @classmethod
    def parse(cls, apdu: bytes) -> Command:
        """Decode the four cases, short and extended; anything else answers 6700."""
        if len(apdu) < 4:
            raise _Answer(Sw.WRONG_LENGTH)
        cla, ins, p1, p2 = apdu[:4]
        body = apdu[4:]
        if not body:
            return cls(cla, ins, p1, p2)
        if len(body) == 1:
            return cls(cla, ins, p1, p2, ne=body[0] or 256)
        if body[0] != 0:
            return cls._short(cla, ins, p1, p2, body)
        return cls._extended(cla, ins, p1, p2, body)

    @classmethod
    def _short(cls, cla: int, ins: int, p1: int, p2: int, body: bytes) -> Command:
        lc = body[0]
        if len(body) == 1 + lc:
            return cls(cla, ins, p1, p2, body[1:])
        if len(body) == 2 + lc:
            return cls(cla, ins, p1, p2, body[1:-1], body[-1] or 256)
        raise _Answer(Sw.WRONG_LENGTH)

    @classmethod
    def _extended(cls, cla: int, ins: int, p1: int, p2: int, body: bytes) -> Command:
        if len(body) == 3:
            return cls(cla, ins, p1, p2, ne=int.from_bytes(body[1:3]) or 65536)
        if len(body) < 4:
            raise _Answer(Sw.WRONG_LENGTH)
        lc = int.from_bytes(body[1:3])
        if lc == 0:
            raise _Answer(Sw.WRONG_LENGTH)
        if len(body) == 3 + lc:
            return cls(cla, ins, p1, p2, body[3:])
        if len(body) == 5 + lc:
            return cls(cla, ins, p1, p2, body[3:-2], int.from_bytes(body[-2:]) or 65536)
        raise _Answer(Sw.WRONG_LENGTH)


class EfKind(enum.Enum):
    TRANSPARENT = "transparent"
    PIN = "pin"
    PRIVATE_KEY = "private key"


@dataclass(frozen=True, slots=True)
class ElementaryFile:
    """One EF of the JPKI-AP: what it holds, for which slot, and whose PIN guards reading it."""

    fid: int
    kind: EfKind
    slot: KeySlot | None = None
    read_needs: KeySlot | None = None


def _files() -> dict[int, ElementaryFile]:
    files = {
        EF_TOKEN_INFO: ElementaryFile(EF_TOKEN_INFO, EfKind.TRANSPARENT),
        EF_AVAILABILITY: ElementaryFile(EF_AVAILABILITY, EfKind.TRANSPARENT),
    }
    for slot, ids in SLOT_FILES.items():
        guard = KeySlot.SIGNING if slot is KeySlot.SIGNING else None  # 0001 after the signing PIN [V]
        files[ids.certificate] = ElementaryFile(ids.certificate, EfKind.TRANSPARENT, slot, guard)
        files[ids.ca_certificate] = ElementaryFile(ids.ca_certificate, EfKind.TRANSPARENT, slot)
        files[ids.private_key] = ElementaryFile(ids.private_key, EfKind.PRIVATE_KEY, slot)
        files[ids.pin] = ElementaryFile(ids.pin, EfKind.PIN, slot)
    return files


FILES = _files()
"""Every EF of the JPKI-AP by file id."""


class JpkiApplet:
    """The JPKI-AP of one card behind ``transmit``: one instance is one card in one reader.

    It keeps what the chip keeps per insertion (selected application, current EF, verified PINs) in a
    :class:`CardSession`; the PIN counters are the card's, shared with the API and other sessions.
    """

    def __init__(self, card: MyNumberCard, *, token_label: str = TOKEN_LABEL_CARD) -> None:
        self.card = card
        self.session: CardSession = card.session()
        self._token_info = token_label.encode("ascii").ljust(TOKEN_INFO_LENGTH, b" ")
        self._ap_selected = False
        self._current: ElementaryFile | None = None
        self._lock = threading.Lock()
        self._handlers: dict[tuple[int, int], Callable[[Command], bytes]] = {
            (0x00, 0xA4): self._select,
            (0x00, 0xB0): self._read_binary,
            (0x00, 0x20): self._verify,
            (0x00, 0x24): self._change_reference_data,
            (0x80, 0x2A): self._compute_signature,
        }

    def reset(self) -> None:
        """A card reset (or removal and insertion): nothing selected, nothing verified."""
        with self._lock:
            self._ap_selected = False
            self._current = None
            self.session.reset()

    def transmit(self, apdu: bytes) -> bytes:
        """Answer one command APDU: response data followed by SW1 SW2."""
        with self._lock:
            try:
                command = Command.parse(bytes(apdu))
                data = self._dispatch(command)
            except _Answer as answer:
                return answer.data + answer.sw.to_bytes(2)
            return data + Sw.OK.to_bytes(2)

    # -- dispatch ---------------------------------------------------------------------------------------

    def _dispatch(self, command: Command) -> bytes:
        if command.cla not in (0x00, 0x80):
            raise _Answer(Sw.CLA_NOT_SUPPORTED)
        handler = self._handlers.get((command.cla, command.ins))
        if handler is None:
            raise _Answer(Sw.INS_NOT_SUPPORTED)
        try:
            return handler(command)
        except CardError as exc:
            raise _Answer(_status_of(exc)) from None
        except (HsmError, OSError) as exc:
            log.warning("card %s: INS %02X failed: %s", self.card.card_id, command.ins, exc)
            raise _Answer(Sw.NO_PRECISE_DIAGNOSIS) from None

    def _current_slot(self, kind: EfKind) -> KeySlot:
        """The slot of the current EF if it is of ``kind`` (the PIN or key a command refers to), else 6A88."""
        current = self._current
        if current is None or current.kind is not kind or current.slot is None:
            raise _Answer(Sw.REFERENCED_DATA_NOT_FOUND)
        return current.slot

    # -- SELECT -----------------------------------------------------------------------------------------

    def _select(self, command: Command) -> bytes:
        if command.p2 not in (0x0C, 0x00):
            raise _Answer(Sw.INCORRECT_P1_P2)
        if command.p1 == 0x04:
            return self._select_application(command.data)
        if command.p1 == 0x02:
            return self._select_file(command.data)
        raise _Answer(Sw.INCORRECT_P1_P2)

    def _select_application(self, aid: bytes) -> bytes:
        if not aid:
            raise _Answer(Sw.WRONG_LENGTH)
        if aid != JPKI_AID:
            raise _Answer(Sw.FILE_NOT_FOUND)
        self._ap_selected = True
        self._current = None
        self.session.reset()
        return b""

    def _select_file(self, fid: bytes) -> bytes:
        if len(fid) != 2:
            raise _Answer(Sw.WRONG_LENGTH)
        found = FILES.get(int.from_bytes(fid)) if self._ap_selected else None
        if found is None:
            raise _Answer(Sw.FILE_NOT_FOUND)
        self._current = found
        return b""

    # -- READ BINARY ------------------------------------------------------------------------------------

    def _read_binary(self, command: Command) -> bytes:
        if command.data or command.ne is None:
            raise _Answer(Sw.WRONG_LENGTH)
        if command.p1 & 0x80:
            raise _Answer(Sw.FUNCTION_NOT_SUPPORTED)
        current = self._current
        if current is None:
            raise _Answer(Sw.COMMAND_NOT_ALLOWED_NO_CURRENT_EF)
        if current.kind is not EfKind.TRANSPARENT:
            raise _Answer(Sw.COMMAND_INCOMPATIBLE_WITH_FILE_STRUCTURE)
        if current.read_needs is not None and not self.session.is_verified(current.read_needs):
            raise _Answer(Sw.SECURITY_STATUS_NOT_SATISFIED)
        content = self._content(current)
        offset = (command.p1 << 8) | command.p2
        if offset > len(content):
            raise _Answer(Sw.WRONG_PARAMETERS_OFFSET)
        chunk = content[offset : offset + command.ne]
        if len(chunk) < command.ne:
            raise _Answer(Sw.END_OF_FILE_REACHED, chunk)
        return chunk

    def _content(self, ef: ElementaryFile) -> bytes:
        if ef.fid == EF_TOKEN_INFO:
            return self._token_info
        state = self.card.state()
        if ef.fid == EF_AVAILABILITY:
            present = [
                CERTIFICATE_PRESENT if s in state.certificates else CERTIFICATE_ABSENT for s in KeySlot
            ]
            return bytes([*present, 0x00])
        if ef.slot is None:
            raise _Answer(Sw.FILE_NOT_FOUND)
        if ef.fid == SLOT_FILES[ef.slot].certificate:
            return state.certificates.get(ef.slot, b"")
        return state.ca_certificates.get(ef.slot, b"")

    # -- VERIFY / CHANGE REFERENCE DATA -----------------------------------------------------------------

    def _verify(self, command: Command) -> bytes:
        if (command.p1, command.p2) != (0x00, 0x80):
            raise _Answer(Sw.INCORRECT_P1_P2)
        if command.ne is not None:
            raise _Answer(Sw.WRONG_LENGTH)
        slot = self._current_slot(EfKind.PIN)
        if not command.data:
            state = self.card.state().pins[slot]
            raise _Answer(Sw.AUTHENTICATION_METHOD_BLOCKED if state.locked else retries_left(state.remaining))
        self.session.present_pin(slot, command.data)
        return b""

    def _change_reference_data(self, command: Command) -> bytes:
        if (command.p1, command.p2) != (0x01, 0x80):
            raise _Answer(Sw.INCORRECT_P1_P2)
        if not command.data or command.ne is not None:
            raise _Answer(Sw.WRONG_LENGTH)
        slot = self._current_slot(EfKind.PIN)
        try:
            new_pin = command.data.decode("ascii")
        except UnicodeDecodeError:
            raise _Answer(Sw.INCORRECT_DATA) from None
        self.session.change_pin(slot, new_pin)
        return b""

    # -- COMPUTE DIGITAL SIGNATURE ----------------------------------------------------------------------

    def _compute_signature(self, command: Command) -> bytes:
        if (command.p1, command.p2) != (0x00, 0x80):
            raise _Answer(Sw.INCORRECT_P1_P2)
        slot = self._current_slot(EfKind.PRIVATE_KEY)
        if not command.data:
            raise _Answer(Sw.WRONG_LENGTH)
        length = (self.card.public_key(slot).key_size + 7) // 8
        if command.ne is not None and command.ne < length:
            raise _Answer(Sw.WRONG_LE | (length & 0xFF))
        return self.session.sign(slot, command.data)


def _status_of(exc: CardError) -> int:
    """The status word for a card refusal (ISO/IEC 7816-4 §5.1.3)."""
    if isinstance(exc, PinIncorrect):
        return retries_left(exc.remaining)
    if isinstance(exc, PinLocked):
        return Sw.AUTHENTICATION_METHOD_BLOCKED
    if isinstance(exc, PinNotVerified):
        return Sw.SECURITY_STATUS_NOT_SATISFIED
    if isinstance(exc, PinFormatInvalid):
        return Sw.INCORRECT_DATA
    if isinstance(exc, SignInputInvalid):
        return Sw.WRONG_LENGTH
    log.warning("card error answered 6F00: %s", exc.message)
    return Sw.NO_PRECISE_DIAGNOSIS
