"""ASGI app assembly: the FastAPI application that ``jlis serve`` runs."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import FastAPI
from fastapi.telemetry import TelemetryConfig

if TYPE_CHECKING:
    from jpki.verifiers import VerifierServices
    from ocsp.http import HttpSettings
    from ocsp.service import OcspSettings
    from pki.runtime import Pki

DISTRIBUTION = "jlis-pki"
UNKNOWN_VERSION = "0+unknown"


def package_version() -> str:
    """The installed distribution's version; ``0+unknown`` when running from a tree that is not installed."""
    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:
        return UNKNOWN_VERSION


async def healthz() -> dict[str, str]:
    """Liveness probe for load balancers and the Quick start check: ``status`` is always ``ok``."""
    return {"status": "ok", "version": package_version()}


def create_app(
    pki: Pki | None = None,
    *,
    crl_period: float = 5.0,
    ocsp: OcspSettings | None = None,
    http: HttpSettings | None = None,
    leader: bool = True,
) -> FastAPI:
    """Build the ASGI app: health and docs always; with a PKI, its CA certificates and CRLs (kept fresh by a
    background CRL publisher), the OCSP responder for every CA and its metrics.

    ``leader``: this process runs the background jobs that one process of a home is enough for (the CRL
    publisher, pre-signing at start); with several workers only one is the leader. Every process watches
    revocations and renews what it uses.

    When a CA answers registered verifiers only (JPKI's), every process also checks verifiers' tokens for
    its OCSP answers and CRL downloads and keeps the fee ledger (each flushes its own counts)."""
    lifespan = None
    runtime = None
    verifiers = None
    if pki is not None:
        from ocsp.service import OcspRuntime, OcspSettings
        from pki.publisher import CrlPublisher

        publisher = CrlPublisher(pki, period=crl_period) if leader else None
        settings = ocsp or OcspSettings()
        if not leader:
            settings = dataclasses.replace(settings, presign_at_start=False)
        verifiers = verifier_services(pki)
        runtime = OcspRuntime(pki, settings, verifiers=verifiers.registry if verifiers is not None else None)

        @asynccontextmanager
        async def lifespan(app: FastAPI) -> AsyncIterator[None]:
            if publisher is not None:
                publisher.start()
            if verifiers is not None:
                verifiers.start()
            runtime.start()
            try:
                yield
            finally:
                runtime.stop()
                if verifiers is not None:
                    verifiers.stop()  # after the last answer: its provision is in the last flush
                if publisher is not None:
                    publisher.stop()

    # FastAPI's own OpenTelemetry hooks: off (Prometheus /metrics and the access log cover the service;
    # the check alone cost every OCSP request three provider look-ups)
    telemetry: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False, "operation_spans": False}
    app = FastAPI(title="jlis-pki", version=package_version(), lifespan=lifespan, telemetry=telemetry)
    app.add_api_route("/healthz", healthz, methods=["GET"], tags=["operations"], summary="Health check")
    if pki is not None and runtime is not None:
        from ocsp.http import HttpSettings, install
        from ocsp.metrics import OcspMetrics, install_metrics_route
        from pki.http import build_router

        crl_access = verifiers.crl_access if verifiers is not None else None
        app.include_router(build_router(lambda: pki.publications, pki.clock, access=crl_access))
        metrics = OcspMetrics()
        service = runtime.responder if verifiers is None else verifiers.billed(runtime.responder)
        install(app, lambda: service, settings=http or HttpSettings(), metrics=metrics, clock=pki.clock)
        install_metrics_route(app, metrics)
        _ocsp_first(app)
        if verifiers is not None:
            mount_jpki_services(app, pki, verifiers)
    return app


def _ocsp_first(app: FastAPI) -> None:
    """Routes are tried in order: the OCSP ones, by far the busiest, go before the documentation's and the
    publication routes (each route tried costs every request a pattern match)."""
    routes = app.router.routes
    ocsp = [route for route in routes if getattr(route, "path", "").startswith("/ocsp")]
    routes[:] = ocsp + [route for route in routes if route not in ocsp]


