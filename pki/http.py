"""HTTP publication of CA certificates and CRLs (``/ca/{ca_id}.cer``, ``/crl/...``): a thin FastAPI adapter.

What is published comes from a :class:`Publications` source (the CA engine); this module only speaks HTTP:
media types (RFC 2585), validators (ETag, Last-Modified) and freshness (Cache-Control max-age up to the CRL's
nextUpdate, Expires), and conditional GETs answered with 304. Unknown CAs, shards or malformed paths are 404,
never a 5xx.

Who may download a CA's CRLs is a :class:`CrlAccess` hook's decision (default: everyone). A restricted CA's
CRL routes answer 401 with ``WWW-Authenticate: Bearer`` (RFC 6750 §3) without a valid bearer token and 403
when the token lacks the scope, before anything is looked up (503 when the hook cannot check credentials
now); what they deliver is ``Cache-Control: private`` (a shared cache must not hand it to others) and
reported to the hook. CA certificates stay public.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import enum
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from fastapi import APIRouter, Request, Response

from pki.clock import Clock
from pki.publication import Publications, Published

CRL_MEDIA_TYPE = "application/pkix-crl"
CERT_MEDIA_TYPE = "application/pkix-cert"
P7C_MEDIA_TYPE = "application/pkcs7-mime"
"""RFC 5280 §4.2.2.1 / RFC 2797: a certs-only CMS message (``.p7c``)."""
_CA_ID = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
CA_CERT_MAX_AGE = 3600
"""Seconds a CA certificate may be cached: it changes only at key rollover."""
REALM = "jlis-pki"
_BEARER = re.compile(r"(?i:bearer) +([A-Za-z0-9\-._~+/]+=*) *")
"""RFC 6750 §2.1: ``Bearer`` (case-insensitive, RFC 9110 §11.1), spaces, a token68."""


class Access(enum.Enum):
    """A :class:`CrlAccess` decision."""

    open = "open"
    """The CA's CRLs are public."""
    granted = "granted"
    missing = "missing"
    """No credentials: 401."""
    invalid = "invalid"
    """Credentials that are not (or no longer) valid: 401 ``invalid_token``."""
    forbidden = "forbidden"
    """Valid credentials without the scope: 403 ``insufficient_scope``."""
    unavailable = "unavailable"
    """The credentials cannot be checked now (the store is away): 503, try again later."""


@dataclass(frozen=True, slots=True)
class Admission:
    """What a :class:`CrlAccess` decided for one request."""

    access: Access
    holder: str | None = None
    """Who was granted, as the hook names them (passed back to :meth:`CrlAccess.delivered`)."""
    scope: str | None = None
    """The scope a restricted CA's CRLs need (named in 403 answers)."""


class CrlAccess(Protocol):
    """Decides who may download a CA's CRLs, and hears of each delivery (to bill it)."""

    def admit(self, ca_id: str, bearer_token: str | None, client_address: str | None) -> Admission:
        """Called before a CRL of ``ca_id`` is looked up, in a worker thread; may read a store."""
        ...

    def delivered(self, ca_id: str, admission: Admission) -> None:
        """A granted request got the CRL (200; not a 304, not a 404)."""
        ...


class PublicCrls:
    """Every CA's CRLs for everyone (no hook configured)."""

    def admit(self, ca_id: str, bearer_token: str | None, client_address: str | None) -> Admission:
        return Admission(Access.open)

    def delivered(self, ca_id: str, admission: Admission) -> None:
        return None


def bearer_token(request: Request) -> str | None:
    """The token of ``Authorization: Bearer TOKEN``; None when absent or malformed."""
    header = request.headers.get("authorization")
    match = _BEARER.fullmatch(header) if header is not None else None
    return match[1] if match else None


def refusal(admission: Admission) -> Response | None:
    """The 401 / 403 answer for a refused admission (RFC 6750 §3), or None when admitted."""
    if admission.access in (Access.open, Access.granted):
        return None
    if admission.access is Access.unavailable:
        headers = {"Retry-After": "5", "Cache-Control": "no-store"}
        return Response(status_code=503, content=b"try later\n", media_type="text/plain", headers=headers)
    challenge = f'Bearer realm="{REALM}"'
    status = 401
    if admission.access is Access.invalid:
        challenge += ', error="invalid_token"'
    elif admission.access is Access.forbidden:
        status = 403
        challenge += ', error="insufficient_scope"'
        if admission.scope:
            challenge += f', scope="{admission.scope}"'
    message = b"forbidden\n" if status == 403 else b"unauthorized\n"
    headers = {"WWW-Authenticate": challenge, "Cache-Control": "no-store"}
    return Response(status_code=status, content=message, media_type="text/plain", headers=headers)


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


