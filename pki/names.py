"""Distinguished names with explicit string types (PrintableString vs UTF8String), as real CAs encode them."""

from __future__ import annotations

from dataclasses import dataclass

from cryptography import x509
from cryptography.x509.oid import NameOID, ObjectIdentifier

from pki.profile.names import StringType

SHORT_NAMES: dict[str, ObjectIdentifier] = {
    "C": NameOID.COUNTRY_NAME,
    "ST": NameOID.STATE_OR_PROVINCE_NAME,
    "L": NameOID.LOCALITY_NAME,
    "O": NameOID.ORGANIZATION_NAME,
    "OU": NameOID.ORGANIZATIONAL_UNIT_NAME,
    "CN": NameOID.COMMON_NAME,
    "serialNumber": NameOID.SERIAL_NUMBER,
    "DC": NameOID.DOMAIN_COMPONENT,
    "emailAddress": NameOID.EMAIL_ADDRESS,
}


@dataclass(frozen=True, slots=True)
class NameAttribute:
    """One RDN of a name: short attribute name, value and string type."""

    attr: str
    value: str
    string_type: StringType

    def problem(self) -> str | None:
        """Why this attribute cannot be encoded as asked, or None."""
        if self.attr not in SHORT_NAMES:
            return f"unknown attribute {self.attr!r} (known: {', '.join(SHORT_NAMES)})"
        if not self.value:
            return "empty value"
        encoding = self.string_type.problem(self.value)
        if encoding is not None:
            return f"{self.value!r}: {encoding}"
        if self.attr == "C" and (len(self.value) != 2 or self.string_type is not StringType.printable):
            return "C must be a two-letter PrintableString (RFC 5280 §4.1.2.4)"
        return None

    def to_x509(self) -> x509.NameAttribute[str]:
        return x509.NameAttribute(SHORT_NAMES[self.attr], self.value, _type=self.string_type.asn1)


def build_name(attributes: tuple[NameAttribute, ...] | list[NameAttribute]) -> x509.Name:
    """One attribute per RDN, in the given order (the order real JPKI and LGPKI names use)."""
    return x509.Name([x509.RelativeDistinguishedName([a.to_x509()]) for a in attributes])
