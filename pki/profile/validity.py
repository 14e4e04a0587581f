"""Validity periods: a small registry of rules (built in: a fixed period, and "until the Nth birthday after
issuance" for JPKI) and the alignment of notBefore / notAfter to local times of day (JPKI and LGPKI:
00:00:00 / 23:59:59 JST).

A rule returns the *end of the period*, an exclusive instant; the profile turns it into notAfter, the last
second of the period (RFC 5280 §4.1.2.5: the validity period runs from notBefore through notAfter,
inclusive). With ``align.end = "23:59:59"`` notAfter is the last 23:59:59 local before that end.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pki.clock import ensure_aware
from pki.errors import IssuanceRefused, ProfileError
from pki.profile.schema import Table, suggest

_SECOND = dt.timedelta(seconds=1)


@dataclass(frozen=True, slots=True)
class ValidityRequest:
    """Everything a validity rule may look at."""

    issued_at: dt.datetime
    """The issuance instant (UTC)."""
    period_start: dt.datetime
    """Where the period is counted from, in the profile's time zone: the start of the local issuance day
    when the profile aligns to a time zone, else ``issued_at``."""
    holder: Mapping[str, str]
    """The request's holder attributes (``IssueContext.attributes``), e.g. a date of birth."""
    issuer_not_after: dt.datetime | None
    """The issuer certificate's notAfter, None when self-signed."""
    params: Mapping[str, object]
    """The rule's own TOML parameters, as validated by its ``params`` check when the profile loaded."""
    profile: str

    def int_param(self, key: str, default: int = 0) -> int:
        """An integer parameter (validated at load, so only absence falls back to ``default``)."""
        value = self.params.get(key, default)
        return value if isinstance(value, int) else default

    def refuse(self, why: str) -> IssuanceRefused:
        """The error a rule raises when it cannot give this holder a period."""
        return IssuanceRefused(f"profile {self.profile!r}: validity: {why}")


ValidityRuleFn = Callable[[ValidityRequest], dt.datetime]
"""A rule: the exclusive end of the validity period (aware)."""
ParamsCheck = Callable[[Table], None]
"""Validates a rule's parameters when a profile loads, reading them from the ``[validity]`` table with the
Table getters (which raise ProfileError naming the file and key). Call ``table.expect(*your_keys)`` first so
a misspelt parameter is reported as unknown; keys nobody reads are refused anyway."""


@dataclass(frozen=True, slots=True)
class RegisteredRule:
    name: str
    fn: ValidityRuleFn
    check: ParamsCheck | None


_RULES: dict[str, RegisteredRule] = {}


def register_validity_rule(
    name: str, fn: ValidityRuleFn, *, params: ParamsCheck | None = None, replace: bool = False
) -> None:
    """Make a rule available to profiles as ``validity.rule = name``. Register before loading profiles that
    use it. ``params`` validates the rule's parameters; without it the rule takes none."""
    if name in _RULES and not replace:
        raise ValueError(f"validity rule {name!r} is already registered (pass replace=True to replace it)")
    _RULES[name] = RegisteredRule(name, fn, params)


def validity_rules() -> tuple[str, ...]:
    """The registered rule names."""
    return tuple(sorted(_RULES))


def add_calendar(start: dt.datetime, years: int = 0, months: int = 0, days: int = 0) -> dt.datetime:
    """``start`` plus a calendar period in its own time zone. A day the target month lacks rolls over to
    the first of the next month (2024-02-29 + 1 year = 2025-03-01), so the period never ends early."""
    index = start.month - 1 + months + 12 * years
    year, month = start.year + index // 12, index % 12 + 1
    last_day = calendar.monthrange(year, month)[1]
    if start.day <= last_day:
        moved = start.replace(year=year, month=month)
    else:
        moved = start.replace(year=year, month=month, day=last_day) + dt.timedelta(days=1)
    return moved + dt.timedelta(days=days)


