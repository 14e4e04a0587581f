"""``RevokedEntry``: one row of revocation state as the store streams it into the CRL encoder.

Defined here, next to its only consumer's rules; ``pki.store`` imports it from ``pki.crl.entry``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from pki.crl.errors import CrlError
from pki.model import RevocationReason

MAX_SERIAL = (1 << 159) - 1
"""The largest serial that fits 20 DER octets as a positive INTEGER (RFC 5280 §4.1.2.2)."""


@dataclass(frozen=True, slots=True, init=False)
class RevokedEntry:
    """A revoked (or released) certificate of one CA, checked when built so the encoder can trust it."""

    serial: int
    """Positive, at most 20 octets in DER (RFC 5280 §4.1.2.2)."""
    revoked_at: dt.datetime
    """When it was revoked (``revocationDate``, RFC 5280 §5.1.2.6); timezone-aware."""
    reason: RevocationReason | None
    """The CRLReason; ``None`` or ``unspecified`` emit no reasonCode extension (RFC 5280 §5.3.1)."""
    invalidity_date: dt.datetime | None
    """When the key is known or suspected to have been compromised (RFC 5280 §5.3.2); timezone-aware."""
    released: bool
    """A hold that was released: listed as removeFromCRL in delta CRLs, never in complete CRLs."""
    change_seq: int
    """The CA's change sequence number of the last change to this row (deltas list changes after a base)."""

    def __init__(
        self,
        serial: int,
        revoked_at: dt.datetime,
        reason: RevocationReason | None,
        invalidity_date: dt.datetime | None,
        released: bool,
        change_seq: int,
    ) -> None:
        """Check, then fill the slots through their descriptors: the store builds 10⁶ of these per CRL,
        and the frozen ``__setattr__`` path of a generated ``__init__`` would double the cost."""
        if type(serial) is not int or not 0 < serial <= MAX_SERIAL:
            _refuse_serial(serial)
        if type(revoked_at) is not dt.datetime or revoked_at.tzinfo is not dt.UTC:
            _check_aware(revoked_at, serial, "revoked_at")
        if invalidity_date is not None:
            _check_aware(invalidity_date, serial, "invalidity_date")
        if reason is RevocationReason.remove_from_crl and not released:
            raise CrlError(
                _name(serial),
                "removeFromCRL is not a revocation reason; mark a released hold with released=True",
            )
        if change_seq < 0:
            raise CrlError(_name(serial), f"change_seq {change_seq} is negative")
        _set_serial(self, serial)
        _set_revoked_at(self, revoked_at)
        _set_reason(self, reason)
        _set_invalidity_date(self, invalidity_date)
        _set_released(self, released)
        _set_change_seq(self, change_seq)


def _slot_setter(name: str) -> Callable[[RevokedEntry, object], None]:
    """The slot descriptor's ``__set__``: writes the slot without going through the frozen __setattr__."""
    setter: Callable[[RevokedEntry, object], None] = RevokedEntry.__dict__[name].__set__
    return setter


_set_serial = _slot_setter("serial")
_set_revoked_at = _slot_setter("revoked_at")
_set_reason = _slot_setter("reason")
_set_invalidity_date = _slot_setter("invalidity_date")
_set_released = _slot_setter("released")
_set_change_seq = _slot_setter("change_seq")


def _name(serial: object) -> str:
    if isinstance(serial, int) and not isinstance(serial, bool):
        return f"entry {serial:x}" if serial >= 0 else f"entry -{-serial:x}"
    return "entry"


def _refuse_serial(serial: object) -> None:
    if isinstance(serial, bool) or not isinstance(serial, int):
        raise CrlError("entry", f"serial {serial!r} is not an integer")
    raise CrlError(_name(serial), "serial must be positive and at most 20 octets (RFC 5280 §4.1.2.2)")


def _check_aware(value: dt.datetime, serial: int, field: str) -> None:
    if not isinstance(value, dt.datetime):
        raise CrlError(_name(serial), f"{field} {value!r} is not a datetime")
    if value.tzinfo is None or value.utcoffset() is None:
        raise CrlError(_name(serial), f"{field} {value.isoformat()} is naive: give a timezone (UTC)")
