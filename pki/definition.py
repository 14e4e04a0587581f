"""The PKI definition: which CAs exist, their names and keys, who issues whom, what they issue, CRL policy.

A TOML file (``pki/definitions/default.toml`` is the shipped one) validated into frozen objects; every
error names the file, the key and the fix. CAs come out ordered so that an issuer precedes what it issues.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from dataclasses import dataclass
from pathlib import Path

from hsm import KeyKind
from pki.model import CaId
from pki.names import NameAttribute
from pki.profile.names import StringType
from pki.profile.schema import Table, load_table

DEFAULT_DEFINITION = Path(__file__).parent / "definitions" / "default.toml"
_CA_ID = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")


@dataclass(frozen=True, slots=True)
class CrlPolicy:
    """How a CA publishes revocation lists."""

    next_update: dt.timedelta
    """Complete CRLs are valid this long (nextUpdate - thisUpdate)."""
    delta_next_update: dt.timedelta | None
    """Delta CRLs are published and valid this long; None = no deltas."""
    shards: int
    """0: one complete CRL. N: also N partitioned CRLs, each certificate's CRLDP naming its own shard."""
    arl: bool
    """Also publish an authority revocation list (onlyContainsCACerts) for the CA certificates it issued."""
    after_revocation: bool
    """Regenerate right after each revocation, not only on schedule."""
    dirname_dp: bool
    """Put the CA's own name as a DirName in CRL distribution points (JPKI, LGPKI), besides HTTP URLs."""


class OcspSigner(enum.StrEnum):
    """Who signs a CA's OCSP responses (RFC 6960 §4.2.2.2)."""

    delegated = "delegated"
    """A short-lived responder certificate from the CA (profile ``ocsp-responder``), renewed automatically."""
    ca = "ca"
    """The CA key itself."""


class OcspAccess(enum.StrEnum):
    """Who may ask a CA's OCSP responder."""

    public = "public"
    registered = "registered"
    """Only authenticated registered verifiers (JPKI's OCSP serves platform businesses and public bodies)."""


@dataclass(frozen=True, slots=True)
class OcspPolicy:
    """How a CA's OCSP responses are made."""

    signer: OcspSigner
    next_update: dt.timedelta
    """nextUpdate - thisUpdate of every response (pre-signed ones are refreshed before they reach it)."""
    refresh_before: dt.timedelta
    """Pre-signed responses are re-signed when less than this is left before their nextUpdate."""
    nonce: bool
    """Answer nonce requests online with the nonce echoed; False: ignore nonces (RFC 8954 §2.2)."""
    access: OcspAccess
    responder_renew_before: dt.timedelta
    """A new responder certificate is issued when less than this is left of the current one."""


@dataclass(frozen=True, slots=True)
class CrossCertificate:
    """This CA certifies another CA of the definition (bridge cross-certification)."""

    subject: CaId
    profile: str


@dataclass(frozen=True, slots=True)
class CaDefinition:
    """One CA as declared."""

    id: CaId
    subject: tuple[NameAttribute, ...]
    issuer: CaId | None
    """None: self-signed root."""
    profile: str
    """Profile of the CA's own certificate."""
    key: KeyKind
    key_uri: str | None
    """Set in the file for an existing key; None lets ``jlis init`` create one."""
    issues: tuple[str, ...]
    """End-entity profiles this CA may issue."""
    crl: CrlPolicy
    hold_release: bool
    """certificateHold may be released (RFC 5280 removeFromCRL); JPKI never releases."""
    cross: tuple[CrossCertificate, ...]
    ocsp: OcspPolicy


@dataclass(frozen=True, slots=True)
class PkiDefinition:
    base_url: str
    """Where ``jlis serve`` answers; CRLDP and AIA URLs in certificates point here."""
    audit_key: KeyKind
    cas: tuple[CaDefinition, ...]
    file: str

    def ca(self, ca_id: str) -> CaDefinition:
        for ca in self.cas:
            if ca.id == ca_id:
                return ca
        raise KeyError(ca_id)


