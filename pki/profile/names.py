"""Distinguished names: the attribute types a profile may name, their string types (PrintableString,
UTF8String, IA5String) and upper bounds, fixed names (DirName values), and the subject rules that turn a
requested name into the subject a certificate carries."""

from __future__ import annotations

import enum
import itertools
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeAlias

from cryptography import x509
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import NameOID

from pki.errors import IssuanceRefused
from pki.profile.schema import Table, parse_oid, suggest

# X.680 §41.4: the PrintableString character set.
_PRINTABLE = re.compile(r"[A-Za-z0-9 '()+,\-./:=?]*")


class StringType(enum.StrEnum):
    """The ASN.1 string type of a name attribute value, named as profiles write it."""

    printable = "printable"
    utf8 = "utf8"
    ia5 = "ia5"

    @property
    def asn1(self) -> _ASN1Type:
        """pyca's tag for the type."""
        return _ASN1_TYPES[self]

    def problem(self, value: str) -> str | None:
        """Why ``value`` cannot be encoded as this type, or None when it can."""
        if self is StringType.printable and not _PRINTABLE.fullmatch(value):
            bad = next(ch for ch in value if not _PRINTABLE.fullmatch(ch))
            return f"{bad!r} is not a PrintableString character (A-Z a-z 0-9 space ' ( ) + , - . / : = ?)"
        if self is StringType.ia5 and not value.isascii():
            return "IA5String allows ASCII characters only"
        if any(unicodedata.category(ch) == "Cc" for ch in value):
            return "control characters are not allowed in names"
        return None


_ASN1_TYPES = {
    StringType.printable: _ASN1Type.PrintableString,
    StringType.utf8: _ASN1Type.UTF8String,
    StringType.ia5: _ASN1Type.IA5String,
}
_DIRECTORY = frozenset({StringType.printable, StringType.utf8})
"""DirectoryString choices we emit (RFC 5280 §4.1.2.6: new names use PrintableString or UTF8String)."""


@dataclass(frozen=True, slots=True)
class AttributeType:
    """A name attribute type: short name, OID, the string types X.520 allows and its upper bound."""

    name: str
    oid: x509.ObjectIdentifier
    default_type: StringType
    types: frozenset[StringType]
    max_length: int | None
    """RFC 5280 Appendix A.1 ``ub-*`` upper bound in characters; None where X.520 sets none."""
    exact_length: int | None = None

    def problem(self, value: str, string_type: StringType) -> str | None:
        """Why ``value`` is not a valid value of this attribute encoded as ``string_type``."""
        if not value:
            return "an empty value is not allowed"
        if self.exact_length is not None and len(value) != self.exact_length:
            return f"{self.name} must be exactly {self.exact_length} characters"
        if self.max_length is not None and len(value) > self.max_length:
            return f"{len(value)} characters is over the upper bound of {self.max_length} for {self.name}"
        return string_type.problem(value)


def _attribute(
    name: str, oid: x509.ObjectIdentifier, bound: int | None, types: frozenset[StringType] = _DIRECTORY
) -> AttributeType:
    default = StringType.utf8 if StringType.utf8 in types else next(iter(types))
    return AttributeType(name, oid, default, types, bound, exact_length=2 if name == "C" else None)


