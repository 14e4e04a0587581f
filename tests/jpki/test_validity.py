"""JPKI certificate validity through the shipped jpki-sign / jpki-auth profiles (jpki-facts §3): until the 5th
birthday after issuance (the 6th when renewed within 3 months before expiry), capped by the card's expiry and,
for the signing certificate, by the authentication certificate; 00:00:00 / 23:59:59 JST."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given
from hypothesis import strategies as st

from jpki.card.validity import nth_birthday_after
from pki.errors import IssuanceRefused, ProfileError
from pki.profile import IssueContext, Profile, load_profile, shipped_profiles

JST = dt.timezone(dt.timedelta(hours=9), "JST")
PROFILES = shipped_profiles()
SIGN, AUTH = PROFILES["jpki-sign"], PROFILES["jpki-auth"]
KEY = ec.generate_private_key(ec.SECP256R1()).public_key()
NAME = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "JPKI validity test")])
ISSUED = dt.datetime(2026, 11, 26, 3, 4, 5, tzinfo=dt.UTC)  # 12:04:05 JST
BORN = "1990-01-02"


def jst(text: str) -> dt.datetime:
    """A JST wall-clock time, ``2031-01-02T23:59:59``."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=JST)


def validity(profile: Profile, at: dt.datetime = ISSUED, **holder: str) -> tuple[dt.datetime, dt.datetime]:
    """(notBefore, notAfter) in JST for a holder given as attributes (``birth_date`` defaults to BORN)."""
    ctx = IssueContext(KEY, KEY, NAME, at, attributes={"birth_date": BORN, **holder})
    not_before, not_after = profile.validity(ctx)
    return not_before.astimezone(JST), not_after.astimezone(JST)


def not_after(at: dt.datetime = ISSUED, profile: Profile = SIGN, **holder: str) -> dt.datetime:
    return validity(profile, at, **holder)[1]


@pytest.mark.parametrize("profile", [SIGN, AUTH], ids=["jpki-sign", "jpki-auth"])
def test_valid_from_the_issuance_day_through_the_5th_birthday_after_it(profile: Profile) -> None:
    assert validity(profile) == (jst("2026-11-26T00:00:00"), jst("2031-01-02T23:59:59"))


@pytest.mark.parametrize(
    ("issued", "born", "last"),
    [
        # issued on the birthday itself: that birthday does not count, the period runs a full 5 years
        ("2026-11-26T12:04:05", "1990-11-26", "2031-11-26"),
        # issued the day before the birthday: a year less
        ("2026-11-25T12:04:05", "1990-11-26", "2030-11-26"),
        # the issuance day is the JST day: 00:30 JST on the birthday is 15:30 UTC the day before
        ("2026-11-26T00:30:00", "1990-11-26", "2031-11-26"),
        ("2026-11-25T23:30:00", "1990-11-26", "2030-11-26"),
        # the birthday is the day after issuance: it counts as the 1st
        ("2026-11-26T12:04:05", "1990-11-27", "2030-11-27"),
    ],
)
def test_a_birthday_on_the_issuance_day_does_not_count(issued: str, born: str, last: str) -> None:
    assert validity(SIGN, jst(issued), birth_date=born) == (
        jst(issued[:10] + "T00:00:00"),
        jst(last + "T23:59:59"),
    )


@pytest.mark.parametrize(
    ("issued", "last"),
    [
        ("2026-11-26", "2031-03-01"),  # the 5th birthday falls in a common year: 1 March
        ("2027-11-26", "2032-02-29"),  # ... in a leap year: 29 February
        ("2027-02-28", "2031-03-01"),  # the next day is the birthday of a common year
        ("2027-03-01", "2032-02-29"),  # 1 March of a common year is the birthday: it does not count
        ("2028-02-29", "2033-03-01"),  # the leap-year birthday itself does not count either
    ],
)
def test_a_29_february_birthday_falls_on_1_march_in_common_years(issued: str, last: str) -> None:
    at = jst(issued + "T12:00:00")
    assert not_after(at, birth_date="2000-02-29") == jst(last + "T23:59:59")


@given(
    born=st.dates(dt.date(1900, 1, 1), dt.date(2030, 12, 31)),
    after=st.integers(min_value=0, max_value=120 * 366),
)
def test_the_last_day_is_the_cards_nth_birthday_after(born: dt.date, after: int) -> None:
    """Same counting as jpki.card.validity (strictly after; 29 February on 1 March in common years)."""
    issued_on = born + dt.timedelta(days=after)
    at = dt.datetime.combine(issued_on, dt.time(12), JST)
    assert not_after(at, birth_date=born.isoformat()).date() == nth_birthday_after(born, issued_on, 5)


