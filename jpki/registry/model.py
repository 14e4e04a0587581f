"""Residents and registry events as frozen, checked values."""

from __future__ import annotations

import datetime as dt
import enum
import json
import re
from dataclasses import dataclass, replace
from typing import Any

from jpki.fourinfo import Era, FourInfo, FourInfoError, Sex
from jpki.registry.errors import InvalidResident
from jpki.registry.places import check_municipality

_RESIDENT_CODE = re.compile(r"[0-9]{11}")
_EVENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")


def check_resident_code(code: str) -> str:
    """住民票コード: exactly 11 digits. (Never the 12-digit My Number: JPKI must not hold it.)"""
    if not isinstance(code, str) or not _RESIDENT_CODE.fullmatch(code):
        raise InvalidResident("code", "must be the 11-digit resident code (住民票コード)")
    return code


class ResidentStatus(enum.StrEnum):
    resident = "resident"
    """Recorded in a municipality's resident register."""
    abroad = "abroad"
    """Emigrated; kept through the family-register annex (戸籍の附票), may keep a card."""
    deceased = "deceased"


@dataclass(frozen=True, slots=True)
class Resident:
    """One resident as the registry holds them."""

    code: str
    info: FourInfo
    municipality: str
    status: ResidentStatus = ResidentStatus.resident
    guardianship: bool = False
    """Under adult guardianship (成年被後見人): no signing certificate."""
    status_since: dt.date | None = None
    version: int = 1
    """Bumped by every change of the record."""

    def __post_init__(self) -> None:
        check_resident_code(self.code)
        check_municipality(self.municipality)
        if not isinstance(self.info, FourInfo):
            raise InvalidResident("info", "must be a FourInfo")


class EventKind(enum.StrEnum):
    move = "move"
    """転居・転入: a new address (and maybe municipality). Revokes the signing certificate."""
    rename = "rename"
    """A new name. Revokes the signing certificate."""
    correct_sex = "correct_sex"
    correct_birth = "correct_birth"
    death = "death"
    """Revokes both certificates (cessationOfOperation)."""
    emigrate = "emigrate"
    """国外転出: the signing certificate is revoked on the emigration date; the auth certificate stays."""
    return_ = "return"
    """国外からの転入: resident again at a new address (the address change revokes a signing certificate)."""


FOUR_INFO_CHANGES = frozenset(
    {EventKind.move, EventKind.rename, EventKind.correct_sex, EventKind.correct_birth}
)
"""Events that change the recorded 4 information."""


@dataclass(frozen=True, slots=True)
class ResidentEvent:
    """A registry event as the sender reports it. ``event_id`` makes it idempotent: recording the same event
    again changes nothing; the same id with other content is refused (EventConflict)."""

    event_id: str
    code: str
    kind: EventKind
    on: dt.date
    """The day the change takes effect (the move, death or emigration date)."""
    address: str | None = None
    address_substitutes: str | None = None
    municipality: str | None = None
    name: str | None = None
    name_substitutes: str | None = None
    sex: Sex | None = None
    birth: dt.date | None = None
    era: Era | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.event_id, str) or not _EVENT_ID.fullmatch(self.event_id):
            raise InvalidResident(
                "event_id", "use 1-64 characters of A-Z a-z 0-9 . _ : - (first alphanumeric)"
            )
        check_resident_code(self.code)
        object.__setattr__(self, "kind", EventKind(self.kind))
        if self.municipality is not None:
            check_municipality(self.municipality)
        needs = {
            EventKind.move: ("address",),
            EventKind.return_: ("address",),
            EventKind.rename: ("name",),
            EventKind.correct_sex: ("sex",),
            EventKind.correct_birth: ("birth",),
        }.get(self.kind, ())
        for name in needs:
            if getattr(self, name) is None:
                raise InvalidResident(name, f"a {self.kind.value} event needs a new {name}")

    def apply_to(self, resident: Resident) -> Resident:
        """The resident record after this event (a new FourInfo is checked as it is built)."""
        info = resident.info
        try:
            if self.kind in (EventKind.move, EventKind.return_):
                assert self.address is not None
                info = replace_info(info, address=self.address, address_substitutes=self.address_substitutes)
            elif self.kind is EventKind.rename:
                assert self.name is not None
                info = replace_info(info, name=self.name, name_substitutes=self.name_substitutes)
            elif self.kind is EventKind.correct_sex:
                info = replace_info(info, sex=self.sex)
            elif self.kind is EventKind.correct_birth:
                info = replace_info(info, birth=self.birth, era=self.era)
        except FourInfoError as exc:
            raise InvalidResident(exc.field, exc.reason) from None
        status, since = resident.status, resident.status_since
        if self.kind is EventKind.death:
            status, since = ResidentStatus.deceased, self.on
        elif self.kind is EventKind.emigrate:
            status, since = ResidentStatus.abroad, self.on
        elif self.kind is EventKind.return_:
            status, since = ResidentStatus.resident, self.on
        return replace(
            resident,
            info=info,
            municipality=self.municipality or resident.municipality,
            status=status,
            status_since=since,
            version=resident.version + 1,
        )

    def payload(self) -> str:
        """The event's content as canonical JSON (compared on replay)."""
        doc: dict[str, Any] = {
            "code": self.code,
            "kind": self.kind.value,
            "on": self.on.isoformat(),
            "address": self.address,
            "address_substitutes": self.address_substitutes,
            "municipality": self.municipality,
            "name": self.name,
            "name_substitutes": self.name_substitutes,
            "sex": None if self.sex is None else self.sex.code,
            "birth": None if self.birth is None else self.birth.isoformat(),
            "era": None if self.era is None else self.era.code,
        }
        return json.dumps(doc, sort_keys=True, ensure_ascii=False)

    @classmethod
    def from_payload(cls, event_id: str, payload: str) -> ResidentEvent:
        doc = json.loads(payload)
        return cls(
            event_id=event_id,
            code=doc["code"],
            kind=EventKind(doc["kind"]),
            on=dt.date.fromisoformat(doc["on"]),
            address=doc["address"],
            address_substitutes=doc["address_substitutes"],
            municipality=doc["municipality"],
            name=doc["name"],
            name_substitutes=doc["name_substitutes"],
            sex=None if doc["sex"] is None else Sex.from_code(doc["sex"]),
            birth=None if doc["birth"] is None else dt.date.fromisoformat(doc["birth"]),
            era=None if doc["era"] is None else _era(doc["era"]),
        )


def _era(code: str) -> Era:
    for era in Era:
        if era.code == code:
            return era
    raise InvalidResident("era", f"unknown era code {code!r}")


def replace_info(info: FourInfo, **changes: Any) -> FourInfo:
    """A new FourInfo with some items changed; substitute positions follow a changed text (all '0' unless
    given), and the era follows a changed date of birth unless given."""
    values: dict[str, Any] = {
        "name": info.name,
        "birth": info.birth,
        "sex": info.sex,
        "address": info.address,
        "era": info.era,
        "name_substitutes": info.name_substitutes,
        "address_substitutes": info.address_substitutes,
    }
    if "name" in changes:
        values["name_substitutes"] = None
    if "address" in changes:
        values["address_substitutes"] = None
    if "birth" in changes:
        values["era"] = None
    values.update({key: value for key, value in changes.items() if value is not None})
    return FourInfo(**values)
