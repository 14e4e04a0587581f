"""The OCSP responder over HTTP (RFC 6960 Appendix A, RFC 5019 §5–6): a thin adapter over an OcspService.

``POST /ocsp`` takes a DER OCSPRequest as the body; ``GET /ocsp/{request}`` takes its base64 in the path.
Every OCSP answer, error statuses included, is ``200 application/ocsp-response``; HTTP errors are kept for
what never reaches the responder: an oversized body (413), an oversized GET path (414), another method (405).

The routes are plain Starlette endpoints: FastAPI's dependency injection costs more per request than the
whole cached answer at thousands of requests per second. They are documented in ``/docs`` all the same: the
OpenAPI path items are written out here and merged into the schema FastAPI generates (FastAPI's documented
``app.openapi`` override), so the real routes stay out of the request-parsing machinery.

Answers in memory (``service.cached``) are given on the event loop; the others (store, Redis, signing) in
a dedicated pool of threads, bounded by ``timeout_seconds`` (then ``tryLater``).
"""

from __future__ import annotations

import asyncio
import binascii
import copy
import datetime as dt
import email.utils
import functools
import hashlib
import logging
import re
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import unquote

from fastapi import FastAPI
from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, Response

from ocsp import access_log
from ocsp.answer import Answer, OcspService, Outcome, Requester
from ocsp.errors import MalformedRequest, OcspError
from ocsp.metrics import OcspMetrics
from ocsp.response import ResponseStatus, error_response
from pki.clock import Clock

log = logging.getLogger(__name__)

REQUEST_MEDIA_TYPE: Final = "application/ocsp-request"
RESPONSE_MEDIA_TYPE: Final = "application/ocsp-response"
"""RFC 6960 Appendix A.2."""
POST_ROUTE: Final = "/ocsp"
GET_ROUTE: Final = "/ocsp/{request}"
"""Route templates: the metric and access-log names of the routes (a GET path is the request itself)."""

MALFORMED: Final = Answer(error_response(ResponseStatus.malformed_request), Outcome.malformed)
TRY_LATER: Final = Answer(error_response(ResponseStatus.try_later), Outcome.try_later)
INTERNAL_ERROR: Final = Answer(error_response(ResponseStatus.internal_error), Outcome.internal_error)

SUCCESSFUL: Final = frozenset({Outcome.good, Outcome.revoked, Outcome.unknown, Outcome.several})
"""Outcomes of a successful OCSPResponse: the only ones that looked certificates up, the only ones cached."""
NO_STORE: Final = {"Cache-Control": "no-store"}

_GET_ALPHABET: Final = str.maketrans({"-": "+", "_": "/", " ": "+", "\n": None, "\r": None})
"""URL-safe base64 to the standard alphabet; a space is a ``+`` that something decoded as a form field;
line breaks come from encoders that wrap base64 lines."""
_BEARER: Final = re.compile(r"(?i:bearer) +([A-Za-z0-9\-._~+/]+=*) *")
"""RFC 6750 §2.1: ``Bearer`` (case-insensitive, RFC 9110 §11.1), spaces, a token68."""


@dataclass(frozen=True, slots=True)
class HttpSettings:
    """How the HTTP adapter guards the responder."""

    max_request_bytes: int = 16384
    """Largest OCSPRequest accepted: a longer POST body is refused with 413, a GET path longer than the
    base64 of this many bytes with 414."""
    timeout_seconds: float = 5.0
    """Longest wait for an answer that is not in memory (queue and work) before answering ``tryLater``."""
    max_age_cap: int | None = None
    """Upper bound on Cache-Control max-age, in seconds, for cacheable GET answers; None: until nextUpdate."""
    threads: int = 16
    """Worker threads that compute answers not in memory (store reads, Redis, signing)."""

    def __post_init__(self) -> None:
        if self.max_request_bytes < 1:
            raise ValueError(f"max_request_bytes must be at least 1, not {self.max_request_bytes}")
        if not self.timeout_seconds > 0:
            raise ValueError(f"timeout_seconds must be positive, not {self.timeout_seconds}")
        if self.max_age_cap is not None and self.max_age_cap < 0:
            raise ValueError(f"max_age_cap must be None or at least 0, not {self.max_age_cap}")
        if self.threads < 1:
            raise ValueError(f"threads must be at least 1, not {self.threads}")


