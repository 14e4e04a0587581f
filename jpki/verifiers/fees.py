"""What each provision costs: yen per unit, by service and CA id.

Defaults (jpki-facts §5): an OCSP status, a linkage answer or a 4-information answer about a certificate of
the signing CA costs ¥20, of the user-authentication CA ¥2. A CRL download is free by default: a CRL answers
for every certificate of a CA at once, so J-LIS's per-certificate fee cannot be charged per download; the
download is still counted in the ledger (unit fee ¥0), and a home that wants to charge it sets a rate.

A home overrides any of these in ``HOME/verifier-fees.toml``; an entry for a CA the PKI does not have, an
unknown service or a negative fee is an error that says how to fix it::

    [ocsp]
    jpki-sign = 20
    jpki-auth = 2

    [crl]
    jpki-sign = 5
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from jpki.verifiers.errors import LedgerError
from pki.profile.schema import load_table, suggest

FEES_FILE = "verifier-fees.toml"
SIGNING_FEE = 20
AUTH_FEE = 2


class Service(enum.StrEnum):
    """What a verifier was provided (the ledger's ``service``; each needs the scope of the same name)."""

    ocsp = "ocsp"
    crl = "crl"
    linkage = "linkage"
    four_info = "four-info"


def parse_service(name: str) -> Service:
    try:
        return Service(name)
    except ValueError:
        fix = suggest(name, [s.value for s in Service])
        raise LedgerError("service", f"unknown service {name!r}: {fix}") from None


@dataclass(frozen=True, slots=True)
class FeeSchedule:
    """Yen per unit by (service, CA id); anything not listed is free."""

    fees: Mapping[tuple[Service, str], int]

    def __post_init__(self) -> None:
        for (service, ca_id), yen in self.fees.items():
            if isinstance(yen, bool) or not isinstance(yen, int) or yen < 0:
                raise LedgerError(
                    "fee", f"{service.value} {ca_id}: {yen!r} is not a whole number of yen >= 0"
                )
        object.__setattr__(self, "fees", MappingProxyType(dict(self.fees)))

    def unit(self, service: Service, ca_id: str) -> int:
        return self.fees.get((service, ca_id), 0)

    @classmethod
    def standard(cls, sign_ca: str = "jpki-sign", auth_ca: str = "jpki-auth") -> FeeSchedule:
        """J-LIS's rates: ¥20 signing, ¥2 authentication, for OCSP, linkage and 4 information; CRLs free."""
        fees: dict[tuple[Service, str], int] = {}
        for service in (Service.ocsp, Service.linkage, Service.four_info):
            fees[service, sign_ca] = SIGNING_FEE
            fees[service, auth_ca] = AUTH_FEE
        return cls(fees)

    def overridden(self, changes: Mapping[tuple[Service, str], int]) -> FeeSchedule:
        return FeeSchedule({**self.fees, **changes})

    @classmethod
    def for_home(cls, home: Path, cas: Collection[str], *, base: FeeSchedule | None = None) -> FeeSchedule:
        """The standard schedule with the overrides of ``HOME/verifier-fees.toml``, if there is one."""
        base = base or cls.standard()
        path = home / FEES_FILE
        if not path.exists():
            return base
        return base.overridden(read_overrides(path, cas))


def read_overrides(path: Path, cas: Collection[str]) -> dict[tuple[Service, str], int]:
    """``[service] ca-id = yen`` entries of a fee file; ProfileError (a one-line fix) for anything else."""
    root = load_table(path)
    root.expect(*(s.value for s in Service))
    changes: dict[tuple[Service, str], int] = {}
    for service in Service:
        table = root.opt_table(service.value)
        if table is None:
            continue
        for ca_id in list(table.keys()):
            if ca_id not in cas:
                raise table.error(ca_id, "is not a CA of this PKI", suggest(ca_id, cas))
            changes[service, ca_id] = table.integer(ca_id)
        table.finish()
    return changes
