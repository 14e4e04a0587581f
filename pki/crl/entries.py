"""The ``revokedCertificates`` of a TBSCertList (RFC 5280 §5.1.2.6), streamed from RevokedEntry rows.

This is the hot path of CRL generation: a national CA lists 10⁶ entries, so each must cost about a
microsecond. Whatever repeats is encoded once and looked up: the ``SEQUENCE``/``INTEGER`` headers (by
length), the date digits of times (by day) and minute/second digits (by value), the entry extensions (by
reason; for invalidity dates, everything up to the date's digits), and the whole time of the previous
entry (rows often share one). RevokedEntry checked its invariants when it was built; nothing is
re-checked here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable

from pki.crl import der
from pki.crl.entry import RevokedEntry
from pki.crl.errors import CrlError
from pki.crl.extensions import entry_extensions
from pki.crl.spec import CrlSpec
from pki.model import RevocationReason

_SHORT = 0x80
"""Content lengths below this take a one-octet DER length; every entry we write does (at most 79)."""
_HEADS = tuple(
    tuple(bytes((der.SEQUENCE, total, der.INTEGER, size)) if size + 2 <= total else b"" for size in range(22))
    for total in range(_SHORT)
)
"""``_HEADS[total][size]``: the entry's SEQUENCE header and its serial's INTEGER header, in one piece."""


def encode_entries(spec: CrlSpec, entries: Iterable[RevokedEntry]) -> bytearray:
    """The concatenated ``SEQUENCE { userCertificate, revocationDate, crlEntryExtensions }`` of every
    entry, in the order given; empty when there are none. Serials are not de-duplicated here: the store
    streams them sorted and unique (UNIQUE(ca_id, serial_hex))."""
    out = bytearray()
    extend = out.extend
    plain = _plain_extensions(spec)
    special = _special_extensions(spec)
    days: dict[int, bytes] = {}
    hour_minute, second_z = der.HOUR_MINUTE, der.SECOND_Z
    last_at: dt.datetime | None = None
    time_der = b""
    for entry in entries:
        serial = entry.serial
        size = (serial.bit_length() + 8) >> 3  # minimal positive INTEGER: room for a clear sign bit
        at = entry.revoked_at
        if at != last_at:  # equal instants share one encoding, whatever their tzinfo
            last_at = at
            if at.tzinfo is not dt.UTC:
                at = der.utc(at, "revoked_at")
            ordinal = at.toordinal()
            prefix = days.get(ordinal) or days.setdefault(ordinal, der.date_prefix(at))
            time_der = prefix + hour_minute[at.hour * 60 + at.minute] + second_z[at.second]
        if entry.invalidity_date is None and not entry.released:
            extensions = plain[entry.reason]
        else:
            extensions = special(entry.reason, entry.invalidity_date, entry.released)
        total = size + 2 + len(time_der) + len(extensions)
        extend(_HEADS[total][size] if total < _SHORT else _long_head(total, size))
        extend(serial.to_bytes(size, "big"))
        extend(time_der)
        extend(extensions)
    return out


def _long_head(total: int, size: int) -> bytes:
    """Headers of an entry too long for a one-octet length (never produced today; kept for safety)."""
    return bytes((der.SEQUENCE,)) + der.length(total) + bytes((der.INTEGER, size))


def _reason_code(reason: RevocationReason | None) -> int | None:
    """The reasonCode to write: none for an absent or ``unspecified`` reason (RFC 5280 §5.3.1 says the
    extension SHOULD be absent rather than carry unspecified)."""
    if reason is None or reason is RevocationReason.unspecified:
        return None
    return reason.code


def _plain_extensions(spec: CrlSpec) -> dict[RevocationReason | None, bytes]:
    """Entry extensions of the common case, a revoked entry without invalidity date, by reason."""
    reasons: list[RevocationReason | None] = [None, *RevocationReason]
    if not spec.entry_extensions:
        return dict.fromkeys(reasons, b"")
    return {reason: entry_extensions(_reason_code(reason), None) for reason in reasons}


def _special_extensions(
    spec: CrlSpec,
) -> Callable[[RevocationReason | None, dt.datetime | None, bool], bytes]:
    """Entry extensions of a released hold or of an entry with an invalidity date. Invalidity dates are
    mostly distinct, so everything before the date's 15 digits is encoded once per reason."""
    heads = {reason: _invalidity_head(reason) for reason in [None, *RevocationReason]}

    def special(
        reason: RevocationReason | None, invalidity_date: dt.datetime | None, released: bool
    ) -> bytes:
        if released:
            return _removal(spec)
        if not spec.entry_extensions or invalidity_date is None:
            return b""
        return heads[reason] + der.generalized_time_digits(invalidity_date, "invalidity_date")

    return special


_SAMPLE_DATE = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_SAMPLE_DIGITS = b"19700101000000Z"


def _invalidity_head(reason: RevocationReason | None) -> bytes:
    """The entry extensions for ``reason`` plus an invalidityDate, up to (not including) the date's
    digits: a GeneralizedTime always has 15 (RFC 5280 §4.1.2.5.2), so every length before it is fixed."""
    sample = entry_extensions(_reason_code(reason), _SAMPLE_DATE)
    if not sample.endswith(_SAMPLE_DIGITS):
        raise AssertionError("invalidityDate is not the last entry extension")  # pragma: no cover
    return sample[: -len(_SAMPLE_DIGITS)]


def _removal(spec: CrlSpec) -> bytes:
    """removeFromCRL for a released hold: only a delta CRL may say it (RFC 5280 §5.3.1, §5.2.4)."""
    if not spec.is_delta:
        raise CrlError(
            "entries",
            "a released hold (removeFromCRL) may only be listed in a delta CRL (RFC 5280 §5.3.1); "
            "leave released entries out of complete CRLs",
        )
    if not spec.entry_extensions:
        raise CrlError(
            "entry_extensions", "a delta CRL listing released holds needs the removeFromCRL reason"
        )
    return entry_extensions(RevocationReason.remove_from_crl.code, None)