_KEY_KINDS = [kind.value for kind in KeyKind]
_CA_KEYS = (
    "id", "subject", "issuer", "profile", "key", "key_uri", "issues", "crl", "hold_release", "cross", "ocsp"
)  # fmt: skip
_OCSP_KEYS = (
    "signer",
    "next_update_minutes",
    "refresh_before_minutes",
    "nonce",
    "access",
    "responder_renew_before_days",
)
_OCSP_RESPONDER_PROFILE = "ocsp-responder"
_CRL_KEYS = (
    "next_update_hours",
    "delta_next_update_hours",
    "shards",
    "arl",
    "regenerate_after_revocation",
    "dirname_distribution_point",
)


def load_definition(path: Path = DEFAULT_DEFINITION) -> PkiDefinition:
    """Read and validate a PKI definition."""
    root = load_table(path)
    root.expect("pki", "ca")
    pki = root.table("pki")
    pki.expect("base_url", "audit_key")
    base_url = pki.string("base_url", '"http://127.0.0.1:8080"').rstrip("/")
    if not re.fullmatch(r"https?://[^\s/]+(/[^\s]*)?", base_url):
        raise pki.error(
            "base_url", f"{base_url!r} is not an http(s) URL", 'write e.g. "http://127.0.0.1:8080"'
        )
    audit_key = KeyKind(pki.choice("audit_key", _KEY_KINDS, KeyKind.P256.value))
    cas = [_ca(section) for section in root.tables("ca")]
    if not cas:
        raise root.error("ca", "no CA is declared", "add at least one [[ca]] table")
    return PkiDefinition(base_url, audit_key, _ordered(root, cas), root.file)


def _ca(section: Table) -> CaDefinition:
    section.expect(*_CA_KEYS)
    ca_id = section.string("id")
    if not _CA_ID.fullmatch(ca_id):
        raise section.error(
            "id", f"{ca_id!r} is not a valid CA id", "use lowercase letters, digits, '.', '_', '-'"
        )
    issuer = section.opt_string("issuer") or "self"
    crl = section.opt_table("crl")
    ocsp = section.opt_table("ocsp")
    issues = section.strings("issues")
    return CaDefinition(
        id=CaId(ca_id),
        subject=_subject(section),
        issuer=None if issuer == "self" else CaId(issuer),
        profile=section.opt_string("profile") or ("root-ca" if issuer == "self" else "sub-ca"),
        key=KeyKind(section.choice("key", _KEY_KINDS, KeyKind.RSA2048.value)),
        key_uri=section.opt_string("key_uri"),
        issues=issues,
        crl=_crl_policy(crl if crl is not None else Table(section.file, section.key_path("crl"), {})),
        hold_release=section.boolean("hold_release", False),
        cross=tuple(_cross(item) for item in section.tables("cross")),
        ocsp=_ocsp_policy(
            ocsp if ocsp is not None else Table(section.file, section.key_path("ocsp"), {}), issues
        ),
    )


def _ocsp_policy(section: Table, issues: tuple[str, ...]) -> OcspPolicy:
    """``[ca.ocsp]``; a delegated responder needs the CA to issue the ``ocsp-responder`` profile."""
    section.expect(*_OCSP_KEYS)
    default = OcspSigner.delegated if _OCSP_RESPONDER_PROFILE in issues else OcspSigner.ca
    signer = OcspSigner(section.choice("signer", [s.value for s in OcspSigner], default.value))
    if signer is OcspSigner.delegated and _OCSP_RESPONDER_PROFILE not in issues:
        raise section.error(
            "signer",
            "a delegated responder needs a certificate from this CA",
            f'add "{_OCSP_RESPONDER_PROFILE}" to the CA\'s issues, or set signer = "ca"',
        )
    next_update = _minutes(section, "next_update_minutes", 60)
    refresh = _minutes(section, "refresh_before_minutes", 15)
    if refresh >= next_update:
        raise section.error(
            "refresh_before_minutes", "must be shorter than next_update_minutes", "re-sign before nextUpdate"
        )
    renew = _days(section, "responder_renew_before_days", 2)  # the lifetime is the profile's (7 days)
    return OcspPolicy(
        signer=signer,
        next_update=next_update,
        refresh_before=refresh,
        nonce=section.boolean("nonce", True),
        access=OcspAccess(section.choice("access", [a.value for a in OcspAccess], OcspAccess.public.value)),
        responder_renew_before=renew,
    )


