"""Prometheus metrics of the OCSP responder, and the ``/metrics`` route that exposes them.

Each :class:`OcspMetrics` has its own ``CollectorRegistry`` (never the global one), so tests and embedding
applications can make several. The cache hit ratio is not stored: it is computed at scrape time from the
two cache counters, so it is always consistent with them, also across processes.

Several worker processes (``PROMETHEUS_MULTIPROC_DIR`` set) use prometheus_client's multiprocess mode:
every process writes its values to files in that directory and a scrape, whichever process answers it,
merges the files of all processes (``MultiProcessCollector``). The rules that come with it:

- the variable must be set, and the directory exist and be emptied, by the parent *before* it starts the
  workers and before anything imports prometheus_client (the library picks file-backed values at import:
  :class:`OcspMetrics` refuses to start when it sees the variable but in-memory values);
- a scrape exposes everything in the directory (every metric of every process, this module's or not),
  counters and histograms summed over live and exited processes, without ``_created`` samples;
- one :class:`OcspMetrics` per process: two would write the same series to the same file;
- there are no gauges with a ``multiprocess_mode`` to get wrong: the hit ratio is computed from the
  merged counters at scrape time.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Iterator
from typing import Final

from fastapi import FastAPI
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client import values as prometheus_values
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from starlette.responses import Response

from ocsp.answer import Outcome
from ocsp.errors import OcspError

MULTIPROC_ENV: Final = "PROMETHEUS_MULTIPROC_DIR"
LATENCY_BUCKETS: Final = (
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
)
"""Seconds: 0.1 ms (a cached answer) to 1 s (a signature on a slow HSM); slower lands in +Inf."""
METHODS: Final = ("GET", "POST")
"""Label values created up front, so every series exists (at 0) from the first scrape."""

_HITS: Final = "jlis_ocsp_cache_hits"
_MISSES: Final = "jlis_ocsp_cache_misses"
_RATIO: Final = "jlis_ocsp_cache_hit_ratio"


class MetricsConfigError(OcspError):
    """The metrics cannot be set up as the environment asks (multiprocess mode enabled too late)."""


class OcspMetrics:
    """The responder's counters and latency histogram; :meth:`observe` is the one call per request."""

    def __init__(self) -> None:
        self.multiprocess_dir = _multiprocess_dir()
        """Where the worker processes write their values (``PROMETHEUS_MULTIPROC_DIR``); None: one process."""
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "jlis_ocsp_requests",
            "OCSP requests answered, by HTTP method and outcome.",
            ("method", "outcome"),
            registry=self.registry,
        )
        self.latency = Histogram(
            "jlis_ocsp_request_seconds",
            "Time from request received to response ready, by HTTP method.",
            ("method",),
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.cache_hits = Counter(_HITS, "Answers served from a kept response.", registry=self.registry)
        self.cache_misses = Counter(_MISSES, "Answers that needed a new signature.", registry=self.registry)
        self.signatures = Counter(
            "jlis_ocsp_signatures", "Signatures made to answer requests.", registry=self.registry
        )
        self._requests = {(m, o): self.requests.labels(m, o.value) for m in METHODS for o in Outcome}
        self._latency = {m: self.latency.labels(m) for m in METHODS}
        if self.multiprocess_dir is None:
            self.registry.register(_HitRatio(self.cache_hits, self.cache_misses))

    def observe(
        self, method: str, outcome: Outcome, seconds: float, *, cache_hit: bool | None, signatures: int
    ) -> None:
        """Count one request. ``cache_hit`` None: no certificate was looked up (an error response)."""
        requests = self._requests.get((method, outcome))
        if requests is None:
            requests = self.requests.labels(method, outcome.value)
        requests.inc()
        latency = self._latency.get(method)
        if latency is None:
            latency = self.latency.labels(method)
        latency.observe(seconds)
        if cache_hit is not None:
            (self.cache_hits if cache_hit else self.cache_misses).inc()
        if signatures:
            self.signatures.inc(signatures)

    def exposition(self) -> bytes:
        """The Prometheus text format: this process's metrics, or every process's in multiprocess mode."""
        if self.multiprocess_dir is None:
            return generate_latest(self.registry)
        # prometheus_client's multiprocess module has no annotations
        merged = MultiProcessCollector(None, path=self.multiprocess_dir)  # type: ignore[no-untyped-call]
        registry = CollectorRegistry()
        registry.register(_HitRatio(merged, passthrough=True))
        return generate_latest(registry)


def install_metrics_route(app: FastAPI, metrics: OcspMetrics) -> None:
    """``GET /metrics`` in the Prometheus text format. A FastAPI route (documented in /docs): a scrape is
    rare, so the cost of dependency injection does not matter, and it runs in the thread pool because
    reading the multiprocess files is blocking I/O."""

    def scrape() -> Response:
        return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    app.add_api_route(
        "/metrics",
        scrape,
        methods=["GET"],
        tags=["operations"],
        summary="Prometheus metrics",
        response_class=Response,
        responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text format."}},
    )


class _HitRatio(Collector):
    """``jlis_ocsp_cache_hit_ratio``: hits / (hits + misses) over the counters ``source`` yields, NaN before
    the first lookup. With ``passthrough``, ``source``'s metrics are exposed too (read once per scrape)."""

    def __init__(self, *sources: Collector, passthrough: bool = False) -> None:
        self._sources = sources
        self._passthrough = passthrough

    def collect(self) -> Iterator[Metric]:
        families = [family for source in self._sources for family in source.collect()]
        if self._passthrough:
            yield from families
        hits, misses = _total(families, _HITS), _total(families, _MISSES)
        ratio = hits / (hits + misses) if hits + misses else math.nan
        yield GaugeMetricFamily(_RATIO, "Share of looked-up answers served from a kept response.", ratio)

    def describe(self) -> Iterable[Metric]:
        yield GaugeMetricFamily(_RATIO, "Share of looked-up answers served from a kept response.")


def _total(families: Iterable[Metric], name: str) -> float:
    sample = name + "_total"
    return sum(s.value for family in families for s in family.samples if s.name == sample)


def _multiprocess_dir() -> str | None:
    """prometheus_client chooses in-memory or file-backed values when it is imported: a directory set later
    would silently expose nothing from the workers, so a mismatch is an error."""
    directory = os.environ.get(MULTIPROC_ENV) or None
    file_backed = bool(getattr(prometheus_values.ValueClass, "_multiprocess", False))
    if directory is None and not file_backed:
        return None
    if directory is None or not file_backed:
        raise MetricsConfigError(
            f"{MULTIPROC_ENV} must be set before prometheus_client is first imported, and stay set "
            "(set it in the parent, before the server starts its workers)"
        )
    if not os.path.isdir(directory):
        raise MetricsConfigError(f"{MULTIPROC_ENV}={directory} is not a directory")
    return directory
