"""The OCSP HTTP adapter (RFC 6960 Appendix A, RFC 5019 §5–6) over a fake OcspService: GET decoding, size
limits, caching headers, timeouts and failures (always an OCSP answer, never a 5xx), requester credentials,
metrics (also across processes), the access log and the OpenAPI documentation; once over a real uvicorn."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import logging
import math
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import httpx
import pytest
import uvicorn
from cryptography.x509 import ocsp as pyca_ocsp
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from ocsp.answer import Answer, Outcome, Requester
from ocsp.errors import MalformedRequest
from ocsp.http import HttpSettings, RequestTooLarge, decode_get_request, install
from ocsp.metrics import MetricsConfigError, OcspMetrics, install_metrics_route
from pki.clock import FixedClock
from tests.ocsp import support

NOW = dt.datetime(2026, 11, 26, 3, 0, 0, tzinfo=dt.UTC)
REQUEST = support.request(
    [
        support.cert_id(
            name_hash=bytes(range(0xE0, 0xF4)), key_hash=bytes(range(0xEC, 0x100)), serial=b"\x7f\x3e\x9b\xfb"
        )
    ]
)
"""A real OCSPRequest whose base64 holds '+', '/' and one '=' of padding."""
B64 = base64.b64encode(REQUEST).decode()
SIGNED = b"0\x82successful OCSPResponse, passed through as it is"
"""The adapter never looks inside a successful response: any bytes do."""
GOOD = Answer(
    SIGNED,
    Outcome.good,
    cacheable=True,
    this_update=NOW - dt.timedelta(hours=1),
    next_update=NOW + dt.timedelta(hours=23, minutes=30, seconds=10),
    produced_at=NOW - dt.timedelta(hours=1),
    ca_id="jpki-sign",
    certificates=1,
    cache_hit=True,
)
SIGNED_NOW = replace(GOOD, cache_hit=False, signatures=1, this_update=NOW, produced_at=NOW)
WITH_NONCE = replace(SIGNED_NOW, cacheable=False)
TOKEN = "s3cr3t-T0ken.v1"
STATUS = pyca_ocsp.OCSPResponseStatus


@dataclass
class FakeService:
    """An OcspService that answers ``answer`` (from memory when ``in_memory``) and records what it saw."""

    answer_to_give: Answer = SIGNED_NOW
    in_memory: Answer | None = None
    fail: bool = False
    block: bool = False
    seen: list[tuple[bytes, Requester]] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    local: bool = False
    threads: list[str] = field(default_factory=list)

    def cached(self, request_der: bytes, requester: Requester) -> Answer | None:
        self.seen.append((request_der, requester))
        return self.in_memory

    def answer(self, request_der: bytes, requester: Requester) -> Answer:
        self.threads.append(threading.current_thread().name)
        if self.fail:
            raise RuntimeError("the store is on fire")
        if self.block:
            self.release.wait(10)
        return self.answer_to_give


@dataclass
class Responder:
    client: TestClient
    service: FakeService
    metrics: OcspMetrics
    builds: list[int]


def make_responder(service: FakeService, settings: HttpSettings) -> Responder:
    app = FastAPI()
    metrics = OcspMetrics()
    builds: list[int] = []

    def factory() -> FakeService:
        builds.append(1)
        return service

    install(app, factory, settings=settings, metrics=metrics, clock=FixedClock(NOW))
    install_metrics_route(app, metrics)
    return Responder(TestClient(app), service, metrics, builds)


@pytest.fixture
def service() -> Iterator[FakeService]:
    fake = FakeService()
    yield fake
    fake.release.set()


@pytest.fixture
def responder(service: FakeService) -> Responder:
    return make_responder(service, HttpSettings(max_request_bytes=1024))


def status_of(response: httpx.Response) -> pyca_ocsp.OCSPResponseStatus:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/ocsp-response"
    return pyca_ocsp.load_der_ocsp_response(response.content).response_status


# --- GET and POST


def test_post_and_get_give_the_same_bytes(responder: Responder) -> None:
    posted = responder.client.post(
        "/ocsp", content=REQUEST, headers={"Content-Type": "application/ocsp-request"}
    )
    got = responder.client.get(f"/ocsp/{B64}")
    for response in (posted, got):
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/ocsp-response"
        assert response.content == SIGNED
    assert [der for der, _ in responder.service.seen] == [REQUEST, REQUEST]
    assert responder.builds == [1], "the service factory is called once"


def test_post_accepts_any_content_type_and_a_trailing_slash(responder: Responder) -> None:
    for path, content_type in (("/ocsp", "application/octet-stream"), ("/ocsp/", "text/plain")):
        response = responder.client.post(path, content=REQUEST, headers={"Content-Type": content_type})
        assert response.content == SIGNED
    assert [der for der, _ in responder.service.seen] == [REQUEST, REQUEST]


@pytest.mark.parametrize(
    "path",
    [
        pytest.param(B64, id="raw-with-slash-and-plus"),
        pytest.param(urllib.parse.quote(B64, safe=""), id="percent-encoded"),
        pytest.param(
            urllib.parse.quote(urllib.parse.quote(B64, safe=""), safe=""), id="percent-encoded-twice"
        ),
        pytest.param(B64.rstrip("="), id="no-padding"),
        pytest.param(base64.urlsafe_b64encode(REQUEST).decode(), id="url-safe"),
        pytest.param(base64.urlsafe_b64encode(REQUEST).decode().rstrip("="), id="url-safe-no-padding"),
        pytest.param(B64.replace("+", "%20"), id="plus-decoded-as-space"),
    ],
)
def test_get_decodes_every_encoding_clients_use(responder: Responder, path: str) -> None:
    assert "/" in B64 and "+" in B64 and B64.endswith("=")
    response = responder.client.get(f"/ocsp/{path}")
    assert response.content == SIGNED
    assert responder.service.seen[-1][0] == REQUEST


@pytest.mark.parametrize("path", ["", "!!!!", "A", "MEUwQ", "%E3%81%82%E3%81%84", "ab=c", "MEUw%00"])
def test_get_that_is_not_base64_is_malformed_request(responder: Responder, path: str) -> None:
    response = responder.client.get(f"/ocsp/{path}")
    assert status_of(response) is STATUS.MALFORMED_REQUEST
    assert response.headers["cache-control"] == "no-store"
    assert responder.service.seen == []


@given(st.binary(min_size=1, max_size=300))
def test_every_encoding_of_any_bytes_decodes_back(data: bytes) -> None:
    standard = base64.b64encode(data).decode()
    url_safe = base64.urlsafe_b64encode(data).decode()
    for text in (standard, standard.rstrip("="), url_safe.rstrip("="), urllib.parse.quote(standard, safe="")):
        assert decode_get_request(text, 300) == data


def test_decoding_refuses_what_is_too_long_or_not_base64() -> None:
    assert decode_get_request(base64.b64encode(b"x" * 30).decode(), 30) == b"x" * 30
    with pytest.raises(RequestTooLarge):
        decode_get_request(base64.b64encode(b"x" * 31).decode(), 30)
    with pytest.raises(MalformedRequest):
        decode_get_request("MEU*", 30)


# --- HTTP errors: only for what never reaches the responder


def test_oversized_post_is_413_and_never_reaches_the_service(responder: Responder) -> None:
    assert responder.client.post("/ocsp", content=b"\x30" * 1024).status_code == 200
    response = responder.client.post("/ocsp", content=b"\x30" * 1025)
    assert response.status_code == 413
    assert response.headers["content-type"].startswith("text/plain")
    assert "1024 bytes" in response.text
    assert len(responder.service.seen) == 1


def test_oversized_chunked_post_without_length_is_413(responder: Responder) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(100):
            yield b"\x30" * 100

    response = responder.client.post("/ocsp", content=chunks())
    assert response.status_code == 413
    assert responder.service.seen == []


def test_oversized_get_path_is_414(responder: Responder) -> None:
    at_limit = base64.b64encode(b"\x30" * 1024).decode()
    assert responder.client.get(f"/ocsp/{at_limit}").status_code == 200
    response = responder.client.get(f"/ocsp/{base64.b64encode(b'0' * 1025).decode()}")
    assert response.status_code == 414
    assert "1368 characters" in response.text
    assert len(responder.service.seen) == 1


@pytest.mark.parametrize(("method", "path"), [("PUT", "/ocsp"), ("DELETE", "/ocsp"), ("PUT", f"/ocsp/{B64}")])
def test_other_methods_are_405(responder: Responder, method: str, path: str) -> None:
    assert responder.client.request(method, path, content=REQUEST).status_code == 405


# --- RFC 5019 §6 caching


def test_cacheable_get_carries_rfc5019_headers_and_answers_304(responder: Responder) -> None:
    responder.service.answer_to_give = GOOD
    response = responder.client.get(f"/ocsp/{B64}")
    etag = f'"{hashlib.sha1(SIGNED).hexdigest()}"'
    assert response.headers["cache-control"] == "max-age=84610, public, no-transform, must-revalidate"
    assert response.headers["last-modified"] == "Thu, 26 Nov 2026 02:00:00 GMT"
    assert response.headers["expires"] == "Fri, 27 Nov 2026 02:30:10 GMT"
    assert response.headers["etag"] == etag
    for header in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        again = responder.client.get(f"/ocsp/{B64}", headers={"If-None-Match": header})
        assert again.status_code == 304, header
        assert again.content == b""
        assert {k: again.headers[k] for k in ("cache-control", "etag", "expires", "last-modified")} == {
            k: response.headers[k] for k in ("cache-control", "etag", "expires", "last-modified")
        }
    assert responder.client.get(f"/ocsp/{B64}", headers={"If-None-Match": '"other"'}).status_code == 200


def test_max_age_is_capped_and_never_negative(service: FakeService) -> None:
    capped = make_responder(service, HttpSettings(max_age_cap=600))
    service.answer_to_give = GOOD
    response = capped.client.get(f"/ocsp/{B64}")
    assert response.headers["cache-control"] == "max-age=600, public, no-transform, must-revalidate"
    assert response.headers["expires"] == "Thu, 26 Nov 2026 03:10:00 GMT"
    service.answer_to_give = replace(GOOD, next_update=NOW - dt.timedelta(seconds=5))
    stale = capped.client.get(f"/ocsp/{B64}")
    assert stale.headers["cache-control"] == "max-age=0, public, no-transform, must-revalidate"


@pytest.mark.parametrize(
    ("method", "answer"),
    [
        pytest.param("POST", GOOD, id="post"),
        pytest.param("GET", WITH_NONCE, id="get-nonce"),
        pytest.param("GET", replace(GOOD, cacheable=True, outcome=Outcome.unauthorized), id="get-error"),
    ],
)
def test_post_nonce_and_error_answers_are_no_store(responder: Responder, method: str, answer: Answer) -> None:
    responder.service.answer_to_give = answer
    if method == "POST":
        response = responder.client.post("/ocsp", content=REQUEST)
    else:
        response = responder.client.get(f"/ocsp/{B64}", headers={"If-None-Match": "*"})
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    assert not {"etag", "expires", "last-modified"} & set(response.headers)


# --- the responder: fast path, timeout, failures


def test_answer_in_memory_never_goes_to_the_thread(responder: Responder) -> None:
    responder.service.in_memory = GOOD
    responder.service.fail = True  # would be internalError if the thread were used
    assert responder.client.get(f"/ocsp/{B64}").content == SIGNED


def test_slow_answer_is_try_later(service: FakeService, caplog: pytest.LogCaptureFixture) -> None:
    responder = make_responder(service, HttpSettings(timeout_seconds=0.05))
    service.block = True  # until the test ends
    with caplog.at_level(logging.WARNING, logger="ocsp.http"):
        response = responder.client.post("/ocsp", content=REQUEST)
    assert status_of(response) is STATUS.TRY_LATER
    assert response.headers["cache-control"] == "no-store"
    assert any("tryLater" in r.getMessage() for r in caplog.records)
    assert sample(responder, "jlis_ocsp_requests_total", method="POST", outcome="tryLater") == 1


@pytest.mark.parametrize("where", ["answer", "cached", "factory"])
def test_failing_service_is_internal_error_never_500(caplog: pytest.LogCaptureFixture, where: str) -> None:
    app = FastAPI()

    class Broken(FakeService):
        def cached(self, request_der: bytes, requester: Requester) -> Answer | None:
            raise RuntimeError("cache is on fire")

    def factory() -> FakeService:
        if where == "factory":
            raise RuntimeError("cannot open the store")
        return Broken() if where == "cached" else FakeService(fail=True)

    install(app, factory, settings=HttpSettings())
    client = TestClient(app, raise_server_exceptions=False)
    with caplog.at_level(logging.ERROR, logger="ocsp.http"):
        response = client.get(f"/ocsp/{B64}", headers={"Authorization": f"Bearer {TOKEN}"})
    assert status_of(response) is STATUS.INTERNAL_ERROR
    [record] = [r for r in caplog.records if r.name == "ocsp.http"]
    assert record.levelno == logging.ERROR and record.exc_info is not None
    assert B64 not in caplog.text and REQUEST.hex() not in caplog.text and TOKEN not in caplog.text


# --- the requester


@pytest.mark.parametrize(
    ("authorization", "token"),
    [
        (f"Bearer {TOKEN}", TOKEN),
        (f"bearer   {TOKEN}", TOKEN),
        ("Bearer abc+/==", "abc+/=="),
        (None, None),
        ("Basic dXNlcjpwYXNz", None),
        ("Bearer", None),
        ("Bearer two tokens", None),
        ("Bearer a=b", None),
    ],
)
def test_bearer_token_reaches_the_service(
    responder: Responder, authorization: str | None, token: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization is not None else {}
    responder.client.post("/ocsp", content=REQUEST, headers=headers)
    assert responder.service.seen[-1][1] == Requester(bearer_token=token, client_address="testclient")


# --- metrics, access log, documentation


def sample(responder: Responder, name: str, **labels: str) -> float:
    text = responder.client.get("/metrics").text
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and s.labels == labels:
                return float(s.value)
    raise AssertionError(f"{name}{labels} is not in /metrics")


def test_metrics_count_requests_cache_and_signatures(responder: Responder) -> None:
    response = responder.client.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain; version=")
    assert math.isnan(sample(responder, "jlis_ocsp_cache_hit_ratio")), "no lookup yet"
    responder.service.in_memory = GOOD
    for _ in range(3):
        responder.client.get(f"/ocsp/{B64}")
    responder.service.in_memory = None
    responder.client.post("/ocsp", content=REQUEST)
    responder.client.get("/ocsp/!!!!")
    responder.client.post("/ocsp", content=b"0" * 2000)
    assert sample(responder, "jlis_ocsp_requests_total", method="GET", outcome="good") == 3
    assert sample(responder, "jlis_ocsp_requests_total", method="POST", outcome="good") == 1
    assert sample(responder, "jlis_ocsp_requests_total", method="GET", outcome="malformedRequest") == 1
    assert sample(responder, "jlis_ocsp_requests_total", method="POST", outcome="tooLarge") == 1
    assert sample(responder, "jlis_ocsp_request_seconds_count", method="GET") == 4
    assert sample(responder, "jlis_ocsp_cache_hits_total") == 3
    assert sample(responder, "jlis_ocsp_cache_misses_total") == 1
    assert sample(responder, "jlis_ocsp_signatures_total") == 1
    assert sample(responder, "jlis_ocsp_cache_hit_ratio") == 0.75


def test_access_log_names_the_route_never_the_request(
    responder: Responder, caplog: pytest.LogCaptureFixture
) -> None:
    responder.service.answer_to_give = GOOD
    with caplog.at_level(logging.INFO, logger="jlis.access.ocsp"):
        responder.client.get(f"/ocsp/{B64}", headers={"Authorization": f"Bearer {TOKEN}"})
        responder.client.post("/ocsp", content=REQUEST, headers={"Authorization": f"Bearer {TOKEN}"})
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "jlis.access.ocsp"]
    assert [(line["method"], line["route"]) for line in lines] == [
        ("GET", "/ocsp/{request}"),
        ("POST", "/ocsp"),
    ]
    get = lines[0]
    assert get["status"] == 200 and get["outcome"] == "good" and get["ca_id"] == "jpki-sign"
    assert get["certificates"] == 1 and get["cache"] == "hit" and get["signatures"] == 0
    assert get["bytes"] == len(SIGNED) and get["client"] == "testclient"
    assert isinstance(get["latency_ms"], float) and get["latency_ms"] >= 0
    assert dt.datetime.fromisoformat(get["time"]).tzinfo is not None
    for fragment in (B64, B64[:16], urllib.parse.quote(B64[:16], safe=""), REQUEST.hex()[:16], TOKEN):
        assert fragment not in caplog.text


def test_access_log_formats_nothing_when_disabled(
    responder: Responder, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ocsp import access_log

    def fail(record: access_log.AccessRecord) -> dict[str, object]:
        raise AssertionError("formatted a line nobody logs")

    monkeypatch.setattr(access_log.AccessRecord, "fields", fail)
    with caplog.at_level(logging.WARNING, logger="jlis.access.ocsp"):
        assert responder.client.get(f"/ocsp/{B64}").status_code == 200


def test_openapi_documents_the_raw_routes(responder: Responder) -> None:
    paths = responder.client.get("/openapi.json").json()["paths"]
    assert "application/ocsp-request" in paths["/ocsp"]["post"]["requestBody"]["content"]
    get = paths["/ocsp/{request}"]["get"]
    assert "application/ocsp-response" in get["responses"]["200"]["content"]
    assert {"200", "304", "414"} <= set(get["responses"])
    assert "/metrics" in paths
    assert responder.client.get("/docs").status_code == 200


# --- multiprocess metrics


_WORKER = """
from ocsp.answer import Outcome
from ocsp.metrics import OcspMetrics
m = OcspMetrics()
for hit in {hits}:
    m.observe("GET", Outcome.good, 0.0002, cache_hit=hit, signatures=0 if hit else 1)
