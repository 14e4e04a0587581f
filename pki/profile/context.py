"""IssueContext: everything a profile needs from the CA engine to build one certificate's extensions and
validity — the keys, the issuer, where its CRLs and certificates are published, and what was requested."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from cryptography import x509

from hsm import PublicKey
from pki.clock import ensure_aware
from pki.model import CaId


def _no_values() -> Mapping[str, str]:
    return MappingProxyType({})


_NO_CA = CaId("")


@dataclass(frozen=True, slots=True)
class IssueContext:
    """The issuing situation of one certificate. Times are aware; they are normalised to UTC."""

    subject_public_key: PublicKey
    issuer_public_key: PublicKey
    """For the authorityKeyIdentifier (the subject's own key when self-signed)."""
    issuer_name: x509.Name
    """The issuer's subject name; a CRL distribution point ``dirname = "issuer"`` is this name."""
    at: dt.datetime
    """The issuance time, from the injected clock."""
    ca_id: CaId = _NO_CA
    """The issuing CA's id: ``{ca_id}`` in URL templates."""
    base_url: str = ""
    """Where the PKI publishes (``https://pki.example.jp``): ``{base_url}`` in URL templates."""
    shard: int | None = None
    """The CRL shard of this certificate's serial (``model.shard_of``): ``{shard}`` in URL templates."""
    issuer_not_after: dt.datetime | None = None
    """The issuer certificate's notAfter (None for a self-signed certificate)."""
    issuer_key_id: bytes | None = None
    """The issuer certificate's subjectKeyIdentifier; computed from ``issuer_public_key`` when None."""
    san: tuple[x509.GeneralName, ...] = ()
    """Requested subjectAltName entries (DNS, email, URI, DirName, otherName)."""
    other_names: Mapping[str, str] = field(default_factory=_no_values)
    """Requested otherName values (UTF8String) by type-id OID, e.g. the JPKI basic 4 information."""
    requested_extensions: tuple[x509.Extension[x509.ExtensionType], ...] = ()
    """Extensions a CSR asks for; accepted only where the profile says ``from_request = true``."""
    attributes: Mapping[str, str] = field(default_factory=_no_values)
    """Holder data for validity rules (e.g. a date of birth, a card's expiry date)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "at", ensure_aware(self.at))
        if self.issuer_not_after is not None:
            object.__setattr__(self, "issuer_not_after", ensure_aware(self.issuer_not_after))
        object.__setattr__(self, "other_names", MappingProxyType(dict(self.other_names)))
        object.__setattr__(self, "attributes", MappingProxyType(dict(self.attributes)))

    @classmethod
    def self_signed(
        cls,
        public_key: PublicKey,
        name: x509.Name,
        at: dt.datetime,
        *,
        ca_id: CaId = _NO_CA,
        base_url: str = "",
    ) -> IssueContext:
        """The context of a self-signed certificate: the subject is its own issuer."""
        return cls(public_key, public_key, name, at, ca_id=ca_id, base_url=base_url)