def _minutes(section: Table, name: str, default: float) -> dt.timedelta:
    raw = section.number(name, default)
    if not 0 < raw <= 60 * 24 * 31:
        raise section.error(name, f"{raw:g} minutes is out of range", "give minutes between 0 and 44640")
    return dt.timedelta(minutes=raw)


def _days(section: Table, name: str, default: float) -> dt.timedelta:
    raw = section.number(name, default)
    if not 0 < raw <= 366:
        raise section.error(name, f"{raw:g} days is out of range", "give days between 0 and 366")
    return dt.timedelta(days=raw)


def _subject(section: Table) -> tuple[NameAttribute, ...]:
    attributes = []
    for item in section.tables("subject"):
        item.expect("attr", "value", "type")
        kind = StringType(item.choice("type", [t.value for t in StringType], StringType.utf8.value))
        attribute = NameAttribute(item.string("attr", '"CN"'), item.string("value"), kind)
        problem = attribute.problem()
        if problem:
            raise item.error("attr", problem, "fix the attribute, its value or its type")
        attributes.append(attribute)
    if not attributes:
        raise section.error("subject", "is required", 'add subject = [{ attr = "CN", value = "..." }]')
    return tuple(attributes)


def _hours(section: Table, name: str, default: float | None) -> dt.timedelta | None:
    if default is None and not section.has(name):
        return None
    raw = section.number(name, default if default is not None else 0.0)
    if not 0 < raw <= 24 * 366:
        raise section.error(name, f"{raw:g} hours is out of range", "give hours between 0 and 8784")
    return dt.timedelta(hours=raw)


def _crl_policy(section: Table) -> CrlPolicy:
    section.expect(*_CRL_KEYS)
    next_update = _hours(section, "next_update_hours", 24)
    assert next_update is not None  # a default is given
    delta = _hours(section, "delta_next_update_hours", None)
    if delta is not None and delta >= next_update:
        raise section.error(
            "delta_next_update_hours",
            "deltas must be published more often than full CRLs",
            "make it smaller than next_update_hours",
        )
    shards = section.opt_integer("shards", minimum=0) or 0
    if shards > 4096:
        raise section.error("shards", f"{shards} is out of range", "use 0 (no sharding) to 4096")
    return CrlPolicy(
        next_update=next_update,
        delta_next_update=delta,
        shards=shards,
        arl=section.boolean("arl", False),
        after_revocation=section.boolean("regenerate_after_revocation", True),
        dirname_dp=section.boolean("dirname_distribution_point", False),
    )


def _cross(section: Table) -> CrossCertificate:
    section.expect("subject", "profile")
    return CrossCertificate(CaId(section.string("subject")), section.opt_string("profile") or "cross-ca")


def _ordered(root: Table, cas: list[CaDefinition]) -> tuple[CaDefinition, ...]:
    """Issuers before the CAs they issue; unknown issuers, duplicates and cycles are errors."""
    by_id: dict[str, CaDefinition] = {}
    for ca in cas:
        if ca.id in by_id:
            raise root.error("ca", f"CA id {ca.id!r} is declared twice", "give every CA its own id")
        by_id[ca.id] = ca
    for ca in cas:
        for other in [ca.issuer, *(c.subject for c in ca.cross)]:
            if other is not None and other not in by_id:
                raise root.error(
                    f"ca.{ca.id}", f"refers to unknown CA {other!r}", f"declare {other!r} or fix the id"
                )
    ordered: list[CaDefinition] = []
    while len(ordered) < len(cas):
        ready = [c for c in cas if c not in ordered and (c.issuer is None or by_id[c.issuer] in ordered)]
        if not ready:
            stuck = ", ".join(c.id for c in cas if c not in ordered)
            raise root.error("ca", f"issuers form a cycle among {stuck}", "make one of them self-signed")
        ordered.extend(ready)
    return tuple(ordered)
