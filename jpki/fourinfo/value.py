"""The FourInfo value: checked when built, encoded as the six otherNames of a signing certificate."""

from __future__ import annotations

import datetime as dt
import enum
import unicodedata
from dataclasses import dataclass

from cryptography import x509

from jpki.fourinfo.era import Era, check_era, format_birth
from jpki.fourinfo.items import ITEM_OIDS, item_error
from pki.profile.general_names import other_name

ADDRESS_MAX = 200
"""Characters (code points) an address may have."""
_CONTROL = frozenset({"Cc", "Cs", "Zl", "Zp"})
"""Unicode categories refused in a name or an address: controls, lone surrogates, line/paragraph breaks."""


class Sex(enum.Enum):
    """性別, coded as JPKI writes it: '3' is 'not known' (ISO/IEC 5218 would say 0)."""

    male = 1
    female = 2
    not_known = 3

    @property
    def code(self) -> str:
        return str(self.value)

    @classmethod
    def from_code(cls, code: str) -> Sex:
        for sex in cls:
            if sex.code == code:
                return sex
        raise item_error("sex", "must be '1' (male), '2' (female) or '3' (not known)")


def _text_problem(text: str) -> str | None:
    """Why a name or an address cannot be carried, or None."""
    if not text or text.isspace():
        return "must not be empty or only spaces"
    for index, char in enumerate(text, 1):
        if unicodedata.category(char) in _CONTROL:
            return f"character {index} is a control character (U+{ord(char):04X})"
    return None


def _positions_problem(positions: str, text: str, of: str) -> str | None:
    """Why a substitute-character position string does not fit its text, or None."""
    if positions.strip("01"):
        return "must hold only '0' and '1'"
    if len(positions) != len(text):
        return f"must hold one position per character of the {of}: {len(text)}, not {len(positions)}"
    return None


def _is_date(value: object) -> bool:
    return isinstance(value, dt.date) and not isinstance(value, dt.datetime)


@dataclass(frozen=True, slots=True, init=False)
class FourInfo:
    """The basic 4 information of one holder, checked when built; keyword arguments only, since the name
    and the address are both text.

    The name needs no full-width space: a record may lack a given name, so any non-blank name is
    accepted. Lengths count Unicode code points.
    """

    name: str
    """氏名: family and given name separated by U+3000, characters outside JIS already substituted."""
    birth: dt.date
    """The Gregorian date of birth."""
    era: Era
    """The era the date of birth is written in: by default the era of ``birth``; ``unknown`` goes with any."""
    sex: Sex
    address: str
    """住所, from the prefecture, no postcode, 1 to 200 characters."""
    name_substitutes: str
    """One '0'/'1' per character of the name: '1' where a substitute character stands (default all '0')."""
    address_substitutes: str
    """One '0'/'1' per character of the address (default all '0')."""

    def __init__(
        self,
        *,
        name: str,
        birth: dt.date,
        sex: Sex,
        address: str,
        era: Era | None = None,
        name_substitutes: str | None = None,
        address_substitutes: str | None = None,
    ) -> None:
        values = {
            "name": name,
            "birth": birth,
            "era": Era.of(birth) if era is None and _is_date(birth) else era,
            "sex": sex,
            "address": address,
            "name_substitutes": "0" * len(name) if name_substitutes is None else name_substitutes,
            "address_substitutes": "0" * len(address) if address_substitutes is None else address_substitutes,
        }
        for field, value in values.items():
            object.__setattr__(self, field, value)
        self._check()

    def _check(self) -> None:
        if not _is_date(self.birth):
            raise item_error("birth", "must be a datetime.date")
        if not isinstance(self.era, Era):
            raise item_error("era", "must be an Era")
        if not isinstance(self.sex, Sex):
            raise item_error("sex", "must be a Sex")
        problems = {
            "name": _text_problem(self.name),
            "address": _text_problem(self.address),
            "name_substitutes": _positions_problem(self.name_substitutes, self.name, "name"),
            "address_substitutes": _positions_problem(self.address_substitutes, self.address, "address"),
        }
        if len(self.address) > ADDRESS_MAX:
            problems["address"] = f"must be at most {ADDRESS_MAX} characters, not {len(self.address)}"
        for field, problem in problems.items():
            if problem is not None:
                raise item_error(field, problem)
        check_era(self.era, self.birth)

    @property
    def birth_code(self) -> str:
        """The date of birth as carried: ``EYYYYMMDD``."""
        return format_birth(self.era, self.birth)

    def _values(self) -> dict[str, str]:
        """Each item's text by field, in the order of real certificates."""
        values = {
            "name": self.name,
            "birth": self.birth_code,
            "sex": self.sex.code,
            "address": self.address,
            "name_substitutes": self.name_substitutes,
            "address_substitutes": self.address_substitutes,
        }
        return {field: values[field] for field in ITEM_OIDS}

    def other_names(self) -> dict[str, str]:
        """Type-id → value in the order of real certificates: what ``IssueRequest.other_names`` takes."""
        return {ITEM_OIDS[field].dotted_string: value for field, value in self._values().items()}

    def general_names(self) -> list[x509.OtherName]:
        """The six otherNames in the order of real certificates, encoded as the profile encodes them."""
        return [other_name(ITEM_OIDS[field], value) for field, value in self._values().items()]

    def as_dict(self) -> dict[str, str]:
        """A flat description for display (``jlis jpki cert decode``)."""
        return {
            "name": self.name,
            "sex": self.sex.name,
            "sex_code": self.sex.code,
            "birth": self.birth.isoformat(),
            "birth_code": self.birth_code,
            "era": self.era.romaji,
            "era_ja": self.era.kanji,
            "address": self.address,
            "name_substitutes": self.name_substitutes,
            "address_substitutes": self.address_substitutes,
        }
