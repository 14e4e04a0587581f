"""JPKI's verifier services over HTTP (``/api/jpki/...``): thin FastAPI routes over ``jpki.services``.

Every route needs ``Authorization: Bearer TOKEN`` of a registered verifier with the route's scope (401 /
403 otherwise, RFC 6750). Bodies are limited in size (413); what cannot be parsed is a 400; a certificate or
consent that is not ours a 404 / 422 — each a JSON ``{"error": code, "message": text}``, never a 5xx for
anything a client sent, and never anything about a person unless the service grants it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from jpki.services.access import ServiceRefused
from jpki.services.consent import ConsentService
from jpki.services.linkage import LinkageService
from pki.http import REALM, bearer_token


class Answerable(Protocol):
    def as_dict(self) -> dict[str, Any]: ...


MAX_BODY = 64 * 1024
"""Bytes a request body may have: a certificate, or a consent signature with its certificates."""


@dataclass(frozen=True, slots=True)
class JpkiServices:
    linkage: LinkageService
    consent: ConsentService


def _error(refused: ServiceRefused) -> JSONResponse:
    headers = {"Cache-Control": "no-store"}
    if refused.status == 401:
        headers["WWW-Authenticate"] = f'Bearer realm="{REALM}", error="invalid_token"'
    elif refused.status == 403:
        headers["WWW-Authenticate"] = f'Bearer realm="{REALM}", error="insufficient_scope"'
    body = {"error": refused.code, "message": refused.message}
    return JSONResponse(body, status_code=refused.status, headers=headers)


async def _body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY):
        raise ServiceRefused(413, "too-large", f"the body may have at most {MAX_BODY} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise ServiceRefused(413, "too-large", f"the body may have at most {MAX_BODY} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _client(request: Request) -> str | None:
    return request.client.host if request.client is not None else None


async def _serve(
    request: Request, call: Callable[[str | None, bytes, str | None], Answerable]
) -> JSONResponse:
    """Read the body (size-limited), run the service in a worker thread, answer its JSON or its refusal."""
    try:
        body = await _body(request)
        found = await run_in_threadpool(call, bearer_token(request), body, _client(request))
    except ServiceRefused as refused:
        return _error(refused)
    return JSONResponse(found.as_dict(), headers={"Cache-Control": "no-store"})


@dataclass(frozen=True, slots=True)
class _Withdrawn:
    consent_id: str

    def as_dict(self) -> dict[str, object]:
        return {"consent_id": self.consent_id, "withdrawn": True}


def build_router(services: Callable[[], JpkiServices]) -> APIRouter:
    router = APIRouter(prefix="/api/jpki", tags=["jpki"])

    @router.post(
        "/linkage",
        summary="Linkage: the same person's other certificates (old → new, signing ↔ authentication)",
        description="Body: the certificate the verifier holds (DER, or PEM). Registered verifiers only.",
    )
    async def linkage(request: Request) -> JSONResponse:
        return await _serve(
            request, lambda token, body, client: services().linkage.linkage(token, body, client)
        )

    @router.post(
        "/four-info",
        summary="The holder's current basic 4 information, with the holder's signed consent",
        description=(
            "Body: the consent the holder signed with the card (CMS SignedData, DER, content attached: "
            "see jpki.services.consent.consent_document). Registered verifiers with the four-info scope."
        ),
    )
    async def four_info(request: Request) -> JSONResponse:
        return await _serve(
            request, lambda token, body, client: services().consent.provide(token, body, client)
        )

    @router.post(
        "/consents/withdraw",
        summary="Withdraw a consent (the holder, signing the withdrawal with a current card certificate)",
    )
    async def withdraw(request: Request) -> JSONResponse:
        return await _serve(
            request, lambda _token, body, _client: _Withdrawn(services().consent.withdraw(body))
        )

    return router
