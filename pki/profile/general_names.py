"""GeneralNames in profiles (RFC 5280 §4.2.1.6): DNS, email, URI, DirName and otherName entries, fixed in
the profile or taken from the request, and the pool of requested names that specs draw from."""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable
from dataclasses import dataclass

from asn1crypto import core
from cryptography import x509

from pki.errors import IssuanceRefused
from pki.profile.context import IssueContext
from pki.profile.names import read_fixed_name
from pki.profile.schema import Table, parse_oid
from pki.profile.templates import uri_problem

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOST = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")
_LOCAL_PART = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+")


class NameKind(enum.StrEnum):
    """The GeneralName choices a profile can hold, named as profiles write them."""

    dns = "dns"
    email = "email"
    uri = "uri"
    dirname = "dirname"
    other_name = "other_name"


_CLASSES: dict[type[x509.GeneralName], NameKind] = {
    x509.DNSName: NameKind.dns,
    x509.RFC822Name: NameKind.email,
    x509.UniformResourceIdentifier: NameKind.uri,
    x509.DirectoryName: NameKind.dirname,
    x509.OtherName: NameKind.other_name,
}


def kind_of(name: x509.GeneralName) -> NameKind | None:
    """The profile kind of a GeneralName, None for kinds profiles do not handle (IP address, registeredID)."""
    return _CLASSES.get(type(name))


def dns_problem(value: str, wildcard: bool = True) -> str | None:
    """Why ``value`` is not a preferred-syntax DNS name (RFC 5280 §4.2.1.6, RFC 1034 §3.5), or None."""
    host = value[2:] if wildcard and value.startswith("*.") else value
    if len(value) > 253 or not _HOST.fullmatch(host):
        return f"{value!r} is not a DNS name (letters, digits and hyphens in dot-separated labels)"
    return None


def email_problem(value: str) -> str | None:
    """Why ``value`` is not an RFC 5280 §4.2.1.6 rfc822Name (``local@domain``, ASCII), or None."""
    local, at, domain = value.rpartition("@")
    if not at or not _LOCAL_PART.fullmatch(local) or dns_problem(domain, wildcard=False):
        return f"{value!r} is not an email address (local-part@domain, ASCII)"
    return None


def utf8_value(value: str) -> bytes:
    """The DER UTF8String carried as an otherName value."""
    return bytes(core.UTF8String(value).dump())


def other_name(type_id: x509.ObjectIdentifier, value: str) -> x509.OtherName:
    """An otherName ``[0] IMPLICIT SEQUENCE { type-id, value [0] EXPLICIT UTF8String }`` (RFC 5280 §4.2.1.6).

    pyca writes the ``[0] EXPLICIT`` wrapper itself: its ``value`` is the inner UTF8String TLV.
    """
    return x509.OtherName(type_id, utf8_value(value))


def other_name_text(name: x509.OtherName, profile: str) -> str:
    """The text of a requested otherName, which must be a UTF8String."""
    try:
        parsed = core.UTF8String.load(name.value, strict=True)
        return str(parsed.native)
    except (ValueError, TypeError):
        oid = name.type_id.dotted_string
        raise IssuanceRefused(f"profile {profile!r}: otherName {oid} must be a UTF8String") from None


def _value_problem(kind: NameKind, value: str) -> str | None:
    if kind is NameKind.dns:
        return dns_problem(value)
    if kind is NameKind.email:
        return email_problem(value)
    if kind is NameKind.uri:
        return uri_problem(value)
    return None


class RequestPool:
    """The alternative names a request asks for. Specs take what they allow; anything left is refused."""

    def __init__(self, names: Iterable[x509.GeneralName], profile: str) -> None:
        self.profile = profile
        self._names = list(names)

    @classmethod
    def from_context(
        cls, ctx: IssueContext, csr_names: Iterable[x509.GeneralName], profile: str
    ) -> RequestPool:
        """Names given explicitly in the context, then those of the CSR's subjectAltName."""
        others = [other_name(_requested_oid(oid, profile), value) for oid, value in ctx.other_names.items()]
        return cls([*ctx.san, *others, *csr_names], profile)

    def take(self, kind: NameKind, type_id: x509.ObjectIdentifier | None) -> list[x509.GeneralName]:
        """Remove and return the requested names of one kind (and otherName type), checked and normalised."""
        taken = [n for n in self._names if kind_of(n) is kind and _type_id(n) == type_id]
        self._names = [n for n in self._names if n not in taken]
        return [self._checked(kind, name) for name in taken]

    def _checked(self, kind: NameKind, name: x509.GeneralName) -> x509.GeneralName:
        if isinstance(name, x509.OtherName):
            return other_name(name.type_id, other_name_text(name, self.profile))
        problem = _value_problem(kind, name.value) if isinstance(name.value, str) else None
        if problem is not None:
            raise IssuanceRefused(f"profile {self.profile!r}: requested {kind.value} name: {problem}")
        return name

    def check_used(self) -> None:
        """Refuse names the profile did not take: a request cannot add what the profile does not allow."""
        if self._names:
            raise IssuanceRefused(
                f"profile {self.profile!r}: does not allow the requested name {self._names[0]}"
            )