def _fixed(request: ValidityRequest) -> dt.datetime:
    """The built-in ``fixed`` rule: ``years``, ``months`` and ``days`` after the period start."""
    periods = {key: request.int_param(key) for key in ("years", "months", "days")}
    return add_calendar(request.period_start, **periods)


def _check_fixed(table: Table) -> None:
    table.expect("years", "months", "days")
    values = [table.opt_integer(key) or 0 for key in ("years", "months", "days")]
    if not any(values):
        raise table.error(
            "days", "the fixed rule needs a period", "set years, months and/or days, e.g. years = 5"
        )


register_validity_rule("fixed", _fixed, params=_check_fixed)

_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _birthday(request: ValidityRequest) -> dt.datetime:
    """The built-in ``birthday`` rule: through the Nth birthday after issuance, capped by holder data.

    Parameters: ``birthdays`` (N); optionally together ``renewal_birthdays`` and ``renewal_window_months``.
    Holder attributes (strings):

    - ``birth_date`` (``YYYY-MM-DD``, required). The period ends at the end of the Nth birthday after the
      issuance day: the exclusive end is 00:00 of the next day, so ``align.end = "23:59:59"`` gives notAfter
      23:59:59 on the birthday. Days are local days in the profile's zone (``period_start``'s; UTC without
      ``align``). A birthday on the issuance day itself does not count. A 29 February birthday falls on
      1 March in common years (Civil Code art. 143(2); as ``jpki.card.validity``).
    - ``renewal_of_expiry`` (a date, or an instant with its offset): the notAfter of the certificate being
      renewed. Issuance on a day from ``renewal_window_months`` before that expiry day (a day the month lacks
      rolls over to the 1st of the next, so the window never exceeds the months) through the expiry day
      counts ``renewal_birthdays`` instead; earlier or later issuance counts ``birthdays``.
    - ``card_expiry`` (``YYYY-MM-DD``): the period ends no later than the end of that day.
    - ``not_after_cap`` (an instant with its offset, e.g. the authentication certificate's notAfter): the
      certificate's notAfter is never later than it.

    The earliest end wins. A cap before issuance, or a birth date after it, refuses the issuance.
    """
    issued_on = request.period_start.date()
    born = _birth_date(request)
    if born > issued_on:
        raise request.refuse(f"birth_date {born} is after the issuance day {issued_on}")
    last_day = _nth_birthday_after(born, issued_on, _birthdays_to_count(request))
    return _holder_capped(request, _day_end(request, last_day))


def _birth_date(request: ValidityRequest) -> dt.date:
    born = _holder_date(request, "birth_date")
    if born is None:
        raise request.refuse("the holder's birth_date is required: pass it (YYYY-MM-DD) in the attributes")
    return born


def _birthday_in(born: dt.date, year: int) -> dt.date:
    """The birthday in ``year``: 1 March for 29 February in a common year (Civil Code art. 143(2))."""
    try:
        return born.replace(year=year)
    except ValueError:
        return dt.date(year, 3, 1)


def _nth_birthday_after(born: dt.date, day: dt.date, n: int) -> dt.date:
    """The ``n``-th birthday strictly after ``day``."""
    first_year = day.year if _birthday_in(born, day.year) > day else day.year + 1
    return _birthday_in(born, first_year + n - 1)


def _birthdays_to_count(request: ValidityRequest) -> int:
    """``renewal_birthdays`` when renewing inside the window before the old expiry, else ``birthdays``."""
    expiry = _holder_day(request, "renewal_of_expiry")
    renewal = request.int_param("renewal_birthdays")
    if expiry is None or not renewal:
        return request.int_param("birthdays")
    months = request.int_param("renewal_window_months")
    opens = add_calendar(dt.datetime.combine(expiry, dt.time(0)), months=-months).date()
    return renewal if opens <= request.period_start.date() <= expiry else request.int_param("birthdays")


