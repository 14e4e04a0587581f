"""keyUsage, extendedKeyUsage, basicConstraints, the key identifiers and id-pkix-ocsp-nocheck."""

from __future__ import annotations

from dataclasses import dataclass

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from pki.profile.build import Build, extension, read_critical
from pki.profile.schema import Table, parse_oid, suggest

# RFC 5280 §4.2.1.3 KeyUsage bit names, mapped to pyca's constructor arguments.
KEY_USAGES = {
    "digitalSignature": "digital_signature",
    "nonRepudiation": "content_commitment",
    "keyEncipherment": "key_encipherment",
    "dataEncipherment": "data_encipherment",
    "keyAgreement": "key_agreement",
    "keyCertSign": "key_cert_sign",
    "cRLSign": "crl_sign",
    "encipherOnly": "encipher_only",
    "decipherOnly": "decipher_only",
}
_KEY_USAGE_ALIASES = {"contentCommitment": "nonRepudiation"}
"""X.509 (2008) renamed nonRepudiation to contentCommitment; both spellings are accepted."""

# RFC 5280 §4.2.1.12 key purposes (and anyExtendedKeyUsage), by the names the RFC gives them.
KEY_PURPOSES = {
    "serverAuth": ExtendedKeyUsageOID.SERVER_AUTH,
    "clientAuth": ExtendedKeyUsageOID.CLIENT_AUTH,
    "codeSigning": ExtendedKeyUsageOID.CODE_SIGNING,
    "emailProtection": ExtendedKeyUsageOID.EMAIL_PROTECTION,
    "timeStamping": ExtendedKeyUsageOID.TIME_STAMPING,
    "OCSPSigning": ExtendedKeyUsageOID.OCSP_SIGNING,
    "anyExtendedKeyUsage": ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE,
}


@dataclass(frozen=True, slots=True)
class KeyUsageSpec:
    """keyUsage (RFC 5280 §4.2.1.3)."""

    usages: frozenset[str]
    critical: bool

    def extension(self, build: Build) -> x509.Extension[x509.ExtensionType]:
        flags = {argument: name in self.usages for name, argument in KEY_USAGES.items()}
        return extension(x509.KeyUsage(**flags), self.critical)


def read_key_usage(parent: Table, key: str) -> KeyUsageSpec:
    """``key_usage``: ``usages`` (RFC 5280 bit names), ``critical`` (default true)."""
    table = parent.table(key)
    table.expect("critical", "usages")
    usages = frozenset(_usage(table, index, name) for index, name in enumerate(table.strings("usages")))
    if not usages:
        raise table.error(
            "usages", "no key usage given", 'list at least one, e.g. usages = ["digitalSignature"]'
        )
    if usages & {"encipherOnly", "decipherOnly"} and "keyAgreement" not in usages:
        raise table.error(
            "usages", "encipherOnly/decipherOnly need keyAgreement (RFC 5280 §4.2.1.3)", "add it"
        )
    # RFC 5280 §4.2.1.3: "When present, conforming CAs SHOULD mark this extension as critical."
    spec = KeyUsageSpec(usages, read_critical(table, True))
    table.finish()
    return spec


def _usage(table: Table, index: int, name: str) -> str:
    name = _KEY_USAGE_ALIASES.get(name, name)
    if name not in KEY_USAGES:
        raise table.error(f"usages[{index}]", f"unknown key usage {name!r}", suggest(name, KEY_USAGES))
    return name


@dataclass(frozen=True, slots=True)
class ExtendedKeyUsageSpec:
    """extendedKeyUsage (RFC 5280 §4.2.1.12)."""

    purposes: tuple[x509.ObjectIdentifier, ...]
    critical: bool

    def extension(self, build: Build) -> x509.Extension[x509.ExtensionType]:
        return extension(x509.ExtendedKeyUsage(list(self.purposes)), self.critical)


def read_extended_key_usage(parent: Table, key: str) -> ExtendedKeyUsageSpec:
    """``extended_key_usage``: ``usages`` (RFC 5280 names or OIDs), ``critical`` (default false)."""
    table = parent.table(key)
    table.expect("critical", "usages")
    names = table.strings("usages")
    purposes = tuple(dict.fromkeys(_purpose(table, index, name) for index, name in enumerate(names)))
    if not purposes:
        raise table.error("usages", "no key purpose given", 'list at least one, e.g. usages = ["serverAuth"]')
    spec = ExtendedKeyUsageSpec(purposes, read_critical(table, False))
    table.finish()
    return spec


