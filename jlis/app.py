"""ASGI app assembly: the FastAPI application that ``jlis serve`` runs."""

from importlib.metadata import PackageNotFoundError, version

from fastapi import FastAPI

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


def create_app() -> FastAPI:
    """Build the ASGI app; domain routers (ocsp, jpki, lgpki) are mounted here as they land."""
    app = FastAPI(title="jlis-pki", version=package_version())
    app.add_api_route("/healthz", healthz, methods=["GET"], tags=["operations"], summary="Health check")
    return app
