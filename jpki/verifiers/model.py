"""Registered verifiers as values: who they are, what they may ask, and the token handed out once."""

from __future__ import annotations

import datetime as dt
import enum
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, NewType

from jpki.verifiers.errors import InvalidVerifier

VerifierId = NewType("VerifierId", str)
"""``pf-…``, ``sp-…``, ``public-…``: the kind and 12 random hex digits, given at registration."""

VERIFIER_ID = re.compile(r"(pf|sp|public)-[0-9a-f]{12}")
MAX_NAME = 200


class VerifierKind(enum.StrEnum):
    """Who may be registered (jpki-facts §5)."""

    pf = "pf"
    """A platform business (プラットフォーム事業者) certified by the Minister."""
    sp = "sp"
    """A service provider (サービスプロバイダ) that has a platform business do its checks."""
    public = "public"
    """An administrative body."""


class VerifierStatus(enum.StrEnum):
    active = "active"
    suspended = "suspended"
    """Every request is refused until resumed; the token stays the same."""


class Scope(enum.StrEnum):
    """The services a verifier may use."""

    ocsp = "ocsp"
    crl = "crl"
    linkage = "linkage"
    """Signing ↔ auth certificate of one person, old → new across renewals (証明書紐付け, 新旧紐付け)."""
    four_info = "four-info"
    """The holder's latest basic 4 information with consent (本人同意に基づく基本4情報の提供)."""


DEFAULT_SCOPES: dict[VerifierKind, frozenset[Scope]] = {
    VerifierKind.pf: frozenset(Scope),
    VerifierKind.public: frozenset(Scope),
    VerifierKind.sp: frozenset({Scope.ocsp}),
}
"""Scopes given when a registration names none. A service provider has its platform business download
CRLs and reach the 2021 services, so it starts with OCSP only; grant more with ``--scope``."""


def parse_scopes(names: Iterable[str]) -> frozenset[Scope]:
    """Scope names to Scopes; InvalidVerifier for a name that is none."""
    scopes = set()
    for name in names:
        try:
            scopes.add(Scope(name))
        except ValueError:
            valid = ", ".join(s.value for s in Scope)
            raise InvalidVerifier("scope", f"unknown scope {name!r}: use {valid}") from None
    return frozenset(scopes)


def parse_kind(name: str) -> VerifierKind:
    try:
        return VerifierKind(name)
    except ValueError:
        raise InvalidVerifier("kind", f"unknown kind {name!r}: use pf, sp or public") from None


def check_name(name: str) -> str:
    """A verifier's name, trimmed: not empty, at most MAX_NAME characters, no control characters."""
    name = name.strip()
    if not name:
        raise InvalidVerifier("name", "is empty")
    if len(name) > MAX_NAME:
        raise InvalidVerifier("name", f"is {len(name)} characters long, more than {MAX_NAME}")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in name):
        raise InvalidVerifier("name", "contains a control character")
    return name


def scopes_text(scopes: Iterable[Scope]) -> str:
    """Scopes as stored: sorted, space-separated."""
    return " ".join(sorted(s.value for s in scopes))


@dataclass(frozen=True, slots=True)
class Verifier:
    """A registered verifier (never its token)."""

    verifier_id: VerifierId
    name: str
    kind: VerifierKind
    status: VerifierStatus
    scopes: frozenset[Scope]
    created_at: dt.datetime
    updated_at: dt.datetime
    platform_id: VerifierId | None = None
    """The platform business a service provider uses."""
    cert_sha256: str | None = None
    """SHA-256 (hex) of the DER of the verifier's client certificate, when it has one."""

    @property
    def id(self) -> VerifierId:
        """The verifier id (the name the verifier services' ``VerifierIdentity`` reads)."""
        return self.verifier_id

    @property
    def active(self) -> bool:
        return self.status is VerifierStatus.active

    def may(self, scope: Scope) -> bool:
        """Active and granted ``scope``."""
        return self.active and scope in self.scopes

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.verifier_id,
            "name": self.name,
            "kind": self.kind.value,
            "status": self.status.value,
            "scopes": sorted(s.value for s in self.scopes),
            "platform": self.platform_id,
            "client_cert_sha256": self.cert_sha256,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class Registered:
    """A verifier with its new API token: the only time the token exists outside the verifier's hands.
    The token is left out of ``repr`` so a log line or a traceback never shows it."""

    verifier: Verifier
    token: str = field(repr=False)
    token_id: str


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """What is kept of a token besides its hash: its lookup id and its dates."""

    token_id: str
    created_at: dt.datetime
    revoked_at: dt.datetime | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "token_id": self.token_id,
            "created_at": self.created_at.isoformat(),
            "revoked_at": None if self.revoked_at is None else self.revoked_at.isoformat(),
        }