@pytest.mark.parametrize(
    ("old_expiry", "last"),
    [
        ("2027-01-02", "2032-01-02"),  # inside the 3-month window: the 6th birthday
        ("2027-02-26", "2032-01-02"),  # the window opens on 2026-11-26, the issuance day
        ("2027-02-27", "2031-01-02"),  # the window opens the day after issuance: the 5th
        ("2027-06-01", "2031-01-02"),  # far from expiry
        ("2026-11-26", "2032-01-02"),  # renewed on the expiry day itself
        ("2026-11-25", "2031-01-02"),  # already expired: a new issuance, the 5th
        ("2027-02-26T23:59:59+09:00", "2032-01-02"),  # the old notAfter as an instant
        ("2027-02-26T14:59:59Z", "2032-01-02"),  # the same instant in UTC
        ("2027-02-26T15:30:00Z", "2031-01-02"),  # 00:30 JST on 02-27: the window opens on 11-27
    ],
)
def test_renewal_within_3_months_before_expiry_runs_to_the_6th_birthday(old_expiry: str, last: str) -> None:
    assert not_after(renewal_of_expiry=old_expiry) == jst(last + "T23:59:59")


def test_the_renewal_window_is_calendar_months_never_more() -> None:
    at = jst("2027-03-01T12:00:00")  # 3 months before 2027-05-31 is 2027-02-31, which rolls to 03-01
    assert not_after(at, renewal_of_expiry="2027-05-31") == jst("2033-01-02T23:59:59")  # the 6th
    assert not_after(at - dt.timedelta(days=1), renewal_of_expiry="2027-05-31") == jst("2032-01-02T23:59:59")


@pytest.mark.parametrize("profile", [SIGN, AUTH], ids=["jpki-sign", "jpki-auth"])
@pytest.mark.parametrize(
    ("card_expiry", "last"),
    [
        ("2029-05-05", "2029-05-05"),  # the card expires first: through its last day
        ("2031-01-02", "2031-01-02"),  # on the 5th birthday
        ("2035-01-02", "2031-01-02"),  # after it: the birthday rule wins
        ("2026-11-26", "2026-11-26"),  # the card's last day is the issuance day
    ],
)
def test_the_card_expiry_caps_the_certificate(profile: Profile, card_expiry: str, last: str) -> None:
    assert validity(profile, card_expiry=card_expiry) == (jst("2026-11-26T00:00:00"), jst(last + "T23:59:59"))


def test_the_card_expiry_caps_a_renewal_too() -> None:
    assert not_after(renewal_of_expiry="2027-01-02", card_expiry="2031-06-30") == jst("2031-06-30T23:59:59")


def test_an_expired_card_is_refused() -> None:
    with pytest.raises(IssuanceRefused, match=r"the card expires \(2026-11-25\) before the issuance day"):
        not_after(card_expiry="2026-11-25")


def test_the_authentication_certificate_caps_the_signing_certificate() -> None:
    auth_end = not_after(profile=AUTH, card_expiry="2029-05-05")
    cap = auth_end.isoformat()
    assert not_after(not_after_cap=cap) == auth_end == jst("2029-05-05T23:59:59")
    assert not_after(not_after_cap=auth_end.astimezone(dt.UTC).isoformat()) == auth_end
    # a cap that is not at 23:59:59 JST: the last 23:59:59 JST before it
    assert not_after(not_after_cap="2029-05-05T12:00:00+09:00") == jst("2029-05-04T23:59:59")
    # a later cap changes nothing; the earliest of all caps wins
    assert not_after(not_after_cap="2040-01-01T00:00:00+09:00") == jst("2031-01-02T23:59:59")
    assert not_after(card_expiry="2029-05-05", not_after_cap="2030-01-01T23:59:59+09:00") == auth_end


def test_a_cap_before_issuance_is_refused() -> None:
    with pytest.raises(IssuanceRefused, match=r"not_after_cap .* expires before issuance"):
        not_after(not_after_cap="2026-11-26T12:00:00+09:00")  # issued at 12:04:05 JST


def test_the_issuer_still_caps_the_period() -> None:
    issuer_end = dt.datetime(2030, 1, 1, 14, 59, 59, tzinfo=dt.UTC)
    ctx = IssueContext(KEY, KEY, NAME, ISSUED, issuer_not_after=issuer_end, attributes={"birth_date": BORN})
    assert SIGN.validity(ctx)[1] == issuer_end


