"""The shared shape of extension specs: what a spec receives when one certificate is built, and the
criticality rules RFC 5280 fixes for some extensions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from cryptography import x509

from pki.profile.context import IssueContext
from pki.profile.general_names import RequestPool
from pki.profile.schema import Table


@dataclass(frozen=True, slots=True)
class Build:
    """One certificate being built: the issuing context, the requested names not yet taken, the profile."""

    ctx: IssueContext
    pool: RequestPool
    profile: str


class ExtensionSpec(Protocol):
    """A validated extension section of a profile; builds the extension for one certificate."""

    def extension(self, build: Build) -> x509.Extension[x509.ExtensionType] | None:
        """The extension, or None when it has nothing to carry (an alternative name with no entries)."""
        ...


def extension(value: x509.ExtensionType, critical: bool) -> x509.Extension[x509.ExtensionType]:
    """Wrap an extension value with its OID and criticality."""
    return x509.Extension(value.oid, critical, value)


def read_critical(table: Table, default: bool, must: bool | None = None, rule: str = "") -> bool:
    """The ``critical`` flag; where RFC 5280 says MUST, the other value is refused (``rule`` cites it)."""
    critical = table.boolean("critical", default if must is None else must)
    if must is not None and critical != must:
        wanted = "critical" if must else "non-critical"
        raise table.error(
            "critical", f"{rule} requires this extension to be {wanted}", f"set critical = {must}".lower()
        )
    return critical
