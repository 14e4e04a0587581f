"""Pre-signed responses (RFC 5019 §2.1.1): sign every issued certificate's status ahead of time, keep the
responses in the store and the cache, and re-sign them before their nextUpdate.

Pre-signed responses answer the SHA-1 CertID clients build (RFC 5019 §2.1.1: SHA-1 is what lightweight
clients send); other CertID forms are signed on their first request and kept from then on.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from ocsp.cache import CachedResponse
from ocsp.issuers import ServedCa
from ocsp.responder import Responder, single_status
from ocsp.response import encode_response_data, encode_single, sign_response
from pki.model import CertStatus
from pki.store import PresignedResponse, StatusRow

log = logging.getLogger(__name__)

PAGE = 500
"""Certificates read, signed and stored per round."""


@dataclass
class PresignReport:
    """What a pass signed, per CA."""

    signed: dict[str, int] = field(default_factory=dict)
    kept: int = 0

    @property
    def total(self) -> int:
        return sum(self.signed.values())


class Presigner:
    """Signs responses ahead of requests for a Responder's CAs. ``threads`` signers run at once (pyca and
    PKCS#11 release the GIL while they sign)."""

    def __init__(self, responder: Responder, *, threads: int = 2) -> None:
        self.responder = responder
        self.threads = threads

    def presign(self, ca_id: str | None = None) -> PresignReport:
        """Sign a response for every certificate of one CA (or all) that is still valid."""
        report = PresignReport()
        cas = [self.responder.index.cas[ca_id]] if ca_id else list(self.responder.index.cas.values())
        with ThreadPoolExecutor(self.threads, thread_name_prefix="ocsp-presign") as pool:
            for ca in cas:
                report.signed[ca.ca_id] = 0
                self.responder.credentials.for_ca(ca)  # a new responder certificate is signed for too
                after = -1
                while True:
                    seq = self.responder.pki.store.revocation_counters()[ca.ca_id]  # before the statuses
                    now = self.responder.pki.clock.now()
                    page = self.responder.pki.store.issued_statuses(
                        ca.ca_id, valid_at=now, after=after, limit=PAGE
                    )
                    if not page:
                        break
                    responses = list(pool.map(functools.partial(self._sign, ca, seq=seq), page))
                    report.kept += self._keep(ca, responses)
                    report.signed[ca.ca_id] += len(responses)
                    after = page[-1].serial
        return report

    def refresh_due(self) -> int:
        """Re-sign kept responses whose nextUpdate is near (within the CA's ``refresh_before``)."""
        total = 0
        store = self.responder.pki.store
        with ThreadPoolExecutor(self.threads, thread_name_prefix="ocsp-refresh") as pool:
            for ca in self.responder.index.cas.values():
                while True:
                    horizon = self.responder.pki.clock.now() + ca.policy.refresh_before
                    due = store.responses_due(ca.ca_id, horizon, PAGE)
                    if not due:
                        break
                    statuses = [store.status_at(ca.ca_id, serial) for serial, _ in due]
                    work = [
                        functools.partial(self._sign, ca, status, seq=seq, cert_id=cert_id)
                        for (_, cert_id), (status, seq) in zip(due, statuses, strict=True)
                        if status is not None
                    ]
                    responses = list(pool.map(_call, work))
                    self._keep(ca, responses)
                    total += len(responses)
                    if len(due) < PAGE or not responses:
                        break
        return total

    def _sign(
        self, ca: ServedCa, status: StatusRow, *, seq: int, cert_id: bytes | None = None
    ) -> PresignedResponse:
        cert_id = cert_id or ca.sha1_cert_id(status.serial)
        now = self.responder.pki.clock.now()
        next_update = now + ca.policy.next_update
        credential = self.responder.credentials.for_ca(ca)
        single = encode_single(single_status(cert_id, status, now, next_update))
        data = encode_response_data(credential.key_hash, now, [single])
        der = sign_response(credential.signer, data, credential.certs_der)
        return PresignedResponse(
            ca.ca_id, status.serial, cert_id, status.status, der, now, next_update, now, seq
        )

    def _keep(self, ca: ServedCa, responses: list[PresignedResponse]) -> int:
        kept = self.responder.pki.store.save_responses(
            [r for r in responses if r.status in (CertStatus.good, CertStatus.revoked, CertStatus.on_hold)]
        )
        for r in responses:
            self.responder.cache.put(
                ca.ca_id,
                r.serial,
                r.cert_id_der,
                CachedResponse(r.der, r.this_update, r.next_update, r.produced_at, r.seq),
            )
        return kept


def _call(job: Callable[[], PresignedResponse]) -> PresignedResponse:
    return job()
