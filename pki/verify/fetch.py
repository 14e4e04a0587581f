"""Getting revocation data over HTTP, behind a small :class:`Fetcher` protocol so tests (or a deployment
with its own transport) can swap it, and a :class:`CrlCache` that keeps CRLs until their nextUpdate."""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol

from cryptography import x509

from pki.verify.errors import FetchFailed

if TYPE_CHECKING:
    import httpx

USER_AGENT = "jlis-pki-verifier"
MAX_RESPONSE_BYTES = 64 * 1024 * 1024
"""Largest answer read (a national CRL can run to tens of MB); anything bigger fails the fetch."""


class Fetcher(Protocol):
    """Plain HTTP for revocation data. Implementations raise :class:`FetchFailed` on any failure,
    including a non-2xx status."""

    def get(self, url: str, *, headers: Mapping[str, str]) -> bytes:
        """The body of ``GET url``."""
        ...

    def post(self, url: str, body: bytes, *, headers: Mapping[str, str]) -> bytes:
        """The body of ``POST url`` with ``body``."""
        ...


class HttpxFetcher:
    """A :class:`Fetcher` over one pooled ``httpx.Client``, opened on first use; close it when done."""

    def __init__(self, *, timeout: float = 10.0, max_bytes: int = MAX_RESPONSE_BYTES) -> None:
        self.timeout = timeout
        self.max_bytes = max_bytes
        self._client: httpx.Client | None = None
        self._lock = threading.Lock()

    def get(self, url: str, *, headers: Mapping[str, str]) -> bytes:
        return self._request("GET", url, None, headers)

    def post(self, url: str, body: bytes, *, headers: Mapping[str, str]) -> bytes:
        return self._request("POST", url, body, headers)

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    def __enter__(self) -> HttpxFetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _request(self, method: str, url: str, body: bytes | None, headers: Mapping[str, str]) -> bytes:
        import httpx

        if not url.startswith(("http://", "https://")):
            raise FetchFailed(url, "only http:// and https:// URLs are fetched")
        try:
            with self.client().stream(method, url, content=body, headers=dict(headers)) as response:
                if not response.is_success:
                    raise FetchFailed(url, f"HTTP {response.status_code}")
                return self._read(url, response)
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise FetchFailed(
                url, f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            ) from None

    def _read(self, url: str, response: httpx.Response) -> bytes:
        chunks, size = [], 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > self.max_bytes:
                raise FetchFailed(url, f"answer larger than {self.max_bytes} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    def client(self) -> httpx.Client:
        import httpx

        with self._lock:
            if self._client is None:
                self._client = httpx.Client(
                    timeout=self.timeout, follow_redirects=False, headers={"User-Agent": USER_AGENT}
                )
            return self._client


class CrlCache:
    """CRLs by URL, each kept until its nextUpdate; thread-safe, bounded (least recently used goes).

    A CRL without nextUpdate is never cached: nothing says how long it stays current.
    """

    def __init__(self, max_entries: int = 64) -> None:
        if max_entries < 1:
            raise ValueError("a cache holds at least one CRL")
        self.max_entries = max_entries
        self._entries: OrderedDict[str, tuple[dt.datetime, bytes]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, url: str, now: dt.datetime) -> bytes | None:
        """The CRL fetched from ``url`` if it is still current at ``now``."""
        with self._lock:
            entry = self._entries.get(url)
            if entry is None:
                return None
            if now >= entry[0]:
                del self._entries[url]
                return None
            self._entries.move_to_end(url)
            return entry[1]

    def put(self, url: str, der: bytes) -> None:
        """Keep a DER CRL fetched from ``url`` (replacing an older one)."""
        next_update = x509.load_der_x509_crl(der).next_update_utc
        if next_update is None:
            return
        with self._lock:
            self._entries[url] = (next_update, der)
            self._entries.move_to_end(url)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
