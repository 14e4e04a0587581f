"""Eras (元号) and the date of birth ``EYYYYMMDD``: an era digit, then the Gregorian date (jpki-facts §2)."""

from __future__ import annotations

import datetime as dt
import enum

from jpki.fourinfo.items import item_error


class Era(enum.IntEnum):
    """The era digit E of the date of birth; the date itself is always Gregorian."""

    unknown = 0
    meiji = 1
    taisho = 2
    showa = 3
    heisei = 4
    reiwa = 5

    @property
    def code(self) -> str:
        return str(self.value)

    @property
    def kanji(self) -> str:
        return _ERAS[self][0]

    @property
    def romaji(self) -> str:
        return _ERAS[self][1]

    @property
    def first_day(self) -> dt.date | None:
        """The era's first day in the Gregorian calendar (None for ``unknown``)."""
        return _ERAS[self][2]

    @property
    def last_day(self) -> dt.date | None:
        """The era's last day (None for ``unknown`` and the current era)."""
        return _ERAS[self][3]

    def covers(self, day: dt.date) -> bool:
        """Whether a date of birth may be written in this era (``unknown`` goes with any date)."""
        first, last = self.first_day, self.last_day
        if first is None:
            return True
        return first <= day and (last is None or day <= last)

    @classmethod
    def of(cls, day: dt.date) -> Era:
        """The era of a Gregorian date: the newer era on a day two eras share, ``unknown`` before Meiji."""
        for era in reversed(cls):
            first = era.first_day
            if first is not None and first <= day:
                return era
        return cls.unknown


_ERAS: dict[Era, tuple[str, str, dt.date | None, dt.date | None]] = {
    Era.unknown: ("不詳", "unknown", None, None),
    # Meiji 1 began on 慶応4年1月1日 = 1868-01-25 (Gregorian): the edict of 1868-10-23 renamed the whole of
    # Keio 4 (改慶應四年爲明治元年). Japan kept the lunisolar calendar until 1872, so earlier Meiji dates are
    # conversions; JPKI's own rule is not public [I].
    # Taisho and Showa began on the day of the succession (即日改元): that day belongs to both eras.
    # Heisei and Reiwa began the next day (翌日改元).
    Era.meiji: ("明治", "Meiji", dt.date(1868, 1, 25), dt.date(1912, 7, 30)),
    Era.taisho: ("大正", "Taisho", dt.date(1912, 7, 30), dt.date(1926, 12, 25)),
    Era.showa: ("昭和", "Showa", dt.date(1926, 12, 25), dt.date(1989, 1, 7)),
    Era.heisei: ("平成", "Heisei", dt.date(1989, 1, 8), dt.date(2019, 4, 30)),
    Era.reiwa: ("令和", "Reiwa", dt.date(2019, 5, 1), None),
}


def format_birth(era: Era, birth: dt.date) -> str:
    """The 9-character date of birth ``EYYYYMMDD`` (era digit, then the Gregorian date)."""
    return f"{era.code}{birth.year:04d}{birth.month:02d}{birth.day:02d}"


def parse_birth(text: str) -> tuple[Era, dt.date]:
    """The era and the Gregorian date of ``EYYYYMMDD``; refuses anything else, and dates outside the era."""
    if len(text) != 9:
        raise item_error("birth", f"must be 9 characters EYYYYMMDD, not {len(text)}")
    if not (text.isascii() and text.isdigit()):
        raise item_error("birth", "must be ASCII digits only (EYYYYMMDD)")
    if text[0] not in "012345":
        raise item_error("birth", "the era digit must be 0 (unknown) to 5 (Reiwa)")
    year, month, day = int(text[1:5]), int(text[5:7]), int(text[7:9])
    try:
        birth = dt.date(year, month, day)
    except ValueError:  # Python's message repeats the date: say which part is wrong instead
        raise item_error("birth", f"not a Gregorian date: {_date_problem(year, month)}") from None
    era = Era(int(text[0]))
    check_era(era, birth)
    return era, birth


def _date_problem(year: int, month: int) -> str:
    if year < dt.MINYEAR:
        return "there is no year 0000"
    if not 1 <= month <= 12:
        return "the month must be 01 to 12"
    return "the day does not exist in that month"


def check_era(era: Era, birth: dt.date) -> None:
    """Refuse a date of birth written in an era that does not cover it (a Heisei date with era Showa)."""
    if not era.covers(birth):
        actual = Era.of(birth)
        where = "before Meiji" if actual is Era.unknown else f"in {actual.romaji}"
        raise item_error("era", f"the date of birth is not in era {era.code} ({era.romaji}) but {where}")
