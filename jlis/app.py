"""ASGI app assembly: the FastAPI application that ``jlis serve`` runs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING

from fastapi import FastAPI

if TYPE_CHECKING:
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


def create_app(pki: Pki | None = None, *, crl_period: float = 5.0) -> FastAPI:
    """Build the ASGI app: health and docs always; with a PKI, its CA certificates and CRLs, kept fresh by a
    background CRL publisher while the app runs."""
    lifespan = None
    if pki is not None:
        from pki.publisher import CrlPublisher

        publisher = CrlPublisher(pki, period=crl_period)

        @asynccontextmanager
        async def lifespan(app: FastAPI) -> AsyncIterator[None]:
            publisher.start()
            try:
                yield
            finally:
                publisher.stop()

    app = FastAPI(title="jlis-pki", version=package_version(), lifespan=lifespan)
    app.add_api_route("/healthz", healthz, methods=["GET"], tags=["operations"], summary="Health check")
    if pki is not None:
        from pki.http import build_router

        app.include_router(build_router(lambda: pki.publications, pki.clock))
    return app