class RequestTooLarge(OcspError):
    """A request the HTTP layer refuses before the responder sees it: longer than ``limit`` bytes."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"OCSP request larger than {limit} bytes")
        self.limit = limit


def install(
    app: FastAPI,
    service_factory: Callable[[], OcspService],
    *,
    settings: HttpSettings,
    metrics: OcspMetrics | None = None,
    clock: Clock | None = None,
) -> None:
    """Add ``POST /ocsp``, ``POST /ocsp/`` and ``GET /ocsp/{request}`` to ``app`` and document them.

    ``service_factory`` is called once, on the event loop, by the first request (a factory that fails is
    tried again by the next one): build the service beforehand and pass ``lambda: service`` to avoid the
    wait. ``clock`` (default: the system clock) gives ``now`` for Cache-Control max-age.
    """
    endpoints = _Endpoints(service_factory, settings, metrics, clock or _SystemClock())
    add = app.router.add_route
    add(POST_ROUTE, endpoints.post, methods=["POST"], name="ocsp_post", include_in_schema=False)
    # an OCSP URL written with a trailing slash makes clients POST to /ocsp/
    add(POST_ROUTE + "/", endpoints.post, methods=["POST"], name="ocsp_post_slash", include_in_schema=False)
    add("/ocsp/{request:path}", endpoints.get, methods=["GET"], name="ocsp_get", include_in_schema=False)
    _document(app, settings)


def decode_get_request(text: str, max_bytes: int) -> bytes:
    """The DER OCSPRequest from a GET path (RFC 5019 §5): base64, standard or URL-safe alphabet, padded or
    not, percent-encoded once (the server already decoded that) or twice. Raises MalformedRequest, or
    RequestTooLarge beyond ``max_bytes``."""
    limit = -(-4 * max_bytes // 3)
    if len(text) > 3 * limit:  # even fully percent-encoded, too long: do not spend time on it
        raise RequestTooLarge(max_bytes)
    if "%" in text:  # base64 has no '%': the path was percent-encoded twice on its way
        text = unquote(text)
    text = text.translate(_GET_ALPHABET).rstrip("=")
    if len(text) > limit:
        raise RequestTooLarge(max_bytes)
    if not text or len(text) % 4 == 1:
        raise MalformedRequest("GET path is not base64")
    try:
        return binascii.a2b_base64(text + "=" * (-len(text) % 4), strict_mode=True)
    except (binascii.Error, ValueError):  # ValueError: not ASCII
        raise MalformedRequest("GET path is not base64") from None


def requester_of(request: Request) -> Requester:
    """The requester's bearer token and address; a malformed Authorization header gives no token."""
    authorization = request.headers.get("authorization")
    match = _BEARER.fullmatch(authorization) if authorization is not None else None
    client = request.client
    return Requester(match[1] if match else None, client.host if client is not None else None)


def caching_headers(answer: Answer, now: dt.datetime, max_age_cap: int | None) -> dict[str, str] | None:
    """RFC 5019 §6.2 headers for a cacheable answer (successful, no nonce, with both update times); None:
    the answer must not be cached."""
    if not answer.cacheable or answer.outcome not in SUCCESSFUL:
        return None
    if answer.this_update is None or answer.next_update is None:
        return None
    max_age = max(0, int((answer.next_update - now).total_seconds()))
    expires = answer.next_update
    if max_age_cap is not None and max_age > max_age_cap:
        # whole seconds: an HTTP-date has no fraction, and http_date's cache sees one new value a second
        max_age, expires = max_age_cap, (now + dt.timedelta(seconds=max_age_cap)).replace(microsecond=0)
    return {
        "Cache-Control": f"max-age={max_age}, public, no-transform, must-revalidate",
        "Last-Modified": http_date(answer.this_update),
        "Expires": http_date(expires),
        "ETag": f'"{hashlib.sha1(answer.der, usedforsecurity=False).hexdigest()}"',
    }


def not_modified(request: Request, etag: str) -> bool:
    """If-None-Match names ``etag`` (weak comparison, RFC 9110 §13.1.2) or is ``*``."""
    header = request.headers.get("if-none-match")
    if header is None:
        return False
    tags = {tag.strip().removeprefix("W/") for tag in header.split(",")}
    return etag in tags or "*" in tags


@functools.lru_cache(maxsize=4096)
def http_date(value: dt.datetime) -> str:
    """IMF-fixdate (RFC 9110 §5.6.7); the same few thisUpdate / nextUpdate values come back all the time."""
    return email.utils.format_datetime(value.astimezone(dt.UTC), usegmt=True)