def mount_jpki_services(app: FastAPI, pki: Pki, verifiers: VerifierServices) -> None:
    """``/api/jpki/...`` (linkage, 4 information with consent) when the PKI has JPKI's two CAs."""
    ids = {ca.id for ca in pki.definition.cas}
    from jpki.lifecycle import Jpki, JpkiSettings

    settings = JpkiSettings()
    if not {settings.sign_ca, settings.auth_ca} <= ids:
        return
    from jpki.http import JpkiServices
    from jpki.http import build_router as jpki_router
    from jpki.services.access import VerifierGate
    from jpki.services.consent import ConsentService
    from jpki.services.linkage import LinkageService

    jpki = Jpki(pki, pki.config.home / "cards", settings=settings)
    gate = VerifierGate(verifiers)
    services = JpkiServices(LinkageService(jpki, gate), ConsentService(jpki, gate))
    app.include_router(jpki_router(lambda: services))


def verifier_services(pki: Pki) -> VerifierServices | None:
    """The registered-verifier registry, ledger and hooks, when a CA of the PKI answers registered verifiers
    only (``[ca.ocsp] access = "registered"``, JPKI's CAs); None when every CA is public."""
    from pki.definition import OcspAccess

    if not any(ca.ocsp.access is OcspAccess.registered for ca in pki.definition.cas):
        return None
    from jpki.verifiers import VerifierServices

    return VerifierServices.for_pki(pki)


def configure_logging(*, access_log: bool = True) -> None:
    """Where the service's own logs go: stderr, one line each. The OCSP access log (JSON lines on
    ``jlis.access``) at INFO when ``access_log``; the rest of ``jlis``, ``ocsp``, ``pki``, ``hsm`` and
    ``jpki`` (refused verifiers) at INFO."""
    import logging
    import sys

    plain = logging.StreamHandler(sys.stderr)
    plain.setFormatter(logging.Formatter("%(levelname)s:     %(name)s: %(message)s"))
    for name in ("jlis", "ocsp", "pki", "hsm", "jpki"):
        logger = logging.getLogger(name)
        if not logger.handlers:
            logger.addHandler(plain)
            logger.setLevel(logging.INFO)
    access = logging.getLogger("jlis.access")
    if not access.handlers:
        from ocsp.access_log import BatchedLines

        sys.stderr.flush()
        lines = BatchedLines(sys.stderr.fileno())  # one write per batch, not per request
        lines.setFormatter(logging.Formatter("%(message)s"))
        access.addHandler(lines)
    access.propagate = False
    access.setLevel(logging.INFO if access_log else logging.WARNING)


def app_from_environment() -> FastAPI:
    """The app of one worker process of ``jlis serve --workers N`` (uvicorn's factory): the home and the
    settings come from the environment the parent set (``JLIS_HOME``, ``JLIS_SERVE_SETTINGS``)."""
    import json
    import os
    from pathlib import Path

    from ocsp.http import HttpSettings
    from ocsp.service import OcspSettings
    from pki.runtime import Pki

    config = json.loads(os.environ.get(SETTINGS_ENV, "{}"))
    configure_logging(access_log=config.get("access_log", True))
    pki = Pki.open(Path(os.environ["JLIS_HOME"]))
    return create_app(
        pki,
        ocsp=OcspSettings(**config.get("ocsp", {})),
        http=HttpSettings(**config.get("http", {})),
        leader=_elect_leader(Path(os.environ["JLIS_HOME"])),
    )


SETTINGS_ENV = "JLIS_SERVE_SETTINGS"
_leader_lock: object = None


def _elect_leader(home: Path) -> bool:
    """Whether this worker is the one that runs the home's singleton jobs: the first to lock a file in the
    home holds it for its lifetime (the lock goes with the process)."""
    import fcntl

    global _leader_lock
    handle = (home / ".serve-leader.lock").open("a")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        return False
    _leader_lock = handle
    return True
