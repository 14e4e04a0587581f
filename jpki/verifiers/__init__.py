"""Registered verifiers (jpki-facts §5): the only relying parties JPKI's revocation services answer, and
the fee ledger of what they were provided.

::

    from jpki.verifiers import VerifierRegistry, Ledger
    registry = VerifierRegistry(pki.store, pki.clock)
    added = registry.add("Example Platform", "pf", actor="operator:alice")
    print(added.token)                  # shown once: only its SHA-256 is stored
    registry.authenticate(added.token)  # -> Verifier (active) or None
    ledger = Ledger(pki.store, pki.clock)
    ledger.record_provision(added.verifier.verifier_id, "linkage", "jpki-sign", ref="req-42")
    ledger.statement(None, "2026-11").total

- :mod:`.registry`: verifiers (pf | sp | public), their scopes and credentials; ``authorize`` is the check
  every restricted service asks, with a short in-memory cache of known tokens (TTL, default 5 s).
- :mod:`.ledger`: provisions counted in memory and flushed every second by :mod:`.flusher` (a crash loses
  at most the last second); monthly statements in yen, months in JST. Fees: :mod:`.fees`.
- :mod:`.refusals`: refusals audited as one record per kind and minute, whatever the flood.
- :mod:`.hooks` / :mod:`.services`: the OCSP responder's and the CRL routes' hooks, as ``jlis serve``
  wires them.
"""

from jpki.verifiers.errors import (
    InvalidVerifier,
    LedgerError,
    UnknownVerifier,
    VerifierError,
    VerifierStateError,
)
from jpki.verifiers.fees import FEES_FILE, FeeSchedule, Service
from jpki.verifiers.flusher import Flusher
from jpki.verifiers.hooks import BilledOcsp, VerifierCrlAccess
from jpki.verifiers.ledger import Ledger, Month, Statement, StatementRow
from jpki.verifiers.model import (
    DEFAULT_SCOPES,
    Registered,
    Scope,
    TokenInfo,
    Verifier,
    VerifierId,
    VerifierKind,
    VerifierStatus,
)
from jpki.verifiers.refusals import RefusalLog, RefusalReason
from jpki.verifiers.registry import DEFAULT_TTL, Decision, VerifierRegistry
from jpki.verifiers.services import VerifierServices, VerifierSettings

__all__ = [
    "DEFAULT_SCOPES",
    "DEFAULT_TTL",
    "FEES_FILE",
    "BilledOcsp",
    "Decision",
    "FeeSchedule",
    "Flusher",
    "InvalidVerifier",
    "Ledger",
    "LedgerError",
    "Month",
    "RefusalLog",
    "RefusalReason",
    "Registered",
    "Scope",
    "Service",
    "Statement",
    "StatementRow",
    "TokenInfo",
    "UnknownVerifier",
    "Verifier",
    "VerifierCrlAccess",
    "VerifierError",
    "VerifierId",
    "VerifierKind",
    "VerifierRegistry",
    "VerifierServices",
    "VerifierSettings",
    "VerifierStateError",
    "VerifierStatus",
]