class _SystemClock:
    """Wall-clock time with its fraction: max-age is floored from the exact remaining time."""

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)


class _Endpoints:
    """The route handlers and what they share: the service, the thread pool, settings and metrics."""

    def __init__(
        self,
        factory: Callable[[], OcspService],
        settings: HttpSettings,
        metrics: OcspMetrics | None,
        clock: Clock,
    ) -> None:
        self._factory = factory
        self._service: OcspService | None = None
        self._settings = settings
        self._metrics = metrics
        self._clock = clock
        # Not Starlette's run_in_threadpool: anyio shields the wait from cancellation (a timeout would wait
        # for the thread) or, abandoning it, frees the limiter slot (stuck calls pile up threads). Here a
        # timed-out call keeps its thread until it returns, queued calls are dropped, threads stay bounded,
        # and the rest of the app keeps anyio's threads.
        self._pool = ThreadPoolExecutor(settings.threads, thread_name_prefix="ocsp-answer")

    async def post(self, request: Request) -> Response:
        started = time.perf_counter()
        try:
            der = await _read_body(request, self._settings.max_request_bytes)
        except RequestTooLarge as e:
            # stop reading: close the connection rather than drain a body we refused
            close = {"Connection": "close"}
            return self._refuse(request, POST_ROUTE, 413, f"{e.message}\n", started, Outcome.too_large, close)
        except ClientDisconnect:  # nobody will read the answer: only the access log and metrics see it
            return self._refuse(request, POST_ROUTE, 400, "incomplete body\n", started, Outcome.malformed)
        answer = await self._answer(request, der)
        return self._send(request, POST_ROUTE, answer, None, started)

    async def get(self, request: Request) -> Response:
        started = time.perf_counter()
        try:
            der = decode_get_request(request.path_params["request"], self._settings.max_request_bytes)
        except RequestTooLarge as e:
            message = f"{e.message}: the base64 path may be at most {4 * -(-e.limit // 3)} characters\n"
            return self._refuse(request, GET_ROUTE, 414, message, started, Outcome.too_large)
        except MalformedRequest:
            return self._send(request, GET_ROUTE, MALFORMED, None, started)
        answer = await self._answer(request, der)
        headers = caching_headers(answer, self._clock.now(), self._settings.max_age_cap)
        return self._send(request, GET_ROUTE, answer, headers, started)

    async def _answer(self, request: Request, der: bytes) -> Answer:
        """From memory on the loop, else from a worker thread within the timeout; never raises."""
        requester = requester_of(request)
        try:
            service = self._service or self._build()
            answer = service.cached(der, requester)
            if answer is not None:
                return answer
            if service.local:
                return service.answer(der, requester)
            future = asyncio.get_running_loop().run_in_executor(self._pool, service.answer, der, requester)
            try:
                return await asyncio.wait_for(future, self._settings.timeout_seconds)
            except TimeoutError:
                if not future.cancelled():  # the service's own TimeoutError
                    raise
            log.warning("OCSP answer not ready in %g s: answered tryLater", self._settings.timeout_seconds)
            return TRY_LATER
        except Exception:
            log.exception("OCSP service failed: answered internalError")
            return INTERNAL_ERROR

    def _build(self) -> OcspService:
        self._service = service = self._factory()
        return service

    def _send(
        self, request: Request, route: str, answer: Answer, headers: dict[str, str] | None, started: float
    ) -> Response:
        if headers is None:
            response = Response(answer.der, media_type=RESPONSE_MEDIA_TYPE, headers=NO_STORE)
        elif not_modified(request, headers["ETag"]):
            response = Response(status_code=304, headers=headers)
        else:
            response = Response(answer.der, media_type=RESPONSE_MEDIA_TYPE, headers=headers)
        self._record(request, route, response, answer.outcome, answer, started)
        return response

    def _refuse(
        self,
        request: Request,
        route: str,
        status: int,
        message: str,
        started: float,
        outcome: Outcome,
        headers: dict[str, str] | None = None,
    ) -> Response:
        """An HTTP error for a request the responder never saw."""
        response = PlainTextResponse(message, status_code=status, headers=headers)
        self._record(request, route, response, outcome, None, started)
        return response

    def _record(
        self,
        request: Request,
        route: str,
        response: Response,
        outcome: Outcome,
        answer: Answer | None,
        started: float,
    ) -> None:
        """Count the request and write its access-log line."""
        elapsed = time.perf_counter() - started
        cache_hit = answer.cache_hit if answer is not None and outcome in SUCCESSFUL else None
        signatures = answer.signatures if answer is not None else 0
        method = request.method
        if self._metrics is not None:
            self._metrics.observe(method, outcome, elapsed, cache_hit=cache_hit, signatures=signatures)
        if access_log.enabled():
            client = request.client
            access_log.write(
                access_log.AccessRecord(
                    started=time.time() - elapsed,
                    method=method,
                    route=route,
                    status=response.status_code,
                    outcome=outcome,
                    ca_id=answer.ca_id if answer is not None else None,
                    certificates=answer.certificates if answer is not None else 0,
                    cache_hit=cache_hit,
                    signatures=signatures,
                    latency_s=elapsed,
                    response_bytes=len(response.body),
                    client=client.host if client is not None else None,
                )
            )