def _type_id(name: x509.GeneralName) -> x509.ObjectIdentifier | None:
    return name.type_id if isinstance(name, x509.OtherName) else None


def _requested_oid(text: str, profile: str) -> x509.ObjectIdentifier:
    oid = parse_oid(text)
    if oid is None:
        raise IssuanceRefused(f"profile {profile!r}: requested otherName type {text!r} is not an OID")
    return oid


@dataclass(frozen=True, slots=True)
class GeneralNameSpec:
    """One entry of a subjectAltName / issuerAltName: a fixed name, or names taken from the request."""

    kind: NameKind
    fixed: x509.GeneralName | None
    """None: taken from the request."""
    type_id: x509.ObjectIdentifier | None = None
    """The otherName type-id (otherName entries only)."""
    required: bool = True
    """For request entries: the request must supply at least one such name."""

    @property
    def from_request(self) -> bool:
        return self.fixed is None

    def resolve(self, pool: RequestPool) -> list[x509.GeneralName]:
        """The names this entry contributes for one certificate."""
        if self.fixed is not None:
            return [self.fixed]
        names = pool.take(self.kind, self.type_id)
        if not names and self.required:
            raise IssuanceRefused(f"profile {pool.profile!r}: the request must give a {self._label()} name")
        if self.kind is NameKind.other_name and len(names) > 1:
            raise IssuanceRefused(
                f"profile {pool.profile!r}: the request gives {self._label()} more than once"
            )
        return names

    def _label(self) -> str:
        return f"otherName {self.type_id.dotted_string}" if self.type_id is not None else self.kind.value


def read_name_spec(table: Table) -> GeneralNameSpec:
    """One ``{ type = ..., value = ... }`` or ``{ type = ..., from_request = true }`` entry."""
    table.expect("type", "type_id", "value", "from_request", "required")
    kind = NameKind(table.choice("type", [k.value for k in NameKind]))
    _only_with(table, "type_id", kind is NameKind.other_name, 'type = "other_name"')
    type_id = table.oid("type_id") if kind is NameKind.other_name else None
    from_request = table.boolean("from_request", False)
    if from_request == table.has("value"):
        raise table.error("value", "give either a fixed value or from_request = true", "keep exactly one")
    _only_with(table, "required", from_request, "from_request = true")
    if from_request:
        return GeneralNameSpec(kind, None, type_id, table.boolean("required", True))
    return GeneralNameSpec(kind, _fixed_name(table, kind, type_id))


def _only_with(table: Table, key: str, allowed: bool, condition: str) -> None:
    if table.has(key) and not allowed:
        raise table.error(key, f"only applies with {condition}", "remove it")


def _fixed_name(table: Table, kind: NameKind, type_id: x509.ObjectIdentifier | None) -> x509.GeneralName:
    if kind is NameKind.dirname:
        return x509.DirectoryName(read_fixed_name(table, "value").build())
    value = table.string("value")
    if type_id is not None:
        return other_name(type_id, value)
    problem = _value_problem(kind, value)
    if problem is not None:
        raise table.error("value", problem, f"write a valid {kind.value} name")
    return _SIMPLE[kind](value)


_SIMPLE: dict[NameKind, type[x509.DNSName | x509.RFC822Name | x509.UniformResourceIdentifier]] = {
    NameKind.dns: x509.DNSName,
    NameKind.email: x509.RFC822Name,
    NameKind.uri: x509.UniformResourceIdentifier,
}


def read_subtree(table: Table) -> x509.GeneralName:
    """A nameConstraints subtree (RFC 5280 §4.2.1.10): DNS domain, email (mailbox, host or .domain), URI host
    or .domain, or a DirName."""
    table.expect("type", "value")
    kind = NameKind(table.choice("type", [k.value for k in NameKind if k is not NameKind.other_name]))
    if kind is NameKind.dirname:
        name: x509.GeneralName = x509.DirectoryName(read_fixed_name(table, "value").build())
    else:
        name = _subtree_value(table, kind, table.string("value"))
    table.finish()
    return name


def _subtree_value(table: Table, kind: NameKind, value: str) -> x509.GeneralName:
    domain = value.removeprefix(".")
    if kind is NameKind.email and "@" in value:
        problem = email_problem(value)
    else:
        problem = dns_problem(domain, wildcard=False)
        if kind is NameKind.dns and value.startswith("."):
            problem = "a dNSName constraint has no leading dot (RFC 5280 §4.2.1.10)"
    if problem is not None:
        raise table.error("value", problem, f"write a {kind.value} constraint such as 'example.jp'")
    return _SIMPLE[kind](value)