def _holder_capped(request: ValidityRequest, end: dt.datetime) -> dt.datetime:
    """``end`` capped by the card's expiry day and by ``not_after_cap``; a cap before issuance refuses."""
    card, issued_on = _holder_date(request, "card_expiry"), request.period_start.date()
    if card is not None:
        if card < issued_on:
            raise request.refuse(f"the card expires ({card}) before the issuance day ({issued_on})")
        end = min(end, _day_end(request, card))
    cap = _holder_instant(request, "not_after_cap")
    if cap is not None:
        if cap < request.issued_at:
            at = request.issued_at.isoformat()
            raise request.refuse(f"not_after_cap ({cap.isoformat()}) expires before issuance ({at})")
        end = min(end, cap + _SECOND)  # the exclusive end: notAfter = cap at the latest
    return end


def _day_end(request: ValidityRequest, day: dt.date) -> dt.datetime:
    """The exclusive end of a local day: 00:00 of the next day in the profile's zone."""
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), request.period_start.tzinfo)


def _holder_date(request: ValidityRequest, key: str) -> dt.date | None:
    """A ``YYYY-MM-DD`` holder attribute; None when absent."""
    text = request.holder.get(key)
    if text is None:
        return None
    try:
        if _ISO_DATE.fullmatch(text):
            return dt.date.fromisoformat(text)
    except ValueError:
        pass
    raise request.refuse(f"{key} {text!r} is not a date: write it YYYY-MM-DD")


def _holder_instant(request: ValidityRequest, key: str) -> dt.datetime | None:
    """An ISO 8601 instant with a UTC offset; None when absent."""
    text = request.holder.get(key)
    if text is None:
        return None
    try:
        instant = dt.datetime.fromisoformat(text)
    except ValueError:
        instant = None
    if instant is None or instant.utcoffset() is None:
        raise request.refuse(f"{key} {text!r} is not an instant: write it e.g. 2031-01-02T23:59:59+09:00")
    return instant


def _holder_day(request: ValidityRequest, key: str) -> dt.date | None:
    """A holder date, or the local day (profile zone) of a holder instant; None when absent."""
    text = request.holder.get(key)
    if text is None:
        return None
    if _ISO_DATE.fullmatch(text):
        return _holder_date(request, key)
    instant = _holder_instant(request, key)
    return instant.astimezone(request.period_start.tzinfo).date() if instant else None


def _check_birthday(table: Table) -> None:
    table.expect("birthdays", "renewal_birthdays", "renewal_window_months")
    birthdays = table.integer("birthdays", minimum=1)
    renewal = table.opt_integer("renewal_birthdays", minimum=1)
    window = table.opt_integer("renewal_window_months", minimum=1)
    if (renewal is None) != (window is None):
        absent, example = ("renewal_window_months", "3") if window is None else ("renewal_birthdays", "6")
        why = "is missing: renewal_birthdays and renewal_window_months go together"
        raise table.error(absent, why, f"add {absent} = {example}, or remove the other")
    if renewal is not None and renewal < birthdays:
        why = f"is {renewal}, fewer than birthdays = {birthdays}: a renewal would shorten the period"
        raise table.error("renewal_birthdays", why, f"use a value >= {birthdays}")


register_validity_rule("birthday", _birthday, params=_check_birthday)


@dataclass(frozen=True, slots=True)
class Align:
    """Alignment of the validity to local times of day in a time zone."""

    tz: str
    start: dt.time | None
    """notBefore is the last instant at or before issuance at this local time; None: the issuance instant."""
    end: dt.time | None
    """notAfter is the last instant before the period's end with this local time; None: end minus 1 s."""

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tz)

    def not_before(self, at: dt.datetime) -> dt.datetime:
        if self.start is None:
            return at
        return _at_or_before(at, self.start, self.zone)

    def period_start(self, at: dt.datetime) -> dt.datetime:
        """The start of the period in local time: the aligned notBefore, or the local issuance day's start."""
        return _at_or_before(at, self.start or dt.time(0), self.zone)

    def not_after(self, end: dt.datetime) -> dt.datetime:
        if self.end is None:
            return end - _SECOND
        return _at_or_before(end - _SECOND, self.end, self.zone)