_PRINTABLE_ONLY = frozenset({StringType.printable})
_IA5_ONLY = frozenset({StringType.ia5})
ATTRIBUTES: Mapping[str, AttributeType] = {
    a.name: a
    for a in (
        # RFC 5280 Appendix A.1: countryName, serialNumber and dnQualifier are PrintableString.
        _attribute("C", NameOID.COUNTRY_NAME, 2, _PRINTABLE_ONLY),
        _attribute("ST", NameOID.STATE_OR_PROVINCE_NAME, 128),
        _attribute("L", NameOID.LOCALITY_NAME, 128),
        _attribute("street", NameOID.STREET_ADDRESS, 128),
        _attribute("postalCode", NameOID.POSTAL_CODE, 40),
        _attribute("O", NameOID.ORGANIZATION_NAME, 64),
        _attribute("OU", NameOID.ORGANIZATIONAL_UNIT_NAME, 64),
        _attribute("organizationIdentifier", NameOID.ORGANIZATION_IDENTIFIER, None),
        _attribute("title", NameOID.TITLE, 64),
        _attribute("CN", NameOID.COMMON_NAME, 64),
        _attribute("SN", NameOID.SURNAME, 32768),
        _attribute("givenName", NameOID.GIVEN_NAME, 32768),
        _attribute("initials", NameOID.INITIALS, 32768),
        _attribute("generationQualifier", NameOID.GENERATION_QUALIFIER, 32768),
        _attribute("pseudonym", NameOID.PSEUDONYM, 128),
        _attribute("serialNumber", NameOID.SERIAL_NUMBER, 64, _PRINTABLE_ONLY),
        _attribute("dnQualifier", NameOID.DN_QUALIFIER, None, _PRINTABLE_ONLY),
        # RFC 4519 §2.4 domainComponent and PKCS #9 emailAddress are IA5String.
        _attribute("DC", NameOID.DOMAIN_COMPONENT, 63, _IA5_ONLY),
        _attribute("emailAddress", NameOID.EMAIL_ADDRESS, 255, _IA5_ONLY),
    )
}
_BY_OID = {a.oid: a for a in ATTRIBUTES.values()}
_BY_LOWER = {name.lower(): a for name, a in ATTRIBUTES.items()}


def attribute_type(name: str) -> AttributeType | None:
    """An attribute by short name (case-insensitive) or dotted OID; unknown OIDs get a generic type."""
    known = _BY_LOWER.get(name.lower())
    if known is not None:
        return known
    oid = parse_oid(name)
    if oid is None:
        return None
    return _BY_OID.get(oid) or AttributeType(name, oid, StringType.utf8, _DIRECTORY | _IA5_ONLY, None)


def attribute_of_oid(oid: x509.ObjectIdentifier) -> AttributeType:
    """The attribute type of an OID found in a requested name."""
    return _BY_OID.get(oid) or AttributeType(oid.dotted_string, oid, StringType.utf8, _DIRECTORY, None)


def read_attribute(table: Table, key: str = "attr") -> AttributeType:
    """The ``attr`` key of a name entry."""
    name = table.string(key, '"CN"')
    found = attribute_type(name)
    if found is None:
        raise table.error(key, f"unknown attribute {name!r}", suggest(name, ATTRIBUTES))
    return found


def read_string_type(table: Table, attr: AttributeType) -> StringType:
    """The ``type`` of a name entry: the attribute's usual type by default, checked against X.520."""
    chosen = StringType(table.choice("type", [t.value for t in StringType], attr.default_type.value))
    if chosen not in attr.types:
        allowed = " or ".join(sorted(t.value for t in attr.types))
        raise table.error("type", f"{attr.name} cannot be a {chosen.value} string", f"use {allowed}")
    return chosen


def name_attribute(attr: AttributeType, value: str, string_type: StringType) -> x509.NameAttribute[str]:
    """One attribute with its string type fixed (pyca would otherwise pick UTF8String for most)."""
    return x509.NameAttribute(attr.oid, value, _type=string_type.asn1)


def single_rdn_name(attributes: Iterable[x509.NameAttribute[str]]) -> x509.Name:
    """A Name with one attribute per RDN, in the given order (as X.501 DNs are written in certificates)."""
    return x509.Name([x509.RelativeDistinguishedName([a]) for a in attributes])


@dataclass(frozen=True, slots=True)
class NameEntry:
    """One attribute of a fixed name in a profile (a DirName value)."""

    attr: AttributeType
    value: str
    string_type: StringType

    def attribute(self) -> x509.NameAttribute[str]:
        return name_attribute(self.attr, self.value, self.string_type)