@pytest.mark.parametrize(
    ("holder", "match"),
    [
        ({}, "birth_date is required"),
        ({"birth_date": ""}, "birth_date '' is not a date"),
        ({"birth_date": "1990/01/02"}, "is not a date: write it YYYY-MM-DD"),
        ({"birth_date": "19900102"}, "is not a date"),
        ({"birth_date": "1990-02-30"}, "is not a date"),
        ({"birth_date": "H2-01-02"}, "is not a date"),
        ({"birth_date": "2026-11-27"}, "birth_date 2026-11-27 is after the issuance day 2026-11-26"),
        ({"birth_date": BORN, "card_expiry": "2029-05-05T00:00:00+09:00"}, "card_expiry .* is not a date"),
        ({"birth_date": BORN, "not_after_cap": "2029-05-05T23:59:59"}, "not_after_cap .* is not an instant"),
        ({"birth_date": BORN, "not_after_cap": "2029-05-05"}, "not_after_cap .* is not an instant"),
        ({"birth_date": BORN, "renewal_of_expiry": "soon"}, "renewal_of_expiry 'soon' is not an instant"),
    ],
    ids=["missing", "empty", "slashes", "basic-format", "30-february", "era", "born-after-issuance",
         "card-expiry-instant", "cap-naive", "cap-date", "renewal-word"],
)  # fmt: skip
def test_bad_holder_data_is_refused(holder: dict[str, str], match: str) -> None:
    ctx = IssueContext(KEY, KEY, NAME, ISSUED, attributes=holder)
    with pytest.raises(IssuanceRefused, match=f"profile 'jpki-sign': validity: .*{match}"):
        SIGN.validity(ctx)


def write_profile(tmp_path: Path, validity: str) -> Profile:
    text = (
        'kind = "ee"\nkeys = ["p256"]\n[[subject]]\nattr = "CN"\n'
        f"[validity]\n{validity}\n"
        '[extensions]\nkey_usage = { usages = ["digitalSignature"] }\nauthority_key_identifier = true\n'
    )
    path = tmp_path / "p.toml"
    path.write_text(text, encoding="utf-8")
    return load_profile(path)


def test_without_align_the_days_are_utc_days(tmp_path: Path) -> None:
    profile = write_profile(tmp_path, "rule = 'birthday'\nbirthdays = 5")
    ctx = IssueContext(KEY, KEY, NAME, ISSUED, attributes={"birth_date": BORN})
    assert profile.validity(ctx) == (ISSUED, dt.datetime(2031, 1, 2, 23, 59, 59, tzinfo=dt.UTC))


@pytest.mark.parametrize(
    ("params", "key", "fix"),
    [
        ("", "validity.birthdays", "add birthdays = 1"),
        ("birthdays = 0", "validity.birthdays", "use a value >= 1"),
        ("birthdays = '5'", "validity.birthdays", "write birthdays = 1"),
        ("birthday = 5", "validity.birthday", "did you mean 'birthdays'?"),
        ("birthdays = 5\nrenewal_birthdays = 6", "validity.renewal_window_months",
         "add renewal_window_months = 3"),
        ("birthdays = 5\nrenewal_window_months = 3", "validity.renewal_birthdays",
         "add renewal_birthdays = 6"),
        ("birthdays = 5\nrenewal_birthdays = 4\nrenewal_window_months = 3", "validity.renewal_birthdays",
         "use a value >= 5"),
        ("birthdays = 5\nrenewal_birthdays = 6\nrenewal_window_months = 0", "validity.renewal_window_months",
         "use a value >= 1"),
        ("birthdays = 5\nrenewal_birthdays = 6\nrenewal_months = 3", "validity.renewal_months",
         "did you mean 'renewal_window_months'?"),
    ],
)  # fmt: skip
def test_bad_parameters_are_refused_when_the_profile_loads(
    tmp_path: Path, params: str, key: str, fix: str
) -> None:
    with pytest.raises(ProfileError) as caught:
        write_profile(tmp_path, f"rule = 'birthday'\n{params}")
    assert caught.value.key == key and fix in caught.value.fix
    assert caught.value.file.endswith("p.toml")


def test_the_shipped_profiles_use_the_birthday_rule() -> None:
    for profile in (SIGN, AUTH):
        policy = profile.validity_policy
        assert policy.rule.name == "birthday" and policy.max_validity_from_issuer
        assert dict(policy.params) == {"birthdays": 5, "renewal_birthdays": 6, "renewal_window_months": 3}
