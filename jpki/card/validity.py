"""The card's validity: until the 10th birthday after issuance when issued at 18 or older, else the 5th
(jpki-facts §3 [V]). Dates are calendar dates in Japan (JST, UTC+9, no daylight saving).

Choices where the rule is silent:

- [I] The card is valid *through* that birthday: ``card_expiry`` returns the birthday itself, the last day
  the card is valid.
- [I] "After issuance" is strict: a birthday on the day of issuance is not counted (a card issued on the
  holder's birthday runs a full 10 or 5 years, one issued the day before runs a year less).
- [I] Age is whole years on the issuance date, the birthday counting as the day the new age begins
  (年齢計算ニ関スル法律 with Civil Code Art. 143: the age grows at the end of the day before the birthday).
- [I] 29 February: in common years the holder's birthday is 1 March. By Civil Code Art. 143(2) a year
  counted from 29 February ends with the end of 28 February, so the new age begins on 1 March; the expiry
  and the age threshold use the same day.
"""

from __future__ import annotations

import datetime as dt

from jpki.card.errors import InvalidCardDates

JST = dt.timezone(dt.timedelta(hours=9), "JST")

ADULT_AGE = 18
"""Age from which the card runs to the 10th birthday instead of the 5th."""
ADULT_BIRTHDAYS = 10
MINOR_BIRTHDAYS = 5


def jst_date(instant: dt.datetime) -> dt.date:
    """The calendar date in Japan at an aware instant."""
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"naive datetime {instant.isoformat()}: give a timezone")
    return instant.astimezone(JST).date()


def birthday_in(birth: dt.date, year: int) -> dt.date:
    """The holder's birthday in ``year``: 1 March for a 29 February birth in a common year."""
    try:
        return birth.replace(year=year)
    except ValueError:  # 29 February in a common year
        return dt.date(year, 3, 1)


def age_on(birth: dt.date, day: dt.date) -> int:
    """Whole years of age on ``day``; the birthday is the first day of the new age."""
    if day < birth:
        raise InvalidCardDates(f"{day.isoformat()} is before the date of birth")
    years = day.year - birth.year
    return years if day >= birthday_in(birth, day.year) else years - 1


def nth_birthday_after(birth: dt.date, day: dt.date, n: int) -> dt.date:
    """The ``n``-th birthday strictly after ``day``."""
    if n < 1:
        raise ValueError("n counts birthdays from 1")
    first_year = day.year if birthday_in(birth, day.year) > day else day.year + 1
    return birthday_in(birth, first_year + n - 1)


def card_expiry(birth: dt.date, issued_on: dt.date) -> dt.date:
    """The last day a card issued on ``issued_on`` is valid: the 10th birthday after issuance when the holder
    is 18 or older that day, else the 5th."""
    age = age_on(birth, issued_on)
    return nth_birthday_after(birth, issued_on, ADULT_BIRTHDAYS if age >= ADULT_AGE else MINOR_BIRTHDAYS)
