"""The OCSP access log: one JSON line per request on the ``jlis.access.ocsp`` logger, at INFO.

It names the route template (``/ocsp`` or ``/ocsp/{request}``), never the path a GET was sent to (it is the
request itself), and never carries request bytes or credentials. When the logger is not enabled for INFO,
nothing is formatted at all.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass
from typing import Final

from ocsp.answer import Outcome

LOGGER_NAME: Final = "jlis.access.ocsp"
log = logging.getLogger(LOGGER_NAME)


@dataclass(frozen=True, slots=True)
class AccessRecord:
    """What the log line says about one request; built only when it will be written."""

    started: float
    """When the request arrived, seconds since the epoch."""
    method: str
    route: str
    """The route template, never the request path."""
    status: int
    outcome: Outcome
    ca_id: str | None
    certificates: int
    cache_hit: bool | None
    """None: no certificate was looked up (an error response)."""
    signatures: int
    latency_s: float
    response_bytes: int
    client: str | None

    def fields(self) -> dict[str, object]:
        """The record as the JSON object of the log line."""
        return {
            "time": dt.datetime.fromtimestamp(self.started, dt.UTC).isoformat(timespec="milliseconds"),
            "method": self.method,
            "route": self.route,
            "status": self.status,
            "outcome": self.outcome.value,
            "ca_id": self.ca_id,
            "certificates": self.certificates,
            "cache": None if self.cache_hit is None else ("hit" if self.cache_hit else "miss"),
            "signatures": self.signatures,
            "latency_ms": round(self.latency_s * 1000, 3),
            "bytes": self.response_bytes,
            "client": self.client,
        }


def enabled() -> bool:
    """Whether a line would be written: callers skip building the record when it would not."""
    return log.isEnabledFor(logging.INFO)


def write(record: AccessRecord) -> None:
    """Write one access-log line; the fields are also on the log record as ``access``, for handlers that
    ship structured logs."""
    fields = record.fields()
    log.info(json.dumps(fields, separators=(",", ":")), extra={"access": fields})
