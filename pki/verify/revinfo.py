"""pyhanko-certvalidator's fetcher interfaces over our :class:`Fetcher`: OCSP by POST (RFC 6960 §A.1)
with an optional bearer token, CRLs from HTTP distribution points through a :class:`CrlCache`, and no
fetching of issuer certificates (anchors are pinned, intermediates are given).

pyhanko decides when to ask (OCSP first, CRLs when OCSP gave no good status); these classes only fetch,
and record each attempt as a :class:`RevinfoUse` for the result.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import AsyncGenerator, Iterable
from dataclasses import dataclass, field
from typing import TypeAlias

from asn1crypto import algos, cms, crl, ocsp
from asn1crypto import x509 as asn1_x509
from pyhanko_certvalidator.authority import Authority
from pyhanko_certvalidator.errors import CRLFetchError, OCSPFetchError, OCSPNoMatchesError
from pyhanko_certvalidator.fetchers import CertificateFetcher, CRLFetcher, Fetchers, OCSPFetcher

from pki.verify.errors import FetchFailed
from pki.verify.fetch import CrlCache, Fetcher
from pki.verify.inputs import RevocationSettings
from pki.verify.result import RevinfoSource, RevinfoUse

OCSP_REQUEST_TYPE = "application/ocsp-request"
OCSP_RESPONSE_TYPE = "application/ocsp-response"
CRL_TYPES = "application/pkix-crl, application/x-pkcs7-crl;q=0.5, */*;q=0.1"

Leaf: TypeAlias = asn1_x509.Certificate | cms.AttributeCertificateV2
"""What pyhanko asks about (attribute certificates are never ours: they get no status)."""


@dataclass
class RevinfoLog:
    """Every fetch attempt of one validation, in order."""

    uses: list[RevinfoUse] = field(default_factory=list)

    def add(self, source: RevinfoSource, location: str, outcome: str) -> None:
        self.uses.append(RevinfoUse(source, location, outcome))

    def failures(self) -> list[str]:
        return [f"{u.source.value.upper()} {u.location}: {u.outcome}" for u in self.uses if not u.ok]


def fetchers(
    fetcher: Fetcher, settings: RevocationSettings, cache: CrlCache, now: dt.datetime, log: RevinfoLog
) -> Fetchers:
    """The three fetchers pyhanko wants, for one validation; ``now`` (the clock's) decides which cached
    CRLs are still current."""
    headers = {"Authorization": f"Bearer {settings.token}"} if settings.token else {}
    return Fetchers(
        ocsp_fetcher=HttpOcspFetcher(fetcher, settings, headers, log),
        crl_fetcher=HttpCrlFetcher(fetcher, settings.fetch_crls, headers, cache, now, log),
        cert_fetcher=NoCertificateFetcher(),
    )


def ocsp_request(cert: asn1_x509.Certificate, authority: Authority) -> bytes:
    """A DER OCSPRequest for one certificate, SHA-1 CertID and no nonce: the RFC 5019 §2.1 request every
    responder answers, and a pre-signed response can serve."""
    cert_id = ocsp.CertId(
        {
            "hash_algorithm": algos.DigestAlgorithm({"algorithm": "sha1"}),
            "issuer_name_hash": hashlib.sha1(authority.name.dump()).digest(),
            "issuer_key_hash": authority.public_key.sha1,
            "serial_number": cert.serial_number,
        }
    )
    return bytes(ocsp.OCSPRequest({"tbs_request": {"request_list": [{"req_cert": cert_id}]}}).dump())


class HttpOcspFetcher(OCSPFetcher):
    """Asks the configured responder, else the certificate's AIA one; a non-successful responseStatus
    (``unauthorized`` from a registered-verifiers-only responder, ``tryLater``...) fails the fetch."""

    def __init__(
        self, fetcher: Fetcher, settings: RevocationSettings, headers: dict[str, str], log: RevinfoLog
    ) -> None:
        self._fetcher = fetcher
        self._settings = settings
        self._headers = {**headers, "Content-Type": OCSP_REQUEST_TYPE, "Accept": OCSP_RESPONSE_TYPE}
        self._log = log
        self._responses: dict[bytes, list[ocsp.OCSPResponse]] = {}

    async def fetch(self, cert: Leaf, authority: Authority) -> ocsp.OCSPResponse:
        if not self._settings.ocsp or not isinstance(cert, asn1_x509.Certificate):
            raise OCSPNoMatchesError("OCSP is not used")
        url = self._settings.ocsp_url or _first_http(_aia_ocsp_urls(cert))
        if url is None:
            raise OCSPNoMatchesError("no HTTP OCSP responder")
        try:
            der = self._fetcher.post(url, ocsp_request(cert, authority), headers=self._headers)
            response = ocsp.OCSPResponse.load(der)
            status = str(response["response_status"].native)
        except FetchFailed as exc:
            raise self._failure(url, exc.why) from None
        except ValueError as exc:
            raise self._failure(url, f"not an OCSP response ({exc})") from None
        if status != "successful":
            raise self._failure(url, _camel(status))
        self._log.add(RevinfoSource.ocsp, url, "fetched")
        self._responses.setdefault(cert.issuer_serial, []).append(response)
        return response

    def _failure(self, url: str, why: str) -> OCSPFetchError:
        self._log.add(RevinfoSource.ocsp, url, why)
        return OCSPFetchError(f"OCSP responder {url}: {why}")

    def fetched_responses(self) -> Iterable[ocsp.OCSPResponse]:
        return [r for responses in self._responses.values() for r in responses]

    def fetched_responses_for_cert(self, cert: Leaf) -> Iterable[ocsp.OCSPResponse]:
        return self._responses.get(cert.issuer_serial, []) if isinstance(cert, asn1_x509.Certificate) else []


class HttpCrlFetcher(CRLFetcher):
    """Downloads the CRLs of a certificate's HTTP distribution points, through the cache."""

    def __init__(
        self,
        fetcher: Fetcher,
        enabled: bool,
        headers: dict[str, str],
        cache: CrlCache,
        now: dt.datetime,
        log: RevinfoLog,
    ) -> None:
        self._fetcher = fetcher
        self._enabled = enabled
        self._headers = {**headers, "Accept": CRL_TYPES}
        self._cache = cache
        self._now = now
        self._log = log
        self._by_cert: dict[bytes, list[crl.CertificateList]] = {}

    async def fetch(self, cert: Leaf, *, use_deltas: bool | None = None) -> Iterable[crl.CertificateList]:
        if not self._enabled or not isinstance(cert, asn1_x509.Certificate):
            self._by_cert[_key(cert)] = []
            return []
        urls = _http_points(cert.crl_distribution_points_value)
        found = [c for url in urls for c in self._with_deltas(url, cert)]
        self._by_cert[_key(cert)] = found
        if urls and not found:
            raise CRLFetchError("; ".join(self._log.failures()) or "no CRL could be fetched")
        return found

    def _with_deltas(self, url: str, cert: asn1_x509.Certificate) -> list[crl.CertificateList]:
        """The CRL at ``url`` and the delta CRLs it (or the certificate) points to (RFC 5280 §5.2.6):
        pyhanko-certvalidator will not use a complete CRL naming a freshest CRL without that delta."""
        full = self._load(url)
        if full is None:
            return []
        delta_urls = _http_points(full.freshest_crl_value) + _http_points(cert.freshest_crl_value)
        deltas = (self._load(u) for u in dict.fromkeys(delta_urls) if u != url)
        return [full, *(d for d in deltas if d is not None)]

    def _load(self, url: str) -> crl.CertificateList | None:
        der = self._cache.get(url, self._now)
        outcome = "cached"
        try:
            if der is None:
                der, outcome = self._fetcher.get(url, headers=self._headers), "fetched"
                self._cache.put(url, der)
            parsed = crl.CertificateList.load(der)
            parsed.native  # noqa: B018 -- parse it all now, not in the middle of validation
        except FetchFailed as exc:
            self._log.add(RevinfoSource.crl, url, exc.why)
            return None
        except ValueError as exc:
            self._log.add(RevinfoSource.crl, url, f"not a CRL ({exc})")
            return None
        self._log.add(RevinfoSource.crl, url, outcome)
        return parsed

    def fetched_crls(self) -> Iterable[crl.CertificateList]:
        return [c for crls in self._by_cert.values() for c in crls]

    def fetched_crls_for_cert(self, cert: Leaf) -> Iterable[crl.CertificateList]:
        return self._by_cert[_key(cert)]  # KeyError when not fetched yet, as the interface wants


class NoCertificateFetcher(CertificateFetcher):
    """Issuer certificates are never downloaded: anchors are pinned and intermediates are given."""

    async def fetch_cert_issuers(self, cert: Leaf) -> AsyncGenerator[asn1_x509.Certificate, None]:
        nothing: tuple[asn1_x509.Certificate, ...] = ()
        for found in nothing:
            yield found

    async def fetch_crl_issuers(
        self, certificate_list: crl.CertificateList
    ) -> AsyncGenerator[asn1_x509.Certificate, None]:
        nothing: tuple[asn1_x509.Certificate, ...] = ()
        for found in nothing:
            yield found

    def fetched_certs(self) -> Iterable[asn1_x509.Certificate]:
        return ()


def _key(cert: Leaf) -> bytes:
    return bytes(cert.issuer_serial) if isinstance(cert, asn1_x509.Certificate) else cert.dump()


def _aia_ocsp_urls(cert: asn1_x509.Certificate) -> list[str]:
    aia = cert.authority_information_access_value
    if aia is None:
        return []
    return [
        str(entry["access_location"].native)
        for entry in aia
        if entry["access_method"].native == "ocsp"
        and entry["access_location"].name == "uniform_resource_identifier"
    ]


def _http_points(points: asn1_x509.CRLDistributionPoints | None) -> list[str]:
    """The HTTP URLs of full-name distribution points (RFC 5280 §4.2.1.13, §5.2.6); a directoryName point
    (JPKI lists one beside the URL) is a name to match, not a place to fetch from."""
    urls = []
    for point in points or []:
        name = point["distribution_point"]
        if name.name != "full_name":
            continue
        uris = [str(g.native) for g in name.chosen if g.name == "uniform_resource_identifier"]
        if (url := _first_http(uris)) is not None:
            urls.append(url)
    return urls


def _first_http(urls: Iterable[str]) -> str | None:
    return next((u for u in urls if u.lower().startswith(("http://", "https://"))), None)


def _camel(status: str) -> str:
    """asn1crypto's ``try_later`` back to RFC 6960's ``tryLater``."""
    head, *rest = status.split("_")
    return head + "".join(part.capitalize() for part in rest)
