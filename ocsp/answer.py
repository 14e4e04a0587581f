"""What the responder hands the HTTP layer, and what the HTTP layer tells the responder about the requester.

The HTTP adapter (``ocsp/http.py``) knows nothing of stores, caches or keys: it gives request bytes and the
requester's credentials to an :class:`OcspService` and sends back the :class:`Answer` with the right headers.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass
from typing import Protocol


class Outcome(enum.StrEnum):
    """How a request ended: the metric label and the access-log field."""

    good = "good"
    revoked = "revoked"
    unknown = "unknown"
    several = "several"
    """A successful response for more than one certificate."""
    malformed = "malformedRequest"
    unauthorized = "unauthorized"
    try_later = "tryLater"
    internal_error = "internalError"
    too_large = "tooLarge"
    """The HTTP layer refused an oversized body (413) before the responder saw it."""


@dataclass(frozen=True, slots=True)
class Requester:
    """Who is asking: credentials the HTTP layer found (nothing is checked here)."""

    bearer_token: str | None = None
    """``Authorization: Bearer TOKEN``."""
    client_address: str | None = None


@dataclass(frozen=True, slots=True)
class Answer:
    """A complete OCSPResponse and what the HTTP layer needs to send it."""

    der: bytes
    outcome: Outcome
    cacheable: bool = False
    """True only for a successful response without a nonce: GET may carry RFC 5019 caching headers."""
    this_update: dt.datetime | None = None
    next_update: dt.datetime | None = None
    produced_at: dt.datetime | None = None
    ca_id: str | None = None
    certificates: int = 0
    cache_hit: bool = False
    """Served from a pre-signed / cached response, no signature made."""
    signatures: int = 0
    """Signatures made to answer (0 or 1)."""


class OcspService(Protocol):
    """The responder as the HTTP layer sees it. Both methods are thread-safe and never raise."""

    def cached(self, request_der: bytes, requester: Requester) -> Answer | None:
        """The answer from memory only (no I/O, no signing), or None: called on the event loop."""
        ...

    def answer(self, request_der: bytes, requester: Requester) -> Answer:
        """The full answer (store reads, Redis, signing): called in a worker thread, or on the event loop
        when ``local`` is true."""
        ...

    @property
    def local(self) -> bool:
        """True when no answer can wait on the network (an embedded store, software keys, no Redis): the
        HTTP layer then computes answers on the event loop, saving the thread hand-off (a third of the cost
        of an online signature); otherwise they run in worker threads under the request timeout."""
        ...
