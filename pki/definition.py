"""The PKI definition: which CAs exist, their names and keys, who issues whom, what they issue, CRL policy.

A TOML file (``pki/definitions/default.toml`` is the shipped one) validated into frozen objects; every
error names the file, the key and the fix. CAs come out ordered so that an issuer precedes what it issues.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

from hsm import KeyKind
from pki.model import CaId
from pki.names import NameAttribute
from pki.profile.names import StringType
from pki.tomlcheck import Section, load_toml

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


def load_definition(path: Path = DEFAULT_DEFINITION) -> PkiDefinition:
    """Read and validate a PKI definition."""
    root = load_toml(path)
    pki = root.table("pki", required=True)
    base_url = pki.get("base_url", str).rstrip("/")
    if not re.fullmatch(r"https?://[^\s/]+(/[^\s]*)?", base_url):
        raise pki.error(
            "base_url", f"{base_url!r} is not an http(s) URL", 'write e.g. "http://127.0.0.1:8080"'
        )
    audit_key = pki.choice("audit_key", KeyKind, KeyKind.P256, "key algorithm")
    pki.done()
    cas = [_ca(section) for section in root.tables("ca")]
    root.done()
    if not cas:
        raise root.error("ca", "no CA is declared", "add at least one [[ca]] table")
    return PkiDefinition(base_url, audit_key, _ordered(root, cas), root.file)


def _ca(section: Section) -> CaDefinition:
    ca_id = section.get("id", str)
    if not _CA_ID.fullmatch(ca_id):
        raise section.error(
            "id", f"{ca_id!r} is not a valid CA id", "use lowercase letters, digits, '.', '_', '-'"
        )
    issuer = section.get("issuer", str, "self")
    definition = CaDefinition(
        id=CaId(ca_id),
        subject=_subject(section),
        issuer=None if issuer == "self" else CaId(issuer),
        profile=section.get("profile", str, "root-ca" if issuer == "self" else "sub-ca"),
        key=section.choice("key", KeyKind, KeyKind.RSA2048, "key algorithm"),
        key_uri=section.get("key_uri", str, None),
        issues=tuple(section.strings("issues")),
        crl=_crl_policy(section.table("crl")),
        hold_release=section.get("hold_release", bool, False),
        cross=tuple(_cross(item) for item in section.tables("cross")),
    )
    section.done()
    return definition


def _subject(section: Section) -> tuple[NameAttribute, ...]:
    attributes = []
    for item in section.tables("subject"):
        attribute = NameAttribute(
            item.get("attr", str),
            item.get("value", str),
            item.choice("type", StringType, StringType.utf8, "type"),
        )
        item.done()
        problem = attribute.problem()
        if problem:
            raise item.error("attr", problem, "fix the attribute, its value or its type")
        attributes.append(attribute)
    if not attributes:
        raise section.error("subject", "is required", 'add subject = [{ attr = "CN", value = "..." }]')
    return tuple(attributes)


def _hours(section: Section, name: str, default: float | None) -> dt.timedelta | None:
    raw = section.number(name, default)
    if raw is None:
        return None
    if not 0 < raw <= 24 * 366:
        raise section.error(name, f"{raw} hours is out of range", "give hours between 0 and 8784")
    return dt.timedelta(hours=raw)


def _crl_policy(section: Section) -> CrlPolicy:
    next_update = _hours(section, "next_update_hours", 24)
    assert next_update is not None  # a default is given
    delta = _hours(section, "delta_next_update_hours", None)
    if delta is not None and delta >= next_update:
        raise section.error(
            "delta_next_update_hours",
            "deltas must be published more often than full CRLs",
            "make it smaller than next_update_hours",
        )
    shards = section.get("shards", int, 0)
    if not 0 <= shards <= 4096:
        raise section.error("shards", f"{shards} is out of range", "use 0 (no sharding) to 4096")
    policy = CrlPolicy(
        next_update=next_update,
        delta_next_update=delta,
        shards=shards,
        arl=section.get("arl", bool, False),
        after_revocation=section.get("regenerate_after_revocation", bool, True),
        dirname_dp=section.get("dirname_distribution_point", bool, False),
    )
    section.done()
    return policy


def _cross(section: Section) -> CrossCertificate:
    cross = CrossCertificate(CaId(section.get("subject", str)), section.get("profile", str, "cross-ca"))
    section.done()
    return cross


def _ordered(root: Section, cas: list[CaDefinition]) -> tuple[CaDefinition, ...]:
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