async def _read_body(request: Request, limit: int) -> bytes:
    """The body, read as it arrives and given up as soon as it passes ``limit`` bytes (also when it is sent
    chunked, with no Content-Length)."""
    declared = request.headers.get("content-length")
    if declared is not None and (len(declared) > 20 or (declared.isdigit() and int(declared) > limit)):
        raise RequestTooLarge(limit)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise RequestTooLarge(limit)
    return bytes(body)


def _document(app: FastAPI, settings: HttpSettings) -> None:
    """Merge the OCSP path items into the OpenAPI schema FastAPI generates (FastAPI's documented way to
    extend it: override ``app.openapi``; the previous generator is kept, so other extensions chain)."""
    generate = app.openapi
    paths = _openapi_paths(settings)

    def openapi() -> dict[str, Any]:
        schema = generate()
        schema.setdefault("paths", {}).update(copy.deepcopy(paths))
        return schema

    app.openapi_schema = None
    app.openapi = openapi  # type: ignore[method-assign]  # the override FastAPI documents


_BINARY: Final = {"type": "string", "format": "binary"}
_POST_DOC: Final = (
    "RFC 6960 Appendix A.1: the body is a DER OCSPRequest (send Content-Type application/ocsp-request; any "
    "is accepted). The answer is never cacheable (Cache-Control: no-store). Also at POST /ocsp/."
)
_GET_DOC: Final = (
    "RFC 5019 §5: the path is the base64 of a DER OCSPRequest, URL-encoded or not, in the standard or the "
    "URL-safe alphabet, padded or not; it may contain '/'. A path that is not base64 is answered "
    "malformedRequest. A successful answer without a nonce carries the RFC 5019 §6 caching headers "
    "(Cache-Control max-age up to nextUpdate, ETag, Last-Modified, Expires) and If-None-Match gives 304."
)
_ANSWER_DOC: Final = (
    "An OCSPResponse (RFC 6960 §4.2): also for the error statuses malformedRequest, internalError, tryLater "
    "and unauthorized, which are answers, not HTTP errors."
)


def _openapi_paths(settings: HttpSettings) -> dict[str, Any]:
    """OpenAPI path items of the OCSP routes (raw Starlette routes: FastAPI cannot derive them)."""
    limit = f"The request is longer than {settings.max_request_bytes} bytes."
    answer = {"description": _ANSWER_DOC, "content": {RESPONSE_MEDIA_TYPE: {"schema": _BINARY}}}
    request = {"name": "request", "in": "path", "required": True, "schema": {"type": "string"}}
    if_none_match = {"name": "If-None-Match", "in": "header", "required": False, "schema": {"type": "string"}}
    post = {
        "tags": ["ocsp"],
        "summary": "OCSP request (POST)",
        "description": _POST_DOC,
        "operationId": "ocsp_post",
        "requestBody": {"required": True, "content": {REQUEST_MEDIA_TYPE: {"schema": _BINARY}}},
        "responses": {"200": answer, "413": {"description": limit}},
    }
    get = {
        "tags": ["ocsp"],
        "summary": "OCSP request (GET)",
        "description": _GET_DOC,
        "operationId": "ocsp_get",
        "parameters": [request, if_none_match],
        "responses": {"200": answer, "304": {"description": "Not modified."}, "414": {"description": limit}},
    }
    return {POST_ROUTE: {"post": post}, GET_ROUTE: {"get": get}}