@dataclass(frozen=True, slots=True)
class FixedName:
    """A distinguished name written out in a profile: ordered ``{attr, value, type}`` entries."""

    entries: tuple[NameEntry, ...]

    def build(self) -> x509.Name:
        return single_rdn_name(entry.attribute() for entry in self.entries)


def read_fixed_name(parent: Table, key: str) -> FixedName:
    """An array of ``{ attr, value, type }`` tables under ``key``; at least one entry."""
    entries = tuple(_read_name_entry(table) for table in parent.tables(key))
    if not entries:
        raise parent.error(key, "an empty name", 'list its attributes: [{ attr = "C", value = "JP" }, ...]')
    return FixedName(entries)


def _read_name_entry(table: Table) -> NameEntry:
    table.expect("attr", "value", "type")
    attr = read_attribute(table)
    string_type = read_string_type(table, attr)
    value = table.string("value")
    problem = attr.problem(value, string_type)
    if problem is not None:
        raise table.error("value", problem, f"write a valid {string_type.value} {attr.name} value")
    table.finish()
    return NameEntry(attr, value, string_type)


RequestedSubject: TypeAlias = x509.Name | Mapping[str, str | Sequence[str]] | Sequence[tuple[str, str]]
"""A subject as requested: a CSR's Name, a mapping attr -> value(s), or ordered (attr, value) pairs."""


@dataclass(frozen=True, slots=True)
class SubjectRule:
    """One position in the subject: which attribute, its string type, and how many values it takes."""

    attr: AttributeType
    string_type: StringType
    required: bool
    multi: bool
    """Takes one or more consecutive values (two OUs, two Ls)."""
    value: str | None
    """A fixed value: filled in when the request omits it, and the only value accepted."""

    def take(self, pending: list[tuple[AttributeType, str]]) -> list[str]:
        """Consume the values this rule matches from the front of ``pending``."""
        taken: list[str] = []
        while pending and pending[0][0].oid == self.attr.oid and (self.multi or not taken):
            if self.value is not None and pending[0][1] != self.value:
                break
            taken.append(pending.pop(0)[1])
        return taken


@dataclass(frozen=True, slots=True)
class SubjectRules:
    """The ordered subject rules of a profile."""

    rules: tuple[SubjectRule, ...]

    @property
    def may_be_empty(self) -> bool:
        """True when no attribute is required or fixed, so a subject can be an empty sequence."""
        return not any(rule.required or rule.value is not None for rule in self.rules)

    def build(self, requested: RequestedSubject, profile: str) -> x509.Name:
        """The subject for a request: profile order, fixed values filled in, string types applied."""
        pending = self._ordered(requested, profile)
        attributes = [a for rule in self.rules for a in self._apply(rule, pending, profile)]
        if pending:
            raise IssuanceRefused(self._leftover(pending[0], profile))
        return single_rdn_name(attributes)

    def _apply(
        self, rule: SubjectRule, pending: list[tuple[AttributeType, str]], profile: str
    ) -> list[x509.NameAttribute[str]]:
        values = rule.take(pending) or ([rule.value] if rule.value is not None else [])
        if not values and rule.required:
            # Something in the way (a wrong fixed value, a misplaced attribute) is the better message.
            missing = f"profile {profile!r}: the subject needs {rule.attr.name}"
            raise IssuanceRefused(self._leftover(pending[0], profile) if pending else missing)
        return [self._checked(rule, value, profile) for value in values]

    @staticmethod
    def _checked(rule: SubjectRule, value: str, profile: str) -> x509.NameAttribute[str]:
        problem = rule.attr.problem(value, rule.string_type)
        if problem is not None:
            raise IssuanceRefused(f"profile {profile!r}: subject {rule.attr.name}={value!r}: {problem}")
        return name_attribute(rule.attr, value, rule.string_type)

    def _leftover(self, item: tuple[AttributeType, str], profile: str) -> str:
        attr, value = item
        rules = [rule for rule in self.rules if rule.attr.oid == attr.oid]
        fixed = [rule.value for rule in rules if rule.value is not None]
        if rules and len(fixed) == len(rules):
            why = "must be " + " or ".join(repr(v) for v in fixed)
        elif rules:
            why = "is out of order or repeated (order: " + ", ".join(r.attr.name for r in self.rules) + ")"
        else:
            return f"profile {profile!r}: subject attribute {attr.name} is not allowed by the profile"
        return f"profile {profile!r}: subject {attr.name}={value!r} {why}"

    def _ordered(self, requested: RequestedSubject, profile: str) -> list[tuple[AttributeType, str]]:
        if isinstance(requested, x509.Name):
            return _from_name(requested, profile)
        if isinstance(requested, Mapping):
            return self._from_mapping(requested, profile)
        return [(_requested_attribute(name, profile), value) for name, value in requested]

    def _from_mapping(
        self, requested: Mapping[str, str | Sequence[str]], profile: str
    ) -> list[tuple[AttributeType, str]]:
        """A mapping has no order of its own: its values are placed in the profile's order."""
        by_oid: dict[x509.ObjectIdentifier, list[str]] = {}
        for name, values in requested.items():
            attr = _requested_attribute(name, profile)
            by_oid.setdefault(attr.oid, []).extend([values] if isinstance(values, str) else values)
        order = [*dict.fromkeys(rule.attr.oid for rule in self.rules), *by_oid]
        return [(attribute_of_oid(oid), value) for oid in order for value in by_oid.pop(oid, [])]


