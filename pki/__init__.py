"""The PKI core: names, profiles, issuance, certificate store, revocation, CRLs, audit log.

Knows nothing about JPKI or LGPKI; signs only through :mod:`hsm` Signers.
"""

from pki.ca import CertificateAuthority, IssueRequest, Prepared
from pki.clock import Clock, FixedClock, SystemClock
from pki.definition import CaDefinition, CrlPolicy, PkiDefinition, load_definition
from pki.errors import (
    AlreadyRevoked,
    DuplicateSerial,
    InvalidRevocation,
    IssuanceRefused,
    PkiError,
    StoreUnavailable,
    UnknownCa,
    UnknownSerial,
)
from pki.model import CaId, CertStatus, RevocationReason, new_serial, serial_hex, shard_of
from pki.profile import IssueContext, Profile, load_profile, shipped_profiles
from pki.runtime import Pki, ensure_pki
from pki.store import Store

__all__ = [
    "AlreadyRevoked",
    "CaDefinition",
    "CaId",
    "CertStatus",
    "CertificateAuthority",
    "Clock",
    "CrlPolicy",
    "DuplicateSerial",
    "FixedClock",
    "InvalidRevocation",
    "IssuanceRefused",
    "IssueContext",
    "IssueRequest",
    "Pki",
    "PkiDefinition",
    "PkiError",
    "Prepared",
    "Profile",
    "RevocationReason",
    "Store",
    "StoreUnavailable",
    "SystemClock",
    "UnknownCa",
    "UnknownSerial",
    "ensure_pki",
    "load_definition",
    "load_profile",
    "new_serial",
    "serial_hex",
    "shard_of",
    "shipped_profiles",
]
