"""Validity periods: a small registry of rules (a fixed period built in; JPKI adds "until the Nth birthday")
and the alignment of notBefore / notAfter to local times of day (JPKI and LGPKI: 00:00:00 / 23:59:59 JST).

A rule returns the *end of the period*, an exclusive instant; the profile turns it into notAfter, the last
second of the period (RFC 5280 §4.1.2.5: the validity period runs from notBefore through notAfter,
inclusive). With ``align.end = "23:59:59"`` notAfter is the last 23:59:59 local before that end.
"""

from __future__ import annotations

import calendar
import datetime as dt
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
