"""The OCSP access log: one JSON line per request on the ``jlis.access.ocsp`` logger, at INFO.

It names the route template (``/ocsp`` or ``/ocsp/{request}``), never the path a GET was sent to (it is the
request itself), and never carries request bytes or credentials. When the logger is not enabled for INFO,
nothing is formatted at all.
"""

from __future__ import annotations

import atexit
import datetime as dt
import json
import logging
import os
import threading
from dataclasses import dataclass
from typing import Final

from ocsp.answer import Outcome
from ocsp.watcher import Periodic

LOGGER_NAME: Final = "jlis.access.ocsp"
FLUSH_SECONDS: Final = 0.2
"""How long an access-log line may wait in memory before it is written."""
BATCH_BYTES: Final = 64 * 1024
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
    """Write one access-log line (the JSON object of :meth:`AccessRecord.fields`)."""
    log.info(json.dumps(record.fields(), separators=(",", ":")))


class BatchedLines(logging.Handler):
    """Writes log lines in batches: kept in memory and written with one ``write`` to the file descriptor at
    most :data:`FLUSH_SECONDS` after they were logged, or as soon as :data:`BATCH_BYTES` pile up, and at exit.

    At thousands of requests per second a write (a system call) per line cost a quarter of answering a cached
    request; lines stay whole and in order. A process killed with SIGKILL loses at most the last 0.2 s of
    lines (a normal stop, SIGTERM included, writes them)."""

    def __init__(self, fd: int, *, period: float = FLUSH_SECONDS, max_bytes: int = BATCH_BYTES) -> None:
        super().__init__()
        self._fd = fd
        self._max = max_bytes
        self._parts: list[str] = []
        self._size = 0
        self._buffer_lock = threading.Lock()
        self._writer = Periodic("access-log", self.flush, period)
        self._writer.start()
        atexit.register(self.close)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record) + "\n"
        except Exception:
            self.handleError(record)
            return
        with self._buffer_lock:
            self._parts.append(line)
            self._size += len(line)
            if self._size >= self._max:
                self._write_locked()

    def flush(self) -> None:
        with self._buffer_lock:
            self._write_locked()

    def close(self) -> None:
        self._writer.stop()
        self.flush()
        super().close()

    def _write_locked(self) -> None:
        if not self._parts:
            return
        data = memoryview("".join(self._parts).encode("utf-8", "replace"))
        self._parts.clear()
        self._size = 0
        try:
            while data:
                data = data[os.write(self._fd, data) :]
        except OSError:
            pass  # the log's reader went away: the service goes on
