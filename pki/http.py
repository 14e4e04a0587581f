"""HTTP publication of CA certificates and CRLs (``/ca/{ca_id}.cer``, ``/crl/...``): a thin FastAPI adapter.

What is published comes from a :class:`Publications` source (the CA engine); this module only speaks HTTP:
media types (RFC 2585), validators (ETag, Last-Modified) and freshness (Cache-Control max-age up to the CRL's
nextUpdate, Expires), and conditional GETs answered with 304. Unknown CAs, shards or malformed paths are 404,
never a 5xx.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import re
from collections.abc import Callable

from fastapi import APIRouter, Request, Response

from pki.clock import Clock
from pki.publication import Publications, Published

CRL_MEDIA_TYPE = "application/pkix-crl"
CERT_MEDIA_TYPE = "application/pkix-cert"
_CA_ID = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
CA_CERT_MAX_AGE = 3600
"""Seconds a CA certificate may be cached: it changes only at key rollover."""


def _http_date(value: dt.datetime) -> str:
    return email.utils.format_datetime(value.astimezone(dt.UTC), usegmt=True)


def _not_modified(request: Request, item: Published) -> bool:
    """RFC 9110 §13.1: If-None-Match wins over If-Modified-Since."""
    inm = request.headers.get("if-none-match")
    if inm is not None:
        return item.etag in {tag.strip() for tag in inm.split(",")} or inm.strip() == "*"
    ims = request.headers.get("if-modified-since")
    if ims is None:
        return False
    try:
        since = email.utils.parsedate_to_datetime(ims)
    except (TypeError, ValueError):
        return False
    if since.tzinfo is None:
        return False
    return item.produced_at.replace(microsecond=0) <= since


def respond(request: Request, item: Published | None, media_type: str, now: dt.datetime) -> Response:
    """The DER with validators and freshness, a 304 when the client's copy is current, or a 404."""
    if item is None:
        return Response(status_code=404, content=b"not found\n", media_type="text/plain")
    if item.next_update is not None:
        max_age = max(0, int((item.next_update - now).total_seconds()))
        expires = item.next_update
    else:
        max_age = CA_CERT_MAX_AGE
        expires = now + dt.timedelta(seconds=max_age)
    headers = {
        "ETag": item.etag,
        "Last-Modified": _http_date(item.produced_at),
        "Cache-Control": f"public, max-age={max_age}, no-transform",
        "Expires": _http_date(expires),
    }
    if _not_modified(request, item):
        return Response(status_code=304, headers=headers)
    return Response(content=item.der, media_type=media_type, headers=headers)


def _valid_ca(ca_id: str) -> bool:
    return _CA_ID.fullmatch(ca_id) is not None


def build_router(source: Callable[[], Publications], clock: Clock) -> APIRouter:
    """Routes for CA certificates and CRLs. ``source`` is called per request (the engine may be swapped)."""
    router = APIRouter(tags=["publication"])

    @router.get("/ca/{name}", summary="CA certificate (DER)", response_class=Response)
    def ca_certificate(name: str, request: Request) -> Response:
        ca_id = name.removesuffix(".cer")
        found = source().ca_certificate(ca_id) if name.endswith(".cer") and _valid_ca(ca_id) else None
        return respond(request, found, CERT_MEDIA_TYPE, clock.now())

    @router.get("/crl/{name}", summary="Complete CRL (DER)", response_class=Response)
    def full_crl(name: str, request: Request) -> Response:
        ca_id = name.removesuffix(".crl")
        found = source().crl(ca_id, "full", False) if name.endswith(".crl") and _valid_ca(ca_id) else None
        return respond(request, found, CRL_MEDIA_TYPE, clock.now())

    @router.get("/crl/{ca_id}/{name}", summary="Delta CRL, ARL or shard CRL (DER)", response_class=Response)
    def scoped_crl(ca_id: str, name: str, request: Request) -> Response:
        found = None
        stem = name.removesuffix(".crl")
        if name.endswith(".crl") and _valid_ca(ca_id):
            if stem == "delta":
                found = source().crl(ca_id, "full", True)
            elif stem == "arl":
                found = source().crl(ca_id, "arl", False)
            elif stem.isdigit() and len(stem) <= 6:
                found = source().crl(ca_id, f"shard:{int(stem)}", False)
            elif stem.endswith("-delta") and stem[:-6].isdigit() and len(stem) <= 12:
                found = source().crl(ca_id, f"shard:{int(stem[:-6])}", True)
        return respond(request, found, CRL_MEDIA_TYPE, clock.now())

    return router