print(m.exposition().decode())
"""


def test_multiprocess_metrics_add_up_every_worker(tmp_path: Path) -> None:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}

    def run(hits: list[bool]) -> str:
        code = _WORKER.format(hits=hits)
        return subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True, timeout=60
        ).stdout

    run([True, True, False])
    text = run([True])
    values = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    assert values[("jlis_ocsp_requests_total", (("method", "GET"), ("outcome", "good")))] == 4
    assert values[("jlis_ocsp_cache_hits_total", ())] == 3
    assert values[("jlis_ocsp_signatures_total", ())] == 1
    assert values[("jlis_ocsp_cache_hit_ratio", ())] == 0.75
    assert values[("jlis_ocsp_request_seconds_bucket", (("le", "0.00025"), ("method", "GET")))] == 4


def test_multiprocess_dir_set_too_late_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    with pytest.raises(MetricsConfigError, match="before prometheus_client is first imported"):
        OcspMetrics()


# --- a real server


@pytest.fixture
def real_server(service: FakeService) -> Iterator[str]:
    app = FastAPI()
    install(app, lambda: service, settings=HttpSettings(max_request_bytes=1024), clock=FixedClock(NOW))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def test_real_server_decodes_paths_and_limits_bodies(real_server: str, service: FakeService) -> None:
    service.answer_to_give = GOOD
    with httpx.Client(base_url=real_server, timeout=10) as client:
        for path in (B64, urllib.parse.quote(B64, safe=""), B64.replace("+", "%2B").replace("/", "%2F")):
            response = client.get(f"/ocsp/{path}")
            assert response.content == SIGNED, path
            assert response.headers["cache-control"].startswith("max-age=")
        assert client.post("/ocsp", content=REQUEST).headers["cache-control"] == "no-store"
        assert [der for der, _ in service.seen] == [REQUEST] * 4
        chunked = client.post("/ocsp", content=iter([b"\x30" * 600, b"\x30" * 600, b"\x30" * 600]))
        assert chunked.status_code == 413
        assert status_of(client.get("/ocsp/not*base64")) is STATUS.MALFORMED_REQUEST
        assert client.put("/ocsp", content=REQUEST).status_code == 405


@pytest.mark.parametrize("local", [True, False])
def test_local_services_answer_on_the_event_loop_others_in_worker_threads(local: bool) -> None:
    service = FakeService(local=local)
    responder = make_responder(service, HttpSettings())
    assert responder.client.post("/ocsp", content=REQUEST).content == service.answer_to_give.der
    assert len(service.threads) == 1
    assert service.threads[0].startswith("ocsp-answer") is not local