def _purpose(table: Table, index: int, name: str) -> x509.ObjectIdentifier:
    oid = KEY_PURPOSES.get(name) or parse_oid(name)
    if oid is None:
        fix = suggest(name, KEY_PURPOSES) + " (or a dotted OID)"
        raise table.error(f"usages[{index}]", f"unknown key purpose {name!r}", fix)
    return oid


@dataclass(frozen=True, slots=True)
class BasicConstraintsSpec:
    """basicConstraints (RFC 5280 §4.2.1.9)."""

    ca: bool
    path_len: int | None
    critical: bool

    def extension(self, build: Build) -> x509.Extension[x509.ExtensionType]:
        return extension(x509.BasicConstraints(self.ca, self.path_len), self.critical)


def read_basic_constraints(parent: Table, key: str) -> BasicConstraintsSpec:
    """``basic_constraints``: ``ca``, ``path_len`` (absent: no limit), ``critical`` (default true)."""
    table = parent.table(key)
    table.expect("critical", "ca", "path_len")
    ca = table.boolean("ca", False)
    path_len = table.opt_integer("path_len")
    if path_len is not None and not ca:
        raise table.error(
            "path_len", "pathLenConstraint needs ca = true (RFC 5280 §4.2.1.9)", "remove path_len"
        )
    # RFC 5280 §4.2.1.9: MUST be critical in CA certificates whose keys verify certificate signatures.
    critical = read_critical(table, True, True, "RFC 5280 §4.2.1.9") if ca else read_critical(table, True)
    table.finish()
    return BasicConstraintsSpec(ca, path_len, critical)


@dataclass(frozen=True, slots=True)
class SubjectKeyIdentifierSpec:
    """subjectKeyIdentifier, method (1) of RFC 5280 §4.2.1.2: SHA-1 of the subjectPublicKey BIT STRING."""

    def extension(self, build: Build) -> x509.Extension[x509.ExtensionType]:
        key_id = x509.SubjectKeyIdentifier.from_public_key(build.ctx.subject_public_key)
        return extension(key_id, False)  # RFC 5280 §4.2.1.2: MUST be non-critical


@dataclass(frozen=True, slots=True)
class AuthorityKeyIdentifierSpec:
    """authorityKeyIdentifier (RFC 5280 §4.2.1.1): the issuer's subjectKeyIdentifier as keyIdentifier."""

    def extension(self, build: Build) -> x509.Extension[x509.ExtensionType]:
        ctx = build.ctx
        if ctx.issuer_key_id is not None:
            value = x509.AuthorityKeyIdentifier(ctx.issuer_key_id, None, None)
        else:
            value = x509.AuthorityKeyIdentifier.from_issuer_public_key(ctx.issuer_public_key)
        return extension(value, False)  # RFC 5280 §4.2.1.1: MUST be non-critical


@dataclass(frozen=True, slots=True)
class OcspNoCheckSpec:
    """id-pkix-ocsp-nocheck (RFC 6960 §4.2.2.2.1): relying parties need not check the responder's status."""

    def extension(self, build: Build) -> x509.Extension[x509.ExtensionType]:
        return extension(x509.OCSPNoCheck(), False)


def read_presence(parent: Table, key: str) -> bool:
    """A presence-only extension: ``key = true`` / ``false``, or an empty table (``[extensions.key]``, which
    lets the file place it anywhere in the extension order)."""
    if isinstance(parent.raw(key), dict):
        parent.table(key).finish()
        return True
    return parent.boolean(key, False)


def read_subject_key_identifier(parent: Table, key: str) -> SubjectKeyIdentifierSpec | None:
    """``subject_key_identifier = true``."""
    return SubjectKeyIdentifierSpec() if read_presence(parent, key) else None


def read_authority_key_identifier(parent: Table, key: str) -> AuthorityKeyIdentifierSpec | None:
    """``authority_key_identifier = true``."""
    return AuthorityKeyIdentifierSpec() if read_presence(parent, key) else None


def read_ocsp_no_check(parent: Table, key: str) -> OcspNoCheckSpec | None:
    """``ocsp_no_check = true`` (OCSP responder profiles only)."""
    return OcspNoCheckSpec() if read_presence(parent, key) else None
