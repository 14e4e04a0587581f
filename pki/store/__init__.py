"""The certificate store: the only code that touches the database (docs/pki-core.md, "Store").

``Store.open(url)`` takes ``sqlite:///path/to/pki.db`` or ``postgresql+psycopg://user@host/db`` and
migrates the schema to head. Rows in and out are the frozen values of :mod:`pki.store.rows`.
"""

from pki.store.domain import DomainSchema, DomainTx
from pki.store.errors import (
    CaExists,
    DerMismatch,
    DuplicateCrlNumber,
    NotPending,
    StoreConflict,
    UnknownCertificate,
)
from pki.store.rows import (
    AuditEntry,
    AuditRecord,
    CaRow,
    CertRow,
    Checkpoint,
    CrlRow,
    LinkKind,
    PendingCert,
    PresignedResponse,
    RevocationRow,
    RevokedEntry,
    StatusRow,
)
from pki.store.store import Store

__all__ = [
    "AuditEntry",
    "AuditRecord",
    "CaExists",
    "CaRow",
    "CertRow",
    "Checkpoint",
    "CrlRow",
    "DerMismatch",
    "DomainSchema",
    "DomainTx",
    "DuplicateCrlNumber",
    "LinkKind",
    "NotPending",
    "PendingCert",
    "PresignedResponse",
    "RevocationRow",
    "RevokedEntry",
    "StatusRow",
    "Store",
    "StoreConflict",
    "UnknownCertificate",
]