def _at_or_before(instant: dt.datetime, time_of_day: dt.time, zone: ZoneInfo) -> dt.datetime:
    """The latest instant <= ``instant`` whose wall-clock time in ``zone`` is ``time_of_day``."""
    local = instant.astimezone(zone)
    candidate = dt.datetime.combine(local.date(), time_of_day, zone)
    if candidate > instant:
        candidate = dt.datetime.combine(local.date() - dt.timedelta(days=1), time_of_day, zone)
    return candidate


@dataclass(frozen=True, slots=True)
class ValidityPolicy:
    """A profile's validity: the rule, its parameters, the alignment and the cap at the issuer's notAfter."""

    rule: RegisteredRule
    params: Mapping[str, object]
    align: Align | None
    max_validity_from_issuer: bool

    def period(
        self,
        at: dt.datetime,
        *,
        issuer_not_after: dt.datetime | None = None,
        holder: Mapping[str, str] | None = None,
        profile: str = "",
    ) -> tuple[dt.datetime, dt.datetime]:
        """(notBefore, notAfter) in UTC, whole seconds, for a certificate issued at ``at``."""
        at = ensure_aware(at).replace(microsecond=0)
        issuer_end = ensure_aware(issuer_not_after) if issuer_not_after is not None else None
        start = self.align.period_start(at) if self.align else at
        holder_view = MappingProxyType(dict(holder or {}))
        end = ensure_aware(
            self.rule.fn(ValidityRequest(at, start, holder_view, issuer_end, self.params, profile))
        )
        not_before = self.align.not_before(at) if self.align else at
        not_after = self.align.not_after(end) if self.align else end - _SECOND
        return self._capped(not_before, not_after.replace(microsecond=0), issuer_end, profile)

    def _capped(
        self,
        not_before: dt.datetime,
        not_after: dt.datetime,
        issuer_not_after: dt.datetime | None,
        profile: str,
    ) -> tuple[dt.datetime, dt.datetime]:
        if self.max_validity_from_issuer and issuer_not_after is not None:
            not_after = min(not_after, issuer_not_after)
        if not_after <= not_before:
            why = f"the period ends ({not_after.isoformat()}) before it starts ({not_before.isoformat()})"
            raise IssuanceRefused(f"profile {profile!r}: validity: {why}")
        return not_before.astimezone(dt.UTC), not_after.astimezone(dt.UTC)


_OWN_KEYS = ("rule", "align", "max_validity_from_issuer")


def read_validity(root: Table) -> ValidityPolicy:
    """The ``[validity]`` table: ``rule``, ``align``, ``max_validity_from_issuer``; every other key is a
    parameter of the rule, checked by the rule."""
    table = root.table("validity")
    rule = _read_rule(table)
    align = _read_align(table)
    cap = table.boolean("max_validity_from_issuer", True)
    if rule.check is not None:
        rule.check(table)
    table.finish()
    params = MappingProxyType({k: v for k, v in table.frozen().items() if k not in _OWN_KEYS})
    return ValidityPolicy(rule, params, align, cap)


def _read_rule(table: Table) -> RegisteredRule:
    name = table.string("rule", '"fixed"')
    if name not in _RULES:
        raise table.error("rule", f"no validity rule {name!r} is registered", suggest(name, _RULES))
    return _RULES[name]


def _read_align(validity: Table) -> Align | None:
    table = validity.opt_table("align")
    if table is None:
        return None
    align = Align(_read_zone(table), table.time_of_day("start"), table.time_of_day("end"))
    table.finish()
    return align


def _read_zone(table: Table) -> str:
    name = table.string("tz", '"Asia/Tokyo"')
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise _zone_error(table, name) from None
    return name


def _zone_error(table: Table, name: str) -> ProfileError:
    return table.error("tz", f"unknown time zone {name!r}", suggest(name, available_timezones()))
