"""Name extensions: subjectAltName, issuerAltName (RFC 5280 §4.2.1.6-7) and nameConstraints (§4.2.1.10)."""

from __future__ import annotations

from dataclasses import dataclass

from cryptography import x509

from pki.profile.build import Build, extension, read_critical
from pki.profile.general_names import GeneralNameSpec, read_name_spec, read_subtree
from pki.profile.schema import Table


@dataclass(frozen=True, slots=True)
class AltNameSpec:
    """subjectAltName or issuerAltName: ordered entries, fixed or from the request."""

    issuer: bool
    names: tuple[GeneralNameSpec, ...]
    critical: bool

    @property
    def takes_from_request(self) -> bool:
        return any(name.from_request for name in self.names)

    def extension(self, build: Build) -> x509.Extension[x509.ExtensionType] | None:
        names = [general for spec in self.names for general in spec.resolve(build.pool)]
        if not names:
            return None  # RFC 5280 §4.2.1.6: the extension, when present, holds at least one name
        value = x509.IssuerAlternativeName(names) if self.issuer else x509.SubjectAlternativeName(names)
        return extension(value, self.critical)


def read_subject_alt_name(parent: Table, key: str) -> AltNameSpec:
    """``subject_alt_name``: ``names`` (fixed or ``from_request``), ``critical`` (default false)."""
    return _read_alt_name(parent.table(key), issuer=False)


def read_issuer_alt_name(parent: Table, key: str) -> AltNameSpec:
    """``issuer_alt_name``: ``names`` (fixed only), ``critical`` (default false)."""
    return _read_alt_name(parent.table(key), issuer=True)


def _read_alt_name(table: Table, issuer: bool) -> AltNameSpec:
    table.expect("critical", "names")
    names = tuple(read_name_spec(item) for item in table.tables("names"))
    if not names:
        raise table.error("names", "no name given", 'add names = [{ type = "dns", from_request = true }]')
    if issuer and any(name.from_request for name in names):
        index = next(i for i, name in enumerate(names) if name.from_request)
        raise table.error(
            f"names[{index}].from_request",
            "the issuer's alternative name belongs to the issuer, not to the requester",
            "write the value in the profile",
        )
    # RFC 5280 §4.2.1.7: issuerAltName SHOULD NOT be marked critical; subjectAltName is critical only when
    # the subject is empty (checked against the subject rules when the whole profile is read).
    spec = AltNameSpec(issuer, names, read_critical(table, False))
    table.finish()
    return spec


@dataclass(frozen=True, slots=True)
class NameConstraintsSpec:
    """nameConstraints (RFC 5280 §4.2.1.10): permitted and excluded subtrees."""

    permitted: tuple[x509.GeneralName, ...]
    excluded: tuple[x509.GeneralName, ...]

    def extension(self, build: Build) -> x509.Extension[x509.ExtensionType]:
        value = x509.NameConstraints(list(self.permitted) or None, list(self.excluded) or None)
        return extension(value, True)  # RFC 5280 §4.2.1.10: MUST be critical


def read_name_constraints(parent: Table, key: str) -> NameConstraintsSpec:
    """``name_constraints``: ``permitted`` and ``excluded`` subtrees of ``{ type, value }``."""
    table = parent.table(key)
    table.expect("critical", "permitted", "excluded")
    read_critical(table, True, True, "RFC 5280 §4.2.1.10")
    permitted = tuple(read_subtree(item) for item in table.tables("permitted"))
    excluded = tuple(read_subtree(item) for item in table.tables("excluded"))
    if not permitted and not excluded:
        # RFC 5280 §4.2.1.10: "Conforming CAs MUST NOT issue certificates where name constraints is an
        # empty sequence."
        raise table.error("permitted", "no subtree given", "list permitted and/or excluded subtrees")
    table.finish()
    return NameConstraintsSpec(permitted, excluded)
