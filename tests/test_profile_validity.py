"""Validity: alignment to JST days as the real JPKI / LGPKI CA certificates show it, the issuer cap, and the
rule registry (the built-in JPKI ``birthday`` rule is tested in tests/jpki/test_validity.py)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given
from hypothesis import strategies as st

from pki.clock import FixedClock
from pki.errors import IssuanceRefused, ProfileError
from pki.profile import (
    IssueContext,
    Profile,
    Table,
    ValidityRequest,
    add_calendar,
    load_profile,
    register_validity_rule,
    shipped_profiles,
    validity_rules,
)

from .conftest import REFERENCE

JST = ZoneInfo("Asia/Tokyo")

KEY = ec.generate_private_key(ec.SECP256R1()).public_key()
NAME = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "validity test")])


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


def write_profile(tmp_path: Path, validity: str, name: str = "p") -> Profile:
    text = (
        'kind = "ee"\nkeys = ["p256"]\n[[subject]]\nattr = "CN"\n'
        f"[validity]\n{validity}\n"
        '[extensions]\nkey_usage = { usages = ["digitalSignature"] }\nauthority_key_identifier = true\n'
    )
    path = tmp_path / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return load_profile(path)


def context(at: dt.datetime, **more: object) -> IssueContext:
    return IssueContext(KEY, KEY, NAME, at, **more)  # type: ignore[arg-type]


# The real CA certificates in /work/shared/reference (notBefore, notAfter as `openssl x509 -dates` says).
# JPKI CAs: notBefore is the issuance instant, notAfter 23:59:59 JST on the day before the 10th anniversary
# of the JST issuance day. LGPKI: notBefore 00:00:00 JST, notAfter 23:59:59 JST on the day before the
# anniversary.
JPKI_CA = "rule = 'fixed'\nyears = 10\nalign = { tz = 'Asia/Tokyo', end = '23:59:59' }"
LGPKI = (
    "rule = 'fixed'\nyears = {years}\nalign = {{ tz = 'Asia/Tokyo', start = '00:00:00', end = '23:59:59' }}"
)
REFERENCE_DATES = [
    ("jpki/sign_ca_2015.pem", JPKI_CA, "2015-10-20T02:40:28", "2015-10-20T02:40:28", "2025-10-19T14:59:59"),
    ("jpki/auth_ca_2015.pem", JPKI_CA, "2015-10-20T03:08:13", "2015-10-20T03:08:13", "2025-10-19T14:59:59"),
    ("jpki/sign_ca_2023.pem", JPKI_CA, "2023-07-16T00:50:27", "2023-07-16T00:50:27", "2033-07-15T14:59:59"),
    ("jpki/auth_ca_2023.pem", JPKI_CA, "2023-07-16T01:01:04", "2023-07-16T01:01:04", "2033-07-15T14:59:59"),
    # Issued some time on 2014-06-04 JST (the issuance instant is not in the certificate).
    ("lgpki/Application-CA-G3-Root.pem", LGPKI.format(years=20), "2014-06-04T01:23:45", "2014-06-03T15:00:00",
     "2034-06-03T14:59:59"),
    ("lgpki/Application-CA-G3-Sub1.pem", LGPKI.format(years=10), "2014-06-04T01:23:45", "2014-06-03T15:00:00",
     "2024-06-03T14:59:59"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("validity", "issued", "not_before", "not_after"),
    [case[1:] for case in REFERENCE_DATES],
    ids=[case[0] for case in REFERENCE_DATES],
)
def test_reference_ca_dates_are_reproduced(
    tmp_path: Path, validity: str, issued: str, not_before: str, not_after: str
) -> None:
    profile = write_profile(tmp_path, validity)
    assert profile.validity(context(utc(issued))) == (utc(not_before), utc(not_after))


@pytest.mark.parametrize("case", REFERENCE_DATES, ids=[case[0] for case in REFERENCE_DATES])
def test_the_table_matches_the_reference_files(case: tuple[str, str, str, str, str]) -> None:
    path = REFERENCE / case[0]
    if not path.exists():
        pytest.skip(f"{path} is not available here")
    cert = x509.load_pem_x509_certificate(path.read_bytes())
    assert (cert.not_valid_before_utc, cert.not_valid_after_utc) == (utc(case[3]), utc(case[4]))


def test_shipped_ee_profiles_align_to_jst_days_with_a_fixed_clock() -> None:
    clock = FixedClock(utc("2026-11-26T03:04:05"))  # 12:04:05 JST
    sign = shipped_profiles()["jpki-sign"]
    not_before, not_after = sign.validity(context(clock.now(), attributes={"birth_date": "1990-11-25"}))
    assert (not_before, not_after) == (utc("2026-11-25T15:00:00"), utc("2031-11-25T14:59:59"))
    assert not_before.astimezone(JST).time() == dt.time(0, 0, 0)
    assert not_after.astimezone(JST).time() == dt.time(23, 59, 59)


@pytest.mark.parametrize(
    ("issued", "not_before"),
    [
        ("2026-11-25T15:00:00", "2026-11-25T15:00:00"),  # exactly 00:00:00 JST on the 26th
        ("2026-11-25T14:59:59", "2026-11-24T15:00:00"),  # 23:59:59 JST on the 25th
        ("2026-12-31T15:30:00", "2026-12-31T15:00:00"),  # 00:30 JST on New Year's Day
    ],
)
def test_not_before_is_the_start_of_the_jst_issuance_day(issued: str, not_before: str) -> None:
    root = shipped_profiles()["root-ca"]
    assert root.validity(context(utc(issued)))[0] == utc(not_before)


def test_unaligned_profiles_run_from_issuance_for_the_period_inclusive() -> None:
    ocsp = shipped_profiles()["ocsp-responder"]
    at = utc("2026-11-26T03:04:05.750000")
    assert ocsp.validity(context(at)) == (utc("2026-11-26T03:04:05"), utc("2026-12-03T03:04:04"))


def test_the_issuer_not_after_caps_the_period() -> None:
    sub = shipped_profiles()["sub-ca"]
    issuer_end = utc("2030-01-01T14:59:59")
    assert sub.validity(context(utc("2026-11-26T03:04:05"), issuer_not_after=issuer_end))[1] == issuer_end
    with pytest.raises(IssuanceRefused, match="before it starts"):
        sub.validity(context(utc("2026-11-26T03:04:05"), issuer_not_after=utc("2026-11-01T00:00:00")))


def test_the_cap_can_be_switched_off(tmp_path: Path) -> None:
    profile = write_profile(tmp_path, "rule = 'fixed'\nyears = 5\nmax_validity_from_issuer = false")
    at = utc("2026-11-26T03:04:05")
    assert profile.validity(context(at, issuer_not_after=utc("2027-01-01T00:00:00")))[1].year == 2031


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        context(dt.datetime(2026, 11, 26))


@pytest.mark.parametrize(
    ("start", "period", "end"),
    [
        ("2024-02-29T00:00:00", {"years": 1}, "2025-03-01T00:00:00"),
        ("2025-01-31T00:00:00", {"months": 1}, "2025-03-01T00:00:00"),
        ("2024-01-31T00:00:00", {"months": 1}, "2024-03-01T00:00:00"),
        ("2026-11-26T00:00:00", {"years": 10}, "2036-11-26T00:00:00"),
        ("2026-12-15T00:00:00", {"months": 1, "days": 20}, "2027-02-04T00:00:00"),
    ],
)
def test_calendar_arithmetic_never_ends_early(start: str, period: dict[str, int], end: str) -> None:
    local = dt.datetime.fromisoformat(start).replace(tzinfo=JST)
    assert add_calendar(local, **period) == dt.datetime.fromisoformat(end).replace(tzinfo=JST)


@given(
    at=st.datetimes(
        min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2040, 12, 31), timezones=st.just(dt.UTC)
    ),
    years=st.integers(min_value=1, max_value=20),
)
def test_aligned_periods_cover_whole_jst_days(at: dt.datetime, years: int) -> None:
    root = shipped_profiles()["root-ca"].validity_policy
    policy = dataclasses.replace(root, params={"years": years})
    not_before, not_after = policy.period(at)
    local_start, local_end = not_before.astimezone(JST), not_after.astimezone(JST)
    assert local_start.time() == dt.time(0) and local_end.time() == dt.time(23, 59, 59)
    assert not_before <= at < not_before + dt.timedelta(days=1)
    assert not_after + dt.timedelta(seconds=1) == add_calendar(local_start, years=years)


def _until_birthday(request: ValidityRequest) -> dt.datetime:
    """A stand-in for the JPKI rule: valid through the Nth birthday after issuance, capped by the card."""
    born = dt.date.fromisoformat(request.holder.get("birth_date") or "0001-01-01")
    if born.year == 1:
        raise request.refuse("the holder's birth_date is required")
    issued = request.period_start.date()
    first = born.replace(year=issued.year + (born.replace(year=issued.year) <= issued))
    birthday = first.replace(year=first.year + request.int_param("birthdays") - 1)
    end = dt.datetime.combine(birthday + dt.timedelta(days=1), dt.time(0), request.period_start.tzinfo)
    seen.append(request)
    card = request.holder.get("card_expiry")
    return min(end, dt.datetime.fromisoformat(card)) if card else end


def _check_birthdays(table: Table) -> None:
    table.expect("birthdays")
    table.integer("birthdays", minimum=1)


seen: list[ValidityRequest] = []
register_validity_rule("test-until-birthday", _until_birthday, params=_check_birthdays)


def test_a_registered_rule_gets_everything_it_needs(tmp_path: Path) -> None:
    align = "align = { tz = 'Asia/Tokyo', start = '00:00:00', end = '23:59:59' }"
    profile = write_profile(tmp_path, f"rule = 'test-until-birthday'\nbirthdays = 5\n{align}")
    issuer_end = utc("2040-01-01T00:00:00")
    at = utc("2026-11-26T03:04:05")
    ctx = context(at, issuer_not_after=issuer_end, attributes={"birth_date": "1990-01-02"})
    not_before, not_after = profile.validity(ctx)
    assert (not_before, not_after) == (utc("2026-11-25T15:00:00"), utc("2031-01-02T14:59:59"))
    request = seen[-1]
    assert request.issued_at == at and request.issuer_not_after == issuer_end
    assert request.period_start == dt.datetime(2026, 11, 26, tzinfo=JST)
    assert dict(request.holder) == {"birth_date": "1990-01-02"} and dict(request.params) == {"birthdays": 5}
    assert request.profile == "p"


def test_a_rule_can_refuse_and_cap(tmp_path: Path) -> None:
    profile = write_profile(tmp_path, "rule = 'test-until-birthday'\nbirthdays = 5")
    with pytest.raises(IssuanceRefused, match="birth_date is required"):
        profile.validity(context(utc("2026-11-26T03:04:05")))
    card = {"birth_date": "1990-01-02", "card_expiry": "2029-03-01T00:00:00+09:00"}
    capped = profile.validity(context(utc("2026-11-26T03:04:05"), attributes=card))[1]
    assert capped == utc("2029-02-28T14:59:59")


def test_rule_parameters_are_validated_by_the_rule(tmp_path: Path) -> None:
    with pytest.raises(ProfileError) as caught:
        write_profile(tmp_path, "rule = 'test-until-birthday'\nbirthdays = 0")
    assert caught.value.key == "validity.birthdays"
    with pytest.raises(ProfileError) as caught:
        write_profile(tmp_path, "rule = 'test-until-birthday'\nbirthday = 5")
    assert caught.value.key == "validity.birthday" and "did you mean 'birthdays'?" in caught.value.fix


def test_rules_are_registered_once() -> None:
    assert {"fixed", "birthday", "test-until-birthday"} <= set(validity_rules())
    with pytest.raises(ValueError, match="already registered"):
        register_validity_rule("fixed", _until_birthday)