def respond(
    request: Request, item: Published | None, media_type: str, now: dt.datetime, *, private: bool = False
) -> Response:
    """The DER with validators and freshness, a 304 when the client's copy is current, or a 404.
    ``private``: only the requester's own cache may keep it (content for authenticated requesters)."""
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
        "Cache-Control": f"{'private' if private else 'public'}, max-age={max_age}, no-transform",
        "Expires": _http_date(expires),
    }
    if _not_modified(request, item):
        return Response(status_code=304, headers=headers)
    return Response(content=item.der, media_type=media_type, headers=headers)


def _valid_ca(ca_id: str) -> bool:
    return _CA_ID.fullmatch(ca_id) is not None


_REFUSALS: dict[int | str, dict[str, object]] = {
    401: {"description": "The CA's CRLs are for registered verifiers: send Authorization: Bearer TOKEN."},
    403: {"description": "The verifier may not download CRLs (scope missing)."},
}


def build_router(
    source: Callable[[], Publications], clock: Clock, access: CrlAccess | None = None
) -> APIRouter:
    """Routes for CA certificates and CRLs. ``source`` is called per request (the engine may be swapped);
    ``access`` decides who may download which CA's CRLs (default: everyone)."""
    router = APIRouter(tags=["publication"])
    gate = access or PublicCrls()

    def crl(request: Request, ca_id: str, find: Callable[[], Published | None]) -> Response:
        client = request.client
        admission = gate.admit(ca_id, bearer_token(request), client.host if client is not None else None)
        refused = refusal(admission)
        if refused is not None:
            return refused
        granted = admission.access is Access.granted
        response = respond(request, find(), CRL_MEDIA_TYPE, clock.now(), private=granted)
        if granted and response.status_code == 200:
            gate.delivered(ca_id, admission)
        return response

    def not_found(request: Request) -> Response:
        return respond(request, None, CRL_MEDIA_TYPE, clock.now())

    @router.get(
        "/ca/{ca_id}/generations.p7c",
        summary="Every generation of a CA and the rollover link certificates (DER certs-only PKCS#7)",
        response_class=Response,
    )
    def ca_generations(ca_id: str, request: Request) -> Response:
        found = source().ca_generations(ca_id) if _valid_ca(ca_id) else None
        return respond(request, found, P7C_MEDIA_TYPE, clock.now())

    @router.get("/ca/{name}", summary="CA certificate (DER)", response_class=Response)
    def ca_certificate(name: str, request: Request) -> Response:
        ca_id = name.removesuffix(".cer")
        found = source().ca_certificate(ca_id) if name.endswith(".cer") and _valid_ca(ca_id) else None
        return respond(request, found, CERT_MEDIA_TYPE, clock.now())

    @router.get("/crl/{name}", summary="Complete CRL (DER)", response_class=Response, responses=_REFUSALS)
    def full_crl(name: str, request: Request) -> Response:
        ca_id = name.removesuffix(".crl")
        if not (name.endswith(".crl") and _valid_ca(ca_id)):
            return not_found(request)
        return crl(request, ca_id, lambda: source().crl(ca_id, "full", False))

    @router.get(
        "/crl/{ca_id}/{name}",
        summary="Delta CRL, ARL or shard CRL (DER)",
        response_class=Response,
        responses=_REFUSALS,
    )
    def scoped_crl(ca_id: str, name: str, request: Request) -> Response:
        stem = name.removesuffix(".crl")
        if not (name.endswith(".crl") and _valid_ca(ca_id)):
            return not_found(request)
        if stem == "delta":
            scope, delta = "full", True
        elif stem == "arl":
            scope, delta = "arl", False
        elif stem.isdigit() and len(stem) <= 6:
            scope, delta = f"shard:{int(stem)}", False
        elif stem.endswith("-delta") and stem[:-6].isdigit() and len(stem) <= 12:
            scope, delta = f"shard:{int(stem[:-6])}", True
        else:
            return not_found(request)
        return crl(request, ca_id, lambda: source().crl(ca_id, scope, delta))

    return router
