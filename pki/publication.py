"""What the PKI publishes (CA certificates, CRLs), independent of how it is served."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Published:
    """One published object: its DER, when it was produced, and until when it is current."""

    der: bytes
    produced_at: dt.datetime
    next_update: dt.datetime | None = None

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha256(self.der).hexdigest()[:32] + '"'


class Publications(Protocol):
    """What the CA engine publishes. Each method returns None when there is nothing to publish."""

    def ca_certificate(self, ca_id: str) -> Published | None: ...

    def ca_generations(self, ca_id: str) -> Published | None:
        """Every generation's CA certificate and the rollover link certificates between them, as a DER
        certs-only PKCS#7 (what a relying party needs to follow a key rollover, RFC 4210 §4.4)."""
        ...

    def crl(self, ca_id: str, scope: str, delta: bool) -> Published | None:
        """``scope`` is ``full``, ``shard:N`` or ``arl``; ``delta`` asks for the latest delta of the scope."""
        ...
