"""Publication over HTTP: media types, validators, freshness, 304s and 404s (never a 5xx)."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from pki.clock import FixedClock
from pki.http import build_router
from pki.publication import Published

NOW = dt.datetime(2026, 11, 26, 3, 0, tzinfo=dt.UTC)


class Source:
    def __init__(self) -> None:
        self.crls = {
            ("ca1", "full", False): Published(
                b"full-crl", NOW - dt.timedelta(hours=1), NOW + dt.timedelta(hours=23)
            ),
            ("ca1", "full", True): Published(b"delta-crl", NOW, NOW + dt.timedelta(minutes=15)),
            ("ca1", "shard:3", False): Published(b"shard3", NOW, NOW + dt.timedelta(hours=1)),
            ("ca1", "arl", False): Published(b"arl", NOW, NOW - dt.timedelta(hours=1)),
        }

    def ca_certificate(self, ca_id: str) -> Published | None:
        return Published(b"ca-der", NOW - dt.timedelta(days=1)) if ca_id == "ca1" else None

    def crl(self, ca_id: str, scope: str, delta: bool) -> Published | None:
        return self.crls.get((ca_id, scope, delta))

    def ca_generations(self, ca_id: str) -> Published | None:
        return Published(b"p7c", NOW - dt.timedelta(days=1)) if ca_id == "ca1" else None


@pytest.fixture
def client() -> TestClient:
    app = FastAPI()
    source = Source()
    app.include_router(build_router(lambda: source, FixedClock(NOW)))
    return TestClient(app)


def test_crl_has_media_type_validators_and_freshness(client: TestClient) -> None:
    response = client.get("/crl/ca1.crl")
    assert response.status_code == 200
    assert response.content == b"full-crl"
    assert response.headers["content-type"] == "application/pkix-crl"
    assert response.headers["cache-control"] == f"public, max-age={23 * 3600}, no-transform"
    assert response.headers["last-modified"] == "Thu, 26 Nov 2026 02:00:00 GMT"
    assert response.headers["expires"] == "Fri, 27 Nov 2026 02:00:00 GMT"
    etag = response.headers["etag"]
    assert client.get("/crl/ca1.crl", headers={"If-None-Match": etag}).status_code == 304
    assert client.get("/crl/ca1.crl", headers={"If-None-Match": '"other"'}).status_code == 200
    assert (
        client.get("/crl/ca1.crl", headers={"If-Modified-Since": "Thu, 26 Nov 2026 02:00:00 GMT"}).status_code
        == 304
    )
    assert (
        client.get("/crl/ca1.crl", headers={"If-Modified-Since": "Thu, 26 Nov 2026 01:59:59 GMT"}).status_code
        == 200
    )
    assert client.get("/crl/ca1.crl", headers={"If-Modified-Since": "garbage"}).status_code == 200


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/crl/ca1/delta.crl", b"delta-crl"),
        ("/crl/ca1/3.crl", b"shard3"),
        ("/crl/ca1/arl.crl", b"arl"),
        ("/ca/ca1.cer", b"ca-der"),
    ],
)
def test_scoped_crls_and_ca_certificate(client: TestClient, path: str, body: bytes) -> None:
    response = client.get(path)
    assert response.status_code == 200 and response.content == body


def test_expired_crl_is_served_but_not_cacheable(client: TestClient) -> None:
    assert client.get("/crl/ca1/arl.crl").headers["cache-control"].startswith("public, max-age=0,")


@pytest.mark.parametrize(
    "path",
    [
        "/crl/nope.crl",
        "/crl/ca1",
        "/crl/ca1/delta",
        "/crl/ca1/99.crl",
        "/crl/ca1/-1.crl",
        "/crl/ca1/x.crl",
        "/crl/..%2F..%2Fetc.crl",
        "/ca/ca1",
        "/ca/CA1.cer",
        "/ca/nope.cer",
        "/crl/ca1/9999999999.crl",
        "/crl/" + "a" * 300 + ".crl",
    ],
)
def test_unknown_or_malformed_paths_are_404(client: TestClient, path: str) -> None:
    assert client.get(path).status_code == 404