def _requested_attribute(name: str, profile: str) -> AttributeType:
    found = attribute_type(name)
    if found is None:
        raise IssuanceRefused(f"profile {profile!r}: unknown subject attribute {name!r}")
    return found


def _from_name(name: x509.Name, profile: str) -> list[tuple[AttributeType, str]]:
    """The (attribute, value) pairs of a requested Name; its string types are ignored (the profile's win)."""
    pairs: list[tuple[AttributeType, str]] = []
    for rdn in name.rdns:
        if len(rdn) != 1:
            raise IssuanceRefused(
                f"profile {profile!r}: multi-valued RDN {rdn.rfc4514_string()} is not allowed"
            )
        (attribute,) = list(rdn)
        if not isinstance(attribute.value, str):
            raise IssuanceRefused(f"profile {profile!r}: {attribute.oid.dotted_string} is not a string")
        pairs.append((attribute_of_oid(attribute.oid), attribute.value))
    return pairs


def read_subject_rules(root: Table) -> SubjectRules:
    """The ``[[subject]]`` array: one table per position."""
    rules = tuple(_read_subject_rule(table) for table in root.tables("subject"))
    _check_runs(root, rules)
    return SubjectRules(rules)


def _read_subject_rule(table: Table) -> SubjectRule:
    table.expect("attr", "type", "multi", "value", "required")
    attr = read_attribute(table)
    string_type = read_string_type(table, attr)
    multi = table.boolean("multi", False)
    value = table.opt_string("value")
    required = table.boolean("required", True)
    if value is not None:
        _check_fixed_value(table, attr, string_type, value, multi)
    table.finish()
    return SubjectRule(attr, string_type, required, multi, value)


def _check_fixed_value(
    table: Table, attr: AttributeType, string_type: StringType, value: str, multi: bool
) -> None:
    if multi:
        raise table.error(
            "value", "a fixed value cannot be multi-valued", "write one [[subject]] per fixed value"
        )
    problem = attr.problem(value, string_type)
    if problem is not None:
        raise table.error("value", problem, f"write a valid {string_type.value} {attr.name} value")


def _check_runs(root: Table, rules: tuple[SubjectRule, ...]) -> None:
    """A multi-valued rule followed by another rule for the same attribute would be ambiguous."""
    for index, (first, second) in enumerate(itertools.pairwise(rules)):
        if first.multi and first.attr.oid == second.attr.oid:
            raise root.error(
                f"subject[{index + 1}]",
                f"follows a multi-valued {first.attr.name} rule for the same attribute",
                "merge the two rules or put another attribute between them",
            )
